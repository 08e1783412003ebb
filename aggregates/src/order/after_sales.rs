//! After-sales: a shopper asks for money back for some units (`refund_only`, while the
//! order is paid or shipped) or to send them back (`return_refund`, after shipping,
//! within the shop's window); the merchant approves with an amount or rejects with a
//! reason. An approved refund-only is refunded at once; an approved return waits for the
//! shopper's return shipment and the merchant's receipt, which puts the units back to
//! stock (once: the after-sale moves on) and refunds the approved amount.
//!
//! They live in the Order aggregate because their invariants are the order's: units asked
//! for never exceed those ordered and not refunded yet, and the money approved never
//! exceeds what is left of the payment — two operators approving at once decide on one
//! stream, and only one append wins.
//!
//! Statuses: `requested` → `rejected`, or → (refund-only) `refunding` → `refunded`, or →
//! (return) `awaiting_return` → `return_shipped` → `refunding` → `refunded`; a refund
//! WeChat Pay refuses leaves it `refund_failed` (the operator refunds again by hand).

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::partial_refunds::RefundLine;
use super::{Order, OrderError, OrderEvent, OrderStatus, RefundStatus, validation};
use crate::FieldError;
use crate::text::TextRule;

/// After-sales one order may have, in all.
pub const MAX_AFTER_SALES: usize = 20;
/// The shopper's reason: one line, required.
pub const AFTER_SALE_REASON: TextRule = TextRule::single_line(200).required();
/// The merchant's reason for a rejection: one line, required (the shopper reads it).
pub const REJECT_REASON: TextRule = TextRule::single_line(200).required();

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AfterSaleKind {
    /// Money back, the goods kept (not received, or not worth returning).
    RefundOnly,
    /// The goods go back, then the money.
    ReturnRefund,
}

impl AfterSaleKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RefundOnly => "refund_only",
            Self::ReturnRefund => "return_refund",
        }
    }
}

/// How far the after-sale itself has gone (its refund's progress is the refund's).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AfterSaleStage {
    Requested,
    Rejected,
    /// Approved: a refund-only's refund is asked; a return waits for the goods.
    Approved,
    ReturnShipped,
    /// The returned goods arrived: units back, refund asked.
    Received,
}

impl AfterSaleStage {
    /// The stage in the words of the API's statuses, for refusals.
    pub fn describe(self) -> &'static str {
        match self {
            Self::Requested => "requested (not approved yet)",
            Self::Rejected => "rejected",
            Self::Approved => "approved",
            Self::ReturnShipped => "return_shipped",
            Self::Received => "received (refunding or refunded)",
        }
    }
}

/// The shopper's return shipment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReturnShipment {
    pub express_company: String,
    pub tracking_no: String,
    pub shipped_at: DateTime<Utc>,
}

/// One after-sale of an order, numbered from 1.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AfterSale {
    pub no: u32,
    pub kind: AfterSaleKind,
    pub lines: Vec<RefundLine>,
    pub reason: String,
    pub requested_at: DateTime<Utc>,
    pub stage: AfterSaleStage,
    /// What the merchant approved.
    pub refund_cents: Option<i64>,
    /// The refund that pays it.
    pub refund_no: Option<String>,
    pub reject_reason: Option<String>,
    pub return_shipment: Option<ReturnShipment>,
    pub decided_at: Option<DateTime<Utc>>,
    pub received_at: Option<DateTime<Utc>>,
}

impl AfterSale {
    /// Its status as shoppers and merchants read it, given its refund's status.
    pub fn status(&self, refund: Option<RefundStatus>) -> &'static str {
        match (self.stage, refund) {
            (AfterSaleStage::Requested, _) => "requested",
            (AfterSaleStage::Rejected, _) => "rejected",
            (_, Some(RefundStatus::Requested)) => "refunding",
            (_, Some(RefundStatus::Succeeded)) => "refunded",
            (_, Some(RefundStatus::Failed)) => "refund_failed",
            (AfterSaleStage::Approved, None) => "awaiting_return",
            (AfterSaleStage::ReturnShipped, None) => "return_shipped",
            // Received always asks its refund in the same append.
            (AfterSaleStage::Received, None) => "refunding",
        }
    }

    /// Whether its units are spoken for but not covered by a refund yet.
    fn holds_units(&self) -> bool {
        match self.stage {
            AfterSaleStage::Requested => true,
            AfterSaleStage::Approved | AfterSaleStage::ReturnShipped => {
                self.kind == AfterSaleKind::ReturnRefund
            }
            AfterSaleStage::Rejected | AfterSaleStage::Received => false,
        }
    }

    /// Whether money is approved for it and not asked of WeChat Pay yet (a return
    /// waiting for its goods).
    fn holds_money(&self) -> Option<i64> {
        match self.stage {
            AfterSaleStage::Approved | AfterSaleStage::ReturnShipped
                if self.kind == AfterSaleKind::ReturnRefund =>
            {
                self.refund_cents
            }
            _ => None,
        }
    }

    fn is_open(&self) -> bool {
        self.holds_units()
    }
}

/// Approved money a pending return holds, so that no other refund takes it.
pub(super) fn committed_cents(order: &Order) -> i64 {
    order
        .after_sales
        .iter()
        .filter_map(AfterSale::holds_money)
        .sum()
}

impl Order {
    /// The after-sale numbered `no`.
    pub fn after_sale(&self, no: u32) -> Option<&AfterSale> {
        self.after_sales.iter().find(|sale| sale.no == no)
    }

    fn open_after_sale(&self, no: u32) -> Result<&AfterSale, OrderError> {
        self.after_sale(no).ok_or(OrderError::UnknownAfterSale(no))
    }

    /// Return `no`, approved and its goods not received yet: what the shopper ships back
    /// and the merchant receives.
    fn approved_return(&self, no: u32) -> Result<&AfterSale, OrderError> {
        let sale = self.open_after_sale(no)?;
        let awaits_goods = matches!(
            sale.stage,
            AfterSaleStage::Approved | AfterSaleStage::ReturnShipped
        );
        if sale.kind != AfterSaleKind::ReturnRefund || !awaits_goods {
            return Err(OrderError::AfterSaleDecided {
                no,
                stage: sale.stage,
            });
        }
        Ok(sale)
    }

    /// An after-sale that is still open, if any (a whole refund waits for it).
    pub fn pending_after_sale(&self) -> Option<&AfterSale> {
        self.after_sales.iter().find(|sale| sale.is_open())
    }

    /// Units of `sku_id` that open after-sales speak for.
    pub(super) fn units_asked(&self, sku_id: uuid::Uuid) -> i64 {
        self.after_sales
            .iter()
            .filter(|sale| sale.holds_units())
            .flat_map(|sale| &sale.lines)
            .filter(|line| line.sku_id == sku_id)
            .map(|line| line.quantity)
            .sum()
    }

    /// The shopper asks; `window` is how long after shipping a return may be asked.
    pub(super) fn request_after_sale(
        &self,
        kind: AfterSaleKind,
        lines: Vec<RefundLine>,
        reason: String,
        requested_at: DateTime<Utc>,
        window: Duration,
    ) -> Result<OrderEvent, OrderError> {
        let status = self.status.ok_or(OrderError::NotFound)?;
        let allowed = match kind {
            AfterSaleKind::RefundOnly => {
                matches!(status, OrderStatus::Paid | OrderStatus::Shipped)
            }
            AfterSaleKind::ReturnRefund => {
                matches!(status, OrderStatus::Shipped | OrderStatus::Completed)
            }
        };
        if !allowed {
            return Err(OrderError::InvalidTransition {
                status,
                action: match kind {
                    AfterSaleKind::RefundOnly => "ask a refund of",
                    AfterSaleKind::ReturnRefund => "return goods of",
                },
            });
        }
        if kind == AfterSaleKind::ReturnRefund
            && let Some(shipment) = &self.shipment
            && requested_at > shipment.shipped_at + window
        {
            return Err(OrderError::ReturnWindowClosed {
                closed_at: shipment.shipped_at + window,
            });
        }
        if self.after_sales.len() >= MAX_AFTER_SALES {
            return Err(OrderError::TooManyAfterSales {
                max: MAX_AFTER_SALES,
            });
        }
        let mut errors = Vec::new();
        if let Some(error) = AFTER_SALE_REASON.check("reason", &reason) {
            errors.push(error);
        }
        if lines.is_empty() {
            errors.push(FieldError::new("lines", "name at least one line"));
        }
        // The same units a refund could take: ordered, not refunded, not asked for yet.
        errors.extend(self.check_refund_lines(&lines));
        if !errors.is_empty() {
            return Err(OrderError::Invalid(errors));
        }
        Ok(OrderEvent::AfterSaleRequested {
            no: u32::try_from(self.after_sales.len() + 1).unwrap_or(u32::MAX),
            kind,
            lines,
            reason: reason.trim().to_owned(),
            requested_at,
        })
    }

    /// The merchant approves `no` with `refund_cents` (what its lines were paid when
    /// absent): a refund-only is refunded now; a return waits for its goods.
    pub(super) fn approve_after_sale(
        &self,
        order_key: &str,
        no: u32,
        refund_cents: Option<i64>,
        approved_at: DateTime<Utc>,
    ) -> Result<Vec<OrderEvent>, OrderError> {
        let sale = self.open_after_sale(no)?;
        if sale.stage != AfterSaleStage::Requested {
            return Err(OrderError::AfterSaleDecided {
                no,
                stage: sale.stage,
            });
        }
        let value = self.paid_for(&sale.lines);
        let amount = refund_cents.unwrap_or(value);
        if amount < 1 || amount > value {
            return Err(OrderError::Invalid(vec![FieldError::new(
                "refund_cents",
                format!("between 1 and {value}: what those lines were paid"),
            )]));
        }
        match sale.kind {
            AfterSaleKind::RefundOnly => {
                let refund = self.refund_for(order_key, sale, amount, approved_at)?;
                Ok(vec![
                    OrderEvent::AfterSaleApproved {
                        no,
                        refund_cents: amount,
                        refund_no: Some(refund_no_of(&refund)),
                        approved_at,
                    },
                    refund,
                ])
            }
            AfterSaleKind::ReturnRefund => {
                let left = self.refundable_cents();
                if amount > left {
                    return Err(OrderError::RefundExceedsPayment {
                        asked: amount,
                        left,
                    });
                }
                Ok(vec![OrderEvent::AfterSaleApproved {
                    no,
                    refund_cents: amount,
                    refund_no: None,
                    approved_at,
                }])
            }
        }
    }

    /// The refund paying `sale` `amount`, decided as a partial refund of its lines.
    fn refund_for(
        &self,
        order_key: &str,
        sale: &AfterSale,
        amount: i64,
        at: DateTime<Utc>,
    ) -> Result<OrderEvent, OrderError> {
        // Its own units and money are no longer held for it once it is refunded.
        let mut released = self.clone();
        if let Some(own) = released.after_sales.iter_mut().find(|s| s.no == sale.no) {
            own.stage = AfterSaleStage::Received;
        }
        let reason: String = format!("after-sale {}: {}", sale.no, sale.reason)
            .chars()
            .take(super::MAX_REFUND_REASON_CHARS)
            .collect();
        let refund_no = self.next_refund_no(order_key, 0);
        released.request_partial_refund(refund_no, sale.lines.clone(), Some(amount), reason, at)
    }

    pub(super) fn reject_after_sale(
        &self,
        no: u32,
        reason: String,
        rejected_at: DateTime<Utc>,
    ) -> Result<OrderEvent, OrderError> {
        let sale = self.open_after_sale(no)?;
        if sale.stage != AfterSaleStage::Requested {
            return Err(OrderError::AfterSaleDecided {
                no,
                stage: sale.stage,
            });
        }
        if let Some(error) = REJECT_REASON.check("reason", &reason) {
            return Err(OrderError::Invalid(vec![error]));
        }
        Ok(OrderEvent::AfterSaleRejected {
            no,
            reason: reason.trim().to_owned(),
            rejected_at,
        })
    }

    /// The shopper's return shipment of approved return `no` (corrected until the goods
    /// arrive; the same details again change nothing).
    pub(super) fn ship_return(
        &self,
        no: u32,
        express_company: String,
        tracking_no: String,
        shipped_at: DateTime<Utc>,
    ) -> Result<Option<OrderEvent>, OrderError> {
        let sale = self.approved_return(no)?;
        let (express_company, tracking_no) = (
            express_company.trim().to_owned(),
            tracking_no.trim().to_owned(),
        );
        let mut errors = Vec::new();
        for (field, value) in [
            ("express_company", &express_company),
            ("tracking_no", &tracking_no),
        ] {
            errors.extend(validation::SHIPMENT_FIELD.check(field, value));
        }
        if !errors.is_empty() {
            return Err(OrderError::Invalid(errors));
        }
        if sale.return_shipment.as_ref().is_some_and(|shipment| {
            shipment.express_company == express_company && shipment.tracking_no == tracking_no
        }) {
            return Ok(None);
        }
        Ok(Some(OrderEvent::ReturnShipped {
            no,
            express_company,
            tracking_no,
            shipped_at,
        }))
    }

    /// The merchant received return `no`'s goods: its units go back to stock (with these
    /// events) and its approved amount is refunded.
    pub(super) fn receive_return(
        &self,
        order_key: &str,
        no: u32,
        received_at: DateTime<Utc>,
    ) -> Result<Vec<OrderEvent>, OrderError> {
        let sale = self.approved_return(no)?;
        let amount = sale.refund_cents.unwrap_or_default();
        let refund = self.refund_for(order_key, sale, amount, received_at)?;
        Ok(vec![
            OrderEvent::ReturnReceived {
                no,
                lines: sale.lines.clone(),
                refund_no: Some(refund_no_of(&refund)),
                received_at,
            },
            refund,
        ])
    }

    /// Applies an after-sale event.
    pub(super) fn apply_after_sale(&mut self, event: OrderEvent) {
        match event {
            OrderEvent::AfterSaleRequested {
                no,
                kind,
                lines,
                reason,
                requested_at,
            } => self.after_sales.push(AfterSale {
                no,
                kind,
                lines,
                reason,
                requested_at,
                stage: AfterSaleStage::Requested,
                refund_cents: None,
                refund_no: None,
                reject_reason: None,
                return_shipment: None,
                decided_at: None,
                received_at: None,
            }),
            OrderEvent::AfterSaleApproved {
                no,
                refund_cents,
                refund_no,
                approved_at,
            } => {
                if let Some(sale) = self.after_sales.iter_mut().find(|s| s.no == no) {
                    sale.stage = AfterSaleStage::Approved;
                    sale.refund_cents = Some(refund_cents);
                    sale.refund_no = refund_no;
                    sale.decided_at = Some(approved_at);
                }
            }
            OrderEvent::AfterSaleRejected {
                no,
                reason,
                rejected_at,
            } => {
                if let Some(sale) = self.after_sales.iter_mut().find(|s| s.no == no) {
                    sale.stage = AfterSaleStage::Rejected;
                    sale.reject_reason = Some(reason);
                    sale.decided_at = Some(rejected_at);
                }
            }
            OrderEvent::ReturnShipped {
                no,
                express_company,
                tracking_no,
                shipped_at,
            } => {
                if let Some(sale) = self.after_sales.iter_mut().find(|s| s.no == no) {
                    sale.stage = AfterSaleStage::ReturnShipped;
                    sale.return_shipment = Some(ReturnShipment {
                        express_company,
                        tracking_no,
                        shipped_at,
                    });
                }
            }
            OrderEvent::ReturnReceived {
                no,
                refund_no,
                received_at,
                ..
            } => {
                if let Some(sale) = self.after_sales.iter_mut().find(|s| s.no == no) {
                    sale.stage = AfterSaleStage::Received;
                    sale.refund_no = refund_no;
                    sale.received_at = Some(received_at);
                }
            }
            _ => {}
        }
    }
}

fn refund_no_of(event: &OrderEvent) -> String {
    match event {
        OrderEvent::RefundRequested { refund_no, .. } => refund_no.clone(),
        _ => String::new(),
    }
}

/// An after-sale's id in the API: the order's id (32 hex digits) and its number, `…A2`.
pub fn after_sale_id(order_id: uuid::Uuid, no: u32) -> String {
    format!("{}A{no}", order_id.simple())
}

/// The order and number an after-sale id names, if it is one.
pub fn parse_after_sale_id(id: &str) -> Option<(uuid::Uuid, u32)> {
    let (order, no) = id.split_once('A')?;
    if order.len() != 32 {
        return None;
    }
    let order = uuid::Uuid::try_parse(order).ok()?;
    let no: u32 = no.parse().ok()?;
    (no >= 1 && no.to_string().len() == id.len() - 33).then_some((order, no))
}
