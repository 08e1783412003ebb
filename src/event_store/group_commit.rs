//! Group commit: the appends of concurrent units of work share transactions.
//!
//! Every commit of events costs a WAL flush and, through the feed's NOTIFY trigger, a
//! database-wide lock held until that flush is done: PostgreSQL commits NOTIFYing
//! transactions one at a time (measured: 2,300 bare-SQL 3-event transactions/s with the
//! trigger, 6,700 without). So appends queue here and a flusher commits everything
//! queued in one INSERT; while a batch commits, the next one gathers, so batches grow
//! with the load and a lone append waits for nothing.
//!
//! Each append still succeeds or fails on its own. A batch never holds two appends to
//! one stream (those go to successive batches), so a primary-key conflict is always with
//! another transaction: the streams that moved are looked up, the appends touching them
//! answered with the conflict, and the rest committed again. The flushers are tasks of
//! their own: an append whose caller hung up still commits or fails as a whole.

use std::collections::{HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use sqlx::PgPool;
use tokio::sync::oneshot;

use super::StreamId;
use super::append::{AppendError, Appended, EventRow, Rows, insert_own, moved_streams};
use super::chain::StreamHeads;

/// Batches committing at once: one in the database while the next is sent.
const MAX_FLUSHERS: usize = 2;
/// Appends in one batch at most.
const MAX_APPENDS: usize = 128;
/// Events in one batch at most (an append larger than this goes alone).
const MAX_EVENTS: usize = 2_000;

type Answer = Result<Appended, AppendError>;

/// One unit of work's append, waiting for its batch.
struct Queued {
    rows: Rows,
    respond: oneshot::Sender<Answer>,
}

#[derive(Default)]
struct Queue {
    waiting: VecDeque<Queued>,
    flushers: usize,
}

/// The process's group commit, shared by every clone of an [`super::EventStore`].
#[derive(Default)]
pub(super) struct Committer {
    queue: Mutex<Queue>,
    /// The streams' last hashes, to chain the next appends to without a lookup.
    heads: StreamHeads,
}

impl std::fmt::Debug for Committer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Committer")
    }
}

impl Committer {
    /// Commits `rows` in the next batch; answers where they landed, or why not.
    pub async fn commit(self: &Arc<Self>, pool: &PgPool, rows: Rows) -> Answer {
        let (respond, answer) = oneshot::channel();
        let start_flusher = {
            let mut queue = self.lock();
            queue.waiting.push_back(Queued { rows, respond });
            let start = queue.flushers < MAX_FLUSHERS;
            if start {
                queue.flushers += 1;
            }
            start
        };
        if start_flusher {
            let (this, pool) = (Arc::clone(self), pool.clone());
            tokio::spawn(async move { this.flush(pool).await });
        }
        answer.await.unwrap_or_else(|_| {
            Err(AppendError::from(sqlx::Error::Protocol(
                "the group commit ended without an answer".to_owned(),
            )))
        })
    }

    fn lock(&self) -> MutexGuard<'_, Queue> {
        self.queue
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Commits batch after batch until nothing waits.
    async fn flush(&self, pool: PgPool) {
        let mut running = Running {
            committer: self,
            ended: false,
        };
        while let Some(batch) = running.next_batch() {
            commit_batch(&pool, &self.heads, batch).await;
        }
    }

    /// The oldest waiting appends that fit one batch and touch distinct streams. When
    /// nothing waits, the flusher ends: under the same lock, so an append queued right
    /// after starts a new one.
    fn next_batch(&self) -> Vec<Queued> {
        let mut queue = self.lock();
        if queue.waiting.is_empty() {
            queue.flushers -= 1;
            return Vec::new();
        }
        let mut batch = Vec::new();
        let mut streams: HashSet<StreamId> = HashSet::new();
        let mut events = 0;
        let mut skipped = VecDeque::new();
        while let Some(next) = queue.waiting.pop_front() {
            let fits = batch.is_empty()
                || (events + next.rows.rows.len() <= MAX_EVENTS
                    && next
                        .rows
                        .expected
                        .iter()
                        .all(|(stream, _)| !streams.contains(stream)));
            if fits {
                events += next.rows.rows.len();
                streams.extend(next.rows.expected.iter().map(|(stream, _)| stream.clone()));
                batch.push(next);
                if batch.len() == MAX_APPENDS || events >= MAX_EVENTS {
                    break;
                }
            } else {
                skipped.push_back(next);
            }
        }
        // Those that did not fit keep their place at the front.
        while let Some(back) = skipped.pop_back() {
            queue.waiting.push_front(back);
        }
        batch
    }
}

/// A flusher at work. It gives its place back when nothing waits, or if a batch
/// panics, so that appends keep being flushed.
struct Running<'a> {
    committer: &'a Committer,
    ended: bool,
}

impl Running<'_> {
    fn next_batch(&mut self) -> Option<Vec<Queued>> {
        let batch = self.committer.next_batch();
        self.ended = batch.is_empty();
        (!self.ended).then_some(batch)
    }
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        if !self.ended {
            self.committer.lock().flushers -= 1;
        }
    }
}

/// Commits the batch in one INSERT, dropping the appends that conflict until the rest
/// commits or nothing is left.
async fn commit_batch(pool: &PgPool, heads: &StreamHeads, mut batch: Vec<Queued>) {
    metrics::counter!("event_store_commits_total").increment(1);
    metrics::counter!("event_store_appends_total")
        .increment(u64::try_from(batch.len()).unwrap_or_default());
    loop {
        let rows: Vec<&EventRow> = batch.iter().flat_map(|q| q.rows.rows.iter()).collect();
        let mut conn = match pool.acquire().await {
            Ok(conn) => conn,
            Err(err) => return answer_all(batch, &AppendError::from(err)),
        };
        let known = heads.known(rows.iter().map(|row| &row.stream));
        let moved = match insert_own(&mut conn, &rows, &known).await {
            Ok(inserted) => {
                heads.record(inserted.heads);
                let mut landed = inserted.at.as_slice();
                for queued in batch {
                    let (own, rest) = landed.split_at(queued.rows.rows.len());
                    landed = rest;
                    // A caller that hung up no longer listens; its events stand.
                    let _ = queued.respond.send(Ok(Appended::of(own)));
                }
                return;
            }
            // Streams that do not hold the events their writers loaded last.
            Err(AppendError::Conflict { streams }) if !streams.is_empty() => streams,
            Err(AppendError::Conflict { .. }) => {
                let expected: Vec<&(StreamId, i64)> =
                    batch.iter().flat_map(|q| q.rows.expected.iter()).collect();
                match moved_streams(&mut conn, &expected).await {
                    Ok(moved) => moved,
                    Err(err) => return answer_all(batch, &AppendError::from(err)),
                }
            }
            Err(err) => return answer_all(batch, &err),
        };
        if moved.is_empty() {
            // A deadlock or serialization failure, not a taken sequence: every append
            // retries on its own.
            for queued in batch {
                let streams = queued
                    .rows
                    .expected
                    .iter()
                    .map(|(s, _)| s.clone())
                    .collect();
                let _ = queued.respond.send(Err(AppendError::Conflict { streams }));
            }
            return;
        }
        let mut rest = Vec::with_capacity(batch.len());
        for queued in batch {
            let streams: Vec<StreamId> = queued
                .rows
                .expected
                .iter()
                .map(|(stream, _)| stream)
                .filter(|stream| moved.contains(stream))
                .cloned()
                .collect();
            if streams.is_empty() {
                rest.push(queued);
            } else {
                let _ = queued.respond.send(Err(AppendError::Conflict { streams }));
            }
        }
        if rest.is_empty() {
            return;
        }
        batch = rest;
    }
}

fn answer_all(batch: Vec<Queued>, err: &AppendError) {
    for queued in batch {
        let _ = queued.respond.send(Err(err.clone()));
    }
}
