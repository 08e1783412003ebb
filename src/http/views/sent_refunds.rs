//! The answer to a command that asked refunds (an operator's refund, an approved
//! after-sale, a received return): they are sent to WeChat Pay, its answers recorded,
//! and the read models awaited.

use aggregates::order::{Order, Refund};
use tracing::Instrument;
use uuid::Uuid;

use crate::event_store::EventMetadata;
use crate::http::error::{ApiError, ErrorCode};
use crate::http::views::read_your_writes::await_projections;
use crate::payments::refunds::{Refunds, Sent};
use crate::state::AppState;
use crate::write::Written;

/// Which refunds of the order a command asked, to send now.
pub enum Asked<'a> {
    /// Every refund still in progress (a whole refund asks one per payment).
    InProgress,
    /// The one numbered so (a partial refund, an after-sale's): the others in progress
    /// were sent by the commands that asked them, and are followed up on their own.
    Only(&'a str),
}

/// Refused before anything is written: a refund nobody can send would stay in progress.
pub fn require_wechat_pay(state: &AppState) -> Result<(), ApiError> {
    match state.wechat_pay.config() {
        Some(_) => Ok(()),
        None => Err(ApiError::unavailable("WeChat Pay is not configured")),
    }
}

/// Sends the refunds `asked` of the order `written` to WeChat Pay, records what it
/// answers and waits for the read models to show it; a refusal is a 502 naming WeChat
/// Pay's reason (recorded: the refund failed).
pub async fn send_refunds(
    state: &AppState,
    id: Uuid,
    written: Written<Order>,
    asked: Asked<'_>,
    metadata: EventMetadata,
) -> Result<(), ApiError> {
    let refunds = Refunds {
        write: state.write.clone(),
        wechat_pay: state.wechat_pay.clone(),
    };
    let to_send: Vec<Refund> = written
        .value
        .refunds_in_progress()
        .filter(|refund| match asked {
            Asked::InProgress => true,
            Asked::Only(refund_no) => refund.refund_no == refund_no,
        })
        .cloned()
        .collect();
    // A task of its own: if the operator hangs up, the refunds are still sent and their
    // answers recorded (else the follow-up sends them later).
    let sent = tokio::spawn(
        async move {
            let mut sent = Vec::new();
            for refund in to_send {
                sent.push(refunds.send(id, &refund, &metadata).await);
            }
            sent
        }
        .instrument(tracing::Span::current()),
    )
    .await
    .map_err(|err| ApiError::internal(&err))?;
    let mut position = written.position;
    let mut refused = Vec::new();
    for outcome in sent {
        match outcome? {
            Sent::Settled(at) => position = position.max(at),
            Sent::Refused(reason, at) => {
                position = position.max(at);
                refused.push(reason);
            }
            Sent::Processing | Sent::Unanswered(_) => {}
        }
    }
    await_projections(state, &["orders", "catalog", "after_sales"], position).await;
    if !refused.is_empty() {
        return Err(ApiError::new(
            ErrorCode::Upstream,
            format!("WeChat Pay refused the refund: {}", refused.join("; ")),
        ));
    }
    Ok(())
}
