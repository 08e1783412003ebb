//! The database ordo runs on: its own embedded PostgreSQL or one given by
//! `DATABASE_URL`; connecting, creating and migrating it.

mod error;

use std::time::Duration;

use anyhow::Context;

use sqlx::ConnectOptions;
use sqlx::migrate::{MigrateError, Migrator};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Connection, PgConnection, PgPool};

use crate::config::{Config, DatabaseSource, EMBEDDED_DATABASE};
use crate::embedded_postgres::{DataDirClaim, Durability, EmbeddedPostgres};
use crate::secret;

pub use error::DatabaseError;

/// The migrations in `migrations/`, embedded in the binary.
pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// How long a connection may sit idle inside a transaction before PostgreSQL ends it.
/// Any open transaction holds back the feed's horizon (`pg_snapshot_xmin`), so a
/// forgotten one must not stall the projections for long.
const IDLE_IN_TRANSACTION_TIMEOUT: &str = "10s";

/// Connections the server's pool may hold.
const MAX_CONNECTIONS: u32 = 32;

/// An open database: the pool, and the embedded server behind it when there is one.
#[derive(Debug)]
pub struct Database {
    pub pool: PgPool,
    embedded: Option<EmbeddedPostgres>,
    /// Held while this process may start and stop the embedded server; dropped after
    /// [`Database::close`] stopped it.
    _claim: Option<DataDirClaim>,
}

impl Database {
    /// For `ordo serve` (`what` says which, for a second one to name it): claims the data
    /// directory and starts the embedded PostgreSQL, owning it (a server left running by
    /// a killed ordo is stopped first), or connects to `DATABASE_URL`; then applies
    /// pending migrations. Fails, naming the holder, when a live ordo has the data
    /// directory.
    pub async fn open(config: &Config, what: &str) -> anyhow::Result<Self> {
        Self::open_with(config, Ownership::Own(what)).await
    }

    /// For CLI commands: like [`Database::open`], but uses the embedded PostgreSQL of a
    /// running `ordo serve` rather than stopping it.
    pub async fn open_beside_server(config: &Config) -> anyhow::Result<Self> {
        Self::open_with(config, Ownership::Share).await
    }

    async fn open_with(config: &Config, ownership: Ownership<'_>) -> anyhow::Result<Self> {
        let mut claim = None;
        let (options, embedded) = match &config.database {
            DatabaseSource::External(options) => (options.as_ref().clone(), None),
            DatabaseSource::Embedded => {
                check_reachable(config)?;
                claim = match ownership {
                    Ownership::Own(what) => Some(DataDirClaim::take(&config.data_dir, what)?),
                    // Free: no ordo runs here, so a server this command starts is its
                    // own to stop, and no `ordo serve` may stop it meanwhile. Held: use
                    // the holder's server.
                    Ownership::Share => {
                        DataDirClaim::try_take(&config.data_dir, "an ordo command")?.ok()
                    }
                };
                let password = secret::load_or_create(&config.postgres_password_file())
                    .context("reading the embedded PostgreSQL's password")?;
                let dir = config.postgres_dir();
                let bin_dir = config.pg_bin_dir.clone();
                let owned = matches!(ownership, Ownership::Own(_));
                let server = tokio::task::spawn_blocking(move || {
                    let bin_dir = bin_dir.as_deref();
                    if owned {
                        tracing::info!(dir = %dir.display(), "starting the embedded PostgreSQL");
                        EmbeddedPostgres::start(&dir, password, Durability::Durable, bin_dir)
                    } else {
                        EmbeddedPostgres::attach_or_start(&dir, password, bin_dir)
                    }
                })
                .await??;
                ensure_database(&server.connect_options("postgres"), EMBEDDED_DATABASE)
                    .await
                    .context("creating the ordo database")?;
                (server.connect_options(EMBEDDED_DATABASE), Some(server))
            }
        };
        let pool = connect(options, MAX_CONNECTIONS)
            .await
            .context("connecting to PostgreSQL")?;
        migrate(&pool).await.context("applying migrations")?;
        Ok(Self {
            pool,
            embedded,
            _claim: claim,
        })
    }

    /// Closes the pool and stops the embedded server, if ordo started one.
    pub async fn close(self) -> anyhow::Result<()> {
        self.pool.close().await;
        if let Some(mut server) = self.embedded.filter(EmbeddedPostgres::is_owned) {
            tokio::task::spawn_blocking(move || server.stop()).await??;
            tracing::info!("embedded PostgreSQL stopped");
        }
        Ok(())
    }
}

/// Whether this process may stop an embedded server it finds running.
#[derive(Debug, Clone, Copy)]
enum Ownership<'a> {
    /// `ordo serve`, described as a second one will name it.
    Own(&'a str),
    Share,
}

/// A pool whose connections carry ordo's session settings.
pub async fn connect(
    options: PgConnectOptions,
    max_connections: u32,
) -> Result<PgPool, sqlx::Error> {
    pool_options(max_connections)
        .connect_with(session_options(options))
        .await
}

/// Like [`connect`], connecting at the first query (a database away at startup, such as
/// a read replica, does not stop ordo from starting), and waiting at most `acquire` for
/// a connection.
pub fn connect_lazy(options: PgConnectOptions, max_connections: u32, acquire: Duration) -> PgPool {
    pool_options(max_connections)
        .acquire_timeout(acquire)
        .connect_lazy_with(session_options(options))
}

fn session_options(options: PgConnectOptions) -> PgConnectOptions {
    options
        .application_name("ordo")
        .options([
            (
                "idle_in_transaction_session_timeout",
                IDLE_IN_TRANSACTION_TIMEOUT,
            ),
            // PostgreSQL's notices ("relation \"_sqlx_migrations\" already exists, skipping"
            // at every start) reach the log at INFO: only warnings are worth a line.
            ("client_min_messages", "warning"),
        ])
        // Rebuilds and verification run statements of seconds on purpose: worth a note,
        // not a warning.
        .log_slow_statements(log::LevelFilter::Info, Duration::from_secs(1))
}

fn pool_options(max_connections: u32) -> PgPoolOptions {
    PgPoolOptions::new()
        .max_connections(max_connections)
        // sqlx pings every connection it hands out by default: a second round trip per
        // request (a fifth of the GET path's profile). A connection that died is found by
        // the query itself instead, answered 503 and replaced.
        .test_before_acquire(false)
        .acquire_timeout(Duration::from_secs(5))
}

/// Creates `database` on the server unless it exists, connecting through `admin`
/// (options for a database that does exist, such as `postgres`).
pub async fn ensure_database(admin: &PgConnectOptions, database: &str) -> Result<(), sqlx::Error> {
    let mut conn = PgConnection::connect_with(admin).await?;
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(database)
            .fetch_one(&mut conn)
            .await?;
    if !exists {
        // Identifiers cannot be bound as parameters; quote it as PostgreSQL would.
        let quoted = format!("\"{}\"", database.replace('"', "\"\""));
        sqlx::query(&format!("CREATE DATABASE {quoted}"))
            .execute(&mut conn)
            .await?;
    }
    conn.close().await
}

/// With the embedded database: fails, naming the directory in the way, if PostgreSQL
/// could not reach the data directory. Call it before anything is put there, so an
/// unreachable data dir leaves nothing behind.
pub fn check_reachable(config: &Config) -> anyhow::Result<()> {
    if matches!(config.database, DatabaseSource::Embedded) {
        EmbeddedPostgres::check_reachable(&config.postgres_dir())?;
    }
    Ok(())
}

/// Applies every migration not yet applied.
pub async fn migrate(pool: &PgPool) -> Result<(), MigrateError> {
    MIGRATOR.run(pool).await
}

/// The number of embedded migrations not (successfully) applied to this database.
pub async fn pending_migrations(pool: &PgPool) -> Result<usize, sqlx::Error> {
    let applied: Vec<i64> =
        sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success")
            .fetch_all(pool)
            .await
            .or_else(|err| match &err {
                // No bookkeeping table yet: nothing was ever applied.
                sqlx::Error::Database(db) if db.code().as_deref() == Some("42P01") => {
                    Ok(Vec::new())
                }
                _ => Err(err),
            })?;
    Ok(MIGRATOR
        .iter()
        .filter(|migration| migration.migration_type.is_up_migration())
        .filter(|migration| !applied.contains(&migration.version))
        .count())
}
