//! The projector: tails the global feed for every projection and applies each batch
//! **and** advances that projection's checkpoint in one transaction, so a crash between
//! batches, or in the middle of one, neither skips nor repeats an event.
//!
//! Nothing in the log can stop it for good. A batch that fails is retried: after a
//! transient failure (the database away, a cancelled statement, a deadlock) with capped
//! exponential backoff, the projection staying `running`; otherwise event by event (see
//! [`crate::failed_batch`]).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};
use tokio::sync::watch;

use crate::failure::Backoff;
use crate::feed::{read_feed_of_types, read_feed_until};
use crate::feed_listener::listen;
use crate::projection::{FailureKind, Projection, ProjectionError, Target};
use crate::{FeedPosition, RecordedEvent, checkpoint, parking};

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

/// Feeds a set of projections.
pub struct Projector {
    pool: PgPool,
    projections: Vec<Arc<dyn Projection>>,
    positions: HashMap<&'static str, watch::Sender<FeedPosition>>,
    /// Projections waiting out a transient failure: their backoff and when to try again.
    backoffs: Mutex<HashMap<&'static str, (Backoff, Instant)>>,
    /// When each live projection last published progress (read-your-writes asks whether
    /// a projection seen behind has moved since).
    progressed_at: Mutex<HashMap<&'static str, DateTime<Utc>>>,
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
/// event parked are parked behind it (asked only when the target has any `parked`, as
/// its locked checkpoint says). `None` when caught up.
pub async fn apply_next_batch(
    conn: &mut PgConnection,
    projection: &dyn Projection,
    target: Target,
    (after, until): (FeedPosition, FeedPosition),
    limit: i64,
    parked: bool,
) -> Result<Option<(usize, FeedPosition)>, ProjectionError> {
    let (events, last) = match projection.aggregate_types() {
        None => {
            let events = read_feed_until(&mut *conn, after, until, limit).await?;
            let last = events.last().map_or(after, |event| event.position);
            (events, last)
        }
        Some(types) => {
            let batch = read_feed_of_types(&mut *conn, types, after, until, limit).await?;
            (batch.events, batch.reached)
        }
    };
    if last <= after {
        return Ok(None);
    }
    let name = target.checkpoint(projection.name());
    let waiting = if events.is_empty() {
        // Only events of other types: the checkpoint moves past them.
        checkpoint::advance(conn, &name, last).await?;
        return Ok(Some((0, last)));
    } else if parked {
        parking::waiting_streams(&mut *conn, &name, &events).await?
    } else {
        HashSet::new()
    };
    if waiting.is_empty() {
        projection.apply(&mut *conn, target, &events).await?;
    } else {
        let (behind, ready): (Vec<RecordedEvent>, Vec<RecordedEvent>) = events
            .iter()
            .cloned()
            .partition(|event| waiting.contains(&event.aggregate_id));
        projection.apply(&mut *conn, target, &ready).await?;
        for event in &behind {
            parking::park(&mut *conn, &name, event, parking::WAITING).await?;
        }
    }
    checkpoint::advance(conn, &name, last).await?;
    Ok(Some((events.len(), last)))
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
            progressed_at: Mutex::new(HashMap::new()),
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

    /// Creates the checkpoint rows of projections that have none yet: a read model's at
    /// the start of the feed (it is built from all of it), a subscriber's that acts on the
    /// world at the feed's position now (a shop upgrading to it does not act on its past).
    pub async fn register(&self) -> Result<(), sqlx::Error> {
        for projection in &self.projections {
            if projection.replayable() {
                checkpoint::ensure(&self.pool, projection.name()).await?;
            } else if checkpoint::read(&self.pool, projection.name())
                .await?
                .is_none()
            {
                let now = event_log::feed::position_now(&self.pool).await?;
                checkpoint::ensure_at(&self.pool, projection.name(), now).await?;
            }
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
        self.publish_if_live(projection, target, current.position());
        let range = (current.position(), until);
        match apply_next_batch(
            &mut tx,
            projection,
            target,
            range,
            BATCH_SIZE,
            current.parked,
        )
        .await
        {
            Ok(None) => Ok(Step::CaughtUp),
            Ok(Some((applied, last))) => {
                tx.commit().await?;
                self.publish_if_live(projection, target, last);
                Ok(Step::Applied(applied))
            }
            Err(err) => {
                // A failed transaction: nothing of the batch stays. Rolled back here, not
                // on drop: a dropped transaction lets go of the checkpoint's row lock only
                // when its connection is next used, and the retry below, skipping locked
                // rows, would take that for another process and stand by.
                if let Err(rollback) = tx.rollback().await {
                    tracing::debug!(%rollback, "rollback after a failed batch");
                }
                if err.kind() == FailureKind::Transient {
                    return Err(err);
                }
                self.step_one_by_one(projection, target, until).await
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
            if let Err(err) = self.catch_up_one(projection.as_ref()).await {
                first_error.get_or_insert(err);
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    /// Runs `projection` until it is caught up, standing by or failed, unless it waits
    /// out a transient failure.
    async fn catch_up_one(&self, projection: &dyn Projection) -> Result<(), ProjectionError> {
        let name = projection.name();
        if self.backing_off(name) {
            return Ok(());
        }
        loop {
            match self.step(projection).await {
                // Read again even after a batch its limit did not cut: events above the
                // horizon of that read (held by a transaction that commits no events,
                // such as another projection's batch, so no notice follows) are then
                // applied now rather than at the next poll.
                Ok(Step::Applied(_)) => {}
                Ok(_) => break,
                Err(err) => {
                    if err.kind() == FailureKind::Transient {
                        self.back_off(name, &err);
                    }
                    return Err(err);
                }
            }
        }
        self.recovered(name);
        Ok(())
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

    /// Tails the feed until `shutdown` changes: each projection in a task of its own (a
    /// read-your-writes wait on one projection does not wait for the others' batches,
    /// and a slow one holds no other back), woken by NOTIFY, polling as a fallback (a
    /// lost notification, or events that were not yet below the horizon).
    ///
    /// Stop it with `shutdown`, which the tasks check between batches; never abort them:
    /// sqlx 0.8 can return a connection whose future was dropped mid-transaction to the
    /// pool still inside that transaction, where other statements would then run.
    pub async fn run(self: Arc<Self>, shutdown: watch::Receiver<bool>) {
        let (wake, woken) = watch::channel(());
        let mut tasks = vec![tokio::spawn(listen(
            self.pool.clone(),
            wake,
            shutdown.clone(),
        ))];
        for projection in &self.projections {
            tasks.push(tokio::spawn(Arc::clone(&self).follow(
                Arc::clone(projection),
                woken.clone(),
                shutdown.clone(),
            )));
        }
        for task in tasks {
            if let Err(err) = task.await {
                tracing::error!(%err, "a projector task ended abnormally");
            }
        }
    }

    /// Keeps one projection caught up until `shutdown` changes.
    async fn follow(
        self: Arc<Self>,
        projection: Arc<dyn Projection>,
        mut woken: watch::Receiver<()>,
        mut shutdown: watch::Receiver<bool>,
    ) {
        while !*shutdown.borrow() {
            // Whatever was notified before this catch-up, the catch-up covers.
            woken.mark_unchanged();
            if let Err(err) = self.catch_up_one(projection.as_ref()).await
                && err.kind() != FailureKind::Transient
            {
                tracing::error!(projection = projection.name(), %err, "a projection stopped");
            }
            let notified = async {
                if woken.changed().await.is_err() {
                    // Nobody listens any more: only the poll wakes us.
                    std::future::pending::<()>().await;
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

    /// Publishes `target`'s progress when it is the live projection (what read-your-writes
    /// waits on).
    pub(crate) fn publish_if_live(
        &self,
        projection: &dyn Projection,
        target: Target,
        position: FeedPosition,
    ) {
        if target == Target::Live {
            self.publish(projection.name(), position);
        }
    }

    fn publish(&self, projection: &str, position: FeedPosition) {
        if let Some((name, sender)) = self.positions.get_key_value(projection) {
            let moved = sender.send_if_modified(|seen| {
                let newer = position > *seen;
                if newer {
                    *seen = position;
                }
                newer
            });
            if moved {
                self.progressed_at
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(name, Utc::now());
            }
        }
    }

    /// Whether `projection` has published progress after `at`.
    pub fn progressed_since(&self, projection: &str, at: DateTime<Utc>) -> bool {
        self.progressed_at
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(projection)
            .is_some_and(|last| *last > at)
    }
}
