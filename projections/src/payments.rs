//! The payments read model (`payment_ledger`): every payment the log records (taken by
//! its order, or owed back) and every refund with where it stands, by time — what the
//! daily reconciliation compares with WeChat Pay's bill.
//!
//! Rows are keyed by what WeChat Pay knows them by (a payment's transaction id, a
//! refund's number), so a batch applied again would change nothing; the projector applies
//! each batch once anyway.

use aggregates::order::{Order, OrderEvent};
use cqrs_es::Aggregate;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::RecordedEvent;
use crate::projection::{Projection, ProjectionError, Target, UnknownFailure, decode};

pub struct PaymentLedger;

/// One row to write, or one refund's new state.
enum Change {
    Row {
        kind: &'static str,
        reference: String,
        order_id: Uuid,
        transaction_id: String,
        amount_cents: i64,
        at: chrono::DateTime<chrono::Utc>,
        state: &'static str,
    },
    RefundState {
        refund_no: String,
        state: &'static str,
    },
}

#[async_trait::async_trait]
impl Projection for PaymentLedger {
    fn name(&self) -> &'static str {
        "payments"
    }

    fn aggregate_types(&self) -> Option<&'static [&'static str]> {
        Some(&[Order::TYPE])
    }

    fn tables(&self) -> &'static [&'static str] {
        &["payment_ledger"]
    }

    /// Money figures must be complete or visibly stopped.
    fn on_unknown_failure(&self) -> UnknownFailure {
        UnknownFailure::Stop
    }

    async fn apply(
        &self,
        conn: &mut PgConnection,
        target: Target,
        events: &[RecordedEvent],
    ) -> Result<(), ProjectionError> {
        let table = target.table("payment_ledger");
        let mut rows = NewRows::default();
        let mut refund_states: Vec<(String, &'static str)> = Vec::new();
        for event in events.iter().filter(|e| e.aggregate_type == Order::TYPE) {
            match change_of(event)? {
                Some(Change::Row {
                    kind,
                    reference,
                    order_id,
                    transaction_id,
                    amount_cents,
                    at,
                    state,
                }) => {
                    rows.kind.push(kind);
                    rows.reference.push(reference);
                    rows.order_id.push(order_id);
                    rows.transaction_id.push(transaction_id);
                    rows.amount_cents.push(amount_cents);
                    rows.at.push(at);
                    rows.state.push(state);
                }
                Some(Change::RefundState { refund_no, state }) => {
                    refund_states.push((refund_no, state));
                }
                None => {}
            }
        }
        // The batch's rows in one statement; then the refunds' later states, in order (a
        // row is only ever inserted in its first state, so inserting first is the same).
        if !rows.kind.is_empty() {
            sqlx::query(&format!(
                "INSERT INTO {table}
                        (kind, reference, order_id, transaction_id, amount_cents, at, state)
                 SELECT * FROM unnest($1::text[], $2::text[], $3::uuid[], $4::text[],
                                      $5::bigint[], $6::timestamptz[], $7::text[])
                 ON CONFLICT (kind, reference) DO NOTHING"
            ))
            .bind(&rows.kind)
            .bind(&rows.reference)
            .bind(&rows.order_id)
            .bind(&rows.transaction_id)
            .bind(&rows.amount_cents)
            .bind(&rows.at)
            .bind(&rows.state)
            .execute(&mut *conn)
            .await?;
        }
        for (refund_no, state) in refund_states {
            sqlx::query(&format!(
                "UPDATE {table} SET state = $2 WHERE kind = 'refund' AND reference = $1"
            ))
            .bind(refund_no)
            .bind(state)
            .execute(&mut *conn)
            .await?;
        }
        Ok(())
    }
}

/// A batch's new rows, column by column (for `unnest`).
#[derive(Default)]
struct NewRows {
    kind: Vec<&'static str>,
    reference: Vec<String>,
    order_id: Vec<Uuid>,
    transaction_id: Vec<String>,
    amount_cents: Vec<i64>,
    at: Vec<chrono::DateTime<chrono::Utc>>,
    state: Vec<&'static str>,
}

/// What an order event changes in the ledger, if anything.
fn change_of(event: &RecordedEvent) -> Result<Option<Change>, ProjectionError> {
    let payload: OrderEvent = decode(event)?;
    let order_id = || Uuid::parse_str(&event.aggregate_id).unwrap_or_default();
    let payment = |payment_id: String, amount_cents, at, state| Change::Row {
        kind: "payment",
        reference: payment_id.clone(),
        order_id: order_id(),
        transaction_id: payment_id,
        amount_cents,
        at,
        state,
    };
    Ok(Some(match payload {
        OrderEvent::OrderPaid {
            payment_id,
            amount_cents,
            paid_at,
        } => payment(payment_id, amount_cents, paid_at, "taken"),
        OrderEvent::PaymentReceived {
            payment_id,
            amount_cents,
            paid_at,
            ..
        } => payment(payment_id, amount_cents, paid_at, "refund_due"),
        OrderEvent::RefundRequested {
            refund_no,
            payment_id,
            amount_cents,
            requested_at,
            ..
        } => Change::Row {
            kind: "refund",
            reference: refund_no,
            order_id: order_id(),
            transaction_id: payment_id,
            amount_cents,
            at: requested_at,
            state: "requested",
        },
        OrderEvent::RefundSucceeded { refund_no, .. } => Change::RefundState {
            refund_no,
            state: "succeeded",
        },
        OrderEvent::RefundFailed { refund_no, .. } => Change::RefundState {
            refund_no,
            state: "failed",
        },
        OrderEvent::RefundAbnormal { refund_no, .. } => Change::RefundState {
            refund_no,
            state: "abnormal",
        },
        _ => return Ok(None),
    }))
}

/// A payment or refund as the read model holds it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct LedgerRow {
    /// `payment` or `refund`.
    pub kind: String,
    /// A payment's transaction id, a refund's number.
    pub reference: String,
    pub order_id: Uuid,
    pub transaction_id: String,
    pub amount_cents: i64,
    /// payment: `taken`, `refund_due`; refund: `requested`, `succeeded`, `failed`,
    /// `abnormal`.
    pub state: String,
}

/// The payments made and refunds asked for from `from` (included) to `to` (excluded).
pub async fn between(
    pool: &sqlx::PgPool,
    from: chrono::DateTime<chrono::Utc>,
    to: chrono::DateTime<chrono::Utc>,
) -> Result<Vec<LedgerRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT kind, reference, order_id, transaction_id, amount_cents, state
           FROM payment_ledger WHERE at >= $1 AND at < $2 ORDER BY at, kind, reference",
    )
    .bind(from)
    .bind(to)
    .fetch_all(pool)
    .await
}
