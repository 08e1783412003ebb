//! Dev mode nobody asked for (the embedded database on a loopback address) stays on this
//! machine: through a proxy (nginx on the same host forwarding to 127.0.0.1), dev logins
//! and simulated payments are refused naming `ORDO_DEV`; asked for, they work as before.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::wechat_pay::dev_mode_settings;
use crate::support::{Client, TestApp, address, spawn_app_with};

/// A dev-mode app: on only by default (`ORDO_DEV` unset), or asked for.
async fn dev_app(by_default: bool) -> TestApp {
    spawn_app_with(ordo::state::AppSettings {
        dev_mode_by_default: by_default,
        ..dev_mode_settings()
    })
    .await
}

/// POSTs `body` to `path` as `caller`, adding `header` when given (as a proxy would).
async fn post(
    caller: &Client,
    path: &str,
    header: Option<(&str, &str)>,
    body: &Value,
) -> (StatusCode, Value) {
    let mut request = caller.request(Method::POST, path).json(body);
    if let Some((name, value)) = header {
        request = request.header(name, value);
    }
    caller.send(request).await.into_parts()
}

async fn dev_login(app: &TestApp, header: Option<(&str, &str)>) -> (StatusCode, Value) {
    let login = json!({"code": "dev:mei"});
    post(&app.anon(), "/api/v1/auth/wechat-login", header, &login).await
}

fn names_ordo_dev(answer: &Value) -> bool {
    answer["message"]
        .as_str()
        .is_some_and(|message| message.contains("ORDO_DEV"))
}

#[tokio::test]
async fn a_default_dev_server_refuses_a_dev_login_through_a_proxy_naming_ordo_dev() {
    let app = dev_app(true).await;

    for header in [
        ("x-forwarded-for", "203.0.113.7"),
        ("forwarded", "for=203.0.113.7;proto=https"),
    ] {
        let (status, answer) = dev_login(&app, Some(header)).await;

        assert_eq!(status, StatusCode::FORBIDDEN, "{header:?}: {answer}");
        assert_eq!(answer["code"], 40300);
        assert!(names_ordo_dev(&answer), "{answer}");
    }
    assert_eq!(
        app.count_events("UserRegistered").await,
        0,
        "nobody registered"
    );
}

#[tokio::test]
async fn a_default_dev_server_logs_in_with_a_dev_code_from_this_machine() {
    let app = dev_app(true).await;

    let (status, answer) = dev_login(&app, None).await;

    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(app.count_events("UserRegistered").await, 1);
}

#[tokio::test]
async fn a_default_dev_server_refuses_a_simulated_payment_through_a_proxy() {
    let app = dev_app(true).await;
    let (status, login) = dev_login(&app, None).await;
    assert_eq!(status, StatusCode::OK, "{login}");
    let mei = app.with_token(login["data"]["access_token"].as_str().expect("token"));
    let tea = app.admin().create_product("Oolong", 4_800, 5).await;
    let order = json!({"lines": [{"product_id": tea, "quantity": 1}], "address": address()});
    let (status, placed) = post(&mei, "/api/v1/orders", None, &order).await;
    assert_eq!(status, StatusCode::CREATED, "{placed}");
    let id = placed["data"]["id"].as_str().expect("order id");
    let simulate = format!("/api/v1/dev/orders/{id}/simulate-payment");
    let proxied = Some(("x-forwarded-for", "203.0.113.7"));

    let (status, refused) = post(&mei, &simulate, proxied, &json!({})).await;

    assert_eq!(status, StatusCode::FORBIDDEN, "{refused}");
    assert!(names_ordo_dev(&refused), "{refused}");
    assert_eq!(app.count_events("OrderPaid").await, 0, "nothing paid");
    let (status, paid) = post(&mei, &simulate, None, &json!({})).await;
    assert_eq!(status, StatusCode::OK, "from this machine: {paid}");
    assert_eq!(app.count_events("OrderPaid").await, 1);
}

#[tokio::test]
async fn with_ordo_dev_asked_for_a_dev_login_through_a_proxy_works() {
    let app = dev_app(false).await;

    let (status, answer) = dev_login(&app, Some(("x-forwarded-for", "203.0.113.7"))).await;

    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(app.count_events("UserRegistered").await, 1);
}

#[tokio::test]
async fn with_dev_logins_asked_for_a_dev_login_through_a_proxy_works() {
    // ORDO_DEV_LOGIN=true asks for dev logins, whatever dev mode's default.
    let app = spawn_app_with(ordo::state::AppSettings {
        dev_mode_by_default: true,
        dev_login: true,
        ..dev_mode_settings()
    })
    .await;

    let (status, answer) = dev_login(&app, Some(("x-forwarded-for", "203.0.113.7"))).await;

    assert_eq!(status, StatusCode::OK, "{answer}");
}
