//! With a read replica: after a signed-in caller's successful write, remembers where the
//! primary's WAL was, so that caller's next reads wait for the replica to replay it (or
//! read the primary). Without one it does nothing. Webhooks (WeChat's notices) carry no
//! caller: the shopper's reads see them once the replica replays them, within its
//! allowed lag. The router adds it only when a replica is configured.

use axum::extract::{Request, State};
use axum::http::Method;
use axum::http::header::AUTHORIZATION;
use axum::middleware::Next;
use axum::response::Response;

use crate::state::AppState;

pub async fn remember(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let Some(replica) = state.reads.replica() else {
        return next.run(request).await;
    };
    if matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    ) {
        return next.run(request).await;
    }
    // The caller as their token names them; one the handler refuses writes nothing.
    let caller = request
        .headers()
        .get(AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .and_then(|token| state.jwt.verify(token.trim()).ok())
        .map(|claims| claims.sub);
    let response = next.run(request).await;
    if let Some(caller) = caller
        && response.status().is_success()
    {
        replica.wrote(&caller).await;
    }
    response
}
