//! A streaming replica taking the catalog's and the shoppers' order reads off the primary
//! (`DATABASE_READ_URL`). A watcher compares what the replica has replayed with what the
//! primary has written; while the replica is more than `max_lag` behind, or cannot be
//! reached, reads go to the primary. A caller who just wrote reads what they wrote: their
//! next read waits (at most `wait`) for the replica to replay past their write, else
//! reads the primary.
//!
//! Read-your-writes holds within one ordo process (it remembers its callers' writes);
//! behind a load balancer another process's reads are at most `max_lag` behind.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sqlx::PgPool;
use sqlx::postgres::PgConnectOptions;
use tokio::sync::watch;

/// How often the watcher compares the replica with the primary.
const WATCH_EVERY: Duration = Duration::from_millis(100);

/// How often a read waiting for its caller's write polls the replica.
const POLL_EVERY: Duration = Duration::from_millis(5);

/// How long a caller's write is remembered: far past any lag a usable replica has.
const REMEMBER_WRITES: Duration = Duration::from_secs(60);

/// Where reads may go, and how far behind the primary they may be.
#[derive(Clone)]
pub struct ReplicaSettings {
    pub options: PgConnectOptions,
    /// Past this the replica is not read.
    pub max_lag: Duration,
    /// How long a caller's read waits for the replica to replay their write.
    pub wait: Duration,
    pub max_connections: u32,
}

impl ReplicaSettings {
    /// Connections to the replica per server, as many as to the primary.
    pub const MAX_CONNECTIONS: u32 = 32;
}

// Not derived: the options hold the password.
impl std::fmt::Debug for ReplicaSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReplicaSettings")
            .field("host", &self.options.get_host())
            .field("port", &self.options.get_port())
            .field("database", &self.options.get_database())
            .field("max_lag", &self.max_lag)
            .field("wait", &self.wait)
            .finish()
    }
}

/// The replica, whether it may be read, and the writes of callers it has not replayed.
#[derive(Debug, Clone)]
pub struct Replica {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    pool: PgPool,
    primary: PgPool,
    max_lag: Duration,
    wait: Duration,
    state: Mutex<Watched>,
    /// Each caller's last write: the primary's WAL position after it, and when.
    writes: Mutex<HashMap<String, (u64, Instant)>>,
}

#[derive(Debug, Default)]
struct Watched {
    usable: bool,
    /// How far the replica had replayed at the last look (a WAL position).
    replayed: u64,
    /// The primary's WAL positions the replica had not replayed yet, with when each was
    /// seen: the oldest says how far behind the replica is in time.
    pending: VecDeque<(Instant, u64)>,
}

/// Which database answered a read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    Replica,
    Primary,
}

impl Target {
    fn label(self) -> &'static str {
        match self {
            Self::Replica => "replica",
            Self::Primary => "primary",
        }
    }
}

impl Replica {
    /// Connects lazily: a replica away at startup is found by the watcher, and reads go
    /// to the primary meanwhile.
    pub fn new(settings: ReplicaSettings, primary: PgPool) -> Self {
        // A replica that does not answer is given up on soon: the primary can answer.
        let pool = crate::database::connect_lazy(
            settings.options,
            settings.max_connections,
            Duration::from_secs(1),
        );
        Self {
            inner: Arc::new(Inner {
                pool,
                primary,
                max_lag: settings.max_lag,
                wait: settings.wait,
                state: Mutex::new(Watched::default()),
                writes: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// Runs `read` on the replica when it may answer `caller` (anyone when `None`),
    /// else on the primary; a read the replica fails is run again on the primary.
    pub async fn read<T, F, Fut>(&self, caller: Option<&str>, read: F) -> Result<T, sqlx::Error>
    where
        F: Fn(PgPool) -> Fut,
        Fut: Future<Output = Result<T, sqlx::Error>>,
    {
        if self.target(caller).await == Target::Primary {
            return counted(Target::Primary, read(self.inner.primary.clone())).await;
        }
        match counted(Target::Replica, read(self.inner.pool.clone())).await {
            Ok(answer) => Ok(answer),
            Err(err) => {
                // Unreachable: not read again until the watcher sees it back. A query
                // cancelled by replay (a conflict with recovery) is only retried.
                if projections::failure::is_unavailable(&err) {
                    self.inner.lock_state().usable = false;
                }
                tracing::warn!(%err, "the read replica failed a read; reading the primary");
                counted(Target::Primary, read(self.inner.primary.clone())).await
            }
        }
    }

    /// Remembers that `caller` just wrote: their reads wait for the replica to replay
    /// past the primary's WAL as it is now. A failure only loses the wait (the caller's
    /// read may be up to the allowed lag behind), never the write.
    pub async fn wrote(&self, caller: &str) {
        let position = written(&self.inner.primary).await;
        match position {
            Ok(position) => {
                let mut writes = self.inner.lock_writes();
                if writes.len() > 100_000 {
                    writes.retain(|_, (_, at)| at.elapsed() < REMEMBER_WRITES);
                }
                writes.insert(caller.to_owned(), (position, Instant::now()));
            }
            Err(err) => {
                tracing::warn!(%err, "could not read the primary's WAL position after a write")
            }
        }
    }

    /// Where `caller`'s read goes: the primary while the replica is not usable, or is
    /// behind the caller's last write after waiting for it.
    async fn target(&self, caller: Option<&str>) -> Target {
        let (usable, replayed) = {
            let state = self.inner.lock_state();
            (state.usable, state.replayed)
        };
        if !usable {
            return Target::Primary;
        }
        let written = caller.and_then(|caller| {
            let mut writes = self.inner.lock_writes();
            match writes.get(caller) {
                Some(&(position, at)) if position > replayed && at.elapsed() < REMEMBER_WRITES => {
                    Some(position)
                }
                Some(_) => {
                    writes.remove(caller);
                    None
                }
                None => None,
            }
        });
        match written {
            None => Target::Replica,
            Some(position) if self.replays_within(position, self.inner.wait).await => {
                Target::Replica
            }
            Some(_) => Target::Primary,
        }
    }

    /// Whether the replica replays `position` within `wait`, asking it directly (the
    /// watcher looks too seldom for a read to wait on it).
    async fn replays_within(&self, position: u64, wait: Duration) -> bool {
        let deadline = Instant::now() + wait;
        loop {
            match replayed(&self.inner.pool).await {
                Ok(Some(replayed)) if replayed >= position => return true,
                Ok(_) if Instant::now() < deadline => tokio::time::sleep(POLL_EVERY).await,
                _ => return false,
            }
        }
    }

    /// Watches the replica until `stopped`: how far behind the primary it is, and
    /// whether it answers at all.
    pub async fn watch(self, mut stopped: watch::Receiver<bool>) {
        let mut was_usable = None;
        loop {
            let usable = self.look().await;
            if was_usable != Some(usable) {
                if usable {
                    tracing::info!("the read replica is read");
                } else {
                    tracing::warn!(max_lag = ?self.inner.max_lag, "the read replica is away or behind; reads go to the primary");
                }
                was_usable = Some(usable);
            }
            tokio::select! {
                () = tokio::time::sleep(WATCH_EVERY) => {}
                _ = stopped.changed() => return,
            }
        }
    }

    /// One look at both databases; whether the replica may be read.
    async fn look(&self) -> bool {
        let primary = written(&self.inner.primary).await;
        let replica = replayed(&self.inner.pool).await;
        let now = Instant::now();
        let mut state = self.inner.lock_state();
        let (Ok(primary), Ok(Some(replayed))) = (primary, replica) else {
            state.usable = false;
            metrics::gauge!("read_replica_usable").set(0.0);
            return false;
        };
        state.replayed = replayed;
        if state.pending.back().map(|&(_, position)| position) != Some(primary) {
            state.pending.push_back((now, primary));
        }
        // Hours behind: the oldest positions go (the lag shown is then hours still).
        if state.pending.len() > 100_000 {
            state.pending.pop_front();
        }
        while state
            .pending
            .front()
            .is_some_and(|&(_, position)| position <= replayed)
        {
            state.pending.pop_front();
        }
        let lag = state
            .pending
            .front()
            .map_or(Duration::ZERO, |&(seen, _)| now - seen);
        state.usable = lag <= self.inner.max_lag;
        metrics::gauge!("read_replica_lag_seconds").set(lag.as_secs_f64());
        metrics::gauge!("read_replica_usable").set(if state.usable { 1.0 } else { 0.0 });
        state.usable
    }
}

impl Inner {
    fn lock_state(&self) -> std::sync::MutexGuard<'_, Watched> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn lock_writes(&self) -> std::sync::MutexGuard<'_, HashMap<String, (u64, Instant)>> {
        self.writes
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// How far the primary has written its WAL (every record inserted, flushed or not: a
/// commit that returned is below it).
async fn written(primary: &PgPool) -> Result<u64, sqlx::Error> {
    let position: i64 =
        sqlx::query_scalar("SELECT (pg_current_wal_insert_lsn() - '0/0'::pg_lsn)::bigint")
            .fetch_one(primary)
            .await?;
    Ok(as_position(position))
}

/// How far the replica has replayed the primary's WAL; `None` if it is no standby (a
/// primary given as DATABASE_READ_URL is not read: it cannot say what it has replayed).
async fn replayed(pool: &PgPool) -> Result<Option<u64>, sqlx::Error> {
    let position: Option<i64> =
        sqlx::query_scalar("SELECT (pg_last_wal_replay_lsn() - '0/0'::pg_lsn)::bigint")
            .fetch_one(pool)
            .await?;
    Ok(position.map(as_position))
}

fn as_position(lsn: i64) -> u64 {
    u64::try_from(lsn).unwrap_or_default()
}

async fn counted<T>(
    target: Target,
    read: impl Future<Output = Result<T, sqlx::Error>>,
) -> Result<T, sqlx::Error> {
    metrics::counter!("reads_total", "database" => target.label()).increment(1);
    read.await
}
