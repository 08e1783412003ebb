//! Logging in (WeChat faked over real HTTP, and dev codes), sessions, and every way an
//! access token is refused.

use std::time::Duration;

use jsonwebtoken::{EncodingKey, Header};
use ordo::secret::Secret;
use ordo::state::AppSettings;
use ordo::wechat::WeChatConfig;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::{TestApp, spawn_app, spawn_app_on, spawn_app_with};

async fn login(app: &TestApp, code: &str) -> (StatusCode, Value) {
    let answer = app
        .anon()
        .post("/api/v1/auth/wechat-login", &json!({"code": code}))
        .await;
    (answer.status, answer.body)
}

async fn get_with(app: &TestApp, path: &str, token: &str) -> StatusCode {
    app.with_token(token).get(path).await.status
}

/// An app whose WeChat is `wechat`, outside dev mode.
async fn app_with_wechat(wechat: &MockServer) -> TestApp {
    spawn_app_with(AppSettings {
        wechat: WeChatConfig {
            base_url: wechat.uri(),
            app_id: Some("wx-app".into()),
            app_secret: Some(Secret::new("app-secret")),
            // Short, yet well above a loaded 2-core machine's answer time; the slow
            // answer below takes 2 s.
            timeout: Duration::from_secs(1),
            ..WeChatConfig::default()
        },
        ..AppSettings::default()
    })
    .await
}

#[tokio::test]
async fn a_wechat_login_registers_a_new_user_and_finds_them_again() {
    let wechat = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/sns/jscode2session"))
        .and(query_param("appid", "wx-app"))
        .and(query_param("secret", "app-secret"))
        .and(query_param("js_code", "code-1"))
        .and(query_param("grant_type", "authorization_code"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"openid": "openid-1", "session_key": "never-kept"})),
        )
        .expect(2)
        .mount(&wechat)
        .await;
    let app = app_with_wechat(&wechat).await;

    let (status, first) = login(&app, "code-1").await;
    assert_eq!(status, StatusCode::OK, "{first}");
    let (_, again) = login(&app, "code-1").await;

    let data = &first["data"];
    assert_eq!(data["token_type"], "Bearer");
    assert_eq!(data["expires_in"], 7_200);
    assert_eq!(data["user"]["nickname"], "WeChat user");
    assert_eq!(
        again["data"]["user"]["id"], data["user"]["id"],
        "a returning user"
    );
    assert_eq!(app.count_events("UserRegistered").await, 1);
    let stored: i64 =
        sqlx::query_scalar("SELECT count(*) FROM events WHERE payload::text LIKE '%never-kept%'")
            .fetch_one(&app.pool)
            .await
            .expect("count");
    assert_eq!(stored, 0, "the session key is not stored");
    let access = data["access_token"].as_str().expect("token");
    assert_eq!(get_with(&app, "/api/v1/me", access).await, StatusCode::OK);
}

#[tokio::test]
async fn wechat_errors_become_clear_answers() {
    let wechat = MockServer::start().await;
    Mock::given(query_param("js_code", "used"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"errcode": 40029, "errmsg": "invalid code"})),
        )
        .mount(&wechat)
        .await;
    Mock::given(query_param("js_code", "busy"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"errcode": -1, "errmsg": "system busy"})),
        )
        .mount(&wechat)
        .await;
    Mock::given(query_param("js_code", "slow"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_delay(Duration::from_secs(2))
                .set_body_json(json!({"openid": "x"})),
        )
        .mount(&wechat)
        .await;
    let app = app_with_wechat(&wechat).await;

    let (status, body) = login(&app, "used").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    let (status, body) = login(&app, "busy").await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{body}");
    assert_eq!(body["code"], 50200);
    let (status, body) = login(&app, "slow").await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{body}");
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.contains("in time")),
        "{body}"
    );
    assert!(
        !body.to_string().contains("app-secret"),
        "the app secret never leaks"
    );
    let (status, body) = login(&app, "dev:mallory").await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "dev codes outside dev mode: {body}"
    );
    let (status, _) = login(&app, "").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(app.count_events("UserRegistered").await, 0);
}

#[tokio::test]
async fn a_dev_login_and_the_profile() {
    let app = spawn_app().await;
    let (status, body) = login(&app, "dev:mei").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let token = body["data"]["access_token"]
        .as_str()
        .expect("token")
        .to_owned();
    let mei = app.with_token(&token);

    let response = mei
        .request(Method::PUT, "/api/v1/me")
        .json(&json!({"phone": "+8613800000000", "avatar_url": "https://img.example/mei.png"}))
        .send()
        .await
        .expect("put");
    assert_eq!(response.status(), StatusCode::OK);
    let me: Value = mei
        .request(Method::GET, "/api/v1/me")
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    assert_eq!(me["data"]["nickname"], "mei");
    assert_eq!(me["data"]["phone"], "+8613800000000");
    let bad = mei
        .request(Method::PUT, "/api/v1/me")
        .json(&json!({"phone": "call me"}))
        .send()
        .await
        .expect("put");
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn a_session_id_alone_cannot_end_a_session() {
    let app = spawn_app().await;
    let (_, body) = login(&app, "dev:victim").await;
    let refresh_token = body["data"]["refresh_token"]
        .as_str()
        .expect("refresh")
        .to_owned();
    let (status, body) = app
        .anon()
        .post(
            "/api/v1/auth/refresh",
            &json!({"refresh_token": refresh_token}),
        )
        .await
        .into_parts();
    assert_eq!(status, StatusCode::OK, "{body}");
    let current = body["data"]["refresh_token"]
        .as_str()
        .expect("refresh")
        .to_owned();
    let access = body["data"]["access_token"]
        .as_str()
        .expect("access")
        .to_owned();
    let session_id = current.split('.').next().expect("session id");

    // An attacker who learned the session id makes up tokens of earlier generations.
    for generation in [0, 1] {
        let forged = format!("{session_id}.{generation}.made-up-secret");
        let (status, _) = app
            .anon()
            .post("/api/v1/auth/refresh", &json!({"refresh_token": forged}))
            .await
            .into_parts();
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }

    assert_eq!(
        get_with(&app, "/api/v1/me", &access).await,
        StatusCode::OK,
        "the victim's session lives on"
    );
    let (status, body) = app
        .anon()
        .post("/api/v1/auth/refresh", &json!({"refresh_token": current}))
        .await
        .into_parts();
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn refresh_tokens_rotate_and_a_reused_one_revokes_the_session() {
    let app = spawn_app().await;
    let (_, body) = login(&app, "dev:rotating").await;
    let first_refresh = body["data"]["refresh_token"]
        .as_str()
        .expect("refresh")
        .to_owned();
    let first_access = body["data"]["access_token"]
        .as_str()
        .expect("access")
        .to_owned();
    let refresh = |token: String| {
        let app = &app;
        async move {
            app.anon()
                .post("/api/v1/auth/refresh", &json!({"refresh_token": token}))
                .await
                .into_parts()
        }
    };

    let (status, body) = refresh(first_refresh.clone()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let second_refresh = body["data"]["refresh_token"]
        .as_str()
        .expect("refresh")
        .to_owned();
    let second_access = body["data"]["access_token"]
        .as_str()
        .expect("access")
        .to_owned();
    assert_ne!(second_refresh, first_refresh);
    assert_eq!(
        get_with(&app, "/api/v1/me", &second_access).await,
        StatusCode::OK
    );

    // The rotated token comes back: someone else has it. The whole session ends.
    let (status, _) = refresh(first_refresh).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = refresh(second_refresh).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "the newest refresh token is revoked too"
    );
    assert_eq!(
        get_with(&app, "/api/v1/me", &second_access).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        get_with(&app, "/api/v1/me", &first_access).await,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn after_logout_the_sessions_tokens_stop_working() {
    let app = spawn_app().await;
    let (_, body) = login(&app, "dev:leaving").await;
    let access = body["data"]["access_token"]
        .as_str()
        .expect("access")
        .to_owned();
    let refresh_token = body["data"]["refresh_token"]
        .as_str()
        .expect("refresh")
        .to_owned();

    let (status, body) = app
        .with_token(&access)
        .post("/api/v1/auth/logout", &json!({}))
        .await
        .into_parts();
    assert_eq!(status, StatusCode::OK, "{body}");

    assert_eq!(
        get_with(&app, "/api/v1/me", &access).await,
        StatusCode::UNAUTHORIZED
    );
    let (status, _) = app
        .anon()
        .post(
            "/api/v1/auth/refresh",
            &json!({"refresh_token": refresh_token}),
        )
        .await
        .into_parts();
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // A restarted server (a fresh process on the same database) still refuses them.
    let restarted = spawn_app_on(app.pool.clone()).await;
    assert_eq!(
        get_with(&restarted, "/api/v1/me", &access).await,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn every_bad_access_token_is_a_401_and_a_shopper_on_an_admin_route_a_403() {
    let app = spawn_app().await;
    let (_, body) = login(&app, "dev:tester").await;
    let refresh_token = body["data"]["refresh_token"]
        .as_str()
        .expect("refresh")
        .to_owned();
    let now = chrono::Utc::now().timestamp();
    let claims =
        |exp: i64| json!({"sub": "u", "role": "admin", "jti": "j", "iat": now, "exp": exp});
    let signed = |secret: &str, exp: i64| {
        jsonwebtoken::encode(
            &Header::default(),
            &claims(exp),
            &EncodingKey::from_secret(secret.as_bytes()),
        )
        .expect("sign")
    };
    let unsigned = {
        use base64::Engine as _;
        let b64 =
            |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
        format!(
            "{}.{}.",
            b64(&json!({"alg": "none", "typ": "JWT"})),
            b64(&claims(now + 600))
        )
    };

    for (what, token) in [
        ("malformed", "not-a-jwt".to_owned()),
        (
            "wrong signature",
            signed("another secret that is at least 32 bytes", now + 600),
        ),
        ("alg none", unsigned),
        ("expired", signed(TestApp::secret(), now - 10)),
        ("a refresh token", refresh_token),
    ] {
        assert_eq!(
            get_with(&app, "/api/v1/me", &token).await,
            StatusCode::UNAUTHORIZED,
            "{what}"
        );
    }
    let missing = app
        .anon()
        .request(Method::GET, "/api/v1/me")
        .send()
        .await
        .expect("get");
    assert_eq!(missing.status(), StatusCode::UNAUTHORIZED);
    let (status, body) = app
        .user("shopper")
        .post("/api/v1/admin/products", &json!({}))
        .await
        .into_parts();
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
}
