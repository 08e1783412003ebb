//! Logins cannot be used against the mini program's WeChat quota: each login with a
//! WeChat code costs a `jscode2session` call, so an address gets few of them, few wait
//! for WeChat at once, and WeChat's own refusals become clear answers.

use std::time::Duration;

use ordo::rate_limit::{LoginRate, RateLimits};
use ordo::secret::Secret;
use ordo::state::AppSettings;
use ordo::wechat::WeChatConfig;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use wiremock::matchers::{any, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::{TestApp, spawn_app_with};

/// WeChat, knowing every code as the user `openid-<code>`, after `delay`.
async fn wechat(delay: Duration) -> MockServer {
    let wechat = MockServer::start().await;
    Mock::given(any())
        .respond_with(move |request: &wiremock::Request| {
            let code = request
                .url
                .query_pairs()
                .find(|(name, _)| name == "js_code")
                .map(|(_, code)| code.into_owned())
                .unwrap_or_default();
            ResponseTemplate::new(200)
                .set_delay(delay)
                .set_body_json(json!({"openid": format!("openid-{code}"), "session_key": "k"}))
        })
        .mount(&wechat)
        .await;
    wechat
}

/// An app using `wechat`, behind a proxy on 127.0.0.1 (so each test names its shoppers'
/// addresses), with dev logins and this login allowance and cap.
async fn app(wechat: &MockServer, login: Option<LoginRate>, max_in_flight: u32) -> TestApp {
    spawn_app_with(AppSettings {
        dev_login: true,
        wechat: WeChatConfig {
            base_url: wechat.uri(),
            app_id: Some("wx-app".into()),
            app_secret: Some(Secret::new("app-secret")),
            max_in_flight,
            ..WeChatConfig::default()
        },
        rate_limits: RateLimits {
            login_per_ip: login,
            ..RateLimits::default()
        },
        trusted_proxies: vec!["127.0.0.1/32".parse().expect("a CIDR block")],
        ..AppSettings::default()
    })
    .await
}

/// Logs in with `code` from the shopper at `address`: status, body and `Retry-After`.
async fn login_from(
    app: &TestApp,
    address: &str,
    code: &str,
) -> (StatusCode, Value, Option<String>) {
    let response = app
        .anon()
        .request(Method::POST, "/api/v1/auth/wechat-login")
        .header("x-forwarded-for", address)
        .json(&json!({"code": code}))
        .send()
        .await
        .expect("the request reaches the app");
    let status = response.status();
    let retry_after = response
        .headers()
        .get("retry-after")
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    (status, response.json().await.expect("json"), retry_after)
}

async fn calls(wechat: &MockServer) -> usize {
    wechat
        .received_requests()
        .await
        .map_or(0, |requests| requests.len())
}

#[tokio::test]
async fn an_address_past_its_login_allowance_gets_429_and_wechat_is_not_called() {
    let wechat = wechat(Duration::ZERO).await;
    let allowance = LoginRate {
        per_minute: 1,
        burst: 2,
    };
    let app = app(&wechat, Some(allowance), 32).await;

    for code in ["code-1", "code-2"] {
        let (status, body, _) = login_from(&app, "203.0.113.1", code).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let (status, body, retry_after) = login_from(&app, "203.0.113.1", "code-3").await;

    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert_eq!(body["code"], 42900);
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.contains("logins")),
        "{body}"
    );
    assert!(retry_after.is_some_and(|seconds| seconds.parse::<u64>().is_ok_and(|s| s >= 1)));
    assert_eq!(
        calls(&wechat).await,
        2,
        "the refused login never reached WeChat"
    );
    let (status, body, _) = login_from(&app, "203.0.113.2", "code-4").await;
    assert_eq!(
        status,
        StatusCode::OK,
        "another address has its own: {body}"
    );
    let (status, body, _) = login_from(&app, "203.0.113.1", "dev:mei").await;
    assert_eq!(
        status,
        StatusCode::OK,
        "a dev login costs WeChat nothing: {body}"
    );
    assert_eq!(calls(&wechat).await, 3);
}

#[tokio::test]
async fn the_addresses_of_one_ipv6_64_share_one_login_allowance() {
    let wechat = wechat(Duration::ZERO).await;
    let allowance = LoginRate {
        per_minute: 1,
        burst: 2,
    };
    let app = app(&wechat, Some(allowance), 32).await;

    let (first, ..) = login_from(&app, "2001:db8:0:7::1", "code-1").await;
    let (second, ..) = login_from(&app, "2001:db8:0:7::2", "code-2").await;
    let (third, body, _) = login_from(&app, "2001:db8:0:7:ffff::3", "code-3").await;
    let (elsewhere, ..) = login_from(&app, "2001:db8:0:8::1", "code-4").await;

    assert_eq!((first, second), (StatusCode::OK, StatusCode::OK));
    assert_eq!(third, StatusCode::TOO_MANY_REQUESTS, "same /64: {body}");
    assert_eq!(elsewhere, StatusCode::OK, "another /64");
    assert_eq!(calls(&wechat).await, 3);
}

#[tokio::test]
async fn logins_past_the_calls_in_flight_are_refused_at_once_without_calling_wechat() {
    let wechat = wechat(Duration::from_millis(1_500)).await;
    let app = app(&wechat, None, 1).await;

    let (slow, quick) = tokio::join!(login_from(&app, "203.0.113.1", "code-1"), async {
        // The first login is waiting for WeChat by now.
        tokio::time::sleep(Duration::from_millis(500)).await;
        login_from(&app, "203.0.113.2", "code-2").await
    });

    assert_eq!(slow.0, StatusCode::OK, "{}", slow.1);
    assert_eq!(quick.0, StatusCode::TOO_MANY_REQUESTS, "{}", quick.1);
    assert_eq!(quick.1["code"], 42900);
    assert_eq!(quick.2.as_deref(), Some("1"), "retry in a second");
    assert_eq!(calls(&wechat).await, 1);
    let (status, body, _) = login_from(&app, "203.0.113.2", "code-2").await;
    assert_eq!(status, StatusCode::OK, "once the first answered: {body}");
}

#[tokio::test]
async fn wechats_quota_and_code_refusals_become_clear_429_and_401_answers() {
    let wechat = MockServer::start().await;
    for (code, errcode, errmsg) in [
        ("spent", 45011, "api minute-quota reach limit"),
        ("invalid", 40029, "invalid code"),
        ("used", 40163, "code been used"),
    ] {
        Mock::given(query_param("js_code", code))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_json(json!({"errcode": errcode, "errmsg": errmsg})),
            )
            .mount(&wechat)
            .await;
    }
    let app = app(&wechat, None, 32).await;

    let (status, body, retry_after) = login_from(&app, "203.0.113.1", "spent").await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert_eq!(body["code"], 42900);
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.contains("45011")),
        "{body}"
    );
    assert_eq!(retry_after.as_deref(), Some("10"));

    let (status, body, _) = login_from(&app, "203.0.113.1", "invalid").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(body["code"], 40100);
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.contains("invalid")),
        "{body}"
    );

    let (status, body, _) = login_from(&app, "203.0.113.1", "used").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.contains("already used")),
        "{body}"
    );
    assert_eq!(app.count_events("UserRegistered").await, 0);
}
