//! What a read model is to the projector.

use sqlx::PgConnection;

use crate::RecordedEvent;

/// A read model fed from the global feed.
#[async_trait::async_trait]
pub trait Projection: Send + Sync {
    /// Stable name: the key of its checkpoint, and what operators type.
    fn name(&self) -> &'static str;

    /// The tables it owns, by their live names. A rebuild fills shadow copies of all of
    /// them and swaps them in together.
    fn tables(&self) -> &'static [&'static str];

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
    /// The error for an event whose payload or id does not parse.
    pub fn unreadable(event: &RecordedEvent, message: impl ToString) -> Self {
        Self::Unreadable {
            position: event.position.global_position,
            event_type: event.event_type.clone(),
            message: message.to_string(),
        }
    }
}
