//! A product's latest stock moves with the stock each left: the console's stock chart.

use axum::extract::State;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::caller::AdminUser;
use super::envelope::{Envelope, ErrorBody, Success};
use super::error::ApiError;
use super::params::{IdPath, QueryRules, ValidQuery};
use crate::audit::stock_moves::{self, MAX_MOVES, MovesError, StockMove};
use crate::state::AppState;

/// Moves answered unless `limit` says otherwise.
const DEFAULT_MOVES: i64 = 200;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(latest_moves))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct MovesQuery {
    /// How many of the latest moves, 1 to 1000 (default 200).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<i64>,
}

impl QueryRules for MovesQuery {
    fn check(&self) -> Result<(), ApiError> {
        match self.limit {
            Some(limit) if !(1..=MAX_MOVES).contains(&limit) => Err(ApiError::malformed_field(
                "limit",
                &format!("must be 1 to {MAX_MOVES}"),
            )),
            _ => Ok(()),
        }
    }
}

/// The product's latest stock moves, oldest first, each with the stock on hand, reserved
/// and available right after it, and who caused it.
#[utoipa::path(get, path = "/api/v1/admin/products/{id}/stock/moves", tag = "audit",
    params(("id" = Uuid, Path, description = "the product"), MovesQuery),
    responses(
        (status = 200, description = "the moves", body = Envelope<Vec<StockMove>>),
        (status = 403, description = "not an operator token (40300)", body = ErrorBody),
        (status = 404, description = "no such product (40400)", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn latest_moves(
    State(state): State<AppState>,
    _admin: AdminUser,
    IdPath(id): IdPath,
    ValidQuery(query): ValidQuery<MovesQuery>,
) -> Result<Success<Vec<StockMove>>, ApiError> {
    let limit = query.limit.unwrap_or(DEFAULT_MOVES);
    match stock_moves::latest(&state.pool, id, limit).await {
        // Only a product without moves needs asking whether it exists at all.
        Ok(moves) if moves.is_empty() && state.write.product(id).await?.is_none() => {
            Err(ApiError::not_found("product"))
        }
        Ok(moves) => Ok(Success::ok(moves)),
        Err(MovesError::Database(db)) => Err(db.into()),
        Err(MovesError::Load(load)) => Err(load.into()),
        Err(err) => Err(ApiError::internal(&err)),
    }
}
