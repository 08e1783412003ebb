//! Each projection's state for operators: version, position, lag, and any rebuild in
//! progress.

use serde::Serialize;
use sqlx::PgPool;

use crate::checkpoint::{self, Checkpoint};
use crate::parking;
use crate::projection::Target;
use crate::projector::Projector;

/// One projection as `ordo projections status` and `GET /admin/projections` show it.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProjectionStatus {
    pub name: String,
    pub version: i32,
    /// `running`, `failed`, `rebuilding` (a rebuild runs now, in any process) or
    /// `stopped` (no server's projector is running on this database).
    pub state: String,
    pub position: i64,
    /// Events in the feed after the position.
    pub lag_events: i64,
    /// Age of the oldest event not yet applied, in seconds (0 when caught up).
    pub lag_seconds: f64,
    pub error: Option<String>,
    /// Events set aside because they could not be applied (`ordo projections parked`).
    pub parked: i64,
    /// The shadow copy's position while a rebuild runs (or where an interrupted one
    /// stopped: the next one resumes from there).
    pub rebuild_position: Option<i64>,
    /// Why the last rebuild stopped before it swapped in; none once one starts again.
    pub rebuild_error: Option<String>,
    /// The feed's highest position, for progress.
    pub head: i64,
    /// False for a subscriber that calls WeChat: never rebuilt nor replayed.
    pub replayable: bool,
    /// Such a subscriber's calls: waiting, failed for good, done.
    pub backlog: Option<crate::Backlog>,
}

/// The status of every projection the projector feeds.
pub async fn all(projector: &Projector) -> Result<Vec<ProjectionStatus>, sqlx::Error> {
    let pool = projector.pool();
    // The locks before the checkpoints: a rebuild swaps in (clearing its note) before it
    // unlocks, so a lock seen free means the checkpoints read next are past the swap.
    let names: Vec<&str> = projector.projections().iter().map(|p| p.name()).collect();
    let rebuilding = rebuilds_running(pool, &names).await?;
    let checkpoints = checkpoint::all(pool).await?;
    let head = event_log::feed_lag::head(pool).await?;
    let parked = parking::counts(pool).await?;
    let running = any_projector_running(pool).await?;
    let mut statuses = Vec::new();
    for projection in projector.projections() {
        let name = projection.name();
        let find = |wanted: &str| checkpoints.iter().find(|c| c.projection == wanted).cloned();
        let live = find(name);
        let shadow = find(&Target::Shadow.checkpoint(name));
        let rebuild = Rebuild {
            running: rebuilding.iter().any(|n| n == name),
            shadow,
        };
        let mut status = status_of(pool, name, live, rebuild, head).await?;
        if !running && status.state == "running" {
            status.state = "stopped".to_owned();
        }
        status.parked = parked.get(name).copied().unwrap_or(0);
        status.replayable = projection.replayable();
        status.backlog = projection.backlog(pool).await?;
        statuses.push(status);
    }
    Ok(statuses)
}

/// How far behind each of the live projections `names` is: the age in seconds of the
/// oldest event it has not applied yet (0 when caught up). One cheap look per
/// projection (the feed's index), for health checks.
pub async fn lag_seconds(pool: &PgPool, names: &[&str]) -> Result<Vec<(String, f64)>, sqlx::Error> {
    let mut checkpoints = checkpoint::all(pool).await?;
    checkpoints.retain(|c| names.contains(&c.projection.as_str()));
    checkpoints.sort_by(|a, b| a.projection.cmp(&b.projection));
    let mut lags = Vec::with_capacity(checkpoints.len());
    for c in checkpoints {
        let age = event_log::feed_lag::age_of_next(pool, c.position()).await?;
        lags.push((c.projection, age));
    }
    Ok(lags)
}

/// Whether a projector holds its running lock on this database (any server process).
pub async fn any_projector_running(pool: &PgPool) -> Result<bool, sqlx::Error> {
    // Advisory locks of one 64-bit key show as classid (high half) and objid (low half).
    sqlx::query_scalar(
        "SELECT EXISTS (
           SELECT 1 FROM pg_locks
            WHERE locktype = 'advisory' AND granted
              AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
              AND classid::bigint = ($1 >> 32) AND objid::bigint = ($1 & 4294967295))",
    )
    .bind(crate::feed_listener::RUNNING_LOCK)
    .fetch_one(pool)
    .await
}

/// Those of `names` whose rebuild lock is held now, by any process.
async fn rebuilds_running(pool: &PgPool, names: &[&str]) -> Result<Vec<String>, sqlx::Error> {
    // Advisory locks of two 32-bit keys show as classid and objid, with objsubid 2.
    sqlx::query_scalar(
        "SELECT name FROM unnest($2::text[]) AS name
          WHERE EXISTS (
            SELECT 1 FROM pg_locks
             WHERE locktype = 'advisory' AND granted AND objsubid = 2
               AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
               AND classid::bigint = ($1::bigint & 4294967295)
               AND objid::bigint = (hashtext(name)::bigint & 4294967295))",
    )
    .bind(crate::rebuild::REBUILD_LOCK)
    .bind(names)
    .fetch_all(pool)
    .await
}

/// A projection's rebuild: whether one runs now, and the shadow copy any run left.
struct Rebuild {
    running: bool,
    shadow: Option<Checkpoint>,
}

impl Rebuild {
    /// Why the last rebuild did not finish, when none runs now.
    fn error(&self, live: Option<&Checkpoint>) -> Option<String> {
        if self.running {
            return None;
        }
        live.and_then(|c| c.rebuild_error.clone())
    }
}

async fn status_of(
    pool: &PgPool,
    name: &str,
    live: Option<Checkpoint>,
    rebuild: Rebuild,
    head: i64,
) -> Result<ProjectionStatus, sqlx::Error> {
    let position = live.as_ref().map(Checkpoint::position).unwrap_or_default();
    let (lag_events, lag_seconds) = event_log::feed_lag::behind(pool, position).await?;
    // A rebuild is how a failed projection is mended: while one runs, that is the news
    // (the failure stays in `error`).
    let state = match &live {
        _ if rebuild.running => "rebuilding",
        Some(live) if live.failed() => "failed",
        _ => "running",
    };
    let rebuild_error = rebuild
        .error(live.as_ref())
        .map(crate::stored_text::unescaped);
    Ok(ProjectionStatus {
        name: name.to_owned(),
        version: live.as_ref().map_or(1, |c| c.version),
        state: state.to_owned(),
        position: position.global_position,
        lag_events,
        lag_seconds,
        error: live
            .and_then(|c| c.error)
            .map(crate::stored_text::unescaped),
        parked: 0,
        rebuild_position: rebuild.shadow.map(|c| c.global_position),
        rebuild_error,
        head,
        replayable: true,
        backlog: None,
    })
}
