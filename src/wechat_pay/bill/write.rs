//! A bill written in WeChat Pay's format: what dev mode's simulated WeChat Pay serves,
//! and what tests hand a fake WeChat Pay.

use super::BillLine;

/// Writes a bill in WeChat Pay's format (the dev simulator's, and tests').
pub fn write_bill(lines: &[BillLine], app_id: &str, mch_id: &str) -> String {
    let mut text = String::from(
        "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注\n",
    );
    let yuan = |cents: i64| format!("{}.{:02}", cents / 100, (cents % 100).abs());
    let (mut payments, mut refunds) = (0, 0);
    for line in lines {
        let (refund_id, out_refund_no, refund_cents, status) = match &line.refund {
            Some(refund) => {
                refunds += refund.refund_cents;
                (
                    refund.refund_id.as_str(),
                    refund.out_refund_no.as_str(),
                    refund.refund_cents,
                    refund.status.as_str(),
                )
            }
            None => {
                payments += line.amount_cents;
                ("0", "0", 0, "")
            }
        };
        let fields = [
            line.traded_at.clone(),
            app_id.to_owned(),
            mch_id.to_owned(),
            "0".to_owned(),
            String::new(),
            line.transaction_id.clone(),
            line.out_trade_no.clone(),
            String::new(),
            "JSAPI".to_owned(),
            line.trade_state.clone(),
            "OTHERS".to_owned(),
            "CNY".to_owned(),
            yuan(line.amount_cents),
            "0.00".to_owned(),
            refund_id.to_owned(),
            out_refund_no.to_owned(),
            yuan(refund_cents),
            "0.00".to_owned(),
            if line.refund.is_some() {
                "ORIGINAL"
            } else {
                ""
            }
            .to_owned(),
            status.to_owned(),
            String::new(),
            String::new(),
            "0.00000".to_owned(),
            "0.60%".to_owned(),
            yuan(line.amount_cents),
            yuan(refund_cents),
            String::new(),
        ];
        let row: Vec<String> = fields.iter().map(|value| format!("`{value}")).collect();
        text.push_str(&row.join(","));
        text.push('\n');
    }
    text.push_str("总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额\n");
    text.push_str(&format!(
        "`{},`{},`{},`0.00,`0.00000,`{},`{}\n",
        lines.len(),
        yuan(payments),
        yuan(refunds),
        yuan(payments),
        yuan(refunds)
    ));
    text
}
