//! Operators' view of the read side: each projection's status, and blue/green rebuilds.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use serde::Serialize;

use super::envelope::Success;
use super::error::ApiError;
use crate::app::AppState;
use crate::auth::AdminUser;
use projections::rebuild::rebuild;
use projections::status::{self, ProjectionStatus};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/admin/projections", get(list))
        .route(
            "/api/v1/admin/projections/{name}/rebuild",
            post(start_rebuild),
        )
}

async fn list(
    State(state): State<AppState>,
    _admin: AdminUser,
) -> Result<Success<Vec<ProjectionStatus>>, ApiError> {
    Ok(Success::ok(status::all(&state.projector).await?))
}

#[derive(Debug, Serialize)]
struct RebuildStarted {
    name: String,
    state: &'static str,
}

/// Starts a rebuild in the background and answers at once; progress shows in the list.
async fn start_rebuild(
    State(state): State<AppState>,
    _admin: AdminUser,
    Path(name): Path<String>,
) -> Result<Success<RebuildStarted>, ApiError> {
    if state.projector.projection(&name).is_none() {
        return Err(ApiError::not_found("projection"));
    }
    let projector = state.projector.clone();
    let task_name = name.clone();
    // A task of its own: the rebuild goes on when the client hangs up.
    tokio::spawn(async move {
        if let Err(err) = rebuild(&projector, &task_name, |_| {}).await {
            tracing::error!(projection = task_name, %err, "rebuild failed");
        }
    });
    Ok(Success(
        StatusCode::ACCEPTED,
        RebuildStarted {
            name,
            state: "rebuilding",
        },
    ))
}
