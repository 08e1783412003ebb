//! Refunds: money going back to the shopper through the payment provider.
//!
//! An operator asks for a refund of an order; the order refunds everything it holds:
//! what is left of its own payment when it is `paid`, `shipped` or `completed` (the order
//! moves to `refunding`, then `refunded`, or back to where it was when the provider
//! refuses), and each payment it could not take (`refunds_due`) not yet refunded or being
//! refunded. Part of an order is refunded as in [`super::partial_refunds`].
//!
//! Every refund has a number (`out_refund_no`) derived from the order and its count of
//! refunds, so two servers asking at once decide the same event and only one append
//! wins; and a refund is settled once: a repeated or late answer changes nothing.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Why money taken for an order must be refunded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefundReason {
    /// The payment arrived after the order was cancelled (e.g. by the payment timeout).
    PaidAfterCancel,
    /// A second, different payment for an order already paid.
    PaidTwice,
}

impl RefundReason {
    /// The name the API uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PaidAfterCancel => "paid_after_cancel",
            Self::PaidTwice => "paid_twice",
        }
    }
}

/// A payment the order could not take, owed back to the shopper.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundDue {
    pub payment_id: String,
    pub amount_cents: i64,
    pub paid_at: DateTime<Utc>,
    pub reason: Option<RefundReason>,
}

use super::partial_refunds::RefundLine;
use super::{Order, OrderError, OrderEvent, OrderStatus};
use crate::text::TextRule;

/// Longest refund reason, in characters: what WeChat Pay accepts (80).
pub const MAX_REFUND_REASON_CHARS: usize = 80;
/// Why the shop refunds: one line, required (auditors read it in the history).
pub const REFUND_REASON: TextRule = TextRule::single_line(MAX_REFUND_REASON_CHARS).required();

/// Which money a refund returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefundKind {
    /// The rest of the order's own payment: the order is refunded.
    Order,
    /// A payment the order could not take (one of its `refunds_due`).
    ExtraPayment,
    /// Part of the order's own payment: the order's status stays.
    Partial,
}

impl RefundKind {
    /// The name the API uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Order => "order",
            Self::ExtraPayment => "extra_payment",
            Self::Partial => "partial",
        }
    }
}

/// Where a refund is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefundStatus {
    /// Asked of the payment provider; its answer has not come yet.
    Requested,
    Succeeded,
    /// The provider refused or gave up; the money was not returned.
    Failed,
}

impl RefundStatus {
    /// The name the API uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Requested => "requested",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
        }
    }
}

/// One refund of an order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refund {
    /// The merchant's refund number (`out_refund_no`).
    pub refund_no: String,
    /// The payment (WeChat Pay transaction) whose money goes back.
    pub payment_id: String,
    pub amount_cents: i64,
    /// What the payment took in all (WeChat Pay's `amount.total` of the refund).
    #[serde(default)]
    pub payment_cents: i64,
    pub kind: RefundKind,
    /// The order's units the refund covers (none for another payment's refund).
    #[serde(default)]
    pub lines: Vec<RefundLine>,
    /// Why the shop refunds.
    pub reason: String,
    pub status: RefundStatus,
    pub requested_at: DateTime<Utc>,
    /// When it succeeded or failed.
    pub settled_at: Option<DateTime<Utc>>,
    /// The provider's id of the refund, once it succeeded.
    pub provider_refund_id: Option<String>,
    /// Why it failed.
    pub failure: Option<String>,
    /// Why the provider reports it stuck, while it is: an operator's to look into.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub abnormal: Option<String>,
}

/// What the payment provider says became of a refund.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum RefundOutcome {
    Succeeded {
        provider_refund_id: String,
        refunded_at: DateTime<Utc>,
    },
    Failed {
        reason: String,
        failed_at: DateTime<Utc>,
    },
    /// Stuck (not a refusal): the refund stays in progress, flagged.
    Abnormal {
        reason: String,
        reported_at: DateTime<Utc>,
    },
}

/// Longest failure reason kept, in characters: the provider's text, cut.
const MAX_FAILURE_CHARS: usize = 200;

impl Order {
    /// The refund numbered `refund_no`.
    pub fn refund(&self, refund_no: &str) -> Option<&Refund> {
        self.refunds.iter().find(|r| r.refund_no == refund_no)
    }

    /// The refunds asked of the provider and not answered yet.
    pub fn refunds_in_progress(&self) -> impl Iterator<Item = &Refund> {
        self.refunds
            .iter()
            .filter(|r| r.status == RefundStatus::Requested)
    }

    /// The number of the order's next refund: its id and the refund's count, at most 64
    /// characters as WeChat Pay allows.
    pub(super) fn next_refund_no(&self, order_key: &str, offset: usize) -> String {
        format!("{order_key}R{}", self.refunds.len() + offset + 1)
    }

    /// Whether `payment_id` is being refunded or was refunded.
    fn refund_covers(&self, payment_id: &str) -> bool {
        self.refunds
            .iter()
            .any(|refund| refund.payment_id == payment_id && refund.status != RefundStatus::Failed)
    }

    /// Refunds everything the order holds that is not refunded yet; `order_key` names
    /// the order in refund numbers.
    pub(super) fn request_refund(
        &self,
        order_key: &str,
        reason: String,
        requested_at: DateTime<Utc>,
    ) -> Result<Vec<OrderEvent>, OrderError> {
        let status = self.status.ok_or(OrderError::NotFound)?;
        if let Some(error) = REFUND_REASON.check("reason", &reason) {
            return Err(OrderError::Invalid(vec![error]));
        }
        // A shopper's open request is decided first: refunding everything under it would
        // leave it nothing to pay.
        if let Some(sale) = self.pending_after_sale() {
            return Err(OrderError::AfterSaleOpen { no: sale.no });
        }
        // (payment, amount, what it took, kind, units)
        let mut refunds = Vec::new();
        if matches!(
            status,
            OrderStatus::Paid | OrderStatus::Shipped | OrderStatus::Completed
        ) && let Some(payment_id) = &self.payment_id
            && self.refundable_cents() > 0
        {
            // WeChat Pay counts every refund number of a payment, failed ones too.
            if self.refunds_of_payment() >= super::partial_refunds::MAX_REFUNDS_PER_PAYMENT {
                return Err(OrderError::TooManyRefunds {
                    max: super::partial_refunds::MAX_REFUNDS_PER_PAYMENT,
                });
            }
            refunds.push((
                payment_id.clone(),
                self.refundable_cents(),
                self.total_cents,
                RefundKind::Order,
                self.unrefunded_lines(),
            ));
        }
        for due in &self.refunds_due {
            if due.reason.is_some() && !self.refund_covers(&due.payment_id) {
                refunds.push((
                    due.payment_id.clone(),
                    due.amount_cents,
                    due.amount_cents,
                    RefundKind::ExtraPayment,
                    Vec::new(),
                ));
            }
        }
        if refunds.is_empty() {
            return Err(if self.refunds_in_progress().next().is_some() {
                OrderError::RefundInProgress
            } else {
                OrderError::NothingToRefund { status }
            });
        }
        Ok(refunds
            .into_iter()
            .enumerate()
            .map(
                |(i, (payment_id, amount_cents, payment_cents, kind, lines))| {
                    OrderEvent::RefundRequested {
                        refund_no: self.next_refund_no(order_key, i),
                        payment_id,
                        amount_cents,
                        kind,
                        reason: reason.clone(),
                        requested_at,
                        lines: Some(lines),
                        payment_cents,
                    }
                },
            )
            .collect())
    }

    /// Refunds part of the order's payment; `order_key` names the order in refund
    /// numbers.
    pub(super) fn request_part_refund(
        &self,
        order_key: &str,
        lines: Vec<RefundLine>,
        refund_cents: Option<i64>,
        reason: String,
        requested_at: DateTime<Utc>,
    ) -> Result<Vec<OrderEvent>, OrderError> {
        let refund_no = self.next_refund_no(order_key, 0);
        let event =
            self.request_partial_refund(refund_no, lines, refund_cents, reason, requested_at)?;
        Ok(vec![event])
    }

    /// Records the provider's answer on a refund: once; a refund already settled keeps
    /// its first answer. A refund reported stuck is flagged once and still settles.
    pub(super) fn settle_refund(
        &self,
        refund_no: &str,
        amount_cents: i64,
        transaction_id: Option<&str>,
        outcome: RefundOutcome,
    ) -> Result<Vec<OrderEvent>, OrderError> {
        let refund = self
            .refund(refund_no)
            .ok_or_else(|| OrderError::UnknownRefund(refund_no.to_owned()))?;
        // An answer about the money of another payment is not this refund's answer,
        // whatever its refund number says.
        if let Some(transaction_id) = transaction_id
            && transaction_id != refund.payment_id
        {
            return Err(OrderError::TransactionMismatch {
                refund_no: refund_no.to_owned(),
                transaction_id: transaction_id.to_owned(),
            });
        }
        if refund.status != RefundStatus::Requested {
            return Ok(Vec::new());
        }
        if amount_cents != refund.amount_cents {
            return Err(OrderError::AmountMismatch {
                expected: refund.amount_cents,
                paid: amount_cents,
            });
        }
        let refund_no = refund.refund_no.clone();
        let kind = refund.kind;
        if matches!(outcome, RefundOutcome::Abnormal { .. }) && refund.abnormal.is_some() {
            return Ok(Vec::new());
        }
        Ok(vec![match outcome {
            RefundOutcome::Succeeded {
                provider_refund_id,
                refunded_at,
            } => OrderEvent::RefundSucceeded {
                refund_no,
                kind,
                amount_cents,
                provider_refund_id,
                refunded_at,
            },
            RefundOutcome::Abnormal {
                reason,
                reported_at,
            } => OrderEvent::RefundAbnormal {
                refund_no,
                kind,
                reason: reason.chars().take(MAX_FAILURE_CHARS).collect(),
                reported_at,
            },
            RefundOutcome::Failed { reason, failed_at } => OrderEvent::RefundFailed {
                refund_no,
                kind,
                reason: reason.chars().take(MAX_FAILURE_CHARS).collect(),
                failed_at,
                back_to: match kind {
                    RefundKind::Order => self.refunding_from.or(Some(OrderStatus::Paid)),
                    RefundKind::ExtraPayment | RefundKind::Partial => None,
                },
            },
        }])
    }

    /// Applies a refund event (the order's status follows `OrderEvent::status_after`).
    pub(super) fn apply_refund(&mut self, event: OrderEvent) {
        match event {
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
                if kind == RefundKind::Order {
                    self.refunding_from = self.status;
                }
                // Written before partial refunds (no lines): the order's refund covered
                // every line.
                let lines = lines.unwrap_or_else(|| match kind {
                    RefundKind::Order => self.unrefunded_lines(),
                    RefundKind::ExtraPayment | RefundKind::Partial => Vec::new(),
                });
                self.refunds.push(Refund {
                    refund_no,
                    payment_id,
                    amount_cents,
                    payment_cents,
                    kind,
                    lines,
                    reason,
                    status: RefundStatus::Requested,
                    requested_at,
                    settled_at: None,
                    provider_refund_id: None,
                    failure: None,
                    abnormal: None,
                });
            }
            OrderEvent::RefundSucceeded {
                refund_no,
                kind,
                provider_refund_id,
                refunded_at,
                ..
            } => {
                if kind == RefundKind::Order {
                    self.refunding_from = None;
                    self.refunded_at = Some(refunded_at);
                }
                if let Some(refund) = self.refunds.iter_mut().find(|r| r.refund_no == refund_no) {
                    refund.status = RefundStatus::Succeeded;
                    refund.settled_at = Some(refunded_at);
                    refund.provider_refund_id = Some(provider_refund_id);
                    refund.abnormal = None;
                }
            }
            OrderEvent::RefundFailed {
                refund_no,
                reason,
                failed_at,
                back_to,
                ..
            } => {
                if back_to.is_some() {
                    self.refunding_from = None;
                }
                if let Some(refund) = self.refunds.iter_mut().find(|r| r.refund_no == refund_no) {
                    refund.status = RefundStatus::Failed;
                    refund.settled_at = Some(failed_at);
                    refund.failure = Some(reason);
                    refund.abnormal = None;
                }
            }
            OrderEvent::RefundAbnormal {
                refund_no, reason, ..
            } => {
                if let Some(refund) = self.refunds.iter_mut().find(|r| r.refund_no == refund_no) {
                    refund.abnormal = Some(reason);
                }
            }
            _ => {}
        }
    }
}
