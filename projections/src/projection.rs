//! What a read model is to the projector.

use serde::Serialize;
use serde::de::DeserializeOwned;
use sqlx::{PgConnection, PgPool};

use crate::{RecordedEvent, failure, stored_text, upcasting};

/// A read model fed from the global feed.
#[async_trait::async_trait]
pub trait Projection: Send + Sync {
    /// Stable name: the key of its checkpoint, and what operators type.
    fn name(&self) -> &'static str;

    /// The tables it owns, by their live names. A rebuild fills shadow copies of all of
    /// them and swaps them in together.
    fn tables(&self) -> &'static [&'static str];

    /// The aggregate types whose events it reads; `None`: all. The projector fetches
    /// only these (a shop's busiest streams need not cost every read model).
    fn aggregate_types(&self) -> Option<&'static [&'static str]> {
        None
    }

    /// Applies a batch of events to `target`'s tables inside the projector's transaction,
    /// which also advances the checkpoint. Events it does not care about are ignored.
    /// Batches are applied set-based (a few statements per batch, not per event), which
    /// is what makes rebuilds fast.
    async fn apply(
        &self,
        conn: &mut PgConnection,
        target: Target,
        events: &[RecordedEvent],
    ) -> Result<(), ProjectionError>;

    /// What to do with an event that fails for a reason that is neither the event's own
    /// data nor a passing database problem (see [`FailureKind`]).
    fn on_unknown_failure(&self) -> UnknownFailure {
        UnknownFailure::Park
    }

    /// Whether its work can be done again from the feed: a read model's can (rebuilds
    /// and verifications replay it); a subscriber that acts on the world (calls WeChat)
    /// cannot, and is never rebuilt nor replayed: it only ever moves forward.
    fn replayable(&self) -> bool {
        true
    }

    /// For a subscriber that acts on the world: its calls still to make and those that
    /// failed for good, shown with its status.
    async fn backlog(&self, _pool: &PgPool) -> Result<Option<Backlog>, sqlx::Error> {
        Ok(None)
    }
}

/// A side-effect subscriber's calls, by where they stand.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Backlog {
    /// Waiting to be made (or made again after a passing failure).
    pub pending: i64,
    /// Refused for good: recorded, not retried until an operator asks.
    pub failed: i64,
    /// Made (or with nothing to make) in the last hour.
    pub done_last_hour: i64,
    /// How long the oldest waiting call has waited, in seconds.
    pub oldest_pending_seconds: f64,
}

/// A projection's policy for an event it cannot apply for an unknown reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnknownFailure {
    /// Park the event (and its stream's later events) and go on.
    Park,
    /// Stop at the event: the projection shows `failed` until an operator retries it.
    Stop,
}

/// Why an event could not be applied, which decides what the projector does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// The database is away or busy for a while: retried with backoff, never `failed`.
    Transient,
    /// The event's own data: unreadable, or refused by the read model's table. Parked.
    Event,
    /// Anything else: the projection's [`UnknownFailure`] policy decides.
    Unknown,
}

/// The payload of `event` as today's `E` (upcast from the version it was written in),
/// with every string escaped for PostgreSQL (see [`stored_text`]): what projections
/// write into their tables.
pub fn decode<E: DeserializeOwned>(event: &RecordedEvent) -> Result<E, ProjectionError> {
    let stored = event.payload.as_str();
    let direct = !upcasting::needs_upcast(&event.event_type, &event.event_version)
        && !stored_text::json_may_need_escape(stored);
    // Most events: today's version, nothing to escape, read straight from the text. Text
    // that read refuses (a key written twice, which a JSON tree takes the last of, as the
    // write side does) is read through the tree like the rest.
    if direct && let Ok(event) = serde_json::from_str(stored) {
        return Ok(event);
    }
    serde_json::from_str(stored)
        .and_then(|payload| {
            let mut payload = upcasting::upcast(&event.event_type, &event.event_version, payload);
            stored_text::escape_json(&mut payload);
            serde_json::from_value(payload)
        })
        .map_err(|err| ProjectionError::unreadable(event, err))
}

/// Which copy of a projection's tables is written: the live one the API reads, or the
/// shadow one a rebuild fills.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Live,
    /// A rebuild's copy, swapped in when it catches up.
    Shadow,
    /// A verification's copy, compared with the live tables and dropped.
    Replay,
}

/// The suffix of shadow tables and of the shadow's checkpoint name.
pub const SHADOW_SUFFIX: &str = "__rebuild";
/// The suffix of a verification's replay tables and checkpoint name.
pub const REPLAY_SUFFIX: &str = "__verify";

impl Target {
    /// The physical name of `table` for this target. Table names are ordo's own
    /// constants, never input, so formatting them into SQL is safe.
    pub fn table(self, table: &str) -> String {
        match self {
            Self::Live => table.to_owned(),
            Self::Shadow => format!("{table}{SHADOW_SUFFIX}"),
            Self::Replay => format!("{table}{REPLAY_SUFFIX}"),
        }
    }

    /// The checkpoint row of `projection` for this target.
    pub fn checkpoint(self, projection: &str) -> String {
        self.table(projection)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ProjectionError {
    #[error("event at position {position} ({event_type}) cannot be read: {message}")]
    Unreadable {
        position: i64,
        event_type: String,
        message: String,
    },
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

impl ProjectionError {
    pub fn kind(&self) -> FailureKind {
        match self {
            Self::Unreadable { .. } => FailureKind::Event,
            Self::Database(err) if failure::is_transient(err) => FailureKind::Transient,
            Self::Database(err) if failure::is_about_the_data(err) => FailureKind::Event,
            Self::Database(_) => FailureKind::Unknown,
        }
    }

    /// The error for an event whose payload or id does not parse.
    pub fn unreadable(event: &RecordedEvent, message: impl ToString) -> Self {
        Self::Unreadable {
            position: event.position.global_position,
            event_type: event.event_type.clone(),
            message: message.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use event_log::{EventMetadata, FeedPosition};
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Deserialize, PartialEq)]
    enum Noted {
        Noted { remark: String },
    }

    fn event(payload: &str) -> RecordedEvent {
        RecordedEvent {
            position: FeedPosition::START,
            aggregate_type: "Note".into(),
            aggregate_id: "n".into(),
            sequence: 1,
            event_type: "Noted".into(),
            event_version: "1".into(),
            payload: payload.into(),
            metadata: EventMetadata::default(),
            recorded_at: Utc::now(),
        }
    }

    #[test]
    fn a_payload_reads_as_the_write_side_reads_it() {
        let read = |payload| decode::<Noted>(&event(payload)).map_err(|err| err.to_string());
        let noted = |remark: &str| {
            Ok(Noted::Noted {
                remark: remark.into(),
            })
        };
        assert_eq!(read(r#"{"Noted":{"remark":"绿茶 🍵"}}"#), noted("绿茶 🍵"));
        // Escaped for PostgreSQL: U+0000 stored as U+FFFF 0.
        assert_eq!(
            read(r#"{"Noted":{"remark":"a\u0000b"}}"#),
            noted("a\u{FFFF}0b")
        );
        // A key written twice: the last, as a JSON tree (and the aggregate) takes it.
        assert_eq!(
            read(r#"{"Noted":{"remark":"first","remark":"last"}}"#),
            noted("last")
        );
        assert!(read(r#"{"Noted":{"remark":5}}"#).is_err());
    }
}
