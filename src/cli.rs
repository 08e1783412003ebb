//! The command line: `ordo [serve]`, `ordo migrate`, `ordo token`, `ordo purge`, ...

use std::path::PathBuf;
use std::time::Duration;

use clap::error::ErrorKind;
use clap::parser::ValueSource;
use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};

use crate::auth::revocations::MAX_OPERATOR_TTL;
pub use crate::config::args::{BackupKeyArgs, GlobalArgs, RetentionArgs, ServeArgs};
use crate::config::args::{PAYMENT_TIMEOUT_ENV, PAYMENT_TIMEOUT_OLD_ENV};

const ENVIRONMENT_HELP: &str = "\
Every setting is a flag and an environment variable (shown as [env: ...]); the flag wins.
Logging: RUST_LOG, e.g. `info` or `ordo=debug` (default: info for serve, warn for the
other commands unless -v).";

/// ordo: an event-sourced order system for mini-program shops.
///
/// Without DATABASE_URL, ordo runs its own PostgreSQL from the system's server binaries,
/// in the data directory, and starts in dev mode (dev logins, simulated payments).
#[derive(Debug, Parser)]
#[command(
    name = "ordo",
    version,
    after_help = ENVIRONMENT_HELP
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
    /// Warnings to log once logging is set up (settings read under a deprecated name).
    #[arg(skip)]
    pub warnings: Vec<String>,
}

impl Cli {
    /// Parses the process's command line, exiting with clap's message on an error.
    pub fn parse_command_line() -> Self {
        Self::try_parse_command_line(std::env::args_os()).unwrap_or_else(|err| err.exit())
    }

    /// Parses `args`. Global options (`--data-dir`, `--database-url`, ...) go before or
    /// after the subcommand; `serve`'s own flags before a subcommand are refused, naming
    /// the flag (they would be silently ignored).
    pub fn try_parse_command_line<I, T>(args: I) -> Result<Self, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        let mut command = Self::command();
        let matches = command.try_get_matches_from_mut(args)?;
        let mut cli = Self::from_arg_matches(&matches)?;
        cli.read_old_names(&matches, std::env::var(PAYMENT_TIMEOUT_OLD_ENV).ok())
            .map_err(|err| command.error(ErrorKind::ValueValidation, err))?;
        let Some((subcommand, _)) = matches.subcommand() else {
            return Ok(cli);
        };
        let serve_flags = ServeArgs::augment_args(clap::Command::new("serve"));
        let misplaced = serve_flags.get_arguments().find(|arg| {
            matches.value_source(arg.get_id().as_str()) == Some(ValueSource::CommandLine)
        });
        match misplaced {
            None => Ok(cli),
            Some(arg) => Err(command.error(
                ErrorKind::ArgumentConflict,
                format!(
                    "--{} is a flag of `serve`, not of `{subcommand}`{}",
                    arg.get_long().unwrap_or_default(),
                    if subcommand == "serve" {
                        ": give it after `serve`"
                    } else {
                        ""
                    }
                ),
            )),
        }
    }

    /// The payment timeout under its old name (`old_payment_timeout`, from
    /// ORDER_PAYMENT_TIMEOUT) when neither the flag nor ORDO_PAYMENT_TIMEOUT gives it,
    /// with a deprecation warning either way.
    fn read_old_names(
        &mut self,
        matches: &clap::ArgMatches,
        old_payment_timeout: Option<String>,
    ) -> Result<(), String> {
        let Some(old) = old_payment_timeout else {
            return Ok(());
        };
        let (serve, matches) = match (&mut self.command, matches.subcommand()) {
            (Some(Command::Serve(args)), Some((_, serve_matches))) => (&mut **args, serve_matches),
            _ => (&mut self.serve, matches),
        };
        let given = matches.value_source("payment_timeout") != Some(ValueSource::DefaultValue);
        if given {
            self.warnings.push(format!(
                "{PAYMENT_TIMEOUT_OLD_ENV} is deprecated and ignored here: \
                 {PAYMENT_TIMEOUT_ENV} or --payment-timeout gives the timeout"
            ));
        } else {
            serve.payment_timeout = old
                .parse()
                .map_err(|err| format!("{PAYMENT_TIMEOUT_OLD_ENV}: {err}"))?;
            self.warnings.push(format!(
                "{PAYMENT_TIMEOUT_OLD_ENV} is deprecated: rename it {PAYMENT_TIMEOUT_ENV} \
                 (the old name is read for one more release)"
            ));
        }
        Ok(())
    }

    /// Reads every secret given as a file (`*_FILE`) into its setting.
    pub fn read_secret_files(&mut self) -> Result<(), String> {
        self.global.read_secret_files()?;
        self.serve.read_secret_files()?;
        match &mut self.command {
            Some(Command::Serve(args)) => args.read_secret_files()?,
            Some(Command::Backup { key, .. } | Command::Restore { key, .. }) => {
                key.read_secret_files()?;
            }
            _ => {}
        }
        Ok(())
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP server (applies pending migrations first).
    Serve(Box<ServeArgs>),
    /// Apply pending database migrations and exit.
    Migrate,
    /// Print an access token signed with the server's secret.
    Token(TokenArgs),
    /// Print the web console's address with a short-lived operator token in its fragment:
    /// opening it signs the browser tab in.
    ConsoleUrl(ConsoleUrlArgs),
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
    /// Write a consistent backup of the store (events, seals, sessions, revocations,
    /// payment notices, idempotency keys) into a new directory, while the server runs.
    /// Its manifest is signed with the backup key; its files are the owner's only.
    Backup {
        /// A new or empty directory.
        dir: PathBuf,
        #[command(flatten)]
        key: BackupKeyArgs,
    },
    /// Restore a backup into an empty database, rebuild the read models and verify the
    /// log. Stop the servers on that database first. Refuses a backup the backup key does
    /// not authenticate. Exit code 1 if verification fails.
    Restore {
        /// A directory written by `ordo backup`.
        dir: PathBuf,
        #[command(flatten)]
        key: BackupKeyArgs,
    },
}

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
    /// A product's stock as it was at an instant.
    Stock {
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
fn instant(value: &str) -> Result<chrono::DateTime<chrono::Utc>, String> {
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

/// A token lifetime: a duration up to [`MAX_OPERATOR_TTL`].
/// An `http(s)://host[:port][/path]` base, without a trailing slash, query or fragment.
fn public_url(value: &str) -> Result<String, String> {
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

fn operator_ttl(value: &str) -> Result<Duration, String> {
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

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;
    use crate::retention::RetentionSettings;

    /// Every `ORDO_*` name in the source, so a setting read anywhere is one the help shows.
    fn variables_in_source() -> Vec<String> {
        let mut names = Vec::new();
        let mut dirs = vec![std::path::PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/src"
        ))];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir).expect("read src").flatten() {
                let path = entry.path();
                if path.is_dir() {
                    dirs.push(path);
                    continue;
                }
                let text = std::fs::read_to_string(&path).expect("read a source file");
                for (start, _) in text.match_indices("\"ORDO_") {
                    let name: String = text[start + 1..]
                        .chars()
                        .take_while(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == '_')
                        .collect();
                    names.push(name);
                }
            }
        }
        names.sort();
        names.dedup();
        names
    }

    #[test]
    fn instants_are_read_in_the_forms_people_type() {
        let utc = |text: &str| {
            chrono::DateTime::parse_from_rfc3339(text)
                .expect("rfc 3339")
                .to_utc()
        };
        for (typed, meant) in [
            ("2026-11-25T01:12:45Z", "2026-11-25T01:12:45Z"),
            ("2026-11-25T09:12:45+08:00", "2026-11-25T01:12:45Z"),
            ("2026-11-25 01:12:45", "2026-11-25T01:12:45Z"),
            ("2026-11-25T01:12:45.5", "2026-11-25T01:12:45.5Z"),
            (" 2026-11-25 01:12 ", "2026-11-25T01:12:00Z"),
        ] {
            assert_eq!(instant(typed), Ok(utc(meant)), "{typed}");
        }
        let refused = instant("2026-11-25 25:00:00").expect_err("no such hour");
        assert!(refused.contains("RFC 3339"), "{refused}");
        assert!(instant("yesterday").is_err());
    }

    #[test]
    fn a_token_lasting_too_long_is_refused_in_the_units_the_help_uses() {
        let refused = operator_ttl("25h").expect_err("too long");
        assert!(refused.starts_with("at most 24h"), "{refused}");
        assert_eq!(operator_ttl("24h"), Ok(Duration::from_secs(24 * 3600)));
    }

    #[test]
    fn the_payment_timeouts_old_variable_is_read_with_a_warning_unless_the_new_one_is_given() {
        let parse = |args: &[&str], old: Option<&str>| {
            let mut command = Cli::command();
            let matches = command.try_get_matches_from_mut(args).expect("parses");
            let mut cli = Cli::from_arg_matches(&matches).expect("parses");
            let read = cli.read_old_names(&matches, old.map(str::to_owned));
            (cli, read)
        };
        let (cli, read) = parse(&["ordo"], Some("2s"));
        assert_eq!(
            (read, cli.serve.payment_timeout.0),
            (Ok(()), Duration::from_secs(2))
        );
        assert!(
            cli.warnings[0].contains("rename it ORDO_PAYMENT_TIMEOUT"),
            "{:?}",
            cli.warnings
        );

        let (cli, _) = parse(&["ordo", "serve"], Some("3m"));
        let Some(Command::Serve(serve)) = &cli.command else {
            panic!("serve");
        };
        assert_eq!(serve.payment_timeout.0, Duration::from_secs(180));

        let (cli, _) = parse(&["ordo", "--payment-timeout", "5s"], Some("2s"));
        assert_eq!(cli.serve.payment_timeout.0, Duration::from_secs(5));
        assert!(cli.warnings[0].contains("ignored"), "{:?}", cli.warnings);

        let (_, read) = parse(&["ordo"], Some("soon"));
        assert!(
            read.expect_err("refused")
                .starts_with("ORDER_PAYMENT_TIMEOUT: ")
        );

        let (cli, _) = parse(&["ordo"], None);
        assert!(cli.warnings.is_empty());
        assert_eq!(cli.serve.payment_timeout.to_string(), "15m");
    }

    #[test]
    fn global_options_go_before_or_after_the_subcommand() {
        for args in [
            ["ordo", "--data-dir", "/srv/shop", "projections", "status"],
            ["ordo", "projections", "status", "--data-dir", "/srv/shop"],
        ] {
            let cli = Cli::try_parse_command_line(args).expect("parses");
            assert_eq!(cli.global.data_dir, PathBuf::from("/srv/shop"), "{args:?}");
            assert!(matches!(cli.command, Some(Command::Projections(_))));
        }
    }

    #[test]
    fn a_serve_flag_before_another_command_is_refused_naming_it() {
        let refused = Cli::try_parse_command_line(["ordo", "--listen", "0.0.0.0:80", "migrate"])
            .expect_err("refused");
        assert!(
            refused
                .to_string()
                .contains("--listen is a flag of `serve`, not of `migrate`"),
            "{refused}"
        );
        let cli = Cli::try_parse_command_line(["ordo", "--listen", "127.0.0.1:9000"])
            .expect("a bare ordo takes serve's flags");
        assert!(cli.command.is_none());
    }

    #[test]
    fn serve_help_lists_every_setting_with_its_variable() {
        let mut cli = Cli::command();
        // Global flags reach the subcommands when the command is built.
        cli.build();
        let help = cli
            .find_subcommand_mut("serve")
            .expect("serve")
            .render_long_help()
            .to_string();
        let variables = variables_in_source();
        assert!(variables.len() > 20, "found only {variables:?}");
        for name in variables {
            // The soak test's client setting is `ordo soak`'s, not the server's; the backup
            // key is `ordo backup`'s and `ordo restore`'s, kept out of the server's reach.
            if [
                "ORDO_SOAK_ADMIN_TOKEN",
                "ORDO_BACKUP_KEY",
                "ORDO_BACKUP_KEY_FILE",
            ]
            .contains(&name.as_str())
            {
                continue;
            }
            assert!(
                help.contains(&format!("[env: {name}")),
                "`ordo serve --help` does not list {name}"
            );
        }
        for shared in [
            "DATABASE_URL",
            "ORDER_PAYMENT_TIMEOUT",
            "ORDO_PAYMENT_TIMEOUT",
        ] {
            assert!(help.contains(shared), "{shared} missing");
        }
    }

    #[test]
    fn the_retention_defaults_on_the_command_line_are_the_servers_defaults() {
        let cli = Cli::try_parse_from(["ordo"]).expect("no flags parse");

        let defaults = RetentionSettings::default();
        assert_eq!(
            (
                cli.serve.retention.session_retention.0,
                cli.serve.retention.payment_notice_retention.0,
                cli.serve.retention_interval.0,
            ),
            (
                defaults.session_retention,
                defaults.payment_notice_retention,
                defaults.interval,
            )
        );
    }
}
