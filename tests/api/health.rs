//! The service endpoints.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::support::{Client, spawn_app};

#[tokio::test]
async fn healthz_answers_up_in_the_envelope() {
    let app = spawn_app().await;

    let (status, body) = app.anon().get("/healthz").await.into_parts();

    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        json!({"code": 0, "message": "ok", "data": {"status": "up"}})
    );
}

#[tokio::test]
async fn readyz_is_ready_once_the_database_is_migrated() {
    let app = spawn_app().await;

    let (status, body) = app.anon().get("/readyz").await.into_parts();

    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["data"]["status"], "ready");
    assert_eq!(body["data"]["pending_migrations"], 0);
}

#[tokio::test]
async fn readyz_is_unavailable_with_retry_after_when_migrations_are_missing() {
    let app = spawn_app().await;
    sqlx::query("DELETE FROM _sqlx_migrations")
        .execute(&app.pool)
        .await
        .expect("forget the applied migrations");

    let response = app
        .anon()
        .request(Method::GET, "/readyz")
        .send()
        .await
        .expect("request");

    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(response.headers().contains_key("retry-after"));
    let body: serde_json::Value = response.json().await.expect("json");
    assert_eq!(body["code"], 50300);
    assert!(
        body["data"]["pending_migrations"].as_u64() >= Some(1),
        "{body}"
    );
}

#[tokio::test]
async fn an_unknown_path_is_a_404_in_the_envelope() {
    let app = spawn_app().await;

    let (status, body) = app.anon().get("/api/v1/nothing-here").await.into_parts();

    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["code"], 40400);
    assert_eq!(body["message"], "no route for /api/v1/nothing-here");
}

#[tokio::test]
async fn an_oversized_body_is_refused_with_413_in_the_envelope() {
    let app = spawn_app().await;
    let huge = format!(
        "{{\"remark\": \"{}\"}}",
        "x".repeat(ordo::http::MAX_BODY_BYTES + 1)
    );

    let response = app
        .user("u1")
        .request(Method::POST, "/api/v1/orders")
        .header("content-type", "application/json")
        .body(huge)
        .send()
        .await
        .expect("request");

    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let body: serde_json::Value = response.json().await.expect("json");
    assert_eq!(body["code"], 41300);
}

#[tokio::test]
async fn every_answer_carries_a_request_id_and_keeps_the_clients() {
    let app = spawn_app().await;

    let generated = app
        .anon()
        .request(Method::GET, "/healthz")
        .send()
        .await
        .expect("get");
    let given = app
        .anon()
        .request(Method::GET, "/healthz")
        .header("x-request-id", "trace-me-42")
        .send()
        .await
        .expect("get");

    assert!(
        generated
            .headers()
            .get("x-request-id")
            .is_some_and(|id| !id.is_empty())
    );
    assert_eq!(given.headers()["x-request-id"], "trace-me-42");
}

#[tokio::test]
async fn metrics_show_request_latency_orders_and_projection_lag() {
    let app = spawn_app().await;
    let tea = app.admin().create_product("Tea", 500, 1).await;
    app.user("u1").place_order(&[(tea, 1)]).await;
    app.user("u2").place_order(&[(tea, 1)]).await;

    let text = app.metrics().await;
    for expected in [
        "http_request_duration_seconds_bucket",
        "route=\"/api/v1/orders\"",
        "orders_placed_total",
        "orders_refused_total{reason=\"insufficient_stock\"}",
        "projection_lag_events{projection=\"orders\"}",
    ] {
        assert!(text.contains(expected), "{expected} missing from:\n{text}");
    }
}

#[tokio::test]
async fn a_user_or_an_address_over_its_rate_gets_429_with_retry_after() {
    use ordo::rate_limit::{Rate, RateLimits};
    let app = crate::support::spawn_app_with(ordo::state::AppSettings {
        dev_mode: true,
        rate_limits: RateLimits {
            per_ip: Some(Rate {
                per_second: 1,
                burst: 3,
            }),
            per_user: Some(Rate {
                per_second: 1,
                burst: 2,
            }),
            login_per_ip: None,
        },
        ..Default::default()
    })
    .await;
    let get = |caller: Client| async move {
        caller
            .send_raw(caller.request(Method::GET, "/api/v1/products"))
            .await
    };

    // Requests go at once: one a second refills, and a loaded machine can space
    // requests sent in a row a second apart.
    let eager = app.user("eager");
    let (a, b, c) = tokio::join!(get(eager.clone()), get(eager.clone()), get(eager.clone()));
    let mut statuses = [a, b, c].map(|answer| answer.status().as_u16());
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 200, 429], "the user's burst is 2");

    // The address allows 3 in all, and they are spent: anonymous requests too are refused.
    let (a, b, c) = tokio::join!(get(app.anon()), get(app.anon()), get(app.anon()));
    let limited = [a, b, c]
        .into_iter()
        .find(|answer| answer.status() == StatusCode::TOO_MANY_REQUESTS)
        .expect("the address's allowance is spent");
    assert!(limited.headers().contains_key("retry-after"));
    let body: serde_json::Value = limited.json().await.expect("json");
    assert_eq!(body["code"], 42900);
}

#[tokio::test]
async fn a_configured_browser_origin_passes_cors_and_another_does_not() {
    let app = crate::support::spawn_app_with(ordo::state::AppSettings {
        cors_origins: vec!["https://console.example".into()],
        ..Default::default()
    })
    .await;
    let browser = app.anon();
    let preflight = |origin: &'static str| {
        browser
            .request(Method::OPTIONS, "/api/v1/orders")
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "authorization,content-type",
            )
            .send()
    };

    let allowed = preflight("https://console.example")
        .await
        .expect("preflight");
    let refused = preflight("https://evil.example").await.expect("preflight");

    assert_eq!(
        allowed.headers()["access-control-allow-origin"],
        "https://console.example"
    );
    assert!(
        !refused
            .headers()
            .contains_key("access-control-allow-origin")
    );
}

#[tokio::test]
async fn while_the_database_is_down_answers_are_503_and_service_resumes_without_a_restart() {
    use ordo::embedded_postgres::{Durability, EmbeddedPostgres};
    // A database server of this test's own, to stop and start.
    let mut server = tokio::task::spawn_blocking(EmbeddedPostgres::start_throwaway)
        .await
        .expect("task")
        .expect("own PostgreSQL");
    let options = server.connect_options("postgres");
    let pool = ordo::database::connect(options, 4).await.expect("pool");
    ordo::database::migrate(&pool).await.expect("migrate");
    let app = crate::support::spawn_app_on(pool).await;
    let get = |path: &'static str| {
        let request = app.anon().request(Method::GET, path);
        async move { request.send().await.expect("request") }
    };
    assert_eq!(get("/api/v1/products").await.status(), StatusCode::OK);

    let mut server = tokio::task::spawn_blocking(move || {
        server.stop().expect("stop PostgreSQL");
        server
    })
    .await
    .expect("task");
    let down = get("/api/v1/products").await;
    assert_eq!(down.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(down.headers().contains_key("retry-after"));
    let body: serde_json::Value = down.json().await.expect("json");
    assert_eq!(body["code"], 50300);
    assert_eq!(
        get("/readyz").await.status(),
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert_eq!(
        get("/healthz").await.status(),
        StatusCode::OK,
        "the process is still up"
    );

    let _server = tokio::task::spawn_blocking(move || {
        server
            .start_again(Durability::Throwaway)
            .expect("start again");
        server
    })
    .await
    .expect("task");
    let mut status = StatusCode::SERVICE_UNAVAILABLE;
    for _ in 0..100 {
        status = get("/api/v1/products").await.status();
        if status == StatusCode::OK {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(status, StatusCode::OK, "served again without a restart");
}
