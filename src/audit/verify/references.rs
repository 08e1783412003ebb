//! Pass 3, across streams, in SQL (the database sorts and spills; memory here stays flat):
//! every order line was reserved exactly on its SKU's stock, and the order's fate moved that reservation —
//! released if it was cancelled, sold if it was paid, still held otherwise; the units of
//! each refund that succeeded before it shipped, and of each return received, returned
//! once, no others; and no
//! stock moved for an order line that does not exist; and every line's SKU is one its
//! product added (or the product itself, without specs). Payloads are read through
//! [`READABLE_PAYLOAD`], so text PostgreSQL cannot hold (U+0000) does not stop the pass.

use sqlx::{PgPool, Row};

use super::{Failure, Findings};
use crate::audit::{READABLE_PAYLOAD, STOCK_ORDER_ID};

/// The mismatching (order, SKU) pairs, first 100 by position; `{stock_order_id}` is
/// [`STOCK_ORDER_ID`], `{events}` the events with [`READABLE_PAYLOAD`] as their payload.
const MISMATCHES: &str = "
WITH placed AS (
    SELECT e.aggregate_id AS order_id,
           -- A line written before SKUs (version 1 or 2) holds its product's one SKU.
           coalesce(l ->> 'sku_id', l ->> 'product_id') AS sku_id,
           (l ->> 'quantity')::bigint AS quantity, e.global_position AS position
      FROM {events} e, json_array_elements(e.payload -> 'OrderPlaced' -> 'lines') l
     WHERE e.aggregate_type = 'Order' AND e.event_type = 'OrderPlaced'
), moves AS (
    SELECT {stock_order_id} AS order_id,
           aggregate_id AS sku_id,
           sum((payload -> 'StockReserved' ->> 'quantity')::bigint)::bigint AS reserved,
           sum((payload -> 'StockReleased' ->> 'quantity')::bigint)::bigint AS released,
           sum((payload -> 'StockSold' ->> 'quantity')::bigint)::bigint AS sold,
           sum((payload -> 'StockReturned' ->> 'quantity')::bigint)::bigint AS returned,
           min(global_position) AS position
      FROM {events} e
     WHERE aggregate_type = 'Stock'
       AND event_type IN ('StockReserved', 'StockReleased', 'StockSold', 'StockReturned')
     GROUP BY 1, 2
), fate AS (
    SELECT aggregate_id AS order_id,
           bool_or(event_type = 'OrderPaid') AS paid,
           bool_or(event_type = 'OrderCancelled') AS cancelled
      FROM {events} e WHERE aggregate_type = 'Order'
     GROUP BY 1
), refunds AS (
    -- Each refund of the order's own payment that succeeded before the order shipped,
    -- with the units it covered (`lines`; absent before partial refunds: every line).
    SELECT s.aggregate_id AS order_id, r.payload -> 'RefundRequested' -> 'lines' AS lines
      FROM {events} s
      JOIN {events} r ON r.aggregate_type = 'Order' AND r.aggregate_id = s.aggregate_id
                     AND r.event_type = 'RefundRequested'
                     AND r.payload -> 'RefundRequested' ->> 'refund_no'
                         = s.payload -> 'RefundSucceeded' ->> 'refund_no'
     WHERE s.aggregate_type = 'Order' AND s.event_type = 'RefundSucceeded'
       AND s.payload -> 'RefundSucceeded' ->> 'kind' IN ('order', 'partial')
       AND NOT EXISTS (SELECT 1 FROM {events} sh
                        WHERE sh.aggregate_type = 'Order' AND sh.aggregate_id = s.aggregate_id
                          AND sh.event_type = 'OrderShipped'
                          AND sh.global_position < s.global_position)
), restocked AS (
    -- The units each order's events say went back to stock, per SKU.
    SELECT order_id, sku_id, sum(quantity)::bigint AS quantity FROM (
        SELECT f.order_id, l ->> 'sku_id' AS sku_id, (l ->> 'quantity')::bigint AS quantity
          FROM refunds f, json_array_elements(f.lines) l
         WHERE f.lines IS NOT NULL
        UNION ALL
        SELECT f.order_id, p.sku_id, p.quantity
          FROM refunds f JOIN placed p ON p.order_id = f.order_id
         WHERE f.lines IS NULL
        UNION ALL
        -- Returned goods received (after-sales).
        SELECT e.aggregate_id, l ->> 'sku_id', (l ->> 'quantity')::bigint
          FROM {events} e, json_array_elements(e.payload -> 'ReturnReceived' -> 'lines') l
         WHERE e.aggregate_type = 'Order' AND e.event_type = 'ReturnReceived'
    ) units GROUP BY 1, 2
)
SELECT coalesce(p.order_id, m.order_id) AS order_id,
       coalesce(p.sku_id, m.sku_id) AS sku_id,
       p.quantity, coalesce(m.reserved, 0) AS reserved, coalesce(m.released, 0) AS released,
       coalesce(m.sold, 0) AS sold, coalesce(m.returned, 0) AS returned,
       coalesce(f.paid, false) AS paid,
       coalesce(f.cancelled, false) AS cancelled,
       coalesce(m.position, p.position) AS position
  FROM placed p
  FULL JOIN moves m ON m.order_id = p.order_id AND m.sku_id = p.sku_id
  LEFT JOIN fate f ON f.order_id = coalesce(p.order_id, m.order_id)
  LEFT JOIN restocked r ON r.order_id = coalesce(p.order_id, m.order_id)
                       AND r.sku_id = coalesce(p.sku_id, m.sku_id)
 WHERE p.quantity IS NULL
    OR coalesce(m.reserved, 0) <> p.quantity
    OR (f.cancelled AND (coalesce(m.released, 0) <> p.quantity OR coalesce(m.sold, 0) <> 0))
    OR (f.paid AND (coalesce(m.sold, 0) <> p.quantity OR coalesce(m.released, 0) <> 0))
    OR (NOT coalesce(f.paid, false) AND NOT coalesce(f.cancelled, false)
        AND coalesce(m.released, 0) + coalesce(m.sold, 0) <> 0)
    OR coalesce(m.returned, 0) <> coalesce(r.quantity, 0)
 ORDER BY position
 LIMIT 100";

pub async fn check(pool: &PgPool, findings: &mut Findings) -> Result<(), sqlx::Error> {
    let events = format!(
        "(SELECT aggregate_type, aggregate_id, event_type, global_position, \
                 {READABLE_PAYLOAD} AS payload FROM events)"
    );
    unknown_skus(pool, &events, findings).await?;
    let sql = MISMATCHES
        .replace("{stock_order_id}", STOCK_ORDER_ID)
        .replace("{events}", &events);
    for row in sqlx::query(&sql).fetch_all(pool).await? {
        let order_id: String = row.try_get("order_id")?;
        let sku_id: String = row.try_get("sku_id")?;
        let placed: Option<i64> = row.try_get("quantity")?;
        let (reserved, released, sold, returned): (i64, i64, i64, i64) = (
            row.try_get("reserved")?,
            row.try_get("released")?,
            row.try_get("sold")?,
            row.try_get("returned")?,
        );
        let fate = match (row.try_get("paid")?, row.try_get("cancelled")?) {
            (true, _) => "paid",
            (_, true) => "cancelled",
            _ => "open",
        };
        let ordered = placed.map_or("no such order line".to_owned(), |q| format!("ordered {q}"));
        findings.add(Failure {
            kind: "reservation_mismatch",
            position: row.try_get("position")?,
            stream: Some(format!("Order/{order_id}")),
            message: format!(
                "SKU {sku_id}: {ordered}, reserved {reserved}, released {released}, \
                 sold {sold}, returned {returned}, order {fate}"
            ),
        });
    }
    Ok(())
}

/// Order lines naming a SKU their product never added (first 100 by position): a line's
/// SKU is its product's own id (a product without specs) or one of its `SkuAdded`.
const UNKNOWN_SKUS: &str = "
WITH lines AS (
    SELECT e.aggregate_id AS order_id, l ->> 'product_id' AS product_id,
           l ->> 'sku_id' AS sku_id, e.global_position AS position
      FROM {events} e, json_array_elements(e.payload -> 'OrderPlaced' -> 'lines') l
     WHERE e.aggregate_type = 'Order' AND e.event_type = 'OrderPlaced'
       AND l ->> 'sku_id' IS NOT NULL
), skus AS (
    SELECT aggregate_id AS product_id, payload -> 'SkuAdded' ->> 'sku_id' AS sku_id
      FROM {events} e
     WHERE aggregate_type = 'Product' AND event_type = 'SkuAdded'
)
SELECT l.order_id, l.product_id, l.sku_id, l.position
  FROM lines l
 WHERE NOT EXISTS (SELECT 1 FROM skus s WHERE s.product_id = l.product_id AND s.sku_id = l.sku_id)
   -- The product's own id is its SKU only while it has no specs.
   AND (l.sku_id <> l.product_id
        OR EXISTS (SELECT 1 FROM skus s WHERE s.product_id = l.product_id))
 ORDER BY l.position
 LIMIT 100";

async fn unknown_skus(
    pool: &PgPool,
    events: &str,
    findings: &mut Findings,
) -> Result<(), sqlx::Error> {
    let sql = UNKNOWN_SKUS.replace("{events}", events);
    for row in sqlx::query(&sql).fetch_all(pool).await? {
        let order_id: String = row.try_get("order_id")?;
        let product_id: String = row.try_get("product_id")?;
        let sku_id: String = row.try_get("sku_id")?;
        findings.add(Failure {
            kind: "unknown_sku",
            position: row.try_get("position")?,
            stream: Some(format!("Order/{order_id}")),
            message: format!("a line names SKU {sku_id}, which product {product_id} never added"),
        });
    }
    Ok(())
}
