//! The app under test, served on port 0 for one test, and a client for it.

use ordo::app::{AppState, Application};
use ordo::auth::JwtKeys;
use ordo::secret::Secret;
use reqwest::StatusCode;
use serde_json::Value;
use sqlx::PgPool;
use tokio::sync::oneshot;

use super::fresh_database;

/// A running app on its own database. Dropping it shuts the server down.
pub struct TestApp {
    pub address: String,
    pub pool: PgPool,
    pub client: reqwest::Client,
    shutdown: Option<oneshot::Sender<()>>,
}

/// Starts the app (dev mode) on port 0 against a fresh database.
pub async fn spawn_app() -> TestApp {
    let (pool, _) = fresh_database().await;
    let secret = Secret::new("a test secret that is at least 32 bytes long");
    let state = AppState::new(pool.clone(), JwtKeys::new(&secret), true);
    let app = Application::build(state, "127.0.0.1:0".parse().expect("address"))
        .await
        .expect("bind the app");
    let address = format!("http://{}", app.local_addr().expect("local address"));
    let (shutdown, stopped) = oneshot::channel::<()>();
    tokio::spawn(app.run_until_stopped(async {
        let _ = stopped.await;
    }));
    TestApp {
        address,
        pool,
        client: reqwest::Client::new(),
        shutdown: Some(shutdown),
    }
}

impl TestApp {
    /// GET `path`, answering the status and the JSON body (Null when not JSON).
    pub async fn get_json(&self, path: &str) -> (StatusCode, Value) {
        let response = self
            .client
            .get(format!("{}{path}", self.address))
            .send()
            .await
            .expect("request reaches the app");
        let status = response.status();
        let body = response.json().await.unwrap_or(Value::Null);
        (status, body)
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }
}
