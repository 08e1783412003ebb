//! The projector: tails the global feed for every projection and applies each batch
//! **and** advances that projection's checkpoint in one transaction, so a crash between
//! batches, or in the middle of one, neither skips nor repeats an event.
//!
//! Nothing in the log can stop it for good. A batch that fails is retried:
//! - after a transient failure (the database away, a cancelled statement, a deadlock)
//!   with capped exponential backoff, the projection staying `running`;
//! - otherwise event by event, each in a savepoint, to find the events that fail: those
//!   are parked with their stream's later events (see [`crate::parking`]) and the rest
//!   applied — or, for a failure of unknown cause in a projection whose policy is
//!   [`UnknownFailure::Stop`], the projection stops at the event, `failed`, until an
//!   operator retries it.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;
use sqlx::postgres::PgListener;
use sqlx::{Acquire, PgConnection, PgPool};
use tokio::sync::watch;

use crate::failure::Backoff;
use crate::feed::read_feed_until;
use crate::projection::{FailureKind, Projection, ProjectionError, Target, UnknownFailure};
use crate::{FeedPosition, RecordedEvent, checkpoint, parking};

/// The channel the events table's trigger notifies on commit.
const FEED_CHANNEL: &str = "ordo_events";

/// Events per batch.
pub const BATCH_SIZE: i64 = 2_000;

/// What one step of a projection did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Went past this many events (applied, or parked).
    Applied(usize),
    /// Nothing new below the feed's horizon.
    CaughtUp,
    /// Another process holds this projection right now.
    Standby,
    /// The projection stopped on an event it could not apply (see its checkpoint row).
    Failed,
}

/// What [`Projector::retry_parked`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Retried {
    /// Parked events applied now.
    pub applied: u64,
    /// Parked events that still fail (or wait for one of their stream that does).
    pub still_parked: u64,
    /// Whether the projection had stopped (`failed`) and runs again.
    pub resumed: bool,
}

/// Feeds a set of projections.
pub struct Projector {
    pool: PgPool,
    projections: Vec<Arc<dyn Projection>>,
    positions: HashMap<&'static str, watch::Sender<FeedPosition>>,
    /// Projections waiting out a transient failure: their backoff and when to try again.
    backoffs: Mutex<HashMap<&'static str, (Backoff, Instant)>>,
    poll_interval: Duration,
}

impl std::fmt::Debug for Projector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.projections.iter().map(|p| p.name()).collect();
        f.debug_struct("Projector")
            .field("projections", &names)
            .finish()
    }
}

/// Reads the batch after `after` (up to `until` at most), applies it to `target`'s tables and advances the
/// target's checkpoint, all in the caller's transaction. Events of a stream that has an
/// event parked are parked behind it. `None` when caught up.
pub async fn apply_next_batch(
    conn: &mut PgConnection,
    projection: &dyn Projection,
    target: Target,
    (after, until): (FeedPosition, FeedPosition),
    limit: i64,
) -> Result<Option<(usize, FeedPosition)>, ProjectionError> {
    let events = read_feed_until(&mut *conn, after, until, limit).await?;
    let Some(last) = events.last().map(|event| event.position) else {
        return Ok(None);
    };
    let name = target.checkpoint(projection.name());
    let waiting = parking::waiting_streams(&mut *conn, &name, &events).await?;
    if waiting.is_empty() {
        projection.apply(&mut *conn, target, &events).await?;
    } else {
        let (behind, ready): (Vec<RecordedEvent>, Vec<RecordedEvent>) = events
            .iter()
            .cloned()
            .partition(|event| waiting.contains(&event.aggregate_id));
        projection.apply(&mut *conn, target, &ready).await?;
        for event in &behind {
            parking::park(&mut *conn, &name, event, WAITS).await?;
        }
    }
    checkpoint::advance(conn, &name, last).await?;
    Ok(Some((events.len(), last)))
}

/// Why an event is parked behind another of its stream.
const WAITS: &str = "waits for an earlier parked event of its stream";

/// Applies `events` one at a time, each in a savepoint, parking those that fail (and
/// their streams' later events). Stops at the first event whose failure the projection's
/// policy says to stop at: `Err` with the events before it applied in `conn`'s
/// transaction, and the position of the last one (if any) to advance the checkpoint to.
async fn apply_one_by_one(
    conn: &mut PgConnection,
    projection: &dyn Projection,
    target: Target,
    events: &[RecordedEvent],
) -> Result<(), (Option<FeedPosition>, ProjectionError)> {
    let name = target.checkpoint(projection.name());
    let fail = |done: Option<FeedPosition>| move |err: sqlx::Error| (done, err.into());
    let mut done = None;
    let mut waiting = parking::waiting_streams(&mut *conn, &name, events)
        .await
        .map_err(fail(done))?;
    for event in events {
        if waiting.contains(&event.aggregate_id) {
            parking::park(&mut *conn, &name, event, WAITS)
                .await
                .map_err(fail(done))?;
            done = Some(event.position);
            continue;
        }
        let mut savepoint = conn.begin().await.map_err(fail(done))?;
        match projection
            .apply(&mut savepoint, target, std::slice::from_ref(event))
            .await
        {
            Ok(()) => savepoint.commit().await.map_err(fail(done))?,
            Err(err) => {
                savepoint.rollback().await.map_err(fail(done))?;
                let park = match err.kind() {
                    FailureKind::Transient => return Err((done, err)),
                    FailureKind::Event => true,
                    FailureKind::Unknown => projection.on_unknown_failure() == UnknownFailure::Park,
                };
                if !park {
                    return Err((done, err));
                }
                parking::park(&mut *conn, &name, event, &err.to_string())
                    .await
                    .map_err(fail(done))?;
                waiting.insert(event.aggregate_id.clone());
            }
        }
        done = Some(event.position);
    }
    Ok(())
}

impl Projector {
    pub fn new(pool: PgPool, projections: Vec<Arc<dyn Projection>>) -> Self {
        let positions = projections
            .iter()
            .map(|projection| (projection.name(), watch::Sender::new(FeedPosition::START)))
            .collect();
        Self {
            pool,
            projections,
            positions,
            backoffs: Mutex::new(HashMap::new()),
            poll_interval: Duration::from_millis(500),
        }
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    pub fn projections(&self) -> &[Arc<dyn Projection>] {
        &self.projections
    }

    /// The projection called `name`.
    pub fn projection(&self, name: &str) -> Option<&Arc<dyn Projection>> {
        self.projections.iter().find(|p| p.name() == name)
    }

    /// Creates the checkpoint rows of projections that have none yet.
    pub async fn register(&self) -> Result<(), sqlx::Error> {
        for projection in &self.projections {
            checkpoint::ensure(&self.pool, projection.name()).await?;
        }
        Ok(())
    }

    /// Applies one batch of `projection` to `target`, in one transaction with the
    /// target's checkpoint.
    pub async fn step_into(
        &self,
        projection: &dyn Projection,
        target: Target,
    ) -> Result<Step, ProjectionError> {
        self.step_into_until(projection, target, FeedPosition::END)
            .await
    }

    /// Like [`Projector::step_into`], applying no event after `until`: a verification
    /// brings its replay to exactly the position the live tables were read at.
    pub async fn step_into_until(
        &self,
        projection: &dyn Projection,
        target: Target,
        until: FeedPosition,
    ) -> Result<Step, ProjectionError> {
        let name = target.checkpoint(projection.name());
        let mut tx = self.pool.begin().await?;
        // The row lock makes this process the projection's only writer for the batch;
        // another process's projector skips it (SKIP LOCKED) and stands by.
        let Some(current) = checkpoint::lock(&mut tx, &name, true).await? else {
            if target == Target::Live {
                // Follow the active projector's progress, for read-your-writes waits here.
                if let Some(active) = checkpoint::read(&self.pool, &name).await? {
                    self.publish(projection.name(), active.position());
                }
            }
            return Ok(Step::Standby);
        };
        if current.failed() {
            return Ok(Step::Failed);
        }
        if target == Target::Live {
            self.publish(projection.name(), current.position());
        }
        let range = (current.position(), until);
        match apply_next_batch(&mut tx, projection, target, range, BATCH_SIZE).await {
            Ok(None) => Ok(Step::CaughtUp),
            Ok(Some((applied, last))) => {
                tx.commit().await?;
                if target == Target::Live {
                    self.publish(projection.name(), last);
                }
                Ok(Step::Applied(applied))
            }
            Err(err) => {
                // A failed transaction: nothing of the batch stays.
                drop(tx);
                if err.kind() == FailureKind::Transient {
                    return Err(err);
                }
                self.step_one_by_one(projection, target, until).await
            }
        }
    }

    /// The batch that just failed, again, event by event (see [`apply_one_by_one`]).
    async fn step_one_by_one(
        &self,
        projection: &dyn Projection,
        target: Target,
        until: FeedPosition,
    ) -> Result<Step, ProjectionError> {
        let name = target.checkpoint(projection.name());
        let mut tx = self.pool.begin().await?;
        let Some(current) = checkpoint::lock(&mut tx, &name, true).await? else {
            return Ok(Step::Standby);
        };
        if current.failed() {
            return Ok(Step::Failed);
        }
        let events = read_feed_until(&mut *tx, current.position(), until, BATCH_SIZE).await?;
        let Some(last) = events.last().map(|event| event.position) else {
            return Ok(Step::CaughtUp);
        };
        match apply_one_by_one(&mut tx, projection, target, &events).await {
            Ok(()) => {
                checkpoint::advance(&mut tx, &name, last).await?;
                tx.commit().await?;
                if target == Target::Live {
                    self.publish(projection.name(), last);
                }
                Ok(Step::Applied(events.len()))
            }
            Err((_, err)) if err.kind() == FailureKind::Transient => Err(err),
            Err((done, err)) => {
                // Keep what applied before the event, and stop at it.
                if let Some(done) = done {
                    checkpoint::advance(&mut tx, &name, done).await?;
                }
                tx.commit().await?;
                let at = events
                    .iter()
                    .find(|event| done.is_none_or(|done| event.position > done))
                    .map_or(0, |event| event.position.global_position);
                self.record_failure(&name, &format!("event at position {at}: {err}"))
                    .await?;
                Err(err)
            }
        }
    }

    /// One batch of the live projection.
    pub async fn step(&self, projection: &dyn Projection) -> Result<Step, ProjectionError> {
        self.step_into(projection, Target::Live).await
    }

    /// Runs every projection until each is caught up, standing by or failed; a failing
    /// projection does not hold the others back.
    /// A projection waiting out a transient failure is skipped until its backoff ends.
    pub async fn catch_up(&self) -> Result<(), ProjectionError> {
        let mut first_error = None;
        for projection in &self.projections {
            let name = projection.name();
            if self.backing_off(name) {
                continue;
            }
            loop {
                match self.step(projection.as_ref()).await {
                    Ok(Step::Applied(_)) => {}
                    Ok(_) => break,
                    Err(err) => {
                        if err.kind() == FailureKind::Transient {
                            self.back_off(name, &err);
                        }
                        first_error.get_or_insert(err);
                        break;
                    }
                }
            }
            if first_error.is_none() {
                self.recovered(name);
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    fn backing_off(&self, name: &str) -> bool {
        let backoffs = self.backoffs.lock().unwrap_or_else(|p| p.into_inner());
        backoffs
            .get(name)
            .is_some_and(|(_, retry_at)| Instant::now() < *retry_at)
    }

    fn back_off(&self, name: &'static str, err: &ProjectionError) {
        let mut backoffs = self.backoffs.lock().unwrap_or_else(|p| p.into_inner());
        let (backoff, retry_at) = backoffs
            .entry(name)
            .or_insert((Backoff::default(), Instant::now()));
        let delay = backoff.failed();
        *retry_at = Instant::now() + delay;
        tracing::warn!(projection = name, %err, failures = backoff.failures(), retry_in_ms = delay.as_millis() as u64,
            "projection hit a transient failure; retrying");
    }

    fn recovered(&self, name: &str) {
        let mut backoffs = self.backoffs.lock().unwrap_or_else(|p| p.into_inner());
        if backoffs.remove(name).is_some() {
            tracing::info!(projection = name, "projection recovered");
        }
    }

    /// Tails the feed until `shutdown` changes: woken by NOTIFY, polling as a fallback
    /// (a lost notification, or events that were not yet below the horizon).
    ///
    /// Stop it with `shutdown`, which it checks between batches; never abort its task:
    /// sqlx 0.8 can return a connection whose future was dropped mid-transaction to the
    /// pool still inside that transaction, where other statements would then run.
    pub async fn run(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        let mut listener = match PgListener::connect_with(&self.pool).await {
            Ok(mut listener) => match listener.listen(FEED_CHANNEL).await {
                Ok(()) => Some(listener),
                Err(err) => {
                    tracing::warn!(%err, "cannot LISTEN for new events; polling only");
                    None
                }
            },
            Err(err) => {
                tracing::warn!(%err, "cannot LISTEN for new events; polling only");
                None
            }
        };
        loop {
            if let Err(err) = self.catch_up().await
                && err.kind() != FailureKind::Transient
            {
                tracing::error!(%err, "a projection stopped");
            }
            let notified = async {
                match listener.as_mut() {
                    Some(listener) => {
                        if listener.try_recv().await.is_err() {
                            // The server is away (reconnecting failed): wait for the poll
                            // rather than spin.
                            std::future::pending::<()>().await;
                        }
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                () = notified => {}
                () = tokio::time::sleep(self.poll_interval) => {}
                _ = shutdown.changed() => return,
            }
        }
    }

    /// Waits until `projection` has applied everything up to `position`, at most
    /// `timeout`. False when it did not get there in time.
    pub async fn wait_for(
        &self,
        projection: &str,
        position: FeedPosition,
        timeout: Duration,
    ) -> bool {
        let Some(sender) = self.positions.get(projection) else {
            return false;
        };
        let mut receiver = sender.subscribe();
        tokio::time::timeout(timeout, receiver.wait_for(|seen| *seen >= position))
            .await
            .is_ok_and(|result| result.is_ok())
    }

    fn publish(&self, projection: &str, position: FeedPosition) {
        if let Some(sender) = self.positions.get(projection) {
            sender.send_if_modified(|seen| {
                let newer = position > *seen;
                if newer {
                    *seen = position;
                }
                newer
            });
        }
    }

    async fn record_failure(&self, name: &str, error: &str) -> Result<(), sqlx::Error> {
        tracing::error!(
            projection = name,
            error,
            "projection stopped; it waits here until an operator retries it"
        );
        sqlx::query(
            "UPDATE projection_checkpoints SET state = 'failed', error = $2, updated_at = now()
              WHERE projection = $1",
        )
        .bind(name)
        .bind(crate::stored_text::escape(error).as_ref())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Re-applies the events `name` parked, in feed order, after their cause was fixed;
    /// those that still fail stay parked (with their streams' later events). A projection
    /// that had stopped (`failed`) runs again. The live projector waits meanwhile.
    pub async fn retry_parked(&self, name: &str) -> Result<Retried, ProjectionError> {
        let Some(projection) = self.projection(name).cloned() else {
            return Ok(Retried::default());
        };
        let mut tx = self.pool.begin().await?;
        let Some(current) = checkpoint::lock(&mut tx, name, false).await? else {
            return Ok(Retried::default());
        };
        let mut retried = Retried {
            resumed: current.failed(),
            ..Retried::default()
        };
        let mut still_failing: HashSet<String> = HashSet::new();
        let mut after = FeedPosition::START;
        loop {
            let positions = parking::positions(&mut tx, name, after, BATCH_SIZE).await?;
            let Some(last) = positions.last().copied() else {
                break;
            };
            after = last;
            let wanted: Vec<i64> = positions.iter().map(|p| p.global_position).collect();
            for event in crate::feed::read_positions(&mut *tx, &wanted).await? {
                let position = event.position.global_position;
                if still_failing.contains(&event.aggregate_id) {
                    parking::park(&mut tx, name, &event, WAITS).await?;
                    retried.still_parked += 1;
                    continue;
                }
                let mut savepoint = tx.begin().await?;
                let applied = projection
                    .apply(&mut savepoint, Target::Live, std::slice::from_ref(&event))
                    .await;
                match applied {
                    Ok(()) => {
                        savepoint.commit().await?;
                        parking::release(&mut tx, name, position).await?;
                        retried.applied += 1;
                    }
                    Err(err) if err.kind() == FailureKind::Transient => return Err(err),
                    Err(err) => {
                        savepoint.rollback().await?;
                        parking::park(&mut tx, name, &event, &err.to_string()).await?;
                        still_failing.insert(event.aggregate_id.clone());
                        retried.still_parked += 1;
                    }
                }
            }
        }
        if retried.resumed {
            sqlx::query(
                "UPDATE projection_checkpoints SET state = 'running', error = NULL, updated_at = now()
                  WHERE projection = $1",
            )
            .bind(name)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        tracing::info!(projection = name, ?retried, "parked events retried");
        Ok(retried)
    }
}
