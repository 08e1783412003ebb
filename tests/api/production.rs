//! What a public server shows to whom: `/metrics` behind its token, label values a
//! client cannot multiply, and `/readyz`'s reasons only for the machine itself and
//! operators.

use ordo::secret::Secret;
use ordo::state::AppSettings;
use reqwest::StatusCode;

use crate::support::{Client, TestApp, spawn_app_with};

async fn app(metrics_token: Option<&str>) -> TestApp {
    spawn_app_with(AppSettings {
        dev_mode: true,
        metrics_token: metrics_token.map(Secret::new),
        // The tests' requests come from 127.0.0.1: here, a proxy, so a shopper's
        // address can be named with X-Forwarded-For.
        trusted_proxies: vec!["127.0.0.1/32".parse().expect("a CIDR block")],
        ..AppSettings::default()
    })
    .await
}

#[tokio::test]
async fn metrics_need_their_token_when_one_is_set() {
    let app = app(Some("scrape-me")).await;
    let metrics = |token: Option<&'static str>| {
        let scraper = match token {
            Some(token) => app.with_token(token),
            None => app.anon(),
        };
        async move { scraper.get("/metrics").await.status }
    };

    assert_eq!(metrics(None).await, StatusCode::UNAUTHORIZED);
    assert_eq!(metrics(Some("guess")).await, StatusCode::UNAUTHORIZED);
    assert_eq!(metrics(Some("scrape-me")).await, StatusCode::OK);
}

#[tokio::test]
async fn an_invented_method_is_counted_as_other() {
    let app = app(None).await;
    let brew = reqwest::Method::from_bytes(b"BREWCOFFEE").expect("a method");
    let anon = app.anon();
    let answer = anon.send_raw(anon.request(brew, "/api/v1/products")).await;
    assert!(answer.status().is_client_error());

    let metrics = app.metrics().await;
    assert!(
        !metrics.contains("BREWCOFFEE"),
        "the label took the client's method"
    );
    assert!(metrics.contains("method=\"other\""), "{metrics}");
}

#[tokio::test]
async fn readiness_reasons_are_for_this_machine_and_operators_only() {
    let app = app(None).await;
    let ready = |forwarded_for: Option<&'static str>, caller: Client| {
        let mut request = caller.request(reqwest::Method::GET, "/readyz");
        if let Some(address) = forwarded_for {
            request = request.header("x-forwarded-for", address);
        }
        async move {
            let response = caller.send_raw(request).await;
            assert_eq!(response.status(), StatusCode::OK);
            response.json::<serde_json::Value>().await.expect("json")["data"].clone()
        }
    };

    let local = ready(None, app.anon()).await;
    assert_eq!(local["database"], "reachable", "{local}");
    let public = ready(Some("203.0.113.9"), app.anon()).await;
    assert_eq!(public, serde_json::json!({"status": "ready"}));
    let shopper = ready(Some("203.0.113.9"), app.user("mei")).await;
    assert_eq!(shopper, serde_json::json!({"status": "ready"}));
    let operator = ready(Some("203.0.113.9"), app.admin()).await;
    assert_eq!(operator["pending_migrations"], 0, "{operator}");
}
