//! What a read model is to the projector.

use sqlx::PgConnection;

use crate::RecordedEvent;

/// A read model fed from the global feed.
#[async_trait::async_trait]
pub trait Projection: Send + Sync {
    /// Stable name: the key of its checkpoint.
    fn name(&self) -> &'static str;

    /// Applies a batch of events inside the projector's transaction, which also advances
    /// the checkpoint. Must ignore events already applied (idempotent per event) and
    /// events it does not care about.
    async fn apply(
        &self,
        conn: &mut PgConnection,
        events: &[RecordedEvent],
    ) -> Result<(), ProjectionError>;
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
