//! The command line: `ordo [serve]`, `ordo migrate`, `ordo token`, `ordo purge`, ...

use std::path::PathBuf;

use clap::error::ErrorKind;
use clap::parser::ValueSource;
use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};

pub use crate::config::args::{BackupKeyArgs, GlobalArgs, RetentionArgs, ServeArgs};
use crate::config::args::{PAYMENT_TIMEOUT_ENV, PAYMENT_TIMEOUT_OLD_ENV};

mod subcommands;

pub use subcommands::{
    AuditCommand, BenchArgs, ConsoleUrlArgs, ProjectionsCommand, SoakArgs, TokenAction, TokenArgs,
};

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
    /// Reconcile a day with WeChat Pay's bill: asks the running server to (one server
    /// reconciles at a time), waits for its report and prints it.
    Reconcile {
        /// The day, `YYYY-MM-DD` (Beijing time).
        #[arg(long)]
        date: chrono::NaiveDate,
    },
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

#[cfg(test)]
mod tests;
