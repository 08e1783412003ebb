//! The order views: one row per order, everything `GET /orders/{id}` shows, indexed for a
//! user's list by status and recency, and (partially) by `expires_at` for the orders
//! still awaiting payment — the payment timeout's query.
//!
//! A batch is folded in memory first (an order placed and paid in the same batch becomes
//! one row), then written with one INSERT for new orders and one UPDATE for the rest,
//! each of which also moves the shopper's `order_counts` (orders per status: the list's
//! total, without counting the shopper's whole history at every page).

pub mod query;
pub mod shop;
pub mod synthetic;

use std::collections::BTreeMap;

use aggregates::order::{
    Address, Order, OrderEvent, OrderLine, OrderStatus, RefundKind, RefundStatus,
};
use chrono::{DateTime, Utc};
use cqrs_es::Aggregate;
use serde_json::{Value, json};
use sqlx::PgConnection;
use sqlx::types::Json;
use uuid::Uuid;

use crate::RecordedEvent;
use crate::projection::{Projection, ProjectionError, Target, decode};

pub struct OrderViews;

/// What a batch does to one order: every field it sets, and the last applied sequence.
#[derive(Default)]
struct OrderChange {
    placed: bool,
    user_id: Option<String>,
    status: Option<OrderStatus>,
    // Typed, so that a row's JSON is written straight from the event's fields.
    lines: Option<Json<Vec<OrderLine>>>,
    total_cents: Option<i64>,
    address: Option<Json<Address>>,
    remark: Option<String>,
    created_at: Option<DateTime<Utc>>,
    expires_at: Option<DateTime<Utc>>,
    paid_at: Option<DateTime<Utc>>,
    cancelled_at: Option<DateTime<Utc>>,
    cancel_reason: Option<String>,
    carrier: Option<String>,
    tracking_no: Option<String>,
    shipped_at: Option<DateTime<Utc>>,
    completed_at: Option<DateTime<Utc>>,
    payment_id: Option<String>,
    /// Refunds this batch requires: `[{payment_id, amount_cents, reason}]`.
    refunds_due: Vec<Value>,
    /// What this batch says of each refund, by number: the fields it sets.
    refunds: serde_json::Map<String, Value>,
    refunded_at: Option<DateTime<Utc>>,
    version: i64,
}

impl OrderChange {
    fn fold(&mut self, event: OrderEvent) {
        self.status = event.status_after(self.status);
        match event {
            OrderEvent::OrderPlaced {
                user_id,
                lines,
                total_cents,
                address,
                remark,
                placed_at,
                expires_at,
                ..
            } => {
                self.placed = true;
                self.user_id = Some(user_id);
                self.lines = Some(Json(lines));
                self.total_cents = Some(total_cents);
                self.address = Some(Json(address));
                self.remark = Some(remark);
                self.created_at = Some(placed_at);
                self.expires_at = Some(expires_at);
            }
            OrderEvent::OrderPaid {
                payment_id,
                paid_at,
                ..
            } => {
                self.paid_at = Some(paid_at);
                self.payment_id = Some(payment_id);
            }
            // Recorded with the refund it requires, below.
            OrderEvent::PaymentReceived { .. } => {}
            OrderEvent::RefundRequired {
                payment_id,
                amount_cents,
                reason,
            } => self.refunds_due.push(json!({
                "payment_id": payment_id,
                "amount_cents": amount_cents,
                "reason": reason.as_str(),
            })),
            OrderEvent::OrderCancelled {
                reason,
                cancelled_at,
            } => {
                self.cancelled_at = Some(cancelled_at);
                self.cancel_reason = Some(reason.as_str().to_owned());
            }
            OrderEvent::OrderShipped {
                carrier,
                tracking_no,
                shipped_at,
                ..
            } => {
                self.carrier = Some(carrier);
                self.tracking_no = Some(tracking_no);
                self.shipped_at = Some(shipped_at);
            }
            OrderEvent::ShipmentCorrected {
                carrier,
                tracking_no,
                ..
            } => {
                self.carrier = Some(carrier);
                self.tracking_no = Some(tracking_no);
            }
            OrderEvent::OrderCompleted { completed_at } => {
                self.completed_at = Some(completed_at);
            }
            OrderEvent::RefundRequested {
                refund_no,
                payment_id,
                amount_cents,
                kind,
                reason,
                requested_at,
                lines,
                payment_cents,
            } => {
                let mut refund = json!({
                    "refund_no": refund_no,
                    "payment_id": payment_id,
                    "amount_cents": amount_cents,
                    "payment_cents": payment_cents,
                    "kind": kind.as_str(),
                    "reason": reason,
                    "status": RefundStatus::Requested.as_str(),
                    "requested_at": requested_at,
                });
                // Refunds written before partial refunds name no lines (an order's
                // refund covered them all): their rows stay as they were.
                if let Some(lines) = lines {
                    refund["lines"] = json!(lines);
                }
                self.set_refund(refund_no.clone(), refund);
            }
            OrderEvent::RefundSucceeded {
                refund_no,
                kind,
                provider_refund_id,
                refunded_at,
                ..
            } => {
                if kind == RefundKind::Order {
                    self.refunded_at = Some(refunded_at);
                }
                self.set_refund(
                    refund_no,
                    json!({
                        "status": RefundStatus::Succeeded.as_str(),
                        "settled_at": refunded_at,
                        "provider_refund_id": provider_refund_id,
                        "abnormal": null,
                    }),
                );
            }
            OrderEvent::RefundFailed {
                refund_no,
                reason,
                failed_at,
                ..
            } => {
                self.set_refund(
                    refund_no,
                    json!({
                        "status": RefundStatus::Failed.as_str(),
                        "settled_at": failed_at,
                        "failure": reason,
                        "abnormal": null,
                    }),
                );
            }
            // Flagged for an operator (`refund_attention`); the refund stays requested.
            OrderEvent::RefundAbnormal {
                refund_no, reason, ..
            } => self.set_refund(refund_no, json!({ "abnormal": reason })),
            // Kept by the after-sales read model; their refunds show here.
            OrderEvent::AfterSaleRequested { .. }
            | OrderEvent::AfterSaleApproved { .. }
            | OrderEvent::AfterSaleRejected { .. }
            | OrderEvent::ReturnShipped { .. }
            | OrderEvent::ReturnReceived { .. } => {}
        }
    }

    /// Merges `fields` into what this batch says of refund `refund_no`.
    fn set_refund(&mut self, refund_no: String, fields: Value) {
        let entry = self
            .refunds
            .entry(refund_no)
            .or_insert_with(|| Value::Object(serde_json::Map::new()));
        if let (Value::Object(entry), Value::Object(fields)) = (entry, fields) {
            entry.extend(fields);
        }
    }
}

/// The batch's changes as columns, for `unnest`.
#[derive(Default)]
struct Columns {
    order_id: Vec<Uuid>,
    user_id: Vec<Option<String>>,
    status: Vec<Option<String>>,
    lines: Vec<Option<Json<Vec<OrderLine>>>>,
    total_cents: Vec<Option<i64>>,
    address: Vec<Option<Json<Address>>>,
    remark: Vec<Option<String>>,
    created_at: Vec<Option<DateTime<Utc>>>,
    expires_at: Vec<Option<DateTime<Utc>>>,
    paid_at: Vec<Option<DateTime<Utc>>>,
    cancelled_at: Vec<Option<DateTime<Utc>>>,
    cancel_reason: Vec<Option<String>>,
    carrier: Vec<Option<String>>,
    tracking_no: Vec<Option<String>>,
    shipped_at: Vec<Option<DateTime<Utc>>>,
    completed_at: Vec<Option<DateTime<Utc>>>,
    payment_id: Vec<Option<String>>,
    refunds_due: Vec<Value>,
    refunds: Vec<Value>,
    refunded_at: Vec<Option<DateTime<Utc>>>,
    version: Vec<i64>,
}

impl Columns {
    fn push(&mut self, order_id: Uuid, change: OrderChange) {
        self.order_id.push(order_id);
        self.user_id.push(change.user_id);
        self.status
            .push(change.status.map(|status| status.as_str().to_owned()));
        self.lines.push(change.lines);
        self.total_cents.push(change.total_cents);
        self.address.push(change.address);
        self.remark.push(change.remark);
        self.created_at.push(change.created_at);
        self.expires_at.push(change.expires_at);
        self.paid_at.push(change.paid_at);
        self.cancelled_at.push(change.cancelled_at);
        self.cancel_reason.push(change.cancel_reason);
        self.carrier.push(change.carrier);
        self.tracking_no.push(change.tracking_no);
        self.shipped_at.push(change.shipped_at);
        self.completed_at.push(change.completed_at);
        self.payment_id.push(change.payment_id);
        self.refunds_due.push(Value::Array(change.refunds_due));
        self.refunds.push(Value::Object(change.refunds));
        self.refunded_at.push(change.refunded_at);
        self.version.push(change.version);
    }

    /// Binds the columns, in this order, as $1..$21 of `sql`'s `unnest`.
    async fn execute(&self, conn: &mut PgConnection, sql: &str) -> Result<(), sqlx::Error> {
        sqlx::query(sql)
            .bind(&self.order_id)
            .bind(&self.user_id)
            .bind(&self.status)
            .bind(&self.lines)
            .bind(&self.total_cents)
            .bind(&self.address)
            .bind(&self.remark)
            .bind(&self.created_at)
            .bind(&self.expires_at)
            .bind(&self.paid_at)
            .bind(&self.cancelled_at)
            .bind(&self.cancel_reason)
            .bind(&self.carrier)
            .bind(&self.tracking_no)
            .bind(&self.shipped_at)
            .bind(&self.completed_at)
            .bind(&self.payment_id)
            .bind(&self.refunds_due)
            .bind(&self.version)
            .bind(&self.refunds)
            .bind(&self.refunded_at)
            .execute(conn)
            .await?;
        Ok(())
    }
}

/// Opens the CTE of a batch's moves between counts: `(user_id, status, delta)` rows.
const COUNT_MOVES: &str = ", count_moves (user_id, status, delta) AS (";

const UNNEST: &str = "unnest($1::uuid[], $2::text[], $3::text[], $4::jsonb[], $5::bigint[],
        $6::jsonb[], $7::text[], $8::timestamptz[], $9::timestamptz[], $10::timestamptz[],
        $11::timestamptz[], $12::text[], $13::text[], $14::text[], $15::timestamptz[],
        $16::timestamptz[], $17::text[], $18::jsonb[], $19::bigint[], $20::jsonb[],
        $21::timestamptz[])
     AS c(order_id, user_id, status, lines, total_cents, address, remark, created_at,
          expires_at, paid_at, cancelled_at, cancel_reason, carrier, tracking_no, shipped_at,
          completed_at, payment_id, refunds_due, version, refunds, refunded_at)";

#[async_trait::async_trait]
impl Projection for OrderViews {
    fn name(&self) -> &'static str {
        "orders"
    }

    fn aggregate_types(&self) -> Option<&'static [&'static str]> {
        Some(&[Order::TYPE])
    }

    fn tables(&self) -> &'static [&'static str] {
        &["order_views", "order_counts", "order_status_counts"]
    }

    async fn apply(
        &self,
        conn: &mut PgConnection,
        target: Target,
        events: &[RecordedEvent],
    ) -> Result<(), ProjectionError> {
        let mut changes: BTreeMap<Uuid, OrderChange> = BTreeMap::new();
        for event in events.iter().filter(|e| e.aggregate_type == Order::TYPE) {
            let order_id = Uuid::parse_str(&event.aggregate_id)
                .map_err(|err| ProjectionError::unreadable(event, err))?;
            let payload: OrderEvent = decode(event)?;
            let change = changes.entry(order_id).or_default();
            change.fold(payload);
            change.version = event.sequence;
        }
        let (mut placed, mut changed) = (Columns::default(), Columns::default());
        for (order_id, change) in changes {
            if change.placed {
                placed.push(order_id, change);
            } else {
                changed.push(order_id, change);
            }
        }
        let moved_any = !placed.order_id.is_empty() || !changed.order_id.is_empty();
        let table = target.table("order_views");
        let counts = target.table("order_counts");
        // The end of both statements: the batch's moves between statuses, summed per
        // shopper and status, added to the counts. A count that reaches zero goes, so the
        // table is the same however the feed was cut into batches (a replay folds an
        // order's intermediate statuses away).
        let shop_counts = target.table("order_status_counts");
        let add_counts = format!(
            ", shop AS (
                INSERT INTO {shop_counts} AS s (status, orders)
                SELECT status, sum(delta) FROM count_moves GROUP BY status
                HAVING sum(delta) <> 0
                ON CONFLICT (status) DO UPDATE SET orders = s.orders + excluded.orders)
             MERGE INTO {counts} AS n
             USING (SELECT user_id, status, sum(delta) AS delta FROM count_moves
                     GROUP BY user_id, status) AS m
                ON n.user_id = m.user_id AND n.status = m.status
              WHEN MATCHED AND n.orders + m.delta = 0 THEN DELETE
              WHEN MATCHED THEN UPDATE SET orders = n.orders + m.delta
              WHEN NOT MATCHED AND m.delta <> 0 THEN
                   INSERT (user_id, status, orders) VALUES (m.user_id, m.status, m.delta)"
        );
        if !placed.order_id.is_empty() {
            let sql = format!(
                "WITH inserted AS (
                    INSERT INTO {table} (order_id, user_id, status, lines, total_cents, address,
                            remark, created_at, expires_at, paid_at, cancelled_at, cancel_reason,
                            carrier, tracking_no, shipped_at, completed_at, payment_id,
                            refunds_due, version, refunds, refunded_at)
                     SELECT * FROM {UNNEST}
                     ON CONFLICT (order_id) DO NOTHING
                     RETURNING user_id, status)
                 {COUNT_MOVES} SELECT user_id, status, 1 FROM inserted) {add_counts}"
            );
            placed.execute(conn, &sql).await?;
        }
        if !changed.order_id.is_empty() {
            // The version guard makes a change that was already applied a no-op.
            // `was` (the table joined to itself) is the row before this statement's
            // update: a status that changed moves one order between two counts.
            let sql = format!(
                "WITH moved AS (
                 UPDATE {table} AS v SET
                        status = coalesce(c.status, v.status),
                        paid_at = coalesce(c.paid_at, v.paid_at),
                        cancelled_at = coalesce(c.cancelled_at, v.cancelled_at),
                        cancel_reason = coalesce(c.cancel_reason, v.cancel_reason),
                        carrier = coalesce(c.carrier, v.carrier),
                        tracking_no = coalesce(c.tracking_no, v.tracking_no),
                        shipped_at = coalesce(c.shipped_at, v.shipped_at),
                        completed_at = coalesce(c.completed_at, v.completed_at),
                        payment_id = coalesce(c.payment_id, v.payment_id),
                        refunds_due = v.refunds_due || c.refunds_due,
                        refunds = v.refunds || coalesce(
                            (SELECT jsonb_object_agg(r.key, coalesce(v.refunds -> r.key, '{{}}')
                                                            || r.value)
                               FROM jsonb_each(c.refunds) r), '{{}}'),
                        refunded_at = coalesce(c.refunded_at, v.refunded_at),
                        version = c.version
                   FROM {UNNEST}, {table} AS was
                  WHERE v.order_id = c.order_id AND v.version < c.version
                    AND was.order_id = v.order_id
                  RETURNING v.user_id, was.status AS was, v.status AS now)
                 {COUNT_MOVES}
                    SELECT user_id, was, -1 FROM moved WHERE was <> now
                    UNION ALL SELECT user_id, now, 1 FROM moved WHERE was <> now) {add_counts}"
            );
            changed.execute(conn, &sql).await?;
        }
        if moved_any {
            // As in `order_counts`: a status no order is in has no row, however the feed
            // was cut into batches.
            sqlx::query(&format!("DELETE FROM {shop_counts} WHERE orders = 0"))
                .execute(&mut *conn)
                .await?;
        }
        Ok(())
    }
}
