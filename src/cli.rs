//! The command line: `ordo [serve]`, `ordo migrate`, `ordo token`, `ordo purge`, ...

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::auth::revocations::MAX_OPERATOR_TTL;

const ENVIRONMENT_HELP: &str = "\
Environment (besides the flags' own variables):
  ORDO_JWT_SECRET   secret that signs access tokens (at least 32 bytes; required outside
                    dev mode). In dev mode, without it, one is generated once into the
                    data directory.
  ORDO_PG_BIN_DIR   directory holding PostgreSQL's initdb and pg_ctl, for the embedded
                    database (default: the newest /usr/lib/postgresql/<major>/bin, then PATH)
  RUST_LOG          log filter, e.g. `info` or `ordo=debug` (default: info)";

/// ordo: an event-sourced order system for mini-program shops.
///
/// Without DATABASE_URL, ordo runs its own PostgreSQL from the system's server binaries,
/// in the data directory, and starts in dev mode (dev logins, simulated payments).
#[derive(Debug, Parser)]
#[command(
    name = "ordo",
    version,
    after_help = ENVIRONMENT_HELP,
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    /// `serve`'s flags, for a bare `ordo`.
    #[command(flatten)]
    pub serve: ServeArgs,
    /// What to do; `serve` when omitted.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Settings every command shares.
#[derive(Debug, Clone, Args)]
pub struct GlobalArgs {
    /// Where ordo keeps its embedded PostgreSQL and its generated secrets.
    #[arg(long, env = "ORDO_DATA_DIR", default_value = "./.ordo", global = true)]
    pub data_dir: PathBuf,

    /// Use this PostgreSQL database instead of the embedded one
    /// (postgres://user:password@host:port/database).
    #[arg(long, env = "DATABASE_URL", hide_env_values = true, global = true)]
    pub database_url: Option<String>,

    /// Dev mode: dev logins and simulated payments. Default: on with the embedded
    /// database, off with DATABASE_URL.
    #[arg(long, env = "ORDO_DEV", value_name = "BOOL", global = true)]
    pub dev: Option<bool>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP server (applies pending migrations first).
    Serve(ServeArgs),
    /// Apply pending database migrations and exit.
    Migrate,
    /// Print an access token signed with the server's secret.
    Token(TokenArgs),
    /// Measure the write path: orders/s, latency, conflicts (prints figures).
    Bench(BenchArgs),
    /// Run shoppers' journeys over HTTP against a running server for a while, printing a
    /// line a minute (throughput, latency, wrong answers, server memory).
    Soak(SoakArgs),
    /// Inspect and rebuild the read models.
    #[command(subcommand)]
    Projections(ProjectionsCommand),
    /// Order histories, state as of a time, export/import, seals and verification.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Delete now the rows past their retention (idempotency keys, ended sessions,
    /// payment notices), as the server does on a schedule; never events.
    Purge(RetentionArgs),
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// An order's timeline: its events and the stock moves it caused; with --as-of, the
    /// order (and its products' stock) as it was then.
    Order {
        id: uuid::Uuid,
        /// An instant, RFC 3339 (2026-11-24T12:00:00Z).
        #[arg(long)]
        as_of: Option<chrono::DateTime<chrono::Utc>>,
    },
    /// A product's stock as it was at an instant.
    Stock {
        product: uuid::Uuid,
        #[arg(long)]
        as_of: chrono::DateTime<chrono::Utc>,
    },
    /// The event log as NDJSON, in feed order, to stdout (or --output).
    Export {
        /// Events recorded at or after this instant.
        #[arg(long, conflicts_with = "after_position")]
        from: Option<chrono::DateTime<chrono::Utc>>,
        /// Events recorded before this instant.
        #[arg(long, conflicts_with = "after_position")]
        to: Option<chrono::DateTime<chrono::Utc>>,
        /// Events after this global position.
        #[arg(long)]
        after_position: Option<i64>,
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
    /// Import an NDJSON export into this (empty) store; refuses altered lines.
    Import { file: PathBuf },
    /// Seal the events written since the last seal (the server does this every 10 s).
    Seal,
    /// Check every hash chain and seal, replay every stream's invariants, and compare
    /// the read models with a replay. Exit code 1 on any failure.
    Verify {
        /// Skip comparing the read models with a replay.
        #[arg(long)]
        no_read_models: bool,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum ProjectionsCommand {
    /// Each projection's version, position, lag (events and seconds) and state.
    Status,
    /// Rebuild into shadow tables from position zero while the live ones keep serving,
    /// then swap. Safe to interrupt and run again: it resumes.
    Rebuild {
        /// The projection to rebuild (see `status`).
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        name: Option<String>,
        /// Rebuild every projection, one after another.
        #[arg(long)]
        all: bool,
    },
    /// The events projections set aside because they could not apply them: position,
    /// stream, type and error.
    Parked {
        /// Only this projection's.
        name: Option<String>,
        /// At most this many (oldest first).
        #[arg(long, default_value_t = 100)]
        limit: i64,
    },
    /// Re-applies a projection's parked events (after their cause was fixed) and resumes
    /// it if it had stopped; those that still fail stay parked.
    RetryParked {
        /// The projection (see `status`).
        name: String,
    },
}

#[derive(Debug, Clone, Args)]
pub struct BenchArgs {
    /// Concurrent order placers.
    #[arg(long, default_value_t = 64)]
    pub concurrency: usize,
    /// Orders attempted in scenarios (a) and (b); (c) always makes 10,000 attempts.
    #[arg(long, default_value_t = 20_000)]
    pub orders: usize,
    /// Benchmark this database instead of a fresh embedded one (durable settings).
    /// Its events stay there.
    #[arg(long = "bench-database-url")]
    pub database_url: Option<String>,
    /// Events in the generated log whose rebuild is timed (0 skips it).
    #[arg(long, default_value_t = 1_000_000)]
    pub rebuild_events: u64,
}

#[derive(Debug, Clone, Args)]
pub struct SoakArgs {
    /// The server's base URL.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    pub url: String,
    /// An operator token for that server (creates the catalog): `ordo token --admin`.
    #[arg(long, env = "ORDO_SOAK_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: String,
    /// How long, in minutes.
    #[arg(long, default_value_t = 30)]
    pub minutes: u64,
    /// Concurrent shoppers (dev logins: the server must be in dev mode).
    #[arg(long, default_value_t = 24)]
    pub shoppers: usize,
    /// Products in the catalog the shoppers buy from.
    #[arg(long, default_value_t = 200)]
    pub products: usize,
    /// The server's process id, to report its resident memory each minute.
    #[arg(long)]
    pub server_pid: Option<u32>,
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address the HTTP server listens on.
    #[arg(long, env = "ORDO_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,

    /// How long an order may wait for payment before it is cancelled, e.g. `15m`, `2s`.
    #[arg(long, env = "ORDER_PAYMENT_TIMEOUT", default_value = "15m", value_parser = humantime::parse_duration)]
    pub payment_timeout: Duration,

    /// Most orders one shopper may have awaiting payment at a time; the next is refused
    /// (409, code 40905) until one is paid, cancelled or expires.
    #[arg(long, env = "ORDO_MAX_UNPAID_ORDERS", default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_unpaid_orders: u32,

    #[command(flatten)]
    pub retention: RetentionArgs,

    /// How often the server deletes the rows past their retention, e.g. `10m`.
    #[arg(long, env = "ORDO_RETENTION_INTERVAL", default_value = "10m", value_parser = humantime::parse_duration)]
    pub retention_interval: Duration,
}

/// How long the tables beside the event log keep their rows (the log keeps everything).
#[derive(Debug, Clone, Args)]
pub struct RetentionArgs {
    /// How long a login session is kept after it expired or was revoked, so operators
    /// still see recent revocations, e.g. `7d`.
    #[arg(long, env = "ORDO_SESSION_RETENTION", default_value = "7d", value_parser = humantime::parse_duration)]
    pub session_retention: Duration,

    /// How long a payment notice (accepted, duplicate, refund required or refused) is
    /// kept after it arrived, e.g. `90d`.
    #[arg(long, env = "ORDO_PAYMENT_NOTICE_RETENTION", default_value = "90d", value_parser = humantime::parse_duration)]
    pub payment_notice_retention: Duration,
}

#[derive(Debug, Clone, Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct TokenArgs {
    #[command(subcommand)]
    pub action: Option<TokenAction>,
    /// An operator token (role `admin`) instead of a shopper's.
    #[arg(long)]
    pub admin: bool,
    /// The token's subject: the operator's name, or a user id.
    #[arg(long, required = true)]
    pub sub: Option<String>,
    /// How long the token stays valid, e.g. `30m`, `2h`; at most `24h`. The token's id
    /// (for `ordo token revoke`) is printed on stderr.
    #[arg(long, default_value = "1h", value_parser = operator_ttl)]
    pub ttl: Duration,
}

#[derive(Debug, Clone, Subcommand)]
pub enum TokenAction {
    /// Make a token from `ordo token` unusable before it expires.
    Revoke {
        /// The token's id (printed when it was made; its `jti` claim): a UUID.
        id: uuid::Uuid,
        /// Why, kept with the revocation.
        #[arg(long, default_value = "revoked by an operator")]
        reason: String,
    },
}

/// A token lifetime: a duration up to [`MAX_OPERATOR_TTL`].
fn operator_ttl(value: &str) -> Result<Duration, String> {
    let ttl = humantime::parse_duration(value).map_err(|err| err.to_string())?;
    if ttl > MAX_OPERATOR_TTL {
        return Err(format!(
            "at most {} (mint a new token when it runs out)",
            humantime::format_duration(MAX_OPERATOR_TTL)
        ));
    }
    Ok(ttl)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::retention::RetentionSettings;

    #[test]
    fn the_retention_defaults_on_the_command_line_are_the_servers_defaults() {
        let cli = Cli::try_parse_from(["ordo"]).expect("no flags parse");

        let defaults = RetentionSettings::default();
        assert_eq!(
            (
                cli.serve.retention.session_retention,
                cli.serve.retention.payment_notice_retention,
                cli.serve.retention_interval,
            ),
            (
                defaults.session_retention,
                defaults.payment_notice_retention,
                defaults.interval,
            )
        );
    }
}
