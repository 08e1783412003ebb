//! `/healthz` (the process is up) and `/readyz` (it can serve: database reachable,
//! migrations applied).

use axum::Extension;
use axum::extract::State;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::database::DatabaseError;
use crate::feed_horizon::{HorizonReport, ProjectionLag};
use crate::http::envelope::{Envelope, ErrorBody, Success};
use crate::http::error::ApiError;
use crate::http::extract::caller::AdminUser;
use crate::http::middleware::client_address::ClientAddress;
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
    /// Shown to loopback clients and operators only.
    #[serde(skip_serializing_if = "Option::is_none")]
    database: Option<&'static str>,
    /// Shown to loopback clients and operators only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pending_migrations: Option<usize>,
    /// Whether the read models keep up, and what holds them back when not. Shown to
    /// loopback clients and operators only.
    #[serde(skip_serializing_if = "Option::is_none")]
    read_side: Option<ReadSide>,
}

/// The read side's health: a lagging read side does not make the server unready (writes
/// and a shopper's own orders are served from the events), but it is reported.
#[derive(Debug, Serialize, ToSchema)]
struct ReadSide {
    /// `ok`, or `degraded` when no projector runs on the database, a projection lags or
    /// an appending transaction holds the feed's horizon for longer than a few seconds.
    status: &'static str,
    /// `running` when a server's projector holds its running lock on this database (any
    /// process), else `stopped`.
    projector: &'static str,
    /// The projections more than a few seconds behind.
    lagging: Vec<ProjectionLag>,
    /// Who holds transaction ids on the cluster for long, and each projection's lag, as
    /// the server's watcher saw them last (a few times a second).
    feed_horizon: HorizonReport,
}

impl ReadSide {
    async fn of(state: &AppState) -> Result<Self, DatabaseError> {
        let running = state.reads.projector_running().await?;
        let feed_horizon = HorizonReport::clone(&state.horizon.report());
        let lagging: Vec<ProjectionLag> = feed_horizon.lagging().cloned().collect();
        let degraded = !running || !lagging.is_empty() || feed_horizon.held();
        Ok(Self {
            status: if degraded { "degraded" } else { "ok" },
            projector: if running { "running" } else { "stopped" },
            lagging,
            feed_horizon,
        })
    }
}

/// Whether the caller may see why the server is not ready (database errors, migrations):
/// a client on this machine (a health check beside it), or an operator whose token still
/// works (a revoked one is nobody's). Anyone else learns only ready or not.
fn sees_detail(client: Option<ClientAddress>, operator: Option<AdminUser>) -> bool {
    client.is_some_and(|client| client.0.is_loopback()) || operator.is_some()
}

/// It can serve: the database answers and every migration is applied. Why not is told
/// to loopback clients and operators only.
#[utoipa::path(get, path = "/readyz", tag = "service",
    responses(
        (status = 200, description = "ready", body = Envelope<Readiness>),
        (status = 503, description = "database unreachable or migrations pending (50300)", body = ErrorBody),
    ))]
async fn readyz(
    State(state): State<AppState>,
    client: Option<Extension<ClientAddress>>,
    operator: Option<AdminUser>,
) -> Result<Success<Readiness>, ApiError> {
    let detail = sees_detail(client.map(|Extension(client)| client), operator);
    let not_ready = |message: String| {
        ApiError::unavailable(if detail {
            message
        } else {
            "not ready; retry shortly".to_owned()
        })
    };
    let pending = match state.reads.pending_migrations().await {
        Ok(pending) => pending,
        Err(err) => return Err(not_ready(format!("the database is unreachable: {err}"))),
    };
    if pending > 0 {
        let error = not_ready(format!(
            "{pending} database migration(s) not applied; run `ordo migrate`"
        ));
        return Err(if detail {
            error.with_data(Readiness {
                status: "not_ready",
                database: Some("reachable"),
                pending_migrations: Some(pending),
                read_side: None,
            })
        } else {
            error
        });
    }
    let read_side = if detail {
        match ReadSide::of(&state).await {
            Ok(read_side) => Some(read_side),
            Err(err) => return Err(not_ready(format!("the database is unreachable: {err}"))),
        }
    } else {
        None
    };
    Ok(Success::ok(Readiness {
        status: "ready",
        database: detail.then_some("reachable"),
        pending_migrations: detail.then_some(0),
        read_side,
    }))
}
