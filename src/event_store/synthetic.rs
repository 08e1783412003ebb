//! A large synthetic event log written straight in SQL: products, their stock, orders
//! each reserving one unit, and their payments, in today's event versions, as the write
//! path would have written them less the Shopper streams (the orders say purchase limits
//! did not count them). What the rebuild and reconciliation benchmarks replay.
//! Never used on a shop's database.

use chrono::{DateTime, Utc};
use sqlx::PgPool;

/// How many events the log holds.
pub async fn count(pool: &PgPool) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT count(*) FROM events")
        .fetch_one(pool)
        .await
}

/// Product `p`'s id (deterministic), as SQL over a column or series named `p`.
const PRODUCT_ID: &str = "('00000000-0000-4000-8000-' || lpad(to_hex(p), 12, '0'))";
/// Order `k`'s id, as [`ORDER_ID`] writes it.
pub fn order_id(k: i64) -> uuid::Uuid {
    uuid::Uuid::parse_str(&format!("00000000-0000-4000-9000-{k:012x}")).unwrap_or_default()
}

/// Order `k`'s id (deterministic), as SQL over `k`.
const ORDER_ID: &str = "('00000000-0000-4000-9000-' || lpad(to_hex(k), 12, '0'))";
/// Order `k`'s product, price and time, as SQL over `k`, `$3` (the first order's time)
/// and `$4` (seconds between orders).
const ORDER_COLUMNS: &str = "k, 1 + k % {products} AS p, {order_id} AS order_id,
    $3::timestamptz + k * $4::float8 * interval '1 second' AS placed_at";

/// The shopper of order `k` (one of 5,000), as SQL over `k`.
const USER_ID: &str = "('00000000-0000-4000-b000-' || lpad(to_hex(k % 5000), 12, '0'))";

/// Order `k`'s payment id at WeChat Pay (its transaction id), as SQL over `k`.
pub const TRANSACTION_ID: &str = "('4200' || lpad(k::text, 24, '0'))";

/// Writes `products` products with a million units each, and `orders` orders each
/// reserving one unit, one a second from 2026-11-01, in a few set-based statements.
pub async fn write_history(pool: &PgPool, products: i64, orders: i64) -> Result<(), sqlx::Error> {
    let start = DateTime::parse_from_rfc3339("2026-11-01T00:00:00Z")
        .map(|at| at.with_timezone(&Utc))
        .unwrap_or_default();
    write_products(pool, products).await?;
    write_orders(pool, products, 0..orders, start, 1.0).await
}

/// Writes `products` products with a million units each.
pub async fn write_products(pool: &PgPool, products: i64) -> Result<(), sqlx::Error> {
    sqlx::query(&format!(
        "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version,
                             payload, metadata)
         SELECT 'Product', {PRODUCT_ID}, 1, 'ProductCreated', '1',
                json_build_object('ProductCreated', json_build_object('name', 'product ' || p,
                    'description', '', 'category', 'bench', 'price_cents', 100 + p)), '{{}}'::json
           FROM generate_series(1, {products}) p
         UNION ALL
         SELECT 'Stock', {PRODUCT_ID}, 1, 'StockAdded', '1',
                json_build_object('StockAdded', json_build_object('quantity', 1000000,
                    'reason', 'initial stock')), '{{}}'::json
           FROM generate_series(1, {products}) p"
    ))
    .execute(pool)
    .await?;
    Ok(())
}

/// Writes orders `range` (order `k` buys one unit of product `1 + k % products` at
/// `100 + p` cents), placed `every` seconds apart from `start`; orders of one call must
/// follow those of the calls before (their stock streams' sequences do).
pub async fn write_orders(
    pool: &PgPool,
    products: i64,
    range: std::ops::Range<i64>,
    start: DateTime<Utc>,
    every: f64,
) -> Result<(), sqlx::Error> {
    let columns = order_columns(products);
    for chunk in chunks(range) {
        sqlx::query(&format!(
            "WITH o AS (SELECT {columns} FROM generate_series($1::bigint, $2::bigint - 1) k)
             INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type,
                                 event_version, payload, metadata)
             SELECT * FROM (
                SELECT 'Order', order_id, 1::bigint, 'OrderPlaced', '3',
                       json_build_object('OrderPlaced', json_build_object(
                           'user_id', {USER_ID},
                           'lines', json_build_array(json_build_object(
                               'product_id', {PRODUCT_ID}, 'sku_id', {PRODUCT_ID},
                               'name', 'product ' || p, 'unit_price_cents', 100 + p,
                               'quantity', 1)),
                           'total_cents', 100 + p,
                           'address', json_build_object('name', 'n', 'phone', '1',
                               'province', 'p', 'city', 'c', 'district', 'd', 'detail', 'x'),
                           'remark', '', 'placed_at', placed_at,
                           'expires_at', placed_at + interval '15 minutes',
                           'limits_counted', false)), '{{}}'::json
                  FROM o
                UNION ALL
                SELECT 'Stock', {PRODUCT_ID}, 2 + k / {products}, 'StockReserved', '1',
                       json_build_object('StockReserved', json_build_object(
                           'order_id', order_id, 'quantity', 1)), '{{}}'::json
                  FROM o) rows"
        ))
        .bind(chunk.start)
        .bind(chunk.end)
        .bind(start)
        .bind(every)
        .execute(pool)
        .await?;
    }
    Ok(())
}

/// Writes the 5,000 shoppers the orders name, registered with openid `openid-<n>`.
pub async fn write_shoppers(pool: &PgPool) -> Result<(), sqlx::Error> {
    sqlx::query(&format!(
        "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version,
                             payload, metadata)
         SELECT 'User', {USER_ID}, 1, 'UserRegistered', '1',
                json_build_object('UserRegistered', json_build_object('openid', 'openid-' || k,
                    'nickname', 'shopper ' || k, 'registered_at', '2026-11-01T00:00:00Z')),
                '{{}}'::json
           FROM generate_series(0, 4999) k"
    ))
    .execute(pool)
    .await?;
    Ok(())
}

/// Writes the payment of orders `range` (written by [`write_orders`] with the same
/// `products`, `start` and `every`): paid in full a minute after it was placed, by
/// transaction [`TRANSACTION_ID`], as WeChat Pay's notice would have recorded it.
pub async fn write_payments(
    pool: &PgPool,
    products: i64,
    range: std::ops::Range<i64>,
    start: DateTime<Utc>,
    every: f64,
) -> Result<(), sqlx::Error> {
    let columns = order_columns(products);
    for chunk in chunks(range) {
        sqlx::query(&format!(
            "WITH o AS (SELECT {columns} FROM generate_series($1::bigint, $2::bigint - 1) k)
             INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type,
                                 event_version, payload, metadata)
             SELECT 'Order', order_id, 2::bigint, 'OrderPaid', '1',
                    json_build_object('OrderPaid', json_build_object(
                        'payment_id', {TRANSACTION_ID}, 'amount_cents', 100 + p,
                        'paid_at', placed_at + interval '1 minute')),
                    '{{\"actor_id\":\"wechatpay\",\"actor_role\":\"system\"}}'::json
               FROM o"
        ))
        .bind(chunk.start)
        .bind(chunk.end)
        .bind(start)
        .bind(every)
        .execute(pool)
        .await?;
    }
    Ok(())
}

/// The columns of order `k` (`k`, `p`, `order_id`, `placed_at`) for a query binding the
/// first order's time as `$3` and the seconds between orders as `$4`.
pub fn order_columns(products: i64) -> String {
    ORDER_COLUMNS
        .replace("{products}", &products.to_string())
        .replace("{order_id}", ORDER_ID)
}

/// `range` in pieces of 50,000, so that the log has many transactions, as real traffic
/// would.
fn chunks(range: std::ops::Range<i64>) -> impl Iterator<Item = std::ops::Range<i64>> {
    const CHUNK: i64 = 50_000;
    let end = range.end;
    (range.start..end)
        .step_by(CHUNK as usize)
        .map(move |first| first..(first + CHUNK).min(end))
}
