//! The day's trade bill from WeChat Pay: `GET /v3/bill/tradebill` (a signed answer naming
//! a download URL and the bill's SHA-1), then the download itself — gzip, and unsigned, as
//! WeChat Pay serves bills: the digest in the signed answer vouches for it.

use std::io::Read;

use chrono::NaiveDate;
use reqwest::Method;
use serde::Deserialize;

use super::{PayError, WeChatPay, quoted};

const TRADE_BILL: &str = "/v3/bill/tradebill";
/// What WeChat Pay answers for a day without a bill (no trade that day).
const NO_BILL: &str = "NO_STATEMENT_EXIST";
/// The most an unpacked bill may be: about four million lines.
const MAX_BILL_BYTES: u64 = 1 << 30;

#[derive(Debug, Deserialize)]
struct BillLocation {
    hash_type: String,
    hash_value: String,
    download_url: String,
}

impl WeChatPay {
    /// The bill of `date` (every payment and refund of that day, Beijing time) as text,
    /// once its digest checks out; `None` when WeChat Pay has none (no trade that day).
    pub async fn trade_bill(&self, date: NaiveDate) -> Result<Option<String>, PayError> {
        let (config, base_url) = self.remote()?;
        let path = format!(
            "{TRADE_BILL}?bill_date={}&bill_type=ALL&tar_type=GZIP",
            date.format("%Y-%m-%d")
        );
        let text = match self.call(config, &base_url, Method::GET, &path, None).await {
            Ok(text) => text,
            Err(PayError::Refused { code, .. }) if code == NO_BILL => return Ok(None),
            Err(err) => return Err(err),
        };
        let location: BillLocation = serde_json::from_str(&text)
            .map_err(|err| PayError::Upstream(format!("a bill answer: {err}")))?;
        if !location.hash_type.eq_ignore_ascii_case("SHA1") {
            return Err(PayError::Upstream(format!(
                "a bill digest of type {}",
                quoted(&location.hash_type)
            )));
        }
        let packed = self.download(config, &location.download_url).await?;
        let mut bill = Vec::new();
        flate2::read::GzDecoder::new(packed.as_slice())
            .take(MAX_BILL_BYTES)
            .read_to_end(&mut bill)
            .map_err(|err| PayError::Upstream(format!("the bill does not unpack: {err}")))?;
        let digest = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, &bill);
        let found: String = digest
            .as_ref()
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect();
        if !found.eq_ignore_ascii_case(location.hash_value.trim()) {
            return Err(PayError::BillDigest {
                expected: quoted(&location.hash_value),
                found,
            });
        }
        String::from_utf8(bill)
            .map(Some)
            .map_err(|_| PayError::Upstream("the bill is not UTF-8 text".to_owned()))
    }
}
