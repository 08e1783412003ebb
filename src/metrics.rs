//! Prometheus metrics: the recorder and the HTTP latency middleware (`/metrics` itself
//! is `http::metrics`).
//!
//! Counters and histograms are recorded where things happen (`metrics::counter!`); the
//! projection lag gauges are measured when `/metrics` is scraped.

use std::sync::OnceLock;
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Latency buckets, in seconds: 1 ms to 5 s.
const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

/// The process's recorder (installed once, shared by every app in the process).
pub fn handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        PrometheusBuilder::new()
            .set_buckets_for_metric(
                Matcher::Full("http_request_duration_seconds".to_owned()),
                LATENCY_BUCKETS,
            )
            .and_then(|builder| builder.install_recorder())
            .unwrap_or_else(|err| {
                // Another recorder was installed first: metrics still render, empty.
                tracing::warn!(%err, "metrics recorder not installed");
                PrometheusBuilder::new().build_recorder().handle()
            })
    })
}

/// Records every request's latency by method, route (the pattern, not the path, so ids
/// do not explode the label set) and status.
pub async fn track(request: Request, next: Next) -> Response {
    let started = Instant::now();
    // Bounded: a method a client invents is `other`, not a new label value.
    let method: &'static str = match request.method().as_str() {
        "GET" => "GET",
        "POST" => "POST",
        "PUT" => "PUT",
        "DELETE" => "DELETE",
        "PATCH" => "PATCH",
        "HEAD" => "HEAD",
        "OPTIONS" => "OPTIONS",
        _ => "other",
    };
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |path| path.as_str().to_owned());
    let response = next.run(request).await;
    metrics::histogram!(
        "http_request_duration_seconds",
        "method" => method,
        "route" => route,
        "status" => response.status().as_u16().to_string(),
    )
    .record(started.elapsed().as_secs_f64());
    response
}

/// Orders placed and refused (by reason) since this process started: the counters
/// `/metrics` exposes, read back from the same rendering, so the console and Prometheus
/// never disagree.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct OrderCounts {
    /// This server process, made up when it started: counters from different processes
    /// (behind a proxy) or from before a restart are not to be subtracted.
    pub process: String,
    pub placed: u64,
    /// Refusals by reason (`insufficient_stock`, `purchase_limit`, ...).
    pub refused: std::collections::BTreeMap<String, u64>,
}

impl OrderCounts {
    /// Read from Prometheus's text exposition.
    pub fn from_exposition(text: &str) -> Self {
        let mut counts = Self::default();
        for line in text.lines().filter(|line| !line.starts_with('#')) {
            let Some((series, value)) = line.rsplit_once(' ') else {
                continue;
            };
            let Ok(value) = value.parse::<f64>() else {
                continue;
            };
            // Counters are whole numbers, kept as f64 by the exposition.
            let value = value as u64;
            if series == "orders_placed_total" {
                counts.placed = value;
            } else if let Some(labels) = series.strip_prefix("orders_refused_total{")
                && let Some(reason) = labels
                    .strip_prefix("reason=\"")
                    .and_then(|rest| rest.strip_suffix("\"}"))
            {
                counts.refused.insert(reason.to_owned(), value);
            }
        }
        counts
    }

    pub fn now() -> Self {
        static PROCESS: OnceLock<String> = OnceLock::new();
        Self {
            process: PROCESS
                .get_or_init(|| uuid::Uuid::new_v4().to_string())
                .clone(),
            ..Self::from_exposition(&handle().render())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_counts_are_read_from_the_exposition() {
        let text = "# TYPE orders_placed_total counter\norders_placed_total 42\n\
                    orders_refused_total{reason=\"insufficient_stock\"} 3\n\
                    orders_refused_total{reason=\"purchase_limit\"} 1\n\
                    orders_placed_totally 9\nhttp_requests 5\n";
        let counts = OrderCounts::from_exposition(text);
        assert_eq!(counts.placed, 42);
        assert_eq!(
            counts.refused.into_iter().collect::<Vec<_>>(),
            [
                ("insufficient_stock".to_owned(), 3),
                ("purchase_limit".to_owned(), 1)
            ]
        );
    }
}
