//! Daily sales: per UTC day, orders placed, orders paid, revenue and the money of orders'
//! payments refunded that day, in cents (`net_cents`: revenue net of refunds).
//!
//! Counters cannot tell whether an event was counted already; they rely on the projector
//! applying each batch exactly once, with its checkpoint, in one transaction.

use std::collections::BTreeMap;

use aggregates::order::{Order, OrderEvent, RefundKind};
use chrono::NaiveDate;
use cqrs_es::Aggregate;
use sqlx::PgConnection;

use crate::RecordedEvent;
use crate::projection::{Projection, ProjectionError, Target, UnknownFailure, decode};

pub struct DailySales;

#[derive(Default)]
struct Day {
    orders: i64,
    paid_orders: i64,
    revenue_cents: i64,
    refunded_cents: i64,
}

#[async_trait::async_trait]
impl Projection for DailySales {
    fn name(&self) -> &'static str {
        "daily_sales"
    }

    fn aggregate_types(&self) -> Option<&'static [&'static str]> {
        Some(&[Order::TYPE])
    }

    fn tables(&self) -> &'static [&'static str] {
        &["daily_sales"]
    }

    /// Revenue figures must be complete or visibly stopped: an event that fails for a
    /// reason other than its own data stops the projection rather than being set aside.
    fn on_unknown_failure(&self) -> UnknownFailure {
        UnknownFailure::Stop
    }

    async fn apply(
        &self,
        conn: &mut PgConnection,
        target: Target,
        events: &[RecordedEvent],
    ) -> Result<(), ProjectionError> {
        let mut days: BTreeMap<NaiveDate, Day> = BTreeMap::new();
        for event in events.iter().filter(|e| e.aggregate_type == Order::TYPE) {
            let payload: OrderEvent = decode(event)?;
            match payload {
                OrderEvent::OrderPlaced { placed_at, .. } => {
                    days.entry(placed_at.date_naive()).or_default().orders += 1;
                }
                OrderEvent::OrderPaid {
                    paid_at,
                    amount_cents,
                    ..
                } => {
                    let day = days.entry(paid_at.date_naive()).or_default();
                    day.paid_orders += 1;
                    day.revenue_cents += amount_cents;
                }
                // The order's own payment given back, in whole or in part; a payment the
                // order could not take was never revenue.
                OrderEvent::RefundSucceeded {
                    kind: RefundKind::Order | RefundKind::Partial,
                    amount_cents,
                    refunded_at,
                    ..
                } => {
                    days.entry(refunded_at.date_naive())
                        .or_default()
                        .refunded_cents += amount_cents;
                }
                _ => {}
            }
        }
        if days.is_empty() {
            return Ok(());
        }
        let (mut dates, mut orders, mut paid, mut revenue, mut refunded) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for (date, day) in days {
            dates.push(date);
            orders.push(day.orders);
            paid.push(day.paid_orders);
            revenue.push(day.revenue_cents);
            refunded.push(day.refunded_cents);
        }
        let table = target.table("daily_sales");
        sqlx::query(&format!(
            "INSERT INTO {table} AS d (day, orders, paid_orders, revenue_cents, refunded_cents)
             SELECT * FROM unnest($1::date[], $2::bigint[], $3::bigint[], $4::bigint[],
                                  $5::bigint[])
             ON CONFLICT (day) DO UPDATE SET
                orders = d.orders + excluded.orders,
                paid_orders = d.paid_orders + excluded.paid_orders,
                revenue_cents = d.revenue_cents + excluded.revenue_cents,
                refunded_cents = d.refunded_cents + excluded.refunded_cents"
        ))
        .bind(&dates)
        .bind(&orders)
        .bind(&paid)
        .bind(&revenue)
        .bind(&refunded)
        .execute(conn)
        .await?;
        Ok(())
    }
}
