//! `ordo audit verify`: proves the log was not edited and that what was built on it is
//! right. Four passes, each reading the database in batches (memory stays flat):
//! 1. every stream in sequence order: each hash recomputed and chained, no gaps, and the
//!    stream replayed with its invariants checked (stock never negative, every order
//!    move legal) — [`streams`];
//! 2. the feed in order: the cumulative hash at every seal — [`seals`];
//! 3. across streams, in SQL: every reservation, release and sale matches an order line
//!    and the order's fate — [`references`];
//! 4. each read model against a replay of the whole feed — `projections::compare`.

mod references;
mod seals;
mod streams;

use std::time::Instant;

use serde::Serialize;
use sqlx::PgPool;

use projections::Projector;
use projections::cancellation::Cancellation;
use projections::compare::{Comparison, compare};
use projections::rebuild::RebuildError;

/// Failures listed in a report at most (the count covers them all).
const MAX_LISTED: usize = 100;

/// One thing found wrong.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Failure {
    /// `hash_mismatch`, `sequence_gap`, `seal_mismatch`, `stock_invariant`,
    /// `illegal_transition`, `reservation_mismatch`, `unreadable`, `read_model_differs`.
    pub kind: &'static str,
    /// The global position of the offending event, when one can be named.
    pub position: Option<i64>,
    /// `Type/id` of the stream, when it concerns one.
    pub stream: Option<String>,
    pub message: String,
}

/// What the verification found.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Report {
    pub ok: bool,
    pub events: u64,
    pub streams: u64,
    pub seals: u64,
    /// The lowest position of any failure.
    pub first_failure_position: Option<i64>,
    pub failure_count: usize,
    /// The first failures found (at most 100).
    pub failures: Vec<Failure>,
    pub read_models: Vec<Comparison>,
    pub seconds: f64,
}

/// Where a running verification is: its pass, and how far through it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Progress {
    pub pass: Pass,
    /// Events checked (`streams`, `seals`), or projections compared (`read_models`).
    pub done: u64,
    pub total: u64,
}

/// The four passes, in the order they run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Pass {
    /// Every stream's hashes, sequence and invariants, event by event.
    Streams,
    /// The feed's cumulative hash, up to the last seal.
    Seals,
    /// Reservations, releases and sales against the orders, in one query.
    References,
    /// Each read model against a replay, one projection at a time.
    ReadModels,
}

impl Pass {
    /// The words a person reads for it (progress bars).
    pub fn label(self) -> &'static str {
        match self {
            Self::Streams => "streams",
            Self::Seals => "seals",
            Self::References => "references",
            Self::ReadModels => "read models",
        }
    }
}

/// Collects failures: all counted, the first [`MAX_LISTED`] kept.
#[derive(Debug, Default)]
struct Findings {
    listed: Vec<Failure>,
    count: usize,
    first_position: Option<i64>,
}

impl Findings {
    fn add(&mut self, failure: Failure) {
        self.count += 1;
        if let Some(position) = failure.position {
            self.first_position = Some(self.first_position.map_or(position, |p| p.min(position)));
        }
        if self.listed.len() < MAX_LISTED {
            self.listed.push(failure);
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// Called off (its client hung up) before it finished.
    #[error("the verification was cancelled")]
    Cancelled,
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[error("replaying a read model failed: {0}")]
    Replay(RebuildError),
}

/// Runs every pass; `progress` is called as each pass starts and as it goes on.
/// Without a projector, read models are not compared. Stops with
/// [`VerifyError::Cancelled`] at the next batch once `cancellation` fires.
pub async fn verify(
    pool: &PgPool,
    projector: Option<&Projector>,
    cancellation: &Cancellation,
    mut progress: impl FnMut(Progress),
) -> Result<Report, VerifyError> {
    let started = Instant::now();
    let total: i64 = sqlx::query_scalar("SELECT count(*) FROM events")
        .fetch_one(pool)
        .await?;
    let total = u64::try_from(total).unwrap_or_default();
    let mut findings = Findings::default();
    let mut report = |pass, done, total| progress(Progress { pass, done, total });
    report(Pass::Streams, 0, total);
    // The count was taken before the pass: on a live shop more events arrive meanwhile.
    let counted = streams::check(pool, &mut findings, cancellation, |done| {
        report(Pass::Streams, done, total.max(done))
    })
    .await?;
    let seals = seals::check(pool, &mut findings, cancellation, |done, total| {
        report(Pass::Seals, done, total)
    })
    .await?;
    report(Pass::References, 0, 1);
    references::check(pool, &mut findings).await?;
    report(Pass::References, 1, 1);
    let mut read_models = Vec::new();
    if let Some(projector) = projector {
        // Read models only: a subscriber that calls WeChat is not replayed.
        let projections: Vec<_> = projector
            .projections()
            .iter()
            .filter(|projection| projection.replayable())
            .collect();
        let total = projections.len() as u64;
        for (done, projection) in (0u64..).zip(projections) {
            report(Pass::ReadModels, done, total);
            let comparison = compare(projector, projection.name(), cancellation)
                .await
                .map_err(|err| match err {
                    RebuildError::Cancelled => VerifyError::Cancelled,
                    other => VerifyError::Replay(other),
                })?;
            if !comparison.matches() {
                findings.add(Failure {
                    kind: "read_model_differs",
                    position: None,
                    stream: None,
                    message: format!(
                        "{}: {} rows missing, {} extra compared with a replay to position {}",
                        comparison.projection,
                        comparison.missing_rows,
                        comparison.extra_rows,
                        comparison.position
                    ),
                });
            }
            read_models.push(comparison);
        }
        report(Pass::ReadModels, total, total);
    }
    Ok(Report {
        ok: findings.count == 0,
        events: counted.events,
        streams: counted.streams,
        seals,
        first_failure_position: findings.first_position,
        failure_count: findings.count,
        failures: findings.listed,
        read_models,
        seconds: started.elapsed().as_secs_f64(),
    })
}
