//! The hashes of the tamper-evident log. An event's hash is the one its writer chained
//! (`event_log::chain`, the same arithmetic as the database's `event_hash`), recomputed
//! here from the stored fields, so that verification trusts neither the stored hash nor
//! the database.

use event_log::chain::Chained;
use sha2::{Digest, Sha256};

use super::AuditEvent;

/// The "previous hash" of a stream's first event, and the seal chain's start.
pub use event_log::chain::ZERO;

/// The hash of `event` after the stream's previous hash `prev`.
pub fn event_hash(prev: &[u8], event: &AuditEvent) -> [u8; 32] {
    Chained {
        aggregate_type: &event.aggregate_type,
        aggregate_id: &event.aggregate_id,
        sequence: event.sequence,
        event_type: &event.event_type,
        event_version: &event.event_version,
        payload: &event.payload,
        metadata: &event.metadata,
        recorded_at: event.recorded_at,
    }
    .hash_after(prev)
}

/// The seal chain's next value: `sha256(cumulative || event hash)`.
pub fn cumulative(prev: &[u8], event_hash: &[u8]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(prev);
    hasher.update(event_hash);
    hasher.finalize().into()
}

/// Lower-case hex, as the export and reports show hashes.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
