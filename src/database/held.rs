//! A few connections kept beside the pool for the hottest point reads.
//!
//! sqlx's pool sends a Sync and waits for PostgreSQL's answer every time a connection
//! goes back (`PoolConnection::return_to_pool`): a round trip per query, there to catch a
//! connection that a cancelled query left mid-protocol. It was 12 % of ordo's CPU on
//! `GET /orders/{id}` and no pool option turns it off. Here a connection goes back only
//! when its read ran to the end ([`HeldConnections::run`]); one whose read was cancelled or
//! failed is closed, and the next read opens another. When all are busy, reads use the
//! pool as before, so this lane never makes a read wait.

use std::sync::Mutex;

use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, PgConnection, PgPool};
use tokio::sync::Semaphore;

/// Connections in the lane, per server process: PostgreSQL runs as many queries at once
/// as it has cores, so a few cover the point reads of a busy shop. They count towards
/// the database's `max_connections` beside the pool's.
pub const HELD_CONNECTIONS: usize = 8;

/// The lane: connections opened with the pool's options (ordo's session settings), at
/// most [`HELD_CONNECTIONS`], opened at first use.
#[derive(Debug)]
pub struct HeldConnections {
    options: PgConnectOptions,
    idle: Mutex<Vec<PgConnection>>,
    /// One permit per connection in use; a connection is opened only when none is idle,
    /// so there are never more than permits.
    room: Semaphore,
}

impl HeldConnections {
    pub fn beside(pool: &PgPool, size: usize) -> Self {
        Self {
            options: (*pool.connect_options()).clone(),
            idle: Mutex::new(Vec::with_capacity(size)),
            room: Semaphore::new(size),
        }
    }

    /// Runs `read` on a connection of the lane; `None` when all are busy (the caller
    /// uses the pool). The connection goes back only if `read` ran to the end without an
    /// error: dropped half way (the request cancelled), it is closed with the future.
    pub async fn run<T>(
        &self,
        read: impl AsyncFnOnce(&mut PgConnection) -> Result<T, sqlx::Error>,
    ) -> Option<Result<T, sqlx::Error>> {
        let _permit = self.room.try_acquire().ok()?;
        let idle = self.idle().pop();
        let mut connection = match idle {
            Some(connection) => connection,
            None => match self.options.connect().await {
                Ok(connection) => connection,
                Err(err) => return Some(Err(err)),
            },
        };
        let result = read(&mut connection).await;
        if result.is_ok() {
            self.idle().push(connection);
        }
        Some(result)
    }

    fn idle(&self) -> std::sync::MutexGuard<'_, Vec<PgConnection>> {
        self.idle
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
