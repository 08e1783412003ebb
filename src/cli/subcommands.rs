//! The subcommands' own arguments (`ordo audit`, `projections`, `bench`, `soak`, `token`,
//! `console-url`) and the values they read.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Subcommand};

use crate::auth::revocations::MAX_OPERATOR_TTL;

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// An order's timeline: its events and the stock moves it caused; with --as-of, the
    /// order (and its products' stock) as it was then.
    Order {
        id: uuid::Uuid,
        /// An instant: RFC 3339 (2026-11-24T12:00:00Z, or with an offset), or
        /// `2026-11-24 12:00:00` in UTC.
        #[arg(long, value_parser = instant)]
        as_of: Option<chrono::DateTime<chrono::Utc>>,
    },
    /// A SKU's stock as it was at an instant (a product without specs: the product's id).
    Stock {
        #[arg(value_name = "SKU")]
        product: uuid::Uuid,
        /// An instant, as for `audit order --as-of`.
        #[arg(long, value_parser = instant)]
        as_of: chrono::DateTime<chrono::Utc>,
    },
    /// The event log as NDJSON, in feed order, to stdout (or --output).
    Export {
        /// Events recorded at or after this instant (as for `audit order --as-of`).
        #[arg(long, conflicts_with = "after_position", value_parser = instant)]
        from: Option<chrono::DateTime<chrono::Utc>>,
        /// Events recorded before this instant.
        #[arg(long, conflicts_with = "after_position", value_parser = instant)]
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
    /// Orders attempted in scenarios (a) and (b); (c) always makes 10,000 attempts (0
    /// skips the three).
    #[arg(long, default_value_t = 20_000)]
    pub orders: usize,
    /// Benchmark this database instead of a fresh embedded one (durable settings).
    /// Its events stay there.
    #[arg(long = "bench-database-url")]
    pub database_url: Option<String>,
    /// Events in the generated log whose rebuild is timed (0 skips it).
    #[arg(long, default_value_t = 1_000_000)]
    pub rebuild_events: u64,
    /// Payments in the generated day that is reconciled with the simulated WeChat Pay's
    /// bill (0 skips it).
    #[arg(long, default_value_t = 100_000)]
    pub reconcile_payments: i64,
    /// Paid orders shipped at `--ship-rate` a second, each upload to the simulated WeChat
    /// platform timed after its ship (0 skips it).
    #[arg(long, default_value_t = 5_000)]
    pub shipping_orders: i64,
    /// Orders in the generated shop whose merchant's list and CSV export are timed (0
    /// skips it).
    #[arg(long, default_value_t = 1_000_000)]
    pub merchant_orders: i64,
    /// Orders shipped a second in the shipping upload run.
    #[arg(long, default_value_t = 500)]
    pub ship_rate: u32,
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
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct TokenArgs {
    #[command(subcommand)]
    pub action: Option<TokenAction>,
    /// An operator token (role `admin`) instead of a shopper's.
    #[arg(long)]
    pub admin: bool,
    /// Sign with the dev-mode secret kept in the data directory (created on first use).
    /// Default: as the server does, on with the embedded database.
    #[arg(long, env = "ORDO_DEV", value_name = "BOOL")]
    pub dev: Option<bool>,
    /// The token's subject: the operator's name, or a user id.
    #[arg(long, required = true)]
    pub sub: Option<String>,
    /// How long the token stays valid, e.g. `30m`, `2h`; at most `24h`. The token's id
    /// (for `ordo token revoke`) is printed on stderr.
    #[arg(long, default_value = "1h", value_parser = operator_ttl)]
    pub ttl: Duration,
}

#[derive(Debug, Clone, Args)]
pub struct ConsoleUrlArgs {
    /// The operator's name, the token's subject (it is in every event the console causes).
    #[arg(long, default_value = "operator")]
    pub sub: String,
    /// How long the sign-in lasts, e.g. `30m`; at most `24h`. The token's id (for
    /// `ordo token revoke`) is printed on stderr.
    #[arg(long, default_value = "1h", value_parser = operator_ttl)]
    pub ttl: Duration,
    /// The server's address, as `serve` listens on it (an unspecified address is reached
    /// on loopback).
    #[arg(long, env = "ORDO_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: std::net::SocketAddr,
    /// The address operators reach ordo at instead, behind a proxy: e.g.
    /// `https://shop.example.com`.
    #[arg(long, value_parser = public_url)]
    pub url: Option<String>,
    /// Sign with the dev-mode secret kept in the data directory. Default: as the server
    /// does, on with the embedded database.
    #[arg(long, env = "ORDO_DEV", value_name = "BOOL")]
    pub dev: Option<bool>,
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

/// An instant as people type one: RFC 3339, or a date and time without a zone, read as
/// UTC (with a space or a `T` between them, seconds and fractions optional).
pub(super) fn instant(value: &str) -> Result<chrono::DateTime<chrono::Utc>, String> {
    let value = value.trim();
    if let Ok(instant) = chrono::DateTime::parse_from_rfc3339(value) {
        return Ok(instant.to_utc());
    }
    [
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H:%M",
    ]
    .iter()
    .find_map(|format| chrono::NaiveDateTime::parse_from_str(value, format).ok())
    .map(|naive| naive.and_utc())
    .ok_or_else(|| {
        "not an instant: use RFC 3339 (2026-11-25T01:12:45Z or 2026-11-25T09:12:45+08:00), \
             or 2026-11-25 01:12:45 for UTC"
            .to_owned()
    })
}

/// An `http(s)://host[:port][/path]` base, without a trailing slash, query or fragment.
pub(super) fn public_url(value: &str) -> Result<String, String> {
    let value = value.trim().trim_end_matches('/');
    let host = ["https://", "http://"]
        .iter()
        .find_map(|scheme| value.strip_prefix(scheme))
        .ok_or("must start with https:// or http://")?;
    if host.is_empty()
        || value
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '?' | '#'))
    {
        return Err("must be a bare URL: a host, no spaces, query or fragment".to_owned());
    }
    Ok(value.to_owned())
}

/// A token lifetime: a duration up to [`MAX_OPERATOR_TTL`].
pub(super) fn operator_ttl(value: &str) -> Result<Duration, String> {
    let ttl = humantime::parse_duration(value).map_err(|err| err.to_string())?;
    if ttl > MAX_OPERATOR_TTL {
        // In hours, as the help and docs/commands.md say it (humantime would say "1day").
        return Err(format!(
            "at most {}h (mint a new token when it runs out)",
            MAX_OPERATOR_TTL.as_secs() / 3600
        ));
    }
    Ok(ttl)
}
