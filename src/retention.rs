//! Retention: the tables beside the log keep what is still of use and no more, so their
//! size follows traffic, not history. On a schedule, one server at a time deletes
//! - idempotency keys past their replay window ([`IDEMPOTENCY_REPLAY_WINDOW`]): a retry
//!   after it runs anew anyway;
//! - sessions that ended (expired or revoked) longer ago than a grace period, which
//!   leaves operators the recent revocations to look at;
//! - payment notices older than their retention period: operators and auditors look at
//!   them, refused (forged) ones above all, for a while, not forever; and, as long after
//!   they settled, the payments ordo opened at WeChat Pay (nothing is left to ask).
//!
//! Nothing else: the events are the source of truth and are never purged (the database
//! refuses DELETE on them anyway); read models and snapshots are bounded by what the log
//! holds.
//!
//! Rows go in batches, one statement and its own short transaction each, so a backlog
//! takes no long lock and no long transaction (which would hold back the event feed's
//! horizon).

use std::time::Duration;

use sqlx::{PgConnection, PgPool};
use tokio::sync::watch;

/// How long an `Idempotency-Key` replays its first answer; after it, the key is free and
/// its row is purged.
pub const IDEMPOTENCY_REPLAY_WINDOW: Duration = Duration::from_secs(24 * 60 * 60);
/// How long an ended session is kept by default (`ORDO_SESSION_RETENTION`).
pub const DEFAULT_SESSION_RETENTION: Duration = Duration::from_secs(7 * 24 * 60 * 60);
/// How long a payment notice is kept by default (`ORDO_PAYMENT_NOTICE_RETENTION`).
pub const DEFAULT_PAYMENT_NOTICE_RETENTION: Duration = Duration::from_secs(90 * 24 * 60 * 60);
/// How often the server purges by default (`ORDO_RETENTION_INTERVAL`).
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(10 * 60);

/// Rows deleted per statement: small enough for a short transaction, large enough that
/// a day's worth goes in a few statements.
const BATCH: i64 = 5_000;
/// The shortest pause between runs, whatever is configured: `0s` must not spin.
const MIN_INTERVAL: Duration = Duration::from_secs(1);
/// Only one purge runs at a time, across every server on the database ("ordopurg").
const RETENTION_LOCK: i64 = 0x6f72_646f_7075_7267;

/// How long the tables beside the log keep their rows, and how often they are purged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetentionSettings {
    /// How long a session is kept after it ended (expired or was revoked).
    pub session_retention: Duration,
    /// How long a payment notice is kept after it was received.
    pub payment_notice_retention: Duration,
    /// How often the server purges.
    pub interval: Duration,
}

impl Default for RetentionSettings {
    fn default() -> Self {
        Self {
            session_retention: DEFAULT_SESSION_RETENTION,
            payment_notice_retention: DEFAULT_PAYMENT_NOTICE_RETENTION,
            interval: DEFAULT_INTERVAL,
        }
    }
}

/// What one purge deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PurgeReport {
    /// Another process was purging: this run deleted nothing and left it to that one.
    pub busy: bool,
    pub idempotency_keys: u64,
    pub sessions: u64,
    pub payment_notices: u64,
    pub payment_prepays: u64,
    pub platform_calls: u64,
    pub revoked_tokens: u64,
}

impl PurgeReport {
    /// Rows deleted, every table together.
    pub fn total(&self) -> u64 {
        self.idempotency_keys
            + self.sessions
            + self.payment_notices
            + self.payment_prepays
            + self.platform_calls
            + self.revoked_tokens
    }
}

/// Each statement deletes one batch of a table's expired rows, oldest first: `$1` is the
/// retention in seconds, `$2` the batch size. The rows are picked through the index on
/// the expiry column (the ORDER BY keeps even a generic plan on it: without it, a plan
/// made for unknown parameters reads the whole table to find nothing), then deleted by
/// `ctid`, a TID scan.
const IDEMPOTENCY_KEYS: &str = "
    DELETE FROM idempotency_keys WHERE ctid = ANY(ARRAY(
        SELECT ctid FROM idempotency_keys
         WHERE created_at < now() - make_interval(secs => $1)
         ORDER BY created_at LIMIT $2))";
/// A session ended at the first of its expiry and its revocation (`least` skips NULL).
const SESSIONS: &str = "
    DELETE FROM sessions WHERE ctid = ANY(ARRAY(
        SELECT ctid FROM sessions
         WHERE least(expires_at, revoked_at) < now() - make_interval(secs => $1)
         ORDER BY least(expires_at, revoked_at) LIMIT $2))";
const PAYMENT_NOTICES: &str = "
    DELETE FROM payment_notices WHERE ctid = ANY(ARRAY(
        SELECT ctid FROM payment_notices
         WHERE received_at < now() - make_interval(secs => $1)
         ORDER BY received_at LIMIT $2))";
/// Only settled ones: an open payment is still to be asked about, however old.
const PAYMENT_PREPAYS: &str = "
    DELETE FROM payment_prepays WHERE ctid = ANY(ARRAY(
        SELECT ctid FROM payment_prepays
         WHERE settled_at < now() - make_interval(secs => $1)
         ORDER BY settled_at LIMIT $2))";

/// Calls made to WeChat (or with nothing to make); waiting and failed ones stay.
const PLATFORM_CALLS: &str = "
    DELETE FROM platform_calls WHERE ctid = ANY(ARRAY(
        SELECT ctid FROM platform_calls
         WHERE done_at < now() - make_interval(secs => $1)
         ORDER BY done_at LIMIT $2))";
const DEV_WECHAT_CALLS: &str = "
    DELETE FROM dev_wechat_calls WHERE ctid = ANY(ARRAY(
        SELECT ctid FROM dev_wechat_calls
         WHERE received_at < now() - make_interval(secs => $1)
         ORDER BY received_at LIMIT $2))";

/// A revoked token's id is kept until every token carrying it has expired.
const REVOKED_TOKENS: &str = "
    DELETE FROM revoked_tokens WHERE ctid = ANY(ARRAY(
        SELECT ctid FROM revoked_tokens
         WHERE expires_at < now() - make_interval(secs => $1)
         ORDER BY expires_at LIMIT $2))";

/// Deletes every row past its retention, unless another process is purging (then the
/// report says `busy`). Safe to stop at any point: each batch commits on its own.
pub async fn purge(
    pool: &PgPool,
    settings: &RetentionSettings,
) -> Result<PurgeReport, sqlx::Error> {
    let mut lock = pool.acquire().await?;
    // Dropped unfinished (the server stopping), the connection closes and the session's
    // lock goes with it: it never returns to the pool still holding the lock.
    lock.close_on_drop();
    let locked: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
        .bind(RETENTION_LOCK)
        .fetch_one(&mut *lock)
        .await?;
    if !locked {
        return Ok(PurgeReport {
            busy: true,
            ..PurgeReport::default()
        });
    }
    // The deletes run on the locked connection itself: one connection for the whole run,
    // and outside any transaction, so holding the lock holds back nothing else.
    let conn = &mut *lock;
    let report = PurgeReport {
        busy: false,
        idempotency_keys: purge_table(
            conn,
            "idempotency_keys",
            IDEMPOTENCY_KEYS,
            IDEMPOTENCY_REPLAY_WINDOW,
        )
        .await?,
        sessions: purge_table(conn, "sessions", SESSIONS, settings.session_retention).await?,
        payment_notices: purge_table(
            conn,
            "payment_notices",
            PAYMENT_NOTICES,
            settings.payment_notice_retention,
        )
        .await?,
        payment_prepays: purge_table(
            conn,
            "payment_prepays",
            PAYMENT_PREPAYS,
            settings.payment_notice_retention,
        )
        .await?,
        platform_calls: purge_table(
            conn,
            "platform_calls",
            PLATFORM_CALLS,
            settings.payment_notice_retention,
        )
        .await?
            + purge_table(
                conn,
                "dev_wechat_calls",
                DEV_WECHAT_CALLS,
                settings.payment_notice_retention,
            )
            .await?,
        revoked_tokens: purge_table(conn, "revoked_tokens", REVOKED_TOKENS, Duration::ZERO).await?,
    };
    if let Err(err) = sqlx::query("SELECT pg_advisory_unlock($1)")
        .bind(RETENTION_LOCK)
        .execute(&mut *lock)
        .await
    {
        // The connection closes on drop, which releases the lock all the same.
        tracing::warn!(%err, "could not release the retention lock");
    }
    Ok(report)
}

/// Runs `delete` batch after batch until a batch comes back short: the rows it deleted.
async fn purge_table(
    conn: &mut PgConnection,
    table: &'static str,
    delete: &str,
    kept_for: Duration,
) -> Result<u64, sqlx::Error> {
    let mut deleted = 0;
    loop {
        let batch = sqlx::query(delete)
            .bind(kept_for.as_secs_f64())
            .bind(BATCH)
            .execute(&mut *conn)
            .await?
            .rows_affected();
        deleted += batch;
        metrics::counter!("retention_purged_rows_total", "table" => table).increment(batch);
        if batch < BATCH.unsigned_abs() {
            return Ok(deleted);
        }
    }
}

/// Purges at start and then every `settings.interval` until `stop` turns true; a purge
/// under way is abandoned then (what it deleted so far stays deleted).
pub async fn run(pool: PgPool, settings: RetentionSettings, mut stop: watch::Receiver<bool>) {
    let every = settings.interval.max(MIN_INTERVAL);
    loop {
        tokio::select! {
            purged = purge(&pool, &settings) => match purged {
                Ok(report) if report.total() > 0 => tracing::info!(
                    idempotency_keys = report.idempotency_keys,
                    sessions = report.sessions,
                    payment_notices = report.payment_notices,
                    payment_prepays = report.payment_prepays,
                    platform_calls = report.platform_calls,
                    revoked_tokens = report.revoked_tokens,
                    "purged rows past their retention"
                ),
                Ok(_) => {}
                Err(err) => tracing::warn!(%err, "retention purge failed; retrying next round"),
            },
            _ = stop.wait_for(|stopped| *stopped) => return,
        }
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            _ = stop.wait_for(|stopped| *stopped) => return,
        }
    }
}
