//! A day's WeChat Pay bill against the log's payments and refunds of that day, line by
//! line: payments by transaction id, refunds by refund number. What both hold with the
//! same amount is matched; everything else is a difference, named by its kind.

use std::collections::HashMap;

use uuid::Uuid;

use crate::wechat_pay::BillLine;

/// A payment or refund as the log has it (the `payment_ledger` read model).
pub use projections::payments::LedgerRow as LedgerEntry;

/// What the bill and the log disagree on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Difference {
    /// `missing_in_ordo`, `missing_at_wechat`, `amount_mismatch`, and for refunds
    /// `refund_missing_in_ordo`, `refund_missing_at_wechat`, `refund_amount_mismatch`.
    pub kind: &'static str,
    pub out_trade_no: String,
    pub order_id: Option<Uuid>,
    pub wechat_cents: Option<i64>,
    pub ordo_cents: Option<i64>,
    pub detail: String,
}

/// Counts and sums of one side.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Side {
    pub payments: i64,
    pub refunds: i64,
    /// Payments' total.
    pub total_cents: i64,
    /// Refunds' total.
    pub refunded_cents: i64,
}

/// The comparison of one day.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Comparison {
    pub wechat: Side,
    pub ordo: Side,
    pub matched: i64,
    pub differences: Vec<Difference>,
    /// The bill's payments the log lacks: to be recorded through the payment path.
    pub unrecorded: Vec<BillLine>,
}

/// Compares the bill's lines with the log's entries of the same day.
pub fn compare(bill: &[BillLine], ledger: &[LedgerEntry]) -> Comparison {
    let mut comparison = Comparison::default();
    let order_of = |out_trade_no: &str| Uuid::parse_str(out_trade_no).ok();

    let mut payments: HashMap<&str, &LedgerEntry> = HashMap::new();
    let mut refunds: HashMap<&str, &LedgerEntry> = HashMap::new();
    for entry in ledger {
        match entry.kind.as_str() {
            "payment" => {
                comparison.ordo.payments += 1;
                comparison.ordo.total_cents += entry.amount_cents;
                payments.insert(&entry.reference, entry);
            }
            // A refund WeChat Pay refused never reached the bill.
            "refund" if entry.state != "failed" => {
                comparison.ordo.refunds += 1;
                comparison.ordo.refunded_cents += entry.amount_cents;
                refunds.insert(&entry.reference, entry);
            }
            _ => {}
        }
    }

    for line in bill {
        let (wechat_cents, entry, kinds) = match &line.refund {
            None => {
                comparison.wechat.payments += 1;
                comparison.wechat.total_cents += line.amount_cents;
                let entry = payments.remove(line.transaction_id.as_str());
                (
                    line.amount_cents,
                    entry,
                    ("missing_in_ordo", "amount_mismatch"),
                )
            }
            Some(refund) => {
                comparison.wechat.refunds += 1;
                comparison.wechat.refunded_cents += refund.refund_cents;
                let entry = refunds.remove(refund.out_refund_no.as_str());
                (
                    refund.refund_cents,
                    entry,
                    ("refund_missing_in_ordo", "refund_amount_mismatch"),
                )
            }
        };
        match entry {
            Some(entry) if entry.amount_cents == wechat_cents => comparison.matched += 1,
            Some(entry) => comparison.differences.push(Difference {
                kind: kinds.1,
                out_trade_no: line.out_trade_no.clone(),
                order_id: Some(entry.order_id),
                wechat_cents: Some(wechat_cents),
                ordo_cents: Some(entry.amount_cents),
                detail: format!("bill line {}: {}", line.line, entry.reference),
            }),
            None => {
                comparison.differences.push(Difference {
                    kind: kinds.0,
                    out_trade_no: line.out_trade_no.clone(),
                    order_id: order_of(&line.out_trade_no),
                    wechat_cents: Some(wechat_cents),
                    ordo_cents: None,
                    detail: match &line.refund {
                        None => format!(
                            "bill line {}: transaction {}",
                            line.line, line.transaction_id
                        ),
                        Some(refund) => {
                            format!("bill line {}: refund {}", line.line, refund.out_refund_no)
                        }
                    },
                });
                if line.refund.is_none() {
                    comparison.unrecorded.push(line.clone());
                }
            }
        }
    }

    let mut left: Vec<(&str, &LedgerEntry)> = payments
        .into_values()
        .map(|entry| ("missing_at_wechat", entry))
        .chain(
            refunds
                .into_values()
                .map(|entry| ("refund_missing_at_wechat", entry)),
        )
        .collect();
    left.sort_by(|a, b| a.1.reference.cmp(&b.1.reference));
    for (kind, entry) in left {
        comparison.differences.push(Difference {
            kind,
            out_trade_no: entry.order_id.simple().to_string(),
            order_id: Some(entry.order_id),
            wechat_cents: None,
            ordo_cents: Some(entry.amount_cents),
            detail: format!("{} {} ({})", entry.kind, entry.reference, entry.state),
        });
    }
    comparison
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wechat_pay::BillRefund;

    fn line(order: Uuid, transaction: &str, cents: i64, refund: Option<(&str, i64)>) -> BillLine {
        BillLine {
            line: 2,
            traded_at: "2026-12-05 10:00:00".to_owned(),
            transaction_id: transaction.to_owned(),
            out_trade_no: order.simple().to_string(),
            trade_state: if refund.is_some() {
                "REFUND"
            } else {
                "SUCCESS"
            }
            .to_owned(),
            amount_cents: cents,
            refund: refund.map(|(no, cents)| BillRefund {
                refund_id: format!("5030{no}"),
                out_refund_no: no.to_owned(),
                refund_cents: cents,
                status: "SUCCESS".to_owned(),
            }),
        }
    }

    fn entry(kind: &str, reference: &str, order: Uuid, cents: i64, state: &str) -> LedgerEntry {
        LedgerEntry {
            kind: kind.to_owned(),
            reference: reference.to_owned(),
            order_id: order,
            transaction_id: reference.to_owned(),
            amount_cents: cents,
            state: state.to_owned(),
        }
    }

    #[test]
    fn each_kind_of_difference_is_found_and_matches_are_counted() {
        let [matched, lost, refunded, wrong, unbilled] = [(); 5].map(|()| Uuid::new_v4());
        let bill = [
            line(matched, "t1", 4_800, None),
            line(lost, "t2", 1_000, None),
            line(refunded, "t3", 2_000, None),
            line(refunded, "t3", 2_000, Some(("r3", 2_000))),
            line(wrong, "t4", 900, None),
        ];
        let ledger = [
            entry("payment", "t1", matched, 4_800, "taken"),
            entry("payment", "t3", refunded, 2_000, "taken"),
            entry("refund", "r3", refunded, 2_000, "succeeded"),
            entry("payment", "t4", wrong, 1_900, "taken"),
            entry("payment", "t5", unbilled, 700, "taken"),
            entry("refund", "r9", unbilled, 700, "failed"),
        ];

        let comparison = compare(&bill, &ledger);

        assert_eq!(comparison.matched, 3);
        type Seen = (&'static str, Option<Uuid>, Option<i64>, Option<i64>);
        let kinds: Vec<Seen> = comparison
            .differences
            .iter()
            .map(|d| (d.kind, d.order_id, d.wechat_cents, d.ordo_cents))
            .collect();
        assert_eq!(
            kinds,
            [
                ("missing_in_ordo", Some(lost), Some(1_000), None),
                ("amount_mismatch", Some(wrong), Some(900), Some(1_900)),
                ("missing_at_wechat", Some(unbilled), None, Some(700)),
            ]
        );
        assert_eq!(comparison.unrecorded.len(), 1);
        assert_eq!(comparison.unrecorded[0].transaction_id, "t2");
        assert_eq!(
            comparison.wechat,
            Side {
                payments: 4,
                refunds: 1,
                total_cents: 8_700,
                refunded_cents: 2_000
            }
        );
        assert_eq!(
            comparison.ordo,
            Side {
                payments: 4,
                refunds: 1,
                total_cents: 9_400,
                refunded_cents: 2_000
            }
        );
    }

    #[test]
    fn refunds_are_compared_by_their_numbers() {
        let order = Uuid::new_v4();
        let bill = [
            line(order, "t1", 3_000, Some(("r1", 1_000))),
            line(order, "t1", 3_000, Some(("r2", 500))),
        ];
        let ledger = [
            entry("refund", "r1", order, 1_200, "succeeded"),
            entry("refund", "r3", order, 300, "requested"),
        ];
        let kinds: Vec<&str> = compare(&bill, &ledger)
            .differences
            .iter()
            .map(|d| d.kind)
            .collect();
        assert_eq!(
            kinds,
            [
                "refund_amount_mismatch",
                "refund_missing_in_ordo",
                "refund_missing_at_wechat"
            ]
        );
    }
}
