//! Dev mode that nobody asked for stays on this machine. With the embedded database on a
//! loopback address, dev mode is the default, which is right for a developer's laptop and
//! wrong for the natural one-host production setup: nginx on the same host forwarding to
//! ordo on 127.0.0.1. There, dev logins (unlimited accounts) and simulated payments would
//! answer anyone on the internet. A request that came through a proxy says so in its
//! headers, so the dev-only paths refuse it unless dev mode was asked for (`ORDO_DEV=true`).

use axum::http::HeaderMap;

use crate::http::error::ApiError;

/// Headers a reverse proxy adds: their presence means the caller is not on this machine.
const PROXY_HEADERS: [&str; 3] = ["x-forwarded-for", "forwarded", "x-real-ip"];

/// Refuses `what` (a dev-only feature) with a 403 naming `ORDO_DEV` when dev mode is on
/// only `by_default` and the request came through a proxy.
pub fn refuse_through_proxy(
    by_default: bool,
    headers: &HeaderMap,
    what: &str,
) -> Result<(), ApiError> {
    let Some(header) = PROXY_HEADERS
        .into_iter()
        .find(|name| headers.contains_key(*name))
    else {
        return Ok(());
    };
    if !by_default {
        return Ok(());
    }
    Err(ApiError::forbidden(format!(
        "{what} answer only on this machine: dev mode is on by default (embedded database \
         on a loopback address) and this request came through a proxy ({header}). \
         Set ORDO_DEV=true to use dev mode through a proxy, or ORDO_DEV=false for production"
    )))
}
