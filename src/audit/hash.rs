//! The hashes of the tamper-evident log, computed the same way as the database's
//! `event_hash` (migration 7) but here, independently, so that verification does not
//! trust the database's own arithmetic.

use sha2::{Digest, Sha256};

use super::AuditEvent;

/// The "previous hash" of a stream's first event, and the seal chain's start.
pub const ZERO: [u8; 32] = [0; 32];

/// The hash of `event` after the stream's previous hash `prev`.
pub fn event_hash(prev: &[u8], event: &AuditEvent) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(prev);
    for field in [event.aggregate_type.as_str(), event.aggregate_id.as_str()] {
        length_prefixed(&mut hasher, field);
    }
    hasher.update(format!("{};", event.sequence));
    for field in [
        event.event_type.as_str(),
        event.event_version.as_str(),
        event.payload.as_str(),
        event.metadata.as_str(),
    ] {
        length_prefixed(&mut hasher, field);
    }
    hasher.update(event.recorded_at.timestamp_micros().to_string());
    hasher.finalize().into()
}

fn length_prefixed(hasher: &mut Sha256, field: &str) {
    hasher.update(format!("{}:", field.len()));
    hasher.update(field);
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
