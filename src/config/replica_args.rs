//! The flags of a read replica: where it is, and how far behind it may be read.

use std::str::FromStr;

use clap::Args;
use sqlx::postgres::PgConnectOptions;

use super::duration::{self, SettingDuration};

#[derive(Debug, Clone, Args)]
pub struct ReplicaArgs {
    /// A PostgreSQL streaming replica of the database (postgres://…): the catalog and
    /// the shoppers' orders are read from it while it keeps up.
    #[arg(long, env = "DATABASE_READ_URL", hide_env_values = true, value_parser = replica_url)]
    pub database_read_url: Option<ReplicaUrl>,

    /// Past this far behind the primary the replica is not read, e.g. `1s`.
    #[arg(long, env = "ORDO_READ_REPLICA_MAX_LAG", value_name = "DURATION",
          default_value = "1s", value_parser = duration::positive)]
    pub read_replica_max_lag: SettingDuration,

    /// How long a caller's read waits for the replica to replay their last write before
    /// it reads the primary, e.g. `200ms`.
    #[arg(long, env = "ORDO_READ_REPLICA_WAIT", value_name = "DURATION",
          default_value = "200ms", value_parser = duration::positive)]
    pub read_replica_wait: SettingDuration,
}

/// The replica's connection options; shown without the password.
#[derive(Clone)]
pub struct ReplicaUrl(pub PgConnectOptions);

impl std::fmt::Debug for ReplicaUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "postgres://{}@{}:{}/{}",
            self.0.get_username(),
            self.0.get_host(),
            self.0.get_port(),
            self.0.get_database().unwrap_or_default()
        )
    }
}

fn replica_url(value: &str) -> Result<ReplicaUrl, String> {
    const FORM: &str = "a PostgreSQL URL, postgres://user:password@host:port/database";
    if !(value.starts_with("postgres://") || value.starts_with("postgresql://")) {
        return Err(format!("not {FORM}"));
    }
    PgConnectOptions::from_str(value)
        .map(ReplicaUrl)
        .map_err(|err| format!("not {FORM}: {err}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_replica_url_that_is_no_postgresql_url_is_refused_naming_the_form() {
        let err = replica_url("mysql://nope").expect_err("refused");
        assert!(err.contains("postgres://"), "{err}");
        assert_eq!(
            format!(
                "{:?}",
                replica_url("postgres://ordo:secret@10.0.0.2:5433/shop").expect("a URL")
            ),
            "postgres://ordo@10.0.0.2:5433/shop",
            "shown without the password"
        );
    }
}
