//! Reading and writing bills.

use super::*;

fn payment(no: &str, cents: i64) -> BillLine {
    BillLine {
        line: 0,
        traded_at: "2026-12-05 10:00:00".to_owned(),
        transaction_id: format!("4200{no}"),
        out_trade_no: no.to_owned(),
        trade_state: "SUCCESS".to_owned(),
        amount_cents: cents,
        refund: None,
    }
}

#[test]
fn amounts_in_yuan_are_read_exactly() {
    assert_eq!(yuan_to_cents("`48.00"), Some(4_800));
    assert_eq!(yuan_to_cents("0.01"), Some(1));
    assert_eq!(yuan_to_cents("`12.5"), Some(1_250));
    assert_eq!(yuan_to_cents("7"), Some(700));
    assert_eq!(yuan_to_cents("-0.30"), Some(-30));
    for bad in [
        "",
        "`",
        "1.234",
        "1,00",
        "abc",
        "1.x",
        ".5",
        "99999999999999999999",
    ] {
        assert_eq!(yuan_to_cents(bad), None, "{bad:?}");
    }
}

#[test]
fn a_written_bill_reads_back_with_its_totals() {
    let mut refund = payment("b", 1_500);
    refund.trade_state = "REFUND".to_owned();
    refund.refund = Some(BillRefund {
        refund_id: "5030x".to_owned(),
        out_refund_no: "bR1".to_owned(),
        refund_cents: 500,
        status: "SUCCESS".to_owned(),
    });
    let lines = vec![payment("a", 4_800), payment("b", 1_500), refund];
    let bill = parse_bill(&write_bill(&lines, "wxapp", "1230000109")).expect("a bill");

    let read: Vec<(String, i64, Option<i64>)> = bill
        .lines
        .iter()
        .map(|l| {
            (
                l.out_trade_no.clone(),
                l.amount_cents,
                l.refund.as_ref().map(|r| r.refund_cents),
            )
        })
        .collect();
    assert_eq!(
        read,
        [
            ("a".to_owned(), 4_800, None),
            ("b".to_owned(), 1_500, None),
            ("b".to_owned(), 1_500, Some(500)),
        ]
    );
    assert_eq!(
        bill.summary,
        BillSummary {
            lines: 3,
            payments_cents: 6_300,
            refunds_cents: 500
        }
    );
    assert_eq!(bill.lines[2].line, 4, "lines are numbered as in the file");
}

#[test]
fn a_malformed_line_is_named() {
    let text = write_bill(&[payment("a", 4_800), payment("b", 100)], "wx", "1");
    let broken = text.replace("`1.00,", "`one yuan,");
    assert_eq!(
        parse_bill(&broken),
        Err(BillError::Malformed {
            line: 3,
            reason: "the amount \"one yuan\" is not an amount in yuan".to_owned()
        })
    );
    let short = text.replacen("`JSAPI,", "", 1);
    assert!(matches!(
        parse_bill(&short),
        Err(BillError::Malformed { line: 2, .. })
    ));
    let truncated: String = text.lines().take(3).collect::<Vec<_>>().join("\n");
    assert_eq!(parse_bill(&truncated), Err(BillError::Missing("summary")));
    let miscounted = text.replacen("`2,", "`3,", 1);
    assert_eq!(
        parse_bill(&miscounted),
        Err(BillError::Count {
            stated: 3,
            found: 2
        })
    );
}
