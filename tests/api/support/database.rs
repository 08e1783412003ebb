//! The test run's PostgreSQL: `TEST_DATABASE_URL` when set, otherwise a throwaway
//! cluster started with ordo's own embedded-PostgreSQL code (fsync off), stopped and
//! deleted by its watchdog once the test process exits.

use std::str::FromStr;
use std::sync::OnceLock;

use ordo::database;
use ordo::embedded_postgres::EmbeddedPostgres;
use sqlx::PgPool;
use sqlx::postgres::PgConnectOptions;

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

/// A new, migrated database of its own for one test, and options to connect to it.
pub async fn fresh_database() -> (PgPool, PgConnectOptions) {
    let name = format!("ordo_test_{}", uuid::Uuid::new_v4().simple());
    database::ensure_database(admin_options(), &name)
        .await
        .expect("create the test database");
    let options = admin_options().clone().database(&name);
    let pool = database::connect(options.clone(), 16)
        .await
        .expect("connect to the test database");
    database::migrate(&pool)
        .await
        .expect("migrate the test database");
    (pool, options)
}
