//! Operator tokens from `ordo token`: an id, a capped lifetime, and revocation before
//! they expire.

use std::time::Duration;

use ordo::auth::Role;
use ordo::retention::{self, RetentionSettings};
use reqwest::StatusCode;

use crate::support::{TestApp, fresh_database, spawn_app, spawn_app_on};

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

async fn status_with(app: &TestApp, token: &str) -> (StatusCode, serde_json::Value) {
    app.get_json_as("/api/v1/admin/projections", token).await
}

#[tokio::test]
async fn a_revoked_operator_token_is_refused_and_the_others_still_work() {
    let (pool, options) = fresh_database().await;
    let app = spawn_app_on(pool).await;
    let (revoked, id) = mint(&options, &["--ttl", "30m"]);
    let (kept, _) = mint(&options, &[]);
    assert_eq!(status_with(&app, &revoked).await.0, StatusCode::OK);

    let output = TestApp::cli(
        &options,
        &["token", "revoke", &id, "--reason", "laptop lost"],
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );

    let (status, body) = status_with(&app, &revoked).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert!(
        body["message"]
            .as_str()
            .expect("message")
            .contains("revoked")
    );
    assert_eq!(status_with(&app, &kept).await.0, StatusCode::OK);
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
    let (status, body) = status_with(&app, &long_lived).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    let day = app
        .state
        .jwt
        .issue("ops", Role::Admin, Duration::from_secs(24 * 60 * 60))
        .expect("sign");
    assert_eq!(status_with(&app, &day).await.0, StatusCode::OK);
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
