//! The store behind `Idempotency-Key` (table `idempotency_keys`): a key claimed before
//! its request runs, kept alive while it runs, completed with the answer to replay, or
//! freed or handed over when the answer may change. The HTTP guard that uses it is
//! `http::middleware::idempotency`, which says what the header promises.

mod claim;

use axum::http::StatusCode;
use serde_json::Value;
use sqlx::PgPool;

use crate::database::DatabaseError;
use crate::event_store::EventStore;

pub use claim::{Claim, Heartbeat};

/// Why a key cannot be claimed for a request.
#[derive(Debug, thiserror::Error)]
pub enum ClaimError {
    #[error("Idempotency-Key: already used with a different request")]
    OtherRequest,
    #[error("a request with this Idempotency-Key is still running; retry shortly")]
    Running,
    #[error(transparent)]
    Database(#[from] DatabaseError),
}

impl From<sqlx::Error> for ClaimError {
    fn from(err: sqlx::Error) -> Self {
        Self::Database(err.into())
    }
}

/// Who holds a key: the user and the key.
#[derive(Debug, Clone)]
pub struct KeyHolder {
    pub user: String,
    pub key: String,
}

/// The keys' table, and the events they wrote.
#[derive(Debug, Clone)]
pub struct IdempotencyStore {
    pool: PgPool,
    events: EventStore,
}

impl IdempotencyStore {
    pub fn new(pool: PgPool, events: EventStore) -> Self {
        Self { pool, events }
    }

    /// Claims `key` for `user` and the request whose hash is `hash`.
    pub async fn claim(&self, user: &str, key: String, hash: &[u8]) -> Result<Claim, ClaimError> {
        claim::claim(&self.pool, user, key, hash).await
    }

    /// Keeps `holder`'s claim alive until the heartbeat is dropped.
    pub fn heartbeat(&self, holder: &KeyHolder) -> Heartbeat {
        Heartbeat::start(self.pool.clone(), holder.user.clone(), holder.key.clone())
    }

    /// Stores the answer (or frees or hands over the key, when `retryable`).
    pub async fn complete(
        &self,
        holder: &KeyHolder,
        status: StatusCode,
        answer: &Value,
        retryable: bool,
    ) -> Result<(), DatabaseError> {
        claim::complete(self, holder, status, answer, retryable).await
    }

    /// The stream of an event (of `event_type`, or of any) an earlier run of `holder`'s
    /// request wrote.
    pub async fn written_by(
        &self,
        holder: &KeyHolder,
        event_type: Option<&str>,
    ) -> Result<Option<String>, DatabaseError> {
        Ok(self
            .events
            .written_with_key(&holder.user, &holder.key, event_type)
            .await?)
    }
}
