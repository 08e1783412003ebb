//! A payment or refund notice (WeChat Pay's callback): its signature checked against the platform
//! key over `timestamp\nnonce\nbody\n`, its age bounded, its resource decrypted with the
//! APIv3 key. Nothing in it is trusted before all of that passes.

use axum::http::HeaderMap;
use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::{MAX_NOTICE_AGE, WeChatPayConfig};

/// Why a notice was refused; each is recorded for operators.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum NoticeError {
    #[error("missing header {0}")]
    MissingHeader(&'static str),
    #[error("the timestamp is more than 5 minutes from now (a replay?)")]
    Stale,
    #[error("signed by an unknown key (Wechatpay-Serial {0})")]
    UnknownSerial(String),
    #[error("the signature does not verify")]
    BadSignature,
    #[error("the body is not a notice of WeChat Pay: {0}")]
    Malformed(String),
    #[error("the resource does not decrypt (wrong APIv3 key, or tampered)")]
    Undecryptable,
}

impl NoticeError {
    /// A short, stable name for the refusal (metrics label, operators' filter).
    pub fn kind(&self) -> &'static str {
        match self {
            Self::MissingHeader(_) => "missing_header",
            Self::Stale => "stale",
            Self::UnknownSerial(_) => "unknown_serial",
            Self::BadSignature => "bad_signature",
            Self::Malformed(_) => "malformed",
            Self::Undecryptable => "undecryptable",
        }
    }

    /// Whether WeChat Pay's platform key vouches for the notice (its signature verified
    /// on a fresh timestamp). Anybody can send the others, as often as they like, so
    /// they are counted and sampled into the log, never stored one row each.
    pub fn is_vouched_for(&self) -> bool {
        matches!(self, Self::Malformed(_) | Self::Undecryptable)
    }
}

/// At most this many characters of what a sender chose (a header value, a parse error
/// quoting the body) go into an answer or the log.
const QUOTED_CHARS: usize = 64;

/// `value`, cut to [`QUOTED_CHARS`] characters (marked with `…` when cut).
pub fn quoted(value: &str) -> String {
    match value.char_indices().nth(QUOTED_CHARS) {
        Some((cut, _)) => format!("{}…", &value[..cut]),
        None => value.to_owned(),
    }
}

/// The notice's envelope.
#[derive(Debug, Serialize, Deserialize)]
pub struct Notice {
    pub id: String,
    pub event_type: String,
    #[serde(default)]
    pub create_time: String,
    #[serde(default)]
    pub resource_type: String,
    #[serde(default)]
    pub summary: String,
    pub resource: Resource,
}

/// The encrypted part.
#[derive(Debug, Serialize, Deserialize)]
pub struct Resource {
    pub algorithm: String,
    pub ciphertext: String,
    #[serde(default)]
    pub associated_data: String,
    #[serde(default)]
    pub original_type: String,
    pub nonce: String,
}

/// The payment, as the decrypted resource describes it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Transaction {
    pub appid: String,
    pub mchid: String,
    pub out_trade_no: String,
    /// Absent from a query's answer until the payment is made.
    #[serde(default)]
    pub transaction_id: String,
    pub trade_state: String,
    #[serde(default)]
    pub trade_type: String,
    #[serde(default)]
    pub success_time: Option<DateTime<Utc>>,
    #[serde(default)]
    pub amount: Amount,
    #[serde(default)]
    pub payer: Option<Payer>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Amount {
    pub total: i64,
    #[serde(default)]
    pub currency: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Payer {
    pub openid: String,
}

/// The notice's id, event type and resource (a [`Transaction`] for payment notices, a
/// refund result for refund notices), once its signature, age and encryption check out.
pub fn open_notice<R: DeserializeOwned>(
    config: &WeChatPayConfig,
    headers: &HeaderMap,
    body: &[u8],
    now: DateTime<Utc>,
) -> Result<(Notice, R), NoticeError> {
    check_signed(config, headers, body, now)?;
    let notice: Notice = serde_json::from_slice(body)
        .map_err(|err| NoticeError::Malformed(quoted(&err.to_string())))?;
    if notice.resource.algorithm != "AEAD_AES_256_GCM" {
        return Err(NoticeError::Malformed(format!(
            "unknown algorithm {}",
            quoted(&notice.resource.algorithm)
        )));
    }
    let plain = config
        .api_v3_key
        .decrypt(
            &notice.resource.nonce,
            &notice.resource.associated_data,
            &notice.resource.ciphertext,
        )
        .ok_or(NoticeError::Undecryptable)?;
    let resource: R = serde_json::from_slice(&plain)
        .map_err(|err| NoticeError::Malformed(format!("resource: {}", quoted(&err.to_string()))))?;
    Ok((notice, resource))
}

/// Whether WeChat Pay signed `body` as its SDKs require of a notice or an answer: the
/// `Wechatpay-*` headers present, a timestamp within 5 minutes of `now` (no replays),
/// the serial of a key ordo knows, and the platform key's signature over
/// `timestamp\nnonce\nbody\n`.
pub fn check_signed(
    config: &WeChatPayConfig,
    headers: &HeaderMap,
    body: &[u8],
    now: DateTime<Utc>,
) -> Result<(), NoticeError> {
    let header = |name: &'static str| {
        headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .filter(|value| !value.is_empty())
            .ok_or(NoticeError::MissingHeader(name))
    };
    let timestamp = header("wechatpay-timestamp")?;
    let nonce = header("wechatpay-nonce")?;
    let signature = header("wechatpay-signature")?;
    let serial = header("wechatpay-serial")?;
    let sent_at = timestamp.parse::<i64>().map_err(|_| NoticeError::Stale)?;
    let age = now.timestamp().abs_diff(sent_at);
    if age > MAX_NOTICE_AGE.as_secs() {
        return Err(NoticeError::Stale);
    }
    if let Some(expected) = &config.platform_serial
        && serial != expected
    {
        return Err(NoticeError::UnknownSerial(quoted(serial)));
    }
    let mut message = Vec::with_capacity(body.len() + 64);
    message.extend_from_slice(format!("{timestamp}\n{nonce}\n").as_bytes());
    message.extend_from_slice(body);
    message.push(b'\n');
    if !config.platform_key.verifies(&message, signature) {
        return Err(NoticeError::BadSignature);
    }
    Ok(())
}
