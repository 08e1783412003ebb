//! WeChat Pay's daily trade bill, as its bill download serves it: a header line, one line
//! per payment or refund with every field behind a backquote (so spreadsheet programs do
//! not turn numbers into exponents), then a summary header and the summary line. Amounts
//! are yuan with two decimals. Columns are found by their names, not their places.

#[cfg(test)]
mod tests;
mod write;

pub use write::write_bill;

/// One payment or refund of the day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BillLine {
    /// The line's number in the file (1 = the header), to name it in a report.
    pub line: usize,
    /// `交易时间`, as written (Beijing time).
    pub traded_at: String,
    /// `微信订单号`: the payment's transaction id.
    pub transaction_id: String,
    /// `商户订单号`: ordo's `out_trade_no`.
    pub out_trade_no: String,
    /// `SUCCESS` for a payment, `REFUND` for a refund (`交易状态`).
    pub trade_state: String,
    /// The order's amount (`订单金额`, or `应结订单金额` when absent).
    pub amount_cents: i64,
    /// For a refund: its numbers, amount and status.
    pub refund: Option<BillRefund>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BillRefund {
    /// `微信退款单号`.
    pub refund_id: String,
    /// `商户退款单号`: ordo's `out_refund_no`.
    pub out_refund_no: String,
    /// `申请退款金额` (or `退款金额`).
    pub refund_cents: i64,
    /// `退款状态`: `SUCCESS`, `PROCESSING`, ...
    pub status: String,
}

/// The bill's own totals (its summary line).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BillSummary {
    /// `总交易单数`.
    pub lines: i64,
    /// `订单总金额` (or `应结订单总金额`).
    pub payments_cents: i64,
    /// `申请退款总金额` (or `退款总金额`).
    pub refunds_cents: i64,
}

/// A day's bill.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bill {
    pub lines: Vec<BillLine>,
    pub summary: BillSummary,
}

/// Why a bill could not be read; each names the line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BillError {
    #[error("line {line}: {reason}")]
    Malformed { line: usize, reason: String },
    #[error("the bill has no {0}")]
    Missing(&'static str),
    #[error("the summary says {stated} lines, the bill has {found}")]
    Count { stated: i64, found: usize },
}

const SUMMARY_HEADER: &str = "总交易单数";

/// Reads a bill.
pub fn parse_bill(text: &str) -> Result<Bill, BillError> {
    let text = text.trim_start_matches('\u{feff}');
    let mut rows = text
        .lines()
        .enumerate()
        .map(|(i, line)| (i + 1, line.trim_end_matches('\r')))
        .filter(|(_, line)| !line.trim().is_empty());
    let (_, header) = rows.next().ok_or(BillError::Missing("header line"))?;
    let columns = Columns::of(header)?;
    let mut lines = Vec::new();
    let mut summary = None;
    while let Some((number, row)) = rows.next() {
        if row.starts_with(SUMMARY_HEADER) {
            let totals = SummaryColumns::of(number, row)?;
            let (number, values) = rows.next().ok_or(BillError::Missing("summary line"))?;
            summary = Some(totals.read(number, values)?);
            break;
        }
        lines.push(columns.read(number, row)?);
    }
    let summary = summary.ok_or(BillError::Missing("summary"))?;
    if usize::try_from(summary.lines).ok() != Some(lines.len()) {
        return Err(BillError::Count {
            stated: summary.lines,
            found: lines.len(),
        });
    }
    Ok(Bill { lines, summary })
}

/// A field without its backquote.
fn field(value: &str) -> &str {
    value.trim().trim_start_matches('`').trim()
}

/// `48.00` yuan → 4800 fen; exact (no floating point), at most two decimals.
pub fn yuan_to_cents(value: &str) -> Option<i64> {
    let value = field(value);
    let (negative, value) = match value.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, value),
    };
    let (yuan, fen) = value.split_once('.').unwrap_or((value, ""));
    if yuan.is_empty() || !yuan.bytes().all(|b| b.is_ascii_digit()) || fen.len() > 2 {
        return None;
    }
    if !fen.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let fen = format!("{fen:0<2}").parse::<i64>().ok()?;
    let cents = yuan
        .parse::<i64>()
        .ok()?
        .checked_mul(100)?
        .checked_add(fen)?;
    Some(if negative { -cents } else { cents })
}

/// Where each needed column is.
struct Columns {
    traded_at: usize,
    transaction_id: usize,
    out_trade_no: usize,
    trade_state: usize,
    amount: usize,
    refund_id: usize,
    out_refund_no: usize,
    refund_amount: usize,
    refund_status: usize,
    count: usize,
}

fn position(names: &[&str], wanted: &[&'static str]) -> Result<usize, BillError> {
    wanted
        .iter()
        .find_map(|want| names.iter().position(|name| name == want))
        .ok_or(BillError::Missing(wanted[0]))
}

impl Columns {
    fn of(header: &str) -> Result<Self, BillError> {
        let names: Vec<&str> = header.split(',').map(field).collect();
        Ok(Self {
            traded_at: position(&names, &["交易时间"])?,
            transaction_id: position(&names, &["微信订单号"])?,
            out_trade_no: position(&names, &["商户订单号"])?,
            trade_state: position(&names, &["交易状态"])?,
            amount: position(&names, &["订单金额", "应结订单金额"])?,
            refund_id: position(&names, &["微信退款单号"])?,
            out_refund_no: position(&names, &["商户退款单号"])?,
            refund_amount: position(&names, &["申请退款金额", "退款金额"])?,
            refund_status: position(&names, &["退款状态"])?,
            count: names.len(),
        })
    }

    fn read(&self, line: usize, row: &str) -> Result<BillLine, BillError> {
        let malformed = |reason: String| BillError::Malformed { line, reason };
        // Text fields (the product's name) may hold commas: the fixed columns are
        // counted from both ends only when the count matches.
        let values: Vec<&str> = row.split(',').collect();
        if values.len() != self.count {
            return Err(malformed(format!(
                "{} fields where the header has {}",
                values.len(),
                self.count
            )));
        }
        let text = |at: usize| field(values[at]).to_owned();
        let amount = |at: usize, name: &str| {
            yuan_to_cents(values[at]).ok_or_else(|| {
                malformed(format!(
                    "{name} {:?} is not an amount in yuan",
                    field(values[at])
                ))
            })
        };
        let trade_state = text(self.trade_state);
        let refund = match trade_state.as_str() {
            "REFUND" => Some(BillRefund {
                refund_id: text(self.refund_id),
                out_refund_no: text(self.out_refund_no),
                refund_cents: amount(self.refund_amount, "the refund amount")?,
                status: text(self.refund_status),
            }),
            "SUCCESS" => None,
            other => {
                return Err(malformed(format!("unknown trade state {other:?}")));
            }
        };
        let line = BillLine {
            line,
            traded_at: text(self.traded_at),
            transaction_id: text(self.transaction_id),
            out_trade_no: text(self.out_trade_no),
            trade_state,
            amount_cents: amount(self.amount, "the amount")?,
            refund,
        };
        if line.transaction_id.is_empty() || line.out_trade_no.is_empty() {
            return Err(malformed("no transaction id or out_trade_no".to_owned()));
        }
        Ok(line)
    }
}

/// Where the summary's needed columns are.
struct SummaryColumns {
    lines: usize,
    payments: usize,
    refunds: usize,
}

impl SummaryColumns {
    fn of(line: usize, header: &str) -> Result<Self, BillError> {
        let names: Vec<&str> = header.split(',').map(field).collect();
        let at = |wanted: &[&'static str]| {
            position(&names, wanted).map_err(|_| BillError::Malformed {
                line,
                reason: format!("the summary has no {}", wanted[0]),
            })
        };
        Ok(Self {
            lines: at(&["总交易单数"])?,
            payments: at(&["订单总金额", "应结订单总金额"])?,
            refunds: at(&["申请退款总金额", "退款总金额"])?,
        })
    }

    fn read(&self, line: usize, row: &str) -> Result<BillSummary, BillError> {
        let values: Vec<&str> = row.split(',').collect();
        let get = |at: usize, name: &str| {
            values
                .get(at)
                .and_then(|value| {
                    if name == "count" {
                        field(value).parse::<i64>().ok()
                    } else {
                        yuan_to_cents(value)
                    }
                })
                .ok_or_else(|| BillError::Malformed {
                    line,
                    reason: format!("the summary's {name} is missing or not a number"),
                })
        };
        Ok(BillSummary {
            lines: get(self.lines, "count")?,
            payments_cents: get(self.payments, "payments total")?,
            refunds_cents: get(self.refunds, "refunds total")?,
        })
    }
}
