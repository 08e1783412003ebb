//! The feed's wake-up call: a LISTEN on the channel the events table's trigger notifies
//! on commit, on a connection that also holds the running projector's lock.

use std::time::Duration;

use sqlx::PgPool;
use sqlx::postgres::PgListener;
use tokio::sync::watch;

use crate::failure::Backoff;

/// The channel the events table's trigger notifies on commit.
const FEED_CHANNEL: &str = "ordo_events";

/// The longest the listener waits between attempts to reconnect (and so to take the
/// running lock again) after it lost its connection.
const LISTEN_RETRY: Duration = Duration::from_secs(1);

/// The advisory lock every running projector holds, shared, on its listening connection:
/// how `projections status` tells a running projector from checkpoints left by a server
/// that stopped (see [`crate::status`]).
pub(crate) const RUNNING_LOCK: i64 = 0x006f_7264_6f72_756e; // "ordorun"

/// A listener on the feed's channel whose connection holds [`RUNNING_LOCK`]: without the
/// lock, `projections status`, the console and `ordo restore` take this server for stopped.
async fn listening(pool: &PgPool) -> Result<PgListener, sqlx::Error> {
    let mut listener = PgListener::connect_with(pool).await?;
    // A lost connection is replaced here, where the lock is taken again, not inside
    // `try_recv` (which would reconnect without it).
    listener.eager_reconnect(false);
    listener.listen(FEED_CHANNEL).await?;
    sqlx::query("SELECT pg_advisory_lock_shared($1)")
        .bind(RUNNING_LOCK)
        .execute(&mut listener)
        .await?;
    Ok(listener)
}

/// Wakes the projections' tasks whenever the events table notifies a commit, until
/// `shutdown` changes. Without a listener, the tasks poll.
pub(crate) async fn listen(
    pool: PgPool,
    wake: watch::Sender<()>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut backoff = Backoff::default();
    loop {
        // Until the database is back: the tasks poll meanwhile, so a short cap keeps
        // status truthful soon after it returns.
        let mut listener = match listening(&pool).await {
            Ok(listener) => listener,
            Err(err) => {
                if backoff.failures() == 0 {
                    tracing::warn!(%err, "cannot LISTEN for new events; polling until it can");
                }
                tokio::select! {
                    () = tokio::time::sleep(backoff.failed().min(LISTEN_RETRY)) => continue,
                    _ = shutdown.changed() => return,
                }
            }
        };
        if backoff.failures() > 0 {
            tracing::info!("listening for new events again");
        }
        backoff = Backoff::default();
        // What was notified while nobody listened is lost: wake the tasks.
        wake.send_replace(());
        loop {
            tokio::select! {
                received = listener.try_recv() => {
                    if !matches!(received, Ok(Some(_))) {
                        // The connection is gone, and its lock with it: start over.
                        break;
                    }
                }
                _ = shutdown.changed() => return,
            }
            // Every commit notifies, and the listener keeps what arrives in an unbounded
            // buffer: one wake answers them all, so drop the rest (taking one per round,
            // the buffer grew with the traffic).
            while listener.next_buffered().is_some() {}
            wake.send_replace(());
        }
    }
}
