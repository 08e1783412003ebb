//! Who holds the feed's horizon back: the transactions of the cluster that hold an id,
//! and whether each may append events (see `migrations/*_feed_horizon.sql` for the
//! protocol that lets the feed pass the others without skipping an event).

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{FromRow, PgExecutor};

/// A transaction of the cluster that holds a transaction id.
#[derive(Debug, Clone, PartialEq, Serialize, FromRow)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HorizonHolder {
    /// Its id (epoch-extended).
    pub xid: i64,
    /// Whether it announced an append: the feed's horizon waits for it. Any other
    /// (a bystander) is passed once it has run a while.
    pub appender: bool,
    /// Its server process; none for a prepared transaction.
    pub pid: Option<i32>,
    pub database: Option<String>,
    /// `application_name`, or which prepared transaction it is.
    pub application: Option<String>,
    /// When the transaction began (or was prepared).
    pub since: Option<DateTime<Utc>>,
    /// `active`, `idle in transaction`, `prepared`, ...
    pub state: Option<String>,
    /// Its current or last statement (first 500 characters).
    pub query: Option<String>,
}

impl HorizonHolder {
    /// How long it has run at `now`, in seconds.
    pub fn age_seconds(&self, now: DateTime<Utc>) -> f64 {
        self.since.map_or(0.0, |since| {
            (now - since).num_milliseconds().max(0) as f64 / 1000.0
        })
    }
}

/// One line for operators: who, where, since when, doing what.
impl std::fmt::Display for HorizonHolder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let or_unknown = |text: &Option<String>| text.clone().unwrap_or_else(|| "?".to_owned());
        write!(
            f,
            "xid {} ({}) pid {} database {} application {:?} since {} state {:?} query {:?}",
            self.xid,
            if self.appender {
                "appending: the read side waits"
            } else {
                "bystander: passed"
            },
            self.pid
                .map_or_else(|| "-".to_owned(), |pid| pid.to_string()),
            or_unknown(&self.database),
            or_unknown(&self.application),
            self.since
                .map_or_else(|| "?".to_owned(), |since| since.to_rfc3339()),
            or_unknown(&self.state),
            or_unknown(&self.query),
        )
    }
}

/// Every transaction of the cluster holding an id now, oldest first.
pub async fn holders<'c>(executor: impl PgExecutor<'c>) -> Result<Vec<HorizonHolder>, sqlx::Error> {
    sqlx::query_as("SELECT * FROM feed_horizon_holders()")
        .fetch_all(executor)
        .await
}

/// Lets the feed pass every transaction below `above` that has not announced an
/// append (and refuses their appends from now on). Never lowers the floor; answers it.
pub async fn raise_floor<'c>(
    executor: impl PgExecutor<'c>,
    above: i64,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT feed_horizon_raise_floor($1)")
        .bind(above)
        .fetch_one(executor)
        .await
}
