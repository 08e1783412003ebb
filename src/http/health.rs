//! `/healthz` (the process is up) and `/readyz` (it can serve: database reachable,
//! migrations applied).

use axum::extract::State;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::envelope::{Envelope, ErrorBody, Success};
use super::error::ApiError;
use crate::database;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(healthz))
        .routes(routes!(readyz))
}

#[derive(Debug, Serialize, ToSchema)]
struct Health {
    status: &'static str,
}

/// The process is up.
#[utoipa::path(get, path = "/healthz", tag = "service",
    responses((status = 200, description = "up", body = Envelope<Health>)))]
async fn healthz() -> Success<Health> {
    Success::ok(Health { status: "up" })
}

#[derive(Debug, Serialize, ToSchema)]
struct Readiness {
    status: &'static str,
    database: &'static str,
    pending_migrations: usize,
}

/// It can serve: the database answers and every migration is applied.
#[utoipa::path(get, path = "/readyz", tag = "service",
    responses(
        (status = 200, description = "ready", body = Envelope<Readiness>),
        (status = 503, description = "database unreachable or migrations pending (50300)", body = ErrorBody),
    ))]
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
