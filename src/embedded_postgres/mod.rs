//! A private PostgreSQL cluster run from the system's server binaries: the database of
//! `ordo serve` when no `DATABASE_URL` is given, and of the test suite.
//!
//! Layout of the cluster directory:
//! ```text
//! <dir>/data        PGDATA (initdb'd once, kept across restarts)
//! <dir>/server.log  the server's log
//! ```
//! The server listens on 127.0.0.1 only (no Unix socket, whose path length is limited),
//! on a free port chosen at each start, and requires the superuser's password.

mod binaries;
mod control;
pub mod owner;
mod replica;
mod system_user;

use std::io;
use std::path::{Path, PathBuf};

use sqlx::postgres::PgConnectOptions;

pub use binaries::ServerBinaries;
pub use owner::{ClaimError, DataDirClaim};
pub use system_user::ServerAccount;

use crate::secret::Secret;

/// The cluster's superuser, the role ordo connects as.
const SUPERUSER: &str = "ordo";

/// Settings ordo writes into `data/ordo.conf` at every start.
const CONFIG_FILE: &str = "ordo.conf";

/// How much a cluster must survive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// Default PostgreSQL settings: every commit is flushed. For `ordo serve`.
    Durable,
    /// fsync off, removed when this process exits. For tests only.
    Throwaway,
}

#[derive(Debug, thiserror::Error)]
pub enum EmbeddedPostgresError {
    #[error(
        "the PostgreSQL server binaries (initdb, pg_ctl) were not found; looked in: {searched}. \
         Install them with `apt-get install -y postgresql` (Debian/Ubuntu; elsewhere the \
         PostgreSQL server package), or set ORDO_PG_BIN_DIR (--pg-bin-dir) to the directory holding them, or set \
         DATABASE_URL to use a database you run yourself"
    )]
    BinariesMissing { searched: String },
    #[error(
        "ordo runs as root and PostgreSQL refuses to; it runs PostgreSQL as the `postgres` \
         system user, which does not exist here. Install the postgresql package (it creates \
         the user), run ordo as an ordinary user, or set DATABASE_URL"
    )]
    NoPostgresUser,
    #[error(
        "{account} cannot write {dir}: choose a --data-dir whose parent directories it can \
         enter (for example under /var/lib or /tmp), or run ordo as an ordinary user"
    )]
    DirectoryNotWritable { account: String, dir: PathBuf },
    #[error(
        "{account} cannot enter {blocked}, so PostgreSQL could not reach {dir}: choose a \
         --data-dir it can reach (for example under /var/lib or /tmp), or run ordo as an \
         ordinary user"
    )]
    DirectoryUnreachable {
        account: String,
        dir: PathBuf,
        blocked: PathBuf,
    },
    #[error("{step} failed ({status}): {output}")]
    CommandFailed {
        step: &'static str,
        status: String,
        output: String,
    },
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: io::Error },
}

type Result<T> = std::result::Result<T, EmbeddedPostgresError>;

/// A running private PostgreSQL server. Stopped by [`EmbeddedPostgres::stop`] or on drop.
#[derive(Debug)]
pub struct EmbeddedPostgres {
    binaries: ServerBinaries,
    account: ServerAccount,
    dir: PathBuf,
    port: u16,
    password: Secret,
    running: bool,
}

impl EmbeddedPostgres {
    /// Fails, naming the directory in the way, if the account PostgreSQL runs as could
    /// not reach `dir`; creates nothing. Call it before putting anything in `dir`.
    pub fn check_reachable(dir: &Path) -> Result<()> {
        let account =
            ServerAccount::for_this_process().ok_or(EmbeddedPostgresError::NoPostgresUser)?;
        let dir = std::path::absolute(dir).map_err(|source| io_error(dir, source))?;
        match account.blocked_on_the_way_to(&dir) {
            Some(blocked) => Err(EmbeddedPostgresError::DirectoryUnreachable {
                account: account.describe(),
                dir,
                blocked,
            }),
            None => Ok(()),
        }
    }

    /// Starts the cluster in `dir`, creating it on first use with `password` for the
    /// superuser. A server left running by a killed ordo is stopped first.
    /// The binaries are looked for in `bin_dir` if given, else by [`ServerBinaries::locate`].
    pub fn start(
        dir: &Path,
        password: Secret,
        durability: Durability,
        bin_dir: Option<&Path>,
    ) -> Result<Self> {
        let mut server = Self::prepare(dir, password, durability, bin_dir)?;
        server.stop_leftover()?;
        server.run(durability)?;
        Ok(server)
    }

    /// Uses the cluster in `dir` if a server (an `ordo serve`) is running on it, without
    /// stopping it afterwards; otherwise starts it like [`EmbeddedPostgres::start`]. For
    /// CLI commands that must not take the database away from a running server.
    pub fn attach_or_start(dir: &Path, password: Secret, bin_dir: Option<&Path>) -> Result<Self> {
        let mut server = Self::prepare(dir, password, Durability::Durable, bin_dir)?;
        match server.running_port() {
            Some(port) => server.port = port,
            None => server.run(Durability::Durable)?,
        }
        Ok(server)
    }

    /// Locates the binaries, creates the directory and, on first use, the cluster.
    fn prepare(
        dir: &Path,
        password: Secret,
        durability: Durability,
        bin_dir: Option<&Path>,
    ) -> Result<Self> {
        let binaries = ServerBinaries::locate(bin_dir).map_err(|searched| {
            EmbeddedPostgresError::BinariesMissing {
                searched: searched
                    .iter()
                    .map(|dir| dir.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
            }
        })?;
        let account =
            ServerAccount::for_this_process().ok_or(EmbeddedPostgresError::NoPostgresUser)?;
        let dir = std::path::absolute(dir).map_err(|source| io_error(dir, source))?;
        account
            .create_private_dir(&dir)
            .map_err(|source| io_error(&dir, source))?;
        if !account.can_write(&dir) {
            return Err(EmbeddedPostgresError::DirectoryNotWritable {
                account: account.describe(),
                dir,
            });
        }
        let server = Self {
            binaries,
            account,
            dir,
            port: 0,
            password,
            running: false,
        };
        if !server.data_dir().join("PG_VERSION").exists() {
            server.init(durability)?;
        }
        Ok(server)
    }

    /// Starts a throwaway cluster in a new temporary directory. A watchdog process stops
    /// it and deletes its files once this process has exited, however it exits.
    pub fn start_throwaway() -> Result<Self> {
        Self::start_temporary(Durability::Throwaway)
    }

    /// Like [`EmbeddedPostgres::start_throwaway`], with these settings: `Durable` for
    /// tests that crash the server and expect every acknowledged commit to survive
    /// (the throwaway settings acknowledge a commit before its WAL is written).
    pub fn start_temporary(durability: Durability) -> Result<Self> {
        let dir = std::env::temp_dir().join(format!(
            "ordo-pg-{}-{:08x}",
            std::process::id(),
            rand::random::<u32>()
        ));
        let server = Self::start(&dir, Secret::generate(), durability, None)?;
        server.remove_when_process_exits()?;
        Ok(server)
    }

    /// Options to connect to `database` as the superuser.
    pub fn connect_options(&self, database: &str) -> PgConnectOptions {
        PgConnectOptions::new()
            .host("127.0.0.1")
            .port(self.port)
            .username(SUPERUSER)
            .password(self.password.expose())
            .database(database)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// A `DATABASE_URL` for `database` as the superuser (for the CLI against this server).
    pub fn url(&self, database: &str) -> String {
        format!(
            "postgres://{SUPERUSER}:{}@127.0.0.1:{}/{database}",
            self.password.expose(),
            self.port
        )
    }

    /// Whether this process started the server (and so stops it), rather than attaching
    /// to one a running `ordo serve` owns.
    pub fn is_owned(&self) -> bool {
        self.running
    }

    /// Starts a server this process stopped again, on the same port, so that clients
    /// configured for it reconnect (a database coming back after an outage).
    pub fn start_again(&mut self, durability: Durability) -> Result<()> {
        if self.running {
            return Ok(());
        }
        self.write_config(durability)?;
        let log = self.dir.join("server.log");
        let log = log.to_string_lossy();
        self.pg_ctl(
            "starting PostgreSQL again",
            &["start", "-w", "-t", "60", "-l", &log],
        )?;
        self.running = true;
        Ok(())
    }

    /// Stops the server (fast shutdown: open sessions are ended, committed work is kept).
    pub fn stop(&mut self) -> Result<()> {
        if !self.running {
            return Ok(());
        }
        self.running = false;
        self.pg_ctl(
            "stopping PostgreSQL",
            &["stop", "-m", "fast", "-w", "-t", "60"],
        )
    }

    /// Stops the server as a crash would (immediate shutdown: sessions cut off, no
    /// checkpoint; the next start recovers from the WAL). For tests of outages.
    pub fn crash(&mut self) -> Result<()> {
        if !self.running {
            return Ok(());
        }
        self.running = false;
        self.pg_ctl(
            "crashing PostgreSQL",
            &["stop", "-m", "immediate", "-w", "-t", "60"],
        )
    }
}

impl Drop for EmbeddedPostgres {
    fn drop(&mut self) {
        if let Err(err) = self.stop() {
            tracing::error!(%err, "could not stop the embedded PostgreSQL");
        }
    }
}

fn io_error(path: &Path, source: io::Error) -> EmbeddedPostgresError {
    EmbeddedPostgresError::Io {
        path: path.to_owned(),
        source,
    }
}
