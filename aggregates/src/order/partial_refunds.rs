//! Refunding part of an order: some of its units, some of its money, or both.
//!
//! The order's own payment is a ledger: every refund of it not failed (asked or done)
//! covers an amount and some units, and the order refuses a refund that would make the
//! amounts add up to more than was paid, or the units of a SKU to more than were ordered.
//! Two operators (or servers) asking at once decide on the same state and number their
//! refunds alike, so only one append wins and the other decides again on what it left.
//! A refund that takes the last of the money is the order's refund (the order becomes
//! `refunded`, nothing is left to ship), covering every unit not covered yet.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{Order, OrderError, OrderEvent, OrderStatus, RefundKind, RefundStatus};
use crate::FieldError;

/// Refunds WeChat Pay takes for one payment (its partial refunds included).
pub const MAX_REFUNDS_PER_PAYMENT: usize = 50;

/// Units of one SKU of the order a refund covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundLine {
    pub sku_id: Uuid,
    pub quantity: i64,
}

/// What a refund request gives back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum RefundScope {
    /// Everything the order holds that is not refunded yet: the rest of its own payment
    /// (and its units), and every payment it could not take.
    Whole,
    /// Part of the order's own payment: `lines` (may be empty: money only) and
    /// `refund_cents` (when absent: what those lines were paid).
    Part {
        lines: Vec<RefundLine>,
        refund_cents: Option<i64>,
    },
}

impl Order {
    /// The refunds of the order's own payment that are not failed: asked or done.
    fn own_refunds(&self) -> impl Iterator<Item = &super::Refund> {
        self.refunds.iter().filter(|refund| {
            matches!(refund.kind, RefundKind::Order | RefundKind::Partial)
                && refund.status != RefundStatus::Failed
        })
    }

    /// What the order's payment took, in cents (0 before it was paid).
    fn paid_cents(&self) -> i64 {
        if self.payment_id.is_some() {
            self.total_cents
        } else {
            0
        }
    }

    /// Money of the order's own payment given back or being given back.
    pub fn refunded_cents(&self) -> i64 {
        self.own_refunds().map(|refund| refund.amount_cents).sum()
    }

    /// What is left of the order's payment to refund, besides what approved returns
    /// waiting for their goods will refund.
    pub fn refundable_cents(&self) -> i64 {
        (self.paid_cents() - self.refunded_cents() - super::after_sales::committed_cents(self))
            .max(0)
    }

    /// Units of `sku_id` covered by refunds not failed.
    pub fn refunded_units(&self, sku_id: Uuid) -> i64 {
        self.own_refunds()
            .flat_map(|refund| &refund.lines)
            .filter(|line| line.sku_id == sku_id)
            .map(|line| line.quantity)
            .sum()
    }

    /// Units of each line no refund covers yet (lines with none left are left out).
    pub fn unrefunded_lines(&self) -> Vec<RefundLine> {
        self.lines
            .iter()
            .map(|line| RefundLine {
                sku_id: line.sku_id,
                quantity: line.quantity - self.refunded_units(line.sku_id),
            })
            .filter(|line| line.quantity > 0)
            .collect()
    }

    /// What `lines` were paid: their prices, scaled by what the payment took of the
    /// lines' total (the same without discounts), rounded down so that parts never add up
    /// to more than the whole.
    pub fn paid_for(&self, lines: &[RefundLine]) -> i64 {
        let listed: i128 = self
            .lines
            .iter()
            .map(|line| i128::from(line.unit_price_cents) * i128::from(line.quantity))
            .sum();
        let value: i128 = lines
            .iter()
            .filter_map(|refund| {
                let line = self
                    .lines
                    .iter()
                    .find(|line| line.sku_id == refund.sku_id)?;
                Some(i128::from(line.unit_price_cents) * i128::from(refund.quantity))
            })
            .sum();
        if listed <= 0 {
            return 0;
        }
        let paid = i128::from(self.paid_cents());
        i64::try_from(value * paid / listed).unwrap_or(i64::MAX)
    }

    /// Refunds of the order's own payment ever asked for, failed ones included: WeChat
    /// Pay counts each `out_refund_no`.
    pub(super) fn refunds_of_payment(&self) -> usize {
        self.refunds
            .iter()
            .filter(|refund| matches!(refund.kind, RefundKind::Order | RefundKind::Partial))
            .count()
    }

    /// Decides a refund of part of the order's payment; `refund_no` numbers it.
    pub(super) fn request_partial_refund(
        &self,
        refund_no: String,
        lines: Vec<RefundLine>,
        refund_cents: Option<i64>,
        reason: String,
        requested_at: chrono::DateTime<chrono::Utc>,
    ) -> Result<OrderEvent, OrderError> {
        let status = self.status.ok_or(OrderError::NotFound)?;
        if !matches!(
            status,
            OrderStatus::Paid | OrderStatus::Shipped | OrderStatus::Completed
        ) {
            return Err(if status == OrderStatus::Refunding {
                OrderError::RefundInProgress
            } else {
                OrderError::InvalidTransition {
                    status,
                    action: "refund part of",
                }
            });
        }
        let mut errors = Vec::new();
        if let Some(error) = super::REFUND_REASON.check("reason", &reason) {
            errors.push(error);
        }
        errors.extend(self.check_refund_lines(&lines));
        let value = self.paid_for(&lines);
        match refund_cents {
            None if lines.is_empty() => errors.push(FieldError::new(
                "lines",
                "name the lines to refund, or refund_cents",
            )),
            Some(cents) if cents < 1 => {
                errors.push(FieldError::new("refund_cents", "must be at least 1"));
            }
            Some(cents) if !lines.is_empty() && cents > value => errors.push(FieldError::new(
                "refund_cents",
                format!("at most {value}: what those lines were paid"),
            )),
            _ => {}
        }
        if !errors.is_empty() {
            return Err(OrderError::Invalid(errors));
        }
        let amount_cents = refund_cents.unwrap_or(value);
        let left = self.refundable_cents();
        if amount_cents > left {
            return Err(OrderError::RefundExceedsPayment {
                asked: amount_cents,
                left,
            });
        }
        if self.refunds_of_payment() >= MAX_REFUNDS_PER_PAYMENT {
            return Err(OrderError::TooManyRefunds {
                max: MAX_REFUNDS_PER_PAYMENT,
            });
        }
        let payment_id = self
            .payment_id
            .clone()
            .ok_or(OrderError::NothingToRefund { status })?;
        // The last of the money: the order is refunded, with every unit left; a shopper's
        // open request is decided first, as for a whole refund.
        let takes_the_rest = amount_cents == self.paid_cents() - self.refunded_cents();
        if takes_the_rest && let Some(sale) = self.pending_after_sale() {
            return Err(OrderError::AfterSaleOpen { no: sale.no });
        }
        let (kind, lines) = if takes_the_rest {
            (RefundKind::Order, self.unrefunded_lines())
        } else {
            (RefundKind::Partial, lines)
        };
        Ok(OrderEvent::RefundRequested {
            refund_no,
            payment_id,
            amount_cents,
            kind,
            reason,
            requested_at,
            lines: Some(lines),
            payment_cents: self.total_cents,
        })
    }

    /// What is wrong with the units asked to be refunded, each named by its place.
    pub(super) fn check_refund_lines(&self, lines: &[RefundLine]) -> Vec<FieldError> {
        let mut errors = Vec::new();
        for (i, refund) in lines.iter().enumerate() {
            let Some(line) = self.lines.iter().find(|line| line.sku_id == refund.sku_id) else {
                errors.push(FieldError::new(
                    format!("lines[{i}].sku_id"),
                    "the order has no line of this SKU",
                ));
                continue;
            };
            if lines[..i]
                .iter()
                .any(|earlier| earlier.sku_id == refund.sku_id)
            {
                errors.push(FieldError::new(
                    format!("lines[{i}].sku_id"),
                    "named twice: one entry per SKU",
                ));
                continue;
            }
            // Units a shopper's open after-sale asks for are that request's to settle.
            let asked = self.units_asked(line.sku_id);
            let left = line.quantity - self.refunded_units(line.sku_id) - asked;
            if refund.quantity < 1 || refund.quantity > left {
                let held = if asked > 0 {
                    format!(" ({asked} more asked for by an open after-sale)")
                } else {
                    String::new()
                };
                errors.push(FieldError::new(
                    format!("lines[{i}].quantity"),
                    format!(
                        "between 1 and {left}: the units of {} not refunded yet{held}",
                        line.name
                    ),
                ));
            }
        }
        errors
    }

    /// The units that go back to stock with `event`, which made the order what it is:
    /// a refund's units, when it succeeds before the order was shipped.
    pub fn restocked_by(&self, event: &OrderEvent) -> Vec<RefundLine> {
        match event {
            OrderEvent::RefundSucceeded {
                refund_no,
                kind: RefundKind::Order | RefundKind::Partial,
                ..
            } if self.shipment.is_none() => self
                .refund(refund_no)
                .map(|refund| refund.lines.clone())
                .unwrap_or_default(),
            _ => Vec::new(),
        }
    }
}
