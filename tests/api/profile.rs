//! `PUT /me`: a change is an event, no change is none; a busy user's stream is
//! snapshotted like every other.

use ordo::rate_limit::RateLimits;
use ordo::state::AppSettings;
use reqwest::StatusCode;
use serde_json::json;

use crate::support::{Answer, TestApp, spawn_app, spawn_app_on, spawn_app_with};

async fn user_events(app: &TestApp, id: &str) -> i64 {
    sqlx::query_scalar(
        "SELECT count(*) FROM events WHERE aggregate_type = 'User' AND aggregate_id = $1",
    )
    .bind(id)
    .fetch_one(&app.pool)
    .await
    .expect("count the user's events")
}

#[tokio::test]
async fn a_profile_saved_unchanged_writes_nothing_and_answers_the_profile() {
    let app = spawn_app().await;
    let mei = app.shopper("mei").await;
    let id = mei.id();
    let profile = json!({"nickname": "Mei", "avatar_url": "https://img.example/mei.png",
                         "phone": "+8613800000000"});
    let (status, changed) = mei.put("/api/v1/me", &profile).await.into_parts();
    assert_eq!(status, StatusCode::OK, "{changed}");
    let events = user_events(&app, id).await;

    let mut answers = Vec::new();
    for _ in 0..5 {
        answers.push(mei.put("/api/v1/me", &profile).await);
    }
    answers.push(mei.put("/api/v1/me", &json!({})).await);
    answers.push(mei.put("/api/v1/me", &json!({"nickname": "Mei"})).await);

    for Answer {
        status,
        body: answer,
        ..
    } in &answers
    {
        assert_eq!(*status, StatusCode::OK, "{answer}");
        assert_eq!(answer["data"], changed["data"]);
    }
    assert_eq!(user_events(&app, id).await, events);
    assert_eq!(app.count_events("ProfileUpdated").await, 1);
}

#[tokio::test]
async fn a_user_who_changed_their_profile_250_times_loads_from_a_snapshot() {
    let app = spawn_app_with(AppSettings {
        dev_mode: true,
        // 250 changes in a row are this test's point, not abuse.
        rate_limits: RateLimits {
            per_ip: None,
            per_user: None,
            login_per_ip: None,
        },
        ..AppSettings::default()
    })
    .await;
    let mei = app.shopper("mei").await;
    let id = mei.id();

    for change in 1..=250 {
        let (status, answer) = mei
            .put("/api/v1/me", &json!({"nickname": format!("Mei {change}")}))
            .await
            .into_parts();
        assert_eq!(status, StatusCode::OK, "{answer}");
    }

    let snapshot: Option<i64> = sqlx::query_scalar(
        "SELECT last_sequence FROM snapshots WHERE aggregate_type = 'User' AND aggregate_id = $1",
    )
    .bind(id)
    .fetch_optional(&app.pool)
    .await
    .expect("the snapshot");
    assert!(
        snapshot.is_some_and(|sequence| sequence >= 200),
        "{snapshot:?}"
    );
    assert_eq!(user_events(&app, id).await, 251);
    // Another server on the same database loads the user from the snapshot and the events
    // after it.
    let other = spawn_app_on(app.pool.clone()).await;
    for server in [&app, &other] {
        let (status, me) = mei.on(server).get("/api/v1/me").await.into_parts();
        assert_eq!(status, StatusCode::OK, "{me}");
        assert_eq!(me["data"]["nickname"], "Mei 250");
    }
    let (status, _) = mei
        .on(&other)
        .put("/api/v1/me", &json!({"nickname": "Mei 251"}))
        .await
        .into_parts();
    assert_eq!(status, StatusCode::OK);
    assert_eq!(user_events(&app, id).await, 252);
}
