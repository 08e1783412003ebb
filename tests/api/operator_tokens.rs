//! Operator tokens from `ordo token`: an id, a capped lifetime, and revocation before
//! they expire.

use std::time::Duration;

use ordo::auth::Role;
use ordo::retention::{self, RetentionSettings};
use reqwest::{Method, StatusCode};

use crate::support::{Client, TestApp, fresh_database, spawn_app, spawn_app_on};

/// `ordo token --admin --sub ops [...]`: the token and its id.
fn mint(options: &sqlx::postgres::PgConnectOptions, extra: &[&str]) -> (String, String) {
    let mut args = vec!["token", "--admin", "--sub", "ops"];
    args.extend_from_slice(extra);
    let output = TestApp::cli(options, &args);
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{said}");
    let token = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    let id = said
        .split_whitespace()
        .skip_while(|word| *word != "id")
        .nth(1)
        .expect("the token id on stderr")
        .trim_end_matches(',')
        .to_owned();
    (token, id)
}

async fn status_with(caller: &Client) -> (StatusCode, serde_json::Value) {
    caller.get("/api/v1/admin/projections").await.into_parts()
}

#[tokio::test]
async fn a_revoked_operator_token_is_refused_and_the_others_still_work() {
    let (pool, options) = fresh_database().await;
    let app = spawn_app_on(pool).await;
    let (revoked, id) = mint(&options, &["--ttl", "30m"]);
    let (kept, _) = mint(&options, &[]);
    assert_eq!(
        status_with(&app.with_token(&revoked)).await.0,
        StatusCode::OK
    );

    let output = TestApp::cli(
        &options,
        &["token", "revoke", &id, "--reason", "laptop lost"],
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );

    let (status, body) = status_with(&app.with_token(&revoked)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    // Revoked, without the operator's reason: whoever holds it may have taken the laptop.
    assert_eq!(body["message"], "the token has been revoked", "{body}");
    assert_eq!(status_with(&app.with_token(&kept)).await.0, StatusCode::OK);
    // Revoking again is harmless.
    let again = TestApp::cli(&options, &["token", "revoke", &id]);
    assert!(String::from_utf8_lossy(&again.stdout).contains("already revoked"));
}

#[tokio::test]
async fn operator_tokens_live_at_most_a_day() {
    let (pool, options) = fresh_database().await;
    let app = spawn_app_on(pool).await;

    let output = TestApp::cli(
        &options,
        &["token", "--admin", "--sub", "ops", "--ttl", "30d"],
    );
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("at most"));

    // A token minted with the secret but a longer life (an older ordo) is refused.
    let long_lived = app
        .state
        .jwt
        .issue("ops", Role::Admin, Duration::from_secs(30 * 24 * 60 * 60))
        .expect("sign");
    let (status, body) = status_with(&app.with_token(&long_lived)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    let day = app
        .state
        .jwt
        .issue("ops", Role::Admin, Duration::from_secs(24 * 60 * 60))
        .expect("sign");
    assert_eq!(status_with(&app.with_token(&day)).await.0, StatusCode::OK);
}

#[tokio::test]
async fn a_revocation_is_purged_only_once_its_tokens_have_expired() {
    let app = spawn_app().await;
    ordo::auth::revocations::revoke(&app.pool, "current", "test")
        .await
        .expect("revoke");
    sqlx::query(
        "INSERT INTO revoked_tokens (token_id, reason, expires_at)
         VALUES ('expired', 'test', now() - interval '1 minute')",
    )
    .execute(&app.pool)
    .await
    .expect("an old revocation");

    // The app purges at its start too (and may be the one to delete the old row): wait
    // for a run of ours that is not turned away by that one's lock.
    crate::support::eventually("a purge of ours", || async {
        let report = retention::purge(&app.pool, &RetentionSettings::default())
            .await
            .expect("purge");
        (!report.busy).then_some(())
    })
    .await;

    let left: Vec<String> = sqlx::query_scalar("SELECT token_id FROM revoked_tokens")
        .fetch_all(&app.pool)
        .await
        .expect("left");
    assert_eq!(left, ["current"]);
}

/// `POST /admin/console/sign-in` as `caller`.
async fn trade(caller: &Client) -> (StatusCode, serde_json::Value) {
    let response = caller
        .send_raw(caller.request(Method::POST, "/api/v1/admin/console/sign-in"))
        .await;
    let status = response.status();
    (status, response.json().await.expect("json"))
}

#[tokio::test]
async fn a_sign_in_link_works_once_and_revoking_it_ends_the_console_it_opened() {
    let (pool, options) = fresh_database().await;
    let app = spawn_app_on(pool).await;
    let (link, id) = mint(&options, &["--ttl", "10m"]);

    // Two tabs open the same link at once: one is signed in.
    let with_link = app.with_token(&link);
    let (first, second) = tokio::join!(trade(&with_link), trade(&with_link));
    let (signed_in, refused) = if first.0 == StatusCode::OK {
        (first, second)
    } else {
        (second, first)
    };
    assert_eq!(signed_in.0, StatusCode::OK, "{}", signed_in.1);
    assert_eq!(refused.0, StatusCode::UNAUTHORIZED, "{}", refused.1);
    assert!(
        refused.1["message"]
            .as_str()
            .is_some_and(|m| m.contains("works once")),
        "{}",
        refused.1
    );
    let console = signed_in.1["data"]["access_token"]
        .as_str()
        .expect("the console's token")
        .to_owned();
    assert_ne!(console, link);
    let expires_in = signed_in.1["data"]["expires_in"].as_u64().expect("expiry");
    assert!(
        (590..=600).contains(&expires_in),
        "as long as the link had: {expires_in}"
    );
    assert_eq!(
        status_with(&app.with_token(&console)).await.0,
        StatusCode::OK
    );
    // The link itself (left in the browser's history) signs no one in again.
    let (status, body) = status_with(&app.with_token(&link)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.contains("works once"))
    );
    // Nor can the console's token be traded on to outlive the link's revocation.
    assert_eq!(
        trade(&app.with_token(&console)).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        status_with(&app.with_token(&console)).await.0,
        StatusCode::OK
    );

    // Revoking the link's id (what `ordo console-url` printed) ends the console too.
    let output = TestApp::cli(&options, &["token", "revoke", &id]);
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("revoked"),
        "{output:?}"
    );
    assert_eq!(
        status_with(&app.with_token(&console)).await.0,
        StatusCode::UNAUTHORIZED
    );

    // An Idempotency-Key changes nothing: the answer holds a token, so it is not kept
    // (another token of the same operator with the same key would get it back).
    let (another, _) = mint(&options, &["--ttl", "10m"]);
    let another = app.with_token(&another);
    let keyed = another
        .send_raw(
            another
                .request(Method::POST, "/api/v1/admin/console/sign-in")
                .header("idempotency-key", "sign-in-1"),
        )
        .await;
    assert_eq!(keyed.status(), StatusCode::OK);
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM idempotency_keys")
        .fetch_one(&app.pool)
        .await
        .expect("count");
    assert_eq!(stored, 0, "no answer holding a token is stored");

    // A shopper's token is not an operator's.
    assert_eq!(trade(&app.user("mei")).await.0, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn logging_out_with_an_operator_token_revokes_it() {
    let (pool, options) = fresh_database().await;
    let app = spawn_app_on(pool).await;
    let (token, _) = mint(&options, &[]);
    let (other, _) = mint(&options, &[]);

    let answer = app
        .with_token(&token)
        .post("/api/v1/auth/logout", &serde_json::json!({}))
        .await;

    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(answer.body["data"]["revoked"], true);
    let (status, body) = status_with(&app.with_token(&token)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.contains("signed out")),
        "{body}"
    );
    assert_eq!(status_with(&app.with_token(&other)).await.0, StatusCode::OK);
}

#[tokio::test]
async fn readyz_detail_is_for_operators_whose_token_still_works() {
    let (pool, options) = fresh_database().await;
    // Behind a proxy on 127.0.0.1, so the caller is a remote client, not this machine.
    let app = crate::support::start(
        pool,
        ordo::state::AppSettings {
            dev_mode: true,
            trusted_proxies: vec!["127.0.0.1/32".parse().expect("a CIDR block")],
            ..ordo::state::AppSettings::default()
        },
    )
    .await;
    let (revoked, id) = mint(&options, &[]);
    let (kept, _) = mint(&options, &[]);
    let readyz = |token: Option<String>| {
        let caller = match token {
            Some(token) => app.with_token(&token),
            None => app.anon(),
        };
        async move {
            let request = caller
                .request(Method::GET, "/readyz")
                .header("x-forwarded-for", "203.0.113.5");
            let response = caller.send_raw(request).await;
            assert_eq!(response.status(), StatusCode::OK);
            response.json::<serde_json::Value>().await.expect("json")["data"].clone()
        }
    };
    assert_eq!(readyz(Some(revoked.clone())).await["database"], "reachable");
    let output = TestApp::cli(&options, &["token", "revoke", &id]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );

    let refused = readyz(Some(revoked)).await;
    let operator = readyz(Some(kept)).await;
    let anyone = readyz(None).await;

    assert_eq!(refused["status"], "ready");
    assert!(
        refused.get("database").is_none(),
        "a revoked token sees no detail: {refused}"
    );
    assert_eq!(operator["database"], "reachable", "{operator}");
    assert_eq!(operator["pending_migrations"], 0);
    assert!(anyone.get("database").is_none(), "{anyone}");
}
