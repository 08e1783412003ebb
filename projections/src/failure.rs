//! What kind of failure a database error is: the database being away for a while (retry),
//! or something about the data (park the event, or stop).

use std::time::Duration;

/// The database is unavailable rather than broken: the connection or pool failed, or
/// SQLSTATE class 08 (connection), 53 (resources: disk full, out of memory, too many
/// connections) or 57 (operator intervention: shutdown, a cancelled statement).
pub fn is_unavailable(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) | sqlx::Error::PoolClosed => true,
        _ => {
            sqlstate(err).is_some_and(|code| ["08", "53", "57"].iter().any(|c| code.starts_with(c)))
        }
    }
}

/// Trying the same thing again later can succeed: [`is_unavailable`], or a serialization
/// failure (40001), a deadlock (40P01), a lock not available (55P03), or a system error
/// outside PostgreSQL (class 58, e.g. an I/O error).
pub fn is_transient(err: &sqlx::Error) -> bool {
    is_unavailable(err)
        || matches!(err, sqlx::Error::Protocol(_) | sqlx::Error::WorkerCrashed)
        || sqlstate(err).is_some_and(|code| {
            matches!(code.as_str(), "40001" | "40P01" | "55P03") || code.starts_with("58")
        })
}

/// The event's own data cannot be stored as it is: SQLSTATE class 22 (data exception:
/// an invalid byte sequence, a number out of range) or 23 (a constraint refused it).
pub fn is_about_the_data(err: &sqlx::Error) -> bool {
    sqlstate(err).is_some_and(|code| code.starts_with("22") || code.starts_with("23"))
}

fn sqlstate(err: &sqlx::Error) -> Option<String> {
    err.as_database_error()
        .and_then(|db| db.code())
        .map(|code| code.into_owned())
}

/// Capped exponential backoff between retries of a transient failure.
#[derive(Debug, Clone, Copy, Default)]
pub struct Backoff {
    failures: u32,
}

impl Backoff {
    const FIRST: Duration = Duration::from_millis(100);
    const CAP: Duration = Duration::from_secs(10);

    /// Counts one more failure; how long to wait before the next try.
    pub fn failed(&mut self) -> Duration {
        let delay = Self::FIRST.saturating_mul(1 << self.failures.min(16));
        self.failures = self.failures.saturating_add(1);
        delay.min(Self::CAP)
    }

    pub fn failures(&self) -> u32 {
        self.failures
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_100_ms_up_to_10_s() {
        let mut backoff = Backoff::default();
        let delays: Vec<u128> = (0..10).map(|_| backoff.failed().as_millis()).collect();
        assert_eq!(
            delays,
            [100, 200, 400, 800, 1600, 3200, 6400, 10_000, 10_000, 10_000]
        );
        for _ in 0..100 {
            assert_eq!(backoff.failed(), Duration::from_secs(10));
        }
    }

    #[test]
    fn a_lost_connection_is_transient_and_unavailable() {
        let err = sqlx::Error::Io(std::io::Error::other("reset"));
        assert!(is_unavailable(&err) && is_transient(&err));
        assert!(!is_about_the_data(&err));
        assert!(!is_transient(&sqlx::Error::RowNotFound));
    }
}
