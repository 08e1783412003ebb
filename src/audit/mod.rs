//! Audit: every event's history with who did it, state as of any instant, the log
//! exported as NDJSON (and imported back), seals over the feed, and a verifier that
//! proves the log was not edited and that the read models match a replay.

pub mod export;
pub mod hash;
pub mod history;
pub mod import;
mod reader;
pub mod sealer;
pub mod stock_moves;
pub mod verify;

pub use reader::AuditReader;

use chrono::{DateTime, Utc};
use sqlx::FromRow;

/// An event as auditors see it: payload and metadata as the exact JSON text stored
/// (what the hash covers), with its positions and hash.
#[derive(Debug, Clone, FromRow)]
pub struct AuditEvent {
    pub global_position: i64,
    pub transaction_id: i64,
    pub aggregate_type: String,
    pub aggregate_id: String,
    pub sequence: i64,
    pub event_type: String,
    pub event_version: String,
    pub payload: String,
    pub metadata: String,
    pub recorded_at: DateTime<Utc>,
    pub hash: Vec<u8>,
}

/// The columns of an [`AuditEvent`], for `SELECT {COLUMNS} FROM events ...`.
pub const COLUMNS: &str = "global_position, transaction_id::text::bigint AS transaction_id,
    aggregate_type, aggregate_id, sequence, event_type, event_version,
    payload::text AS payload, metadata::text AS metadata, recorded_at, hash";

/// The order a stock event (reserved, released, sold, returned) concerns. Exactly the
/// expression of the index `events_stock_by_order` (migration `refunds`), so that queries
/// by order use it.
pub const STOCK_ORDER_ID: &str = "coalesce(payload -> 'StockReserved' ->> 'order_id', \
    payload -> 'StockReleased' ->> 'order_id', payload -> 'StockSold' ->> 'order_id', \
    payload -> 'StockReturned' ->> 'order_id')";

/// `payload` as PostgreSQL's json operators can read it. A `json` value keeps its text
/// verbatim, U+0000 escapes (`\u0000`) included, but every operator (`->`, `->>`,
/// `json_array_elements`) converts the whole document to text first and fails on one:
/// a single such event would stop every query over the log. Here each escaped U+0000 (a
/// `\u0000` not itself preceded by an escaping backslash) reads as U+FFFD instead; the
/// text is unchanged otherwise, and so are the ids, quantities and kinds read from it.
/// Payloads without one are passed on as they are (one `strpos`).
pub const READABLE_PAYLOAD: &str = r"(CASE WHEN strpos(payload::text, '\u0000') = 0 THEN payload
    ELSE regexp_replace(payload::text, '(?<!\\)((\\\\)*)\\u0000', '\1\\ufffd', 'g')::json END)";

/// Feed order below the horizon: the same condition the projector reads by.
pub use projections::feed::AFTER_POSITION_BELOW_HORIZON as FEED_FILTER;
