//! A verification streamed with its progress (what the console's verify bar reads):
//! every pass announced in order with counts that add up, then the same report the plain
//! endpoint answers; an error that stops it is the last line; hanging up stops it.

use reqwest::StatusCode;
use serde_json::Value;

use crate::support::audit::{
    halve_a_reservation, many_events, position_of, seal, streamed_verifications, workload,
};
use crate::support::{TestApp, settle, spawn_app};

/// The answer's lines, parsed, with its content type.
async fn stream(app: &TestApp, query: &str) -> (String, Vec<Value>) {
    let (status, headers, body) = app
        .admin()
        .fetch(&format!("/api/v1/admin/audit/verify/stream{query}"), &[])
        .await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    assert_eq!(
        headers
            .get("x-accel-buffering")
            .and_then(|v| v.to_str().ok()),
        Some("no"),
        "a proxy must pass each line on at once"
    );
    let content_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let text = String::from_utf8(body).expect("UTF-8");
    assert!(text.ends_with('\n'), "every line ends: {text}");
    let lines = text
        .lines()
        .map(|line| serde_json::from_str(line).expect("each line is JSON"))
        .collect();
    (content_type, lines)
}

/// The passes in the order the progress lines name them (each once), and each pass's
/// last progress line.
fn passes(lines: &[Value]) -> Vec<(String, Value)> {
    let mut passes: Vec<(String, Value)> = Vec::new();
    for line in lines.iter().filter_map(|line| line.get("progress")) {
        let pass = line["pass"].as_str().expect("a pass").to_owned();
        let done = line["done"].as_u64().expect("done");
        let total = line["total"].as_u64().expect("total");
        assert!(done <= total, "{line}");
        match passes.last_mut() {
            Some((last, seen)) if *last == pass => {
                assert!(
                    done >= seen["done"].as_u64().unwrap_or(0),
                    "never backwards"
                );
                *seen = line.clone();
            }
            _ => {
                assert!(
                    passes.iter().all(|(seen, _)| *seen != pass),
                    "{pass} came back"
                );
                passes.push((pass, line.clone()));
            }
        }
    }
    passes
}

#[tokio::test]
async fn each_pass_is_announced_with_its_counts_then_the_report() {
    let app = spawn_app().await;
    workload(&app).await;
    seal(&app).await;
    many_events(&app).await;
    workload(&app).await;
    settle(&app.pool).await;
    let events: i64 = sqlx::query_scalar("SELECT count(*) FROM events")
        .fetch_one(&app.pool)
        .await
        .expect("count");
    let first_seal: i64 =
        sqlx::query_scalar("SELECT event_count FROM audit_seals ORDER BY seal_id LIMIT 1")
            .fetch_one(&app.pool)
            .await
            .expect("a seal");

    let (content_type, lines) = stream(&app, "").await;

    assert_eq!(content_type, "application/x-ndjson");
    let report = &lines.last().expect("a line")["report"];
    assert_eq!(report["ok"], true, "{lines:?}");
    assert_eq!(report["events"], events);
    assert_eq!(
        report["read_models"].as_array().map(Vec::len),
        Some(5),
        "one per projection"
    );
    assert!(
        lines[..lines.len() - 1]
            .iter()
            .all(|line| line.get("progress").is_some()),
        "only the last line is not progress: {lines:?}"
    );
    let seen = passes(&lines);
    let names: Vec<&str> = seen.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(names, ["streams", "seals", "references", "read_models"]);
    let finished = |name: &str| {
        let (_, last) = seen.iter().find(|(n, _)| n == name).expect("the pass");
        (last["done"].as_i64(), last["total"].as_i64())
    };
    assert_eq!(finished("streams"), (Some(events), Some(events)));
    // Up to the newest seal when the pass began (the app's own sealer may have added one
    // since ours, even while the verification ran).
    let (done, total) = finished("seals");
    assert_eq!(done, total);
    let seals: Vec<i64> = sqlx::query_scalar("SELECT event_count FROM audit_seals")
        .fetch_all(&app.pool)
        .await
        .expect("seals");
    assert!(
        total.is_some_and(|total| total >= first_seal && seals.contains(&total)),
        "{total:?} of {seals:?}"
    );
    assert_eq!(finished("references"), (Some(1), Some(1)));
    assert_eq!(
        finished("read_models"),
        (Some(5), Some(5)),
        "one per projection"
    );

    // Without the read models, there is no fourth pass.
    let (_, lines) = stream(&app, "?read_models=false").await;
    let names: Vec<String> = passes(&lines).into_iter().map(|(name, _)| name).collect();
    assert_eq!(names, ["streams", "seals", "references"]);
    assert_eq!(lines.last().expect("a line")["report"]["ok"], true);
}

#[tokio::test]
async fn a_tampered_log_streams_the_failure_and_a_busy_comparison_the_error() {
    let app = spawn_app().await;
    workload(&app).await;
    settle(&app.pool).await;
    let position = position_of(&app.pool, "StockReserved", 2).await;
    halve_a_reservation(&app.pool, position).await;

    let (_, lines) = stream(&app, "?read_models=false").await;
    let report = &lines.last().expect("a line")["report"];
    assert_eq!(report["ok"], false, "{report}");
    assert_eq!(report["first_failure_position"], position);
    assert_eq!(report["failures"][0]["kind"], "hash_mismatch");

    // Another verification holds the comparison: this one says so as its last line.
    let mut holder = app.pool.acquire().await.expect("a connection");
    sqlx::query("SELECT pg_advisory_lock($1)")
        .bind(0x006f_7264_6f63_6d70_i64)
        .execute(&mut *holder)
        .await
        .expect("the comparison's lock");
    let (_, lines) = stream(&app, "").await;
    let error = &lines.last().expect("a line")["error"];
    assert_eq!(error["code"], 40903, "{lines:?}");
    assert!(
        error["message"]
            .as_str()
            .is_some_and(|m| m.contains("another verification")),
        "{error}"
    );
    assert_eq!(
        passes(&lines).last().map(|(n, _)| n.as_str()),
        Some("read_models")
    );
    sqlx::query("SELECT pg_advisory_unlock_all()")
        .execute(&mut *holder)
        .await
        .expect("unlock");
}

#[tokio::test]
async fn hanging_up_on_a_streamed_verification_stops_it() {
    let app = spawn_app().await;
    many_events(&app).await;
    workload(&app).await;
    settle(&app.pool).await;
    let cancelled_before = streamed_verifications(&app, "cancelled").await;
    // The seals pass waits on this lock, so the verification is surely still running
    // when the client hangs up.
    let mut holder = app.pool.begin().await.expect("a transaction");
    sqlx::query("LOCK TABLE audit_seals IN ACCESS EXCLUSIVE MODE")
        .execute(&mut *holder)
        .await
        .expect("lock the seals");

    let admin = app.admin();
    let mut response = admin
        .send_raw(admin.request(reqwest::Method::GET, "/api/v1/admin/audit/verify/stream"))
        .await;
    let mut seen = String::new();
    while !seen.contains("\"pass\":\"streams\"") {
        let chunk = response.chunk().await.expect("a chunk").expect("more");
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    drop(response);
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    holder.commit().await.expect("unlock");

    // It stopped at its next batch, counted as cancelled (finished, it would count as ok).
    crate::support::eventually("the verification is called off", || async {
        (streamed_verifications(&app, "cancelled").await > cancelled_before).then_some(())
    })
    .await;
    let leftovers: i64 =
        sqlx::query_scalar("SELECT count(*) FROM pg_tables WHERE tablename LIKE '%\\_\\_verify'")
            .fetch_one(&app.pool)
            .await
            .expect("tables");
    assert_eq!(leftovers, 0, "no replay copies were made");
    // And the next one runs to the end.
    let (_, lines) = stream(&app, "").await;
    assert_eq!(lines.last().expect("a line")["report"]["ok"], true);
}

#[tokio::test]
async fn a_shopper_cannot_stream_a_verification() {
    let app = spawn_app().await;
    let answer = app
        .shopper("mei")
        .await
        .get("/api/v1/admin/audit/verify/stream")
        .await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN);
    let answer = app
        .admin()
        .get("/api/v1/admin/audit/verify/stream?read_models=maybe")
        .await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{}", answer.body);
}
