//! The per-stream hash chain of the tamper-evident log: each event's hash covers the
//! hash of the event before it in its stream, so an edited or removed event breaks every
//! hash after it.
//!
//! hash(e) = sha256(hash(previous event of the stream, or 32 zero bytes) ||
//!                  utf8(the fields below, each length-prefixed; recorded_at in epoch µs))
//!
//! ordo's event store computes it as it appends (from the previous hash it loaded or
//! wrote), the audit recomputes it to verify, and the database's `event_hash` function
//! (migration `*_audit.sql`) computes the same for writers that give none, and checks a
//! given one when `ordo.check_hashes` is on.

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

/// The "previous hash" of a stream's first event.
pub const ZERO: [u8; 32] = [0; 32];

/// The fields of one event that its hash covers.
#[derive(Debug, Clone, Copy)]
pub struct Chained<'a> {
    pub aggregate_type: &'a str,
    pub aggregate_id: &'a str,
    pub sequence: i64,
    pub event_type: &'a str,
    pub event_version: &'a str,
    /// The payload's JSON text, as the `json` column keeps it.
    pub payload: &'a str,
    pub metadata: &'a str,
    pub recorded_at: DateTime<Utc>,
}

impl Chained<'_> {
    /// This event's hash after `prev`, the hash of its stream's previous event.
    pub fn hash_after(&self, prev: &[u8]) -> [u8; 32] {
        let mut hasher = Sha256::new();
        hasher.update(prev);
        length_prefixed(&mut hasher, self.aggregate_type);
        length_prefixed(&mut hasher, self.aggregate_id);
        hasher.update(format!("{};", self.sequence));
        for field in [
            self.event_type,
            self.event_version,
            self.payload,
            self.metadata,
        ] {
            length_prefixed(&mut hasher, field);
        }
        hasher.update(self.recorded_at.timestamp_micros().to_string());
        hasher.finalize().into()
    }
}

fn length_prefixed(hasher: &mut Sha256, field: &str) {
    hasher.update(format!("{}:", field.len()));
    hasher.update(field);
}
