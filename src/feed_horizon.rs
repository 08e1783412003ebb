//! The feed horizon's watcher: lets the read side pass transactions that cannot append
//! events, and says who holds it back.
//!
//! Every server process runs one. A few times a second it lists the cluster's
//! transactions that hold an id (`event_log::horizon`); those that never announced an
//! append and have run longer than [`BYSTANDER_GRACE`] (a forgotten psql session, a slow
//! migration, another database's work) are passed: the feed's floor is raised above
//! them, so the projectors read on, and should one of them try to append after all, it is
//! refused and retried (see the migration `*_feed_horizon.sql`).
//!
//! What it sees is published as metrics (`feed_horizon_age_seconds`) and kept for
//! `/readyz` and the console: any transaction older than [`REPORT_AFTER`] is named.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use chrono::{DateTime, Utc};
use event_log::horizon::{self, HorizonHolder};
use serde::Serialize;
use sqlx::PgPool;
use tokio::sync::watch;

/// How often the cluster's transactions are looked at.
const CHECK_EVERY: Duration = Duration::from_millis(200);

/// How long a transaction that has not announced an append may hold the horizon. ordo's
/// own transactions that write no events end well within it; waiting for them costs a
/// reader nothing (they are over before it would have read far).
pub const BYSTANDER_GRACE: Duration = Duration::from_millis(250);

/// A projection further behind than this is stale: writes do not wait for it unless it
/// has moved within as long, and a shopper's own orders are read from the events rather
/// than from it.
pub const STALE_AFTER: Duration = Duration::from_secs(1);

/// A transaction holding an id for longer than this is named wherever the read side's
/// health is shown.
pub const REPORT_AFTER: Duration = Duration::from_secs(5);

/// What the watcher saw last.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct HorizonReport {
    /// When it looked; none before its first look.
    pub checked_at: Option<DateTime<Utc>>,
    /// Age of the oldest transaction that announced an append (the horizon waits for
    /// it), in seconds; 0 when none runs.
    pub appender_age_seconds: f64,
    /// Age of the oldest transaction holding an id without having announced an append
    /// (passed after a moment; it still holds back PostgreSQL's own clean-up), in seconds.
    pub bystander_age_seconds: f64,
    /// The transactions older than [`REPORT_AFTER`], oldest first.
    pub long_running: Vec<HorizonHolder>,
    /// How far behind each live projection is: the age of the oldest event it has not
    /// applied yet, in seconds.
    pub projection_lags: Vec<ProjectionLag>,
}

/// How far behind one projection is.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ProjectionLag {
    pub projection: String,
    pub lag_seconds: f64,
}

impl HorizonReport {
    /// Whether an appender holds the read side back for longer than [`REPORT_AFTER`].
    pub fn held(&self) -> bool {
        self.appender_age_seconds > REPORT_AFTER.as_secs_f64()
    }

    /// Whether `projection` was seen more than [`STALE_AFTER`] behind at the last look:
    /// its rows may then be stale, and a shopper's own orders are read from the events.
    pub fn stale(&self, projection: &str) -> bool {
        self.projection_lags
            .iter()
            .any(|lag| lag.projection == projection && lag.lag_seconds > STALE_AFTER.as_secs_f64())
    }

    /// The projections more than [`REPORT_AFTER`] behind.
    pub fn lagging(&self) -> impl Iterator<Item = &ProjectionLag> {
        self.projection_lags
            .iter()
            .filter(|lag| lag.lag_seconds > REPORT_AFTER.as_secs_f64())
    }
}

/// The watcher's last report, shared with the handlers. Read on every write and order
/// read, so a read is the clone of an `Arc`, not of the report.
#[derive(Debug, Default)]
pub struct HorizonWatch {
    report: RwLock<Arc<HorizonReport>>,
}

impl HorizonWatch {
    pub fn report(&self) -> Arc<HorizonReport> {
        Arc::clone(
            &self
                .report
                .read()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
        )
    }

    fn set(&self, report: HorizonReport) {
        *self
            .report
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Arc::new(report);
    }
}

/// Looks at the cluster's transactions once: passes the bystanders past their grace and
/// reports the rest.
pub async fn check(pool: &PgPool, projections: &[&str]) -> Result<HorizonReport, sqlx::Error> {
    let holders = horizon::holders(pool).await?;
    let now = Utc::now();
    let grace = BYSTANDER_GRACE.as_secs_f64();
    let passed = holders
        .iter()
        .filter(|holder| !holder.appender && holder.age_seconds(now) > grace)
        .map(|holder| holder.xid)
        .max();
    if let Some(newest) = passed {
        horizon::raise_floor(pool, newest + 1).await?;
    }
    let lags = projections::status::lag_seconds(pool, projections).await?;
    Ok(report(&holders, lags, now))
}

/// Looks at the cluster's transactions once, changing nothing (for status commands).
pub async fn look(pool: &PgPool) -> Result<HorizonReport, sqlx::Error> {
    Ok(report(
        &horizon::holders(pool).await?,
        Vec::new(),
        Utc::now(),
    ))
}

fn report(
    holders: &[HorizonHolder],
    lags: Vec<(String, f64)>,
    now: DateTime<Utc>,
) -> HorizonReport {
    let oldest = |appender: bool| {
        holders
            .iter()
            .filter(|holder| holder.appender == appender)
            .map(|holder| holder.age_seconds(now))
            .fold(0.0, f64::max)
    };
    let report_after = REPORT_AFTER.as_secs_f64();
    let mut long_running: Vec<HorizonHolder> = holders
        .iter()
        .filter(|holder| holder.age_seconds(now) > report_after)
        .cloned()
        .collect();
    long_running.sort_by_key(|holder| holder.since);
    HorizonReport {
        checked_at: Some(now),
        appender_age_seconds: oldest(true),
        bystander_age_seconds: oldest(false),
        long_running,
        projection_lags: lags
            .into_iter()
            .map(|(projection, lag_seconds)| ProjectionLag {
                projection,
                lag_seconds,
            })
            .collect(),
    }
}

/// Watches until `stop` turns true.
pub async fn run(
    pool: PgPool,
    projections: Vec<&'static str>,
    watch: Arc<HorizonWatch>,
    mut stop: watch::Receiver<bool>,
) {
    let mut warned_about: Option<i64> = None;
    loop {
        match check(&pool, &projections).await {
            Ok(report) => {
                metrics::gauge!("feed_horizon_age_seconds", "holder" => "appender")
                    .set(report.appender_age_seconds);
                metrics::gauge!("feed_horizon_age_seconds", "holder" => "bystander")
                    .set(report.bystander_age_seconds);
                // Named once per transaction in the log, not at every look.
                if let Some(oldest) = report.long_running.first()
                    && warned_about != Some(oldest.xid)
                {
                    warned_about = Some(oldest.xid);
                    tracing::warn!(
                        xid = oldest.xid,
                        appender = oldest.appender,
                        pid = oldest.pid,
                        database = oldest.database.as_deref().unwrap_or("?"),
                        application = oldest.application.as_deref().unwrap_or("?"),
                        since = ?oldest.since,
                        query = oldest.query.as_deref().unwrap_or(""),
                        "a long transaction holds a transaction id{}",
                        if oldest.appender {
                            ": the read side waits for it"
                        } else {
                            " (the read side passes it; PostgreSQL's clean-up waits)"
                        }
                    );
                }
                watch.set(report);
            }
            Err(err) => tracing::debug!(%err, "could not look at the feed's horizon"),
        }
        tokio::select! {
            () = tokio::time::sleep(CHECK_EVERY) => {}
            _ = stop.wait_for(|stopped| *stopped) => return,
        }
    }
}
