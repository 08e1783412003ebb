//! Opening a notice: verified and decrypted, or refused. A refusal WeChat Pay's key
//! vouches for is recorded; the others (no valid signature, a stale replay) anybody can
//! send at will: they are counted (`payment_notices_unverified_total{reason}`) and
//! sampled into the log, not stored.

use axum::http::{HeaderMap, StatusCode};
use chrono::Utc;
use serde::de::DeserializeOwned;

use super::sampled_log::SampledLog;
use super::{NoticeHandled, NoticeRecord, Payments};
use crate::event_store::EventMetadata;
use crate::wechat_pay::{self, NoticeError};

/// A line every 10 s at most for notices nobody vouches for.
static UNVERIFIED: SampledLog = SampledLog::new(std::time::Duration::from_secs(10));

/// A notice as it came: its headers, body and the request that brought it.
#[derive(Debug, Clone, Copy)]
pub struct Arrived<'a> {
    pub headers: &'a HeaderMap,
    pub body: &'a [u8],
    pub request_id: Option<&'a str>,
}

impl Payments {
    /// Verifies and decrypts a notice of `kind` (`payment`, `refund`), or says why not.
    pub(super) async fn open<R: DeserializeOwned>(
        &self,
        arrived: Arrived<'_>,
        kind: &'static str,
    ) -> Result<(wechat_pay::Notice, R), NoticeHandled> {
        let Some(config) = self.wechat_pay.config() else {
            return Err(NoticeHandled::Refused {
                status: StatusCode::SERVICE_UNAVAILABLE,
                reason: "WeChat Pay is not configured".to_owned(),
            });
        };
        let err = match wechat_pay::open_notice(config, arrived.headers, arrived.body, Utc::now()) {
            Ok(opened) => return Ok(opened),
            Err(err) => err,
        };
        let status = match err {
            NoticeError::Malformed(_) | NoticeError::Undecryptable => StatusCode::BAD_REQUEST,
            _ => StatusCode::UNAUTHORIZED,
        };
        let reason = err.to_string();
        if !err.is_vouched_for() {
            metrics::counter!("payment_notices_unverified_total", "reason" => err.kind())
                .increment(1);
            if let Some(left_out) = UNVERIFIED.admit() {
                tracing::warn!(%reason, left_out, kind,
                    "notice refused: not signed by WeChat Pay (sampled)");
            }
            return Err(NoticeHandled::Refused { status, reason });
        }
        let refused = NoticeRecord {
            kind,
            outcome: "refused",
            reason: Some(format!("{}: {reason}", err.kind())),
            request_id: arrived.request_id,
            ..NoticeRecord::default()
        };
        self.notices.record(refused).await;
        Err(NoticeHandled::Refused { status, reason })
    }
}

/// Who writes what a notice causes: WeChat Pay, with the request and the notice's id.
pub(super) fn notice_metadata(
    request_id: Option<&str>,
    notice: &wechat_pay::Notice,
) -> EventMetadata {
    EventMetadata {
        actor_id: Some("wechatpay".to_owned()),
        actor_role: Some("system".to_owned()),
        request_id: request_id.map(str::to_owned),
        causation_id: Some(notice.id.clone()),
        ..EventMetadata::default()
    }
}
