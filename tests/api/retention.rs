//! Retention: rows past their window leave the tables beside the log; everything else,
//! and every event, stays.

use std::time::Duration;

use ordo::retention::{self, PurgeReport, RetentionSettings};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

use crate::support::{TestApp, address, fresh_database, spawn_app};

const MINUTE: f64 = 60.0;
const HOUR: f64 = 60.0 * MINUTE;
const DAY: f64 = 24.0 * HOUR;

/// Purges once; waits its turn while another purge (a test app's own, at its start)
/// holds the lock.
async fn purge(pool: &PgPool, settings: &RetentionSettings) -> PurgeReport {
    for _ in 0..200 {
        let report = retention::purge(pool, settings).await.expect("purge");
        if !report.busy {
            return report;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the retention lock stayed busy");
}

/// An idempotency key claimed `age` seconds ago, answered unless `running`.
async fn claim_key(pool: &PgPool, user: &str, key: &str, age: f64, running: bool) {
    sqlx::query(
        "INSERT INTO idempotency_keys (user_id, key, request_hash, status, answer, created_at,
                                       updated_at)
         VALUES ($1, $2, '\\x00', CASE WHEN $4 THEN NULL ELSE 201 END,
                 CASE WHEN $4 THEN NULL ELSE '{}'::jsonb END,
                 now() - make_interval(secs => $3), now() - make_interval(secs => $3))",
    )
    .bind(user)
    .bind(key)
    .bind(age)
    .bind(running)
    .execute(pool)
    .await
    .expect("insert a key");
}

async fn keys(pool: &PgPool) -> Vec<String> {
    sqlx::query_scalar("SELECT key FROM idempotency_keys ORDER BY key")
        .fetch_all(pool)
        .await
        .expect("keys")
}

/// A session named `user` that expires in `expires_in` seconds (negative: ago) and was
/// revoked `revoked_ago` seconds ago, if at all.
async fn session(pool: &PgPool, user: &str, expires_in: f64, revoked_ago: Option<f64>) {
    sqlx::query(
        "INSERT INTO sessions (session_id, user_id, role, generation, refresh_hash, created_at,
                               expires_at, revoked_at, revoked_reason)
         VALUES ($1, $2, 'user', 1, '\\x00', now() - interval '30 days',
                 now() + make_interval(secs => $3),
                 now() - make_interval(secs => $4),
                 CASE WHEN $4 IS NULL THEN NULL ELSE 'logout' END)",
    )
    .bind(Uuid::new_v4())
    .bind(user)
    .bind(expires_in)
    .bind(revoked_ago)
    .execute(pool)
    .await
    .expect("insert a session");
}

async fn sessions(pool: &PgPool) -> Vec<String> {
    sqlx::query_scalar("SELECT user_id FROM sessions ORDER BY user_id")
        .fetch_all(pool)
        .await
        .expect("sessions")
}

/// A payment notice of `outcome` received `age` seconds ago, named by its request id.
async fn notice(pool: &PgPool, request_id: &str, outcome: &str, age: f64) {
    sqlx::query(
        "INSERT INTO payment_notices (received_at, outcome, reason, request_id)
         VALUES (now() - make_interval(secs => $3), $2,
                 CASE WHEN $2 = 'refused' THEN 'bad signature' END, $1)",
    )
    .bind(request_id)
    .bind(outcome)
    .bind(age)
    .execute(pool)
    .await
    .expect("insert a notice");
}

async fn notices(pool: &PgPool) -> Vec<String> {
    sqlx::query_scalar("SELECT request_id FROM payment_notices ORDER BY request_id")
        .fetch_all(pool)
        .await
        .expect("notices")
}

#[tokio::test]
async fn only_idempotency_keys_past_their_24_hour_window_are_purged() {
    let (pool, _) = fresh_database().await;
    claim_key(&pool, "u1", "a-expired", DAY + MINUTE, false).await;
    claim_key(&pool, "u2", "b-expired-unanswered", 3.0 * DAY, true).await;
    claim_key(&pool, "u1", "c-inside", DAY - MINUTE, false).await;
    claim_key(&pool, "u1", "d-fresh", 0.0, false).await;
    claim_key(&pool, "u2", "e-running", 0.0, true).await;

    let report = purge(&pool, &RetentionSettings::default()).await;

    assert_eq!(keys(&pool).await, ["c-inside", "d-fresh", "e-running"]);
    assert_eq!(
        report,
        PurgeReport {
            idempotency_keys: 2,
            ..PurgeReport::default()
        }
    );
}

#[tokio::test]
async fn only_sessions_that_ended_more_than_the_grace_period_ago_are_purged() {
    let (pool, _) = fresh_database().await;
    let week = 7.0 * DAY;
    session(&pool, "a-expired-long-ago", -(week + MINUTE), None).await;
    session(&pool, "b-revoked-long-ago", DAY, Some(week + MINUTE)).await;
    session(&pool, "c-expired-then-revoked", -(week + HOUR), Some(HOUR)).await;
    session(&pool, "d-expired-recently", -(week - MINUTE), None).await;
    session(&pool, "e-revoked-recently", DAY, Some(week - MINUTE)).await;
    session(&pool, "f-active", week, None).await;
    session(&pool, "g-active-for-a-minute-more", MINUTE, None).await;

    let report = purge(&pool, &RetentionSettings::default()).await;

    assert_eq!(
        sessions(&pool).await,
        [
            "d-expired-recently",
            "e-revoked-recently",
            "f-active",
            "g-active-for-a-minute-more"
        ]
    );
    assert_eq!(report.sessions, 3);
}

#[tokio::test]
async fn only_payment_notices_older_than_their_retention_are_purged() {
    let (pool, _) = fresh_database().await;
    let ninety_days = 90.0 * DAY;
    notice(&pool, "a-refused-old", "refused", ninety_days + MINUTE).await;
    notice(&pool, "b-accepted-old", "accepted", ninety_days + MINUTE).await;
    notice(&pool, "c-refused-inside", "refused", ninety_days - MINUTE).await;
    notice(
        &pool,
        "d-duplicate-inside",
        "duplicate",
        ninety_days - MINUTE,
    )
    .await;
    notice(&pool, "e-accepted-today", "accepted", 0.0).await;

    let report = purge(&pool, &RetentionSettings::default()).await;

    assert_eq!(
        notices(&pool).await,
        ["c-refused-inside", "d-duplicate-inside", "e-accepted-today"]
    );
    assert_eq!(report.payment_notices, 2);
}

#[tokio::test]
async fn settled_payment_questions_are_purged_after_the_notices_retention_open_ones_never() {
    let (pool, _) = fresh_database().await;
    let ninety_days = 90.0 * DAY;
    for (order, prepaid_ago, settled_ago) in [
        (
            "00000000-0000-4000-a000-000000000001",
            ninety_days * 2.0,
            Some(ninety_days + MINUTE),
        ),
        (
            "00000000-0000-4000-a000-000000000002",
            ninety_days * 2.0,
            Some(ninety_days - MINUTE),
        ),
        (
            "00000000-0000-4000-a000-000000000003",
            ninety_days * 2.0,
            None,
        ),
        ("00000000-0000-4000-a000-000000000004", 0.0, Some(0.0)),
    ] {
        sqlx::query(
            "INSERT INTO payment_prepays (order_id, prepaid_at, settled_at)
             VALUES ($1::uuid, now() - make_interval(secs => $2),
                     now() - make_interval(secs => $3))",
        )
        .bind(order)
        .bind(prepaid_ago)
        .bind(settled_ago)
        .execute(&pool)
        .await
        .expect("a prepay");
    }

    let report = purge(&pool, &RetentionSettings::default()).await;

    let kept: Vec<String> =
        sqlx::query_scalar("SELECT order_id::text FROM payment_prepays ORDER BY order_id")
            .fetch_all(&pool)
            .await
            .expect("prepays");
    assert_eq!(
        kept,
        [
            "00000000-0000-4000-a000-000000000002",
            "00000000-0000-4000-a000-000000000003",
            "00000000-0000-4000-a000-000000000004",
        ]
    );
    assert_eq!(report.payment_prepays, 1);
}

#[tokio::test]
async fn shorter_retention_settings_purge_sessions_and_notices_sooner() {
    let (pool, _) = fresh_database().await;
    session(&pool, "a-ended-two-hours-ago", -2.0 * HOUR, None).await;
    session(&pool, "b-ended-half-an-hour-ago", -30.0 * MINUTE, None).await;
    notice(&pool, "a-two-days-old", "refused", 2.0 * DAY).await;
    notice(&pool, "b-half-a-day-old", "refused", 12.0 * HOUR).await;
    let settings = RetentionSettings {
        session_retention: Duration::from_secs(60 * 60),
        payment_notice_retention: Duration::from_secs(24 * 60 * 60),
        ..RetentionSettings::default()
    };

    purge(&pool, &settings).await;

    assert_eq!(sessions(&pool).await, ["b-ended-half-an-hour-ago"]);
    assert_eq!(notices(&pool).await, ["b-half-a-day-old"]);
}

#[tokio::test]
async fn a_backlog_larger_than_one_batch_is_purged_entirely() {
    let (pool, _) = fresh_database().await;
    sqlx::query(
        "INSERT INTO payment_notices (received_at, outcome, request_id)
         SELECT now() - interval '100 days', 'accepted', 'old-' || n
           FROM generate_series(1, 12001) AS n",
    )
    .execute(&pool)
    .await
    .expect("insert old notices");
    notice(&pool, "kept", "accepted", DAY).await;

    let report = purge(&pool, &RetentionSettings::default()).await;

    assert_eq!(report.payment_notices, 12_001);
    assert_eq!(notices(&pool).await, ["kept"]);
}

/// Every event, in feed order, as text: any change to the log changes it.
async fn the_log(pool: &PgPool) -> (i64, Option<String>) {
    sqlx::query_as(
        "SELECT count(*), md5(string_agg(
                    concat_ws('|', global_position, aggregate_type, aggregate_id, sequence,
                              event_type, payload::text, metadata::text),
                    E'\\n' ORDER BY global_position))
           FROM events",
    )
    .fetch_one(pool)
    .await
    .expect("the log")
}

async fn order_with_key(app: &TestApp, key: &str, product: Uuid) -> (StatusCode, Value, bool) {
    let response = app
        .user("u1")
        .request(Method::POST, "/api/v1/orders")
        .header("Idempotency-Key", key)
        .json(&json!({"lines": [{"product_id": product, "quantity": 1}], "address": address()}))
        .send()
        .await
        .expect("request");
    let status = response.status();
    let replayed = response.headers().contains_key("idempotent-replayed");
    (status, response.json().await.expect("json"), replayed)
}

#[tokio::test]
async fn an_idempotent_post_replayed_within_24_hours_still_replays_after_a_purge() {
    let app = spawn_app().await;
    let tea = app.admin().create_product("Tea", 500, 10).await;
    let (status, first, _) = order_with_key(&app, "checkout-1", tea).await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    // Claimed nearly a day ago, beside a key whose day is over.
    sqlx::query(
        "UPDATE idempotency_keys SET created_at = now() - interval '23 hours 59 minutes'
          WHERE key = 'checkout-1'",
    )
    .execute(&app.pool)
    .await
    .expect("age the key");
    claim_key(&app.pool, "u1", "yesterday", DAY + MINUTE, false).await;

    purge(&app.pool, &RetentionSettings::default()).await;
    let (status, again, replayed) = order_with_key(&app, "checkout-1", tea).await;

    assert_eq!(keys(&app.pool).await, ["checkout-1"]);
    assert_eq!(status, StatusCode::CREATED);
    assert!(replayed, "the first answer, replayed");
    assert_eq!(again, first);
    assert_eq!(app.count_events("OrderPlaced").await, 1);
    assert_eq!(app.stock(tea).await.available(), 9);
}

#[tokio::test]
async fn a_purge_leaves_every_event_as_it_was_and_counts_what_it_deleted() {
    let app = spawn_app().await;
    let tea = app.admin().create_product("Tea", 500, 10).await;
    let (status, order) = app.user("u1").place_order(&[(tea, 2)]).await.into_parts();
    assert_eq!(status, StatusCode::CREATED, "{order}");
    claim_key(&app.pool, "u1", "old", 2.0 * DAY, false).await;
    session(&app.pool, "old", -30.0 * DAY, None).await;
    notice(&app.pool, "old", "refused", 365.0 * DAY).await;
    let before = the_log(&app.pool).await;

    purge(&app.pool, &RetentionSettings::default()).await;

    assert_eq!(the_log(&app.pool).await, before);
    assert!(before.0 >= 3, "product, stock and order events: {before:?}");
    assert!(keys(&app.pool).await.is_empty());
    assert!(sessions(&app.pool).await.is_empty());
    assert!(notices(&app.pool).await.is_empty());
    let metrics = app.metrics().await;
    for table in ["idempotency_keys", "sessions", "payment_notices"] {
        assert!(
            metrics.contains(&format!("retention_purged_rows_total{{table=\"{table}\"}}")),
            "{table} missing from:\n{metrics}"
        );
    }
}
