//! `/healthz` (the process is up) and `/readyz` (it can serve: database reachable,
//! migrations applied).

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use serde::Serialize;

use super::envelope::Success;
use super::error::ApiError;
use crate::app::AppState;
use crate::database;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
}

#[derive(Debug, Serialize)]
struct Health {
    status: &'static str,
}

async fn healthz() -> Success<Health> {
    Success::ok(Health { status: "up" })
}

#[derive(Debug, Serialize)]
struct Readiness {
    status: &'static str,
    database: &'static str,
    pending_migrations: usize,
}

async fn readyz(State(state): State<AppState>) -> Result<Success<Readiness>, ApiError> {
    let pending = database::pending_migrations(&state.pool)
        .await
        .map_err(|err| ApiError::unavailable(format!("the database is unreachable: {err}")))?;
    if pending > 0 {
        return Err(ApiError::unavailable(format!(
            "{pending} database migration(s) not applied; run `ordo migrate`"
        ))
        .with_data(Readiness {
            status: "not_ready",
            database: "reachable",
            pending_migrations: pending,
        }));
    }
    Ok(Success::ok(Readiness {
        status: "ready",
        database: "reachable",
        pending_migrations: 0,
    }))
}
