//! The subscribe messages a shopper accepted in `wx.requestSubscribeMessage`: each
//! acceptance lets ordo send one message of that template (paid, shipped, refunded).

use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::http::envelope::{Envelope, ErrorBody, Success};
use crate::http::error::ApiError;
use crate::http::extract::caller::AuthUser;
use crate::http::extract::json::JsonBody;
use crate::state::AppState;
use aggregates::FieldError;

/// The most template ids one request names (WeChat asks at most three at once).
const MAX_TEMPLATES: usize = 10;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(accept))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct SubscriptionsRequest {
    /// The templates the shopper just accepted (`accept` in the answer of
    /// `wx.requestSubscribeMessage`), 1 to 10.
    #[schema(min_items = 1, max_items = 10)]
    template_ids: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
struct Subscriptions {
    /// The shop's templates among them, each with how many messages of it ordo may now
    /// send the shopper.
    accepted: Vec<Accepted>,
    /// Templates the shop does not send (no acceptance recorded).
    ignored: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
struct Accepted {
    template_id: String,
    remaining: i32,
}

/// Records the subscribe messages the shopper just accepted.
#[utoipa::path(post, path = "/api/v1/me/subscriptions", tag = "me",
    request_body = SubscriptionsRequest,
    responses(
        (status = 200, description = "what ordo may now send", body = Envelope<Subscriptions>),
        (status = 404, description = "an operator token names no user (40400)", body = ErrorBody),
        (status = 422, description = "no template id, too many, or a blank one, named (42200)", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn accept(
    State(state): State<AppState>,
    user: AuthUser,
    JsonBody(body): JsonBody<SubscriptionsRequest>,
) -> Result<Success<Subscriptions>, ApiError> {
    let user_id = uuid::Uuid::parse_str(user.id()).map_err(|_| ApiError::not_found("user"))?;
    let count = body.template_ids.len();
    if count == 0 || count > MAX_TEMPLATES {
        return Err(ApiError::invalid(vec![FieldError::new(
            "template_ids",
            format!("must name 1 to {MAX_TEMPLATES} templates"),
        )]));
    }
    if let Some(blank) = body
        .template_ids
        .iter()
        .position(|id| id.trim().is_empty() || id.len() > 128)
    {
        return Err(ApiError::invalid(vec![FieldError::new(
            format!("template_ids[{blank}]"),
            "must be a template id (1 to 128 characters)",
        )]));
    }
    let mut ids: Vec<String> = body
        .template_ids
        .into_iter()
        .map(|id| id.trim().to_owned())
        .collect();
    // One acceptance per template per request (wx.requestSubscribeMessage asks each once).
    ids.sort();
    ids.dedup();
    let (known, ignored): (Vec<String>, Vec<String>) =
        ids.into_iter().partition(|id| state.messages.knows(id));
    let accepted = state
        .acceptances
        .accept(&user_id.to_string(), &known)
        .await?
        .into_iter()
        .map(|(template_id, remaining)| Accepted {
            template_id,
            remaining,
        })
        .collect();
    Ok(Success::ok(Subscriptions { accepted, ignored }))
}
