//! The test run's PostgreSQL: `TEST_DATABASE_URL` when set, otherwise a throwaway
//! cluster started with ordo's own embedded-PostgreSQL code (fsync off), stopped and
//! deleted by its watchdog once the test process exits.

use std::str::FromStr;
use std::sync::OnceLock;

use ordo::database;
use ordo::embedded_postgres::EmbeddedPostgres;
use sqlx::postgres::PgConnectOptions;
use sqlx::{Connection, PgConnection, PgPool};

/// The test server's URL for `database` (`{database}` in place of the name).
fn server_url() -> &'static str {
    static URL: OnceLock<String> = OnceLock::new();
    URL.get_or_init(|| {
        if let Ok(url) = std::env::var("TEST_DATABASE_URL") {
            let options =
                PgConnectOptions::from_str(&url).expect("TEST_DATABASE_URL is a PostgreSQL URL");
            let name = options.get_database().unwrap_or("postgres");
            return url.replacen(&format!("/{name}"), "/{database}", 1);
        }
        // Kept for the whole run: the static is never dropped, the watchdog cleans up.
        static SERVER: OnceLock<EmbeddedPostgres> = OnceLock::new();
        let server = SERVER.get_or_init(|| {
            EmbeddedPostgres::start_throwaway().expect("start a throwaway PostgreSQL for the tests")
        });
        server.url("{database}")
    })
}

/// A `DATABASE_URL` for the test database `name` (to run the CLI against it).
pub fn database_url(name: &str) -> String {
    server_url().replace("{database}", name)
}

/// Options that reach the test server's `postgres` database, to create test databases.
fn admin_options() -> &'static PgConnectOptions {
    static ADMIN: OnceLock<PgConnectOptions> = OnceLock::new();
    ADMIN.get_or_init(|| {
        PgConnectOptions::from_str(&database_url("postgres")).expect("a PostgreSQL URL")
    })
}

/// Identifiers cannot be bound as parameters; quoted as PostgreSQL would.
fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// A database migrated once per run, copied for each test (a copy takes a fraction of
/// running every migration). Nothing stays connected to it, as copying requires.
async fn template() -> &'static str {
    static TEMPLATE: tokio::sync::OnceCell<String> = tokio::sync::OnceCell::const_new();
    TEMPLATE
        .get_or_init(|| async {
            let name = format!("ordo_template_{}", uuid::Uuid::new_v4().simple());
            database::ensure_database(admin_options(), &name)
                .await
                .expect("create the template database");
            let pool = database::connect(admin_options().clone().database(&name), 1)
                .await
                .expect("connect to the template database");
            database::migrate(&pool)
                .await
                .expect("migrate the template database");
            pool.close().await;
            name
        })
        .await
}

/// A new, migrated database of its own for one test, and options to connect to it.
pub async fn fresh_database() -> (PgPool, PgConnectOptions) {
    let template = template().await;
    let name = format!("ordo_test_{}", uuid::Uuid::new_v4().simple());
    let mut admin = PgConnection::connect_with(admin_options())
        .await
        .expect("connect to the test server");
    sqlx::query(&format!(
        "CREATE DATABASE {} TEMPLATE {}",
        quoted(&name),
        quoted(template)
    ))
    .execute(&mut admin)
    .await
    .expect("copy the template database");
    // The database checks every hash ordo chains against its own `event_hash`, so each
    // test that writes events also proves the two agree (per database: a copy does not
    // inherit its template's settings).
    sqlx::query(&format!(
        "ALTER DATABASE {} SET ordo.check_hashes = on",
        quoted(&name)
    ))
    .execute(&mut admin)
    .await
    .expect("turn on the hash check");
    let _ = admin.close().await;
    let options = admin_options().clone().database(&name);
    let pool = database::connect(options.clone(), 16)
        .await
        .expect("connect to the test database");
    (pool, options)
}
