//! The operators' and auditors' console at `/console/`: one page and its script and
//! style, compiled into the binary, so it works offline and loads nothing from other
//! hosts (its Content-Security-Policy lets the browser fetch only from ordo itself).
//! Everything it shows comes from the admin API, called with the operator's token.

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;

/// Where the console is served.
pub const PATH: &str = "/console/";

const JAVASCRIPT: &str = "text/javascript; charset=utf-8";

/// A script of the console, by its file name under `assets/`.
macro_rules! script {
    ($name:literal) => {
        ($name, JAVASCRIPT, include_str!(concat!("assets/", $name)))
    };
}

/// The console's files: name, type, content. The page loads the scripts in this order:
/// the API and page helpers first, a script per view, then the one that starts it all.
const ASSETS: [(&str, &str, &str); 15] = [
    (
        "index.html",
        "text/html; charset=utf-8",
        include_str!("assets/index.html"),
    ),
    (
        "console.css",
        "text/css; charset=utf-8",
        include_str!("assets/console.css"),
    ),
    script!("api.js"),
    script!("page.js"),
    script!("charts.js"),
    script!("health.js"),
    script!("orders.js"),
    script!("shop.js"),
    script!("after_sales.js"),
    script!("stock.js"),
    script!("audit.js"),
    script!("payments.js"),
    script!("reconciliation.js"),
    script!("platform.js"),
    script!("start.js"),
];

/// Only ordo itself: scripts, styles and API calls from this origin, nothing inline that
/// an injected string could become, no frames around it, no forms posting elsewhere.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; img-src 'self' data: blob:; connect-src 'self'; base-uri 'none'; \
     form-action 'none'; frame-ancestors 'none'";

pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/console", get(|| async { Redirect::permanent(PATH) }))
        .route(PATH, get(|| async { asset("index.html") }))
        .route(
            "/console/{file}",
            get(|Path(file): Path<String>| async move { asset(&file) }),
        )
}

/// Every file the console consists of, for tests that read them all.
pub fn assets() -> impl Iterator<Item = (&'static str, &'static str)> {
    ASSETS.iter().map(|(name, _, content)| (*name, *content))
}

fn asset(name: &str) -> Response {
    let Some((_, content_type, content)) = ASSETS.iter().find(|(file, ..)| *file == name) else {
        return (StatusCode::NOT_FOUND, "no such console file").into_response();
    };
    let mut response = (*content).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    // Small and changed by an upgrade: revalidated each time (compressed on the way).
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    // The address holds the token's fragment only until the script takes it; nothing
    // leaves with a referrer either way.
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_loads_every_script_in_order_and_nothing_else() {
        let page = include_str!("assets/index.html");
        let loaded: Vec<&str> = page
            .split("<script src=\"")
            .skip(1)
            .filter_map(|tail| tail.split('"').next())
            .collect();
        let scripts: Vec<&str> = ASSETS
            .iter()
            .filter(|(_, content_type, _)| *content_type == JAVASCRIPT)
            .map(|(name, ..)| *name)
            .collect();
        assert_eq!(loaded, scripts);
    }
}
