//! Operators' view of the read side: each projection's status, blue/green rebuilds, and
//! the events projections parked.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::database::DatabaseError;
use crate::http::envelope::{Envelope, ErrorBody, Success};
use crate::http::error::ApiError;
use crate::http::extract::caller::AdminUser;
use crate::http::extract::paging::{Page, PagingQuery};
use crate::http::extract::params::ValidQuery;
use crate::state::AppState;
use projections::Retried;
use projections::parking::ParkedEvent;
use projections::rebuild::{RebuildError, RebuildLock};
use projections::status::{self, ProjectionStatus};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(start_rebuild))
        .routes(routes!(list_parked))
        .routes(routes!(retry_parked))
}

/// Each projection: version, state, position and lag, and a rebuild's progress.
#[utoipa::path(get, path = "/api/v1/admin/projections", tag = "admin",
    responses(
        (status = 200, description = "every projection", body = Envelope<Vec<ProjectionStatus>>),
    ),
    security(("bearer" = [])))]
async fn list(
    State(state): State<AppState>,
    _admin: AdminUser,
) -> Result<Success<Vec<ProjectionStatus>>, ApiError> {
    let statuses = status::all(&state.projector)
        .await
        .map_err(DatabaseError::from)?;
    Ok(Success::ok(statuses))
}

#[derive(Debug, Serialize, ToSchema)]
struct RebuildStarted {
    name: String,
    state: &'static str,
}

/// Starts a blue/green rebuild in the background and answers at once; progress shows in
/// the list, and so does why it stopped (`rebuild_error`) if it does. The live table keeps
/// serving until the rebuilt one replaces it. One rebuild of a projection at a time.
#[utoipa::path(post, path = "/api/v1/admin/projections/{name}/rebuild", tag = "admin",
    params(("name" = String, Path, description = "catalog, daily_sales, orders or payments", pattern = "^(catalog|daily_sales|orders|payments)$")),
    responses(
        (status = 202, description = "the rebuild started", body = Envelope<RebuildStarted>),
        (status = 404, description = "no such projection (40400)", body = ErrorBody),
        (status = 409, description = "a subscriber calling WeChat, never rebuilt (40902), or a rebuild of it is already running (40903)", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn start_rebuild(
    State(state): State<AppState>,
    _admin: AdminUser,
    Path(name): Path<String>,
) -> Result<Success<RebuildStarted>, ApiError> {
    let lock = RebuildLock::acquire(&state.projector, &name)
        .await
        .map_err(|err| match err {
            RebuildError::Unknown(_) => ApiError::not_found("projection"),
            RebuildError::Busy(message) => ApiError::busy(message, "10"),
            not @ RebuildError::NotReplayable(_) => ApiError::invalid_state(not.to_string()),
            RebuildError::Database(err) => DatabaseError::from(err).into(),
            other => ApiError::internal(&other),
        })?;
    let projector = state.projector.clone();
    // A task of its own: the rebuild goes on when the client hangs up. Why it stopped,
    // if it does, shows in the projection's status (`rebuild_error`).
    tokio::spawn(async move {
        let _ = lock.rebuild(&projector, |_| {}).await;
    });
    Ok(Success(
        StatusCode::ACCEPTED,
        RebuildStarted {
            name,
            state: "rebuilding",
        },
    ))
}

/// The events a projection parked (could not apply), oldest first: position, stream,
/// type, the error, attempts.
#[utoipa::path(get, path = "/api/v1/admin/projections/{name}/parked", tag = "admin",
    params(("name" = String, Path, description = "catalog, daily_sales, orders or payments", pattern = "^(catalog|daily_sales|orders|payments)$"), PagingQuery),
    responses(
        (status = 200, description = "one page of parked events", body = Envelope<Page<ParkedEvent>>),
        (status = 404, description = "no such projection (40400)", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn list_parked(
    State(state): State<AppState>,
    _admin: AdminUser,
    Path(name): Path<String>,
    ValidQuery(paging): ValidQuery<PagingQuery>,
) -> Result<Success<Page<ParkedEvent>>, ApiError> {
    if state.projector.projection(&name).is_none() {
        return Err(ApiError::not_found("projection"));
    }
    let paging = paging.paging();
    let total = state
        .reads
        .parked_counts()
        .await?
        .get(&name)
        .copied()
        .unwrap_or(0);
    let list = state
        .reads
        .parked(&name, paging.size, paging.offset())
        .await?;
    Ok(Success::ok(Page::new(list, total, paging)))
}

/// Re-applies the projection's parked events after their cause was fixed, in feed order;
/// those that still fail stay parked. A projection that had stopped (`failed`) resumes.
#[utoipa::path(post, path = "/api/v1/admin/projections/{name}/retry-parked", tag = "admin",
    params(("name" = String, Path, description = "catalog, daily_sales, orders or payments", pattern = "^(catalog|daily_sales|orders|payments)$")),
    responses(
        (status = 200, description = "what the retry did", body = Envelope<Retried>),
        (status = 404, description = "no such projection (40400)", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn retry_parked(
    State(state): State<AppState>,
    _admin: AdminUser,
    Path(name): Path<String>,
) -> Result<Success<Retried>, ApiError> {
    if state.projector.projection(&name).is_none() {
        return Err(ApiError::not_found("projection"));
    }
    let projector = state.projector.clone();
    // A task of its own: a client hanging up does not cut the retry's transaction short.
    let retried = tokio::spawn(async move { projector.retry_parked(&name).await })
        .await
        .map_err(|err| ApiError::internal(&err))?
        .map_err(|err| match err {
            projections::ProjectionError::Database(err) => DatabaseError::from(err).into(),
            other => ApiError::internal(&other),
        })?;
    Ok(Success::ok(retried))
}
