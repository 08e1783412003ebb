//! The app under test, served on port 0 for one test, and a client for it.

use std::time::Duration;

use aggregates::stock::Stock;
use ordo::auth::JwtKeys;
use ordo::event_store::EventStore;
use ordo::secret::Secret;
use ordo::server::Application;
use ordo::state::{AppSettings, AppState};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;
use tokio::sync::oneshot;
use uuid::Uuid;

use super::fresh_database;

/// The JWT secret every test app shares, so one app's tokens work on another.
const SECRET: &str = "a test secret that is at least 32 bytes long";

/// The operator's backup key the CLI signs and authenticates backups with.
pub const BACKUP_KEY: &str = "the operator's backup key, 32 bytes and more";

/// A client that, as a proxy in front of ordo must (see deploy/nginx), drops a kept-alive
/// connection before the server closes it as idle (`ORDO_HEADER_READ_TIMEOUT`, 10 s):
/// otherwise a request can go out on a connection the server is closing.
pub fn client() -> reqwest::Client {
    ordo::tls::http_client()
        .pool_idle_timeout(std::time::Duration::from_secs(5))
        .build()
        .expect("an HTTP client")
}

/// Dev-mode settings in which an unpaid order expires after `timeout`.
pub fn timing_out_after(timeout: Duration) -> AppSettings {
    AppSettings {
        dev_mode: true,
        write: ordo::write::WriteSettings {
            payment_timeout: timeout,
            ..ordo::write::WriteSettings::default()
        },
        ..AppSettings::default()
    }
}

/// A running app on its own database. Dropping it shuts the server down.
pub struct TestApp {
    pub address: String,
    pub pool: PgPool,
    pub events: EventStore,
    pub state: AppState,
    pub client: reqwest::Client,
    shutdown: Option<oneshot::Sender<()>>,
}

/// Starts the app (dev mode) on port 0 against a fresh database.
pub async fn spawn_app() -> TestApp {
    let (pool, _) = fresh_database().await;
    spawn_app_on(pool).await
}

/// Starts another app instance on the same database, as a second server process would
/// run: its own write model, cache and stream queues.
pub async fn spawn_app_on(pool: PgPool) -> TestApp {
    start(
        pool,
        AppSettings {
            dev_mode: true,
            ..AppSettings::default()
        },
    )
    .await
}

/// Starts the app with these settings against a fresh database.
pub async fn spawn_app_with(settings: AppSettings) -> TestApp {
    let (pool, _) = fresh_database().await;
    start(pool, settings).await
}

/// Starts an app instance with these settings on an existing database.
pub async fn start(pool: PgPool, settings: AppSettings) -> TestApp {
    let keys = JwtKeys::new(&Secret::new(SECRET));
    let state = AppState::new(pool.clone(), keys, settings);
    let app = Application::build(state.clone(), "127.0.0.1:0".parse().expect("address"))
        .await
        .expect("bind the app");
    let address = format!("http://{}", app.local_addr().expect("local address"));
    let (shutdown, stopped) = oneshot::channel::<()>();
    tokio::spawn(app.run_until_stopped(async {
        let _ = stopped.await;
    }));
    TestApp {
        address,
        events: EventStore::new(pool.clone()),
        state,
        pool,
        client: client(),
        shutdown: Some(shutdown),
    }
}

impl TestApp {
    /// A token signed with this app's secret for arbitrary claims (tests of bad tokens).
    pub fn secret() -> &'static str {
        SECRET
    }

    /// Records a payment for the order through the write model (as a verified payment
    /// notice would).
    pub async fn pay(&self, order_id: Uuid, amount_cents: i64) {
        self.state
            .write
            .pay_order(
                order_id,
                format!("wx-{order_id}"),
                amount_cents,
                chrono::Utc::now(),
                &Default::default(),
            )
            .await
            .expect("pay");
    }

    /// The refund follow-up of this app, due at once (what the server runs every
    /// `ORDO_REFUND_FOLLOW_UP`).
    pub fn refund_follow_up(&self) -> ordo::payments::refunds::RefundFollowUp {
        ordo::payments::refunds::RefundFollowUp {
            pool: self.pool.clone(),
            events: self.events.clone(),
            refunds: ordo::payments::refunds::Refunds {
                write: self.state.write.clone(),
                wechat_pay: self.state.wechat_pay.clone(),
            },
            every: Duration::ZERO,
        }
    }

    /// The product's stock as its events make it.
    pub async fn stock(&self, product: Uuid) -> Stock {
        self.events
            .load::<Stock>(&product.to_string())
            .await
            .expect("load stock")
            .aggregate
    }

    /// How many events of this type the store holds.
    pub async fn count_events(&self, event_type: &str) -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM events WHERE event_type = $1")
            .bind(event_type)
            .fetch_one(&self.pool)
            .await
            .expect("count events")
    }

    /// The `/metrics` page (which must answer 200), as text.
    pub async fn metrics(&self) -> String {
        let anon = self.anon();
        let response = anon
            .send_raw(anon.request(reqwest::Method::GET, "/metrics"))
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        response.text().await.expect("metrics text")
    }

    /// Runs the `ordo` binary with `args` against the test database `options` names,
    /// with this app's secret and the operator's backup key.
    pub fn cli(options: &sqlx::postgres::PgConnectOptions, args: &[&str]) -> std::process::Output {
        Self::cli_command(options, args).output().expect("run ordo")
    }

    /// The command [`TestApp::cli`] runs, to change before running it.
    pub fn cli_command(
        options: &sqlx::postgres::PgConnectOptions,
        args: &[&str],
    ) -> std::process::Command {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_ordo"));
        command
            .args(args)
            .arg("--database-url")
            .arg(super::database_url(
                options.get_database().expect("a database name"),
            ))
            .env("ORDO_JWT_SECRET", SECRET)
            .env("ORDO_BACKUP_KEY", BACKUP_KEY);
        command
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }
}

/// A valid delivery address.
pub fn address() -> Value {
    json!({"name": "Li Lei", "phone": "13800000000", "province": "Zhejiang",
           "city": "Hangzhou", "district": "Xihu", "detail": "1 Lake Road"})
}
