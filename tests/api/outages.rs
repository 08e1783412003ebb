//! PostgreSQL going away while shoppers order: every answer meanwhile is a 503 with
//! `Retry-After` (never a 500), nothing acknowledged is lost, and once the database is
//! back the projector says `running` again.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::time::Duration;

use ordo::embedded_postgres::{Durability, EmbeddedPostgres};
use ordo::rate_limit::RateLimits;
use ordo::state::AppSettings;
use reqwest::StatusCode;
use uuid::Uuid;

use crate::support::{TestApp, eventually, start};

/// A server on a PostgreSQL of the test's own, which the test may crash (durable: an
/// acknowledged commit survives a crash); no rate limits (the load comes from one
/// address).
async fn app_on_own_postgres() -> (Arc<TestApp>, EmbeddedPostgres) {
    let server =
        tokio::task::spawn_blocking(|| EmbeddedPostgres::start_temporary(Durability::Durable))
            .await
            .expect("task")
            .expect("own PostgreSQL");
    let pool = ordo::database::connect(server.connect_options("postgres"), 8)
        .await
        .expect("pool");
    ordo::database::migrate(&pool).await.expect("migrate");
    let settings = AppSettings {
        dev_mode: true,
        rate_limits: RateLimits {
            per_ip: None,
            per_user: None,
            login_per_ip: None,
        },
        ..AppSettings::default()
    };
    (Arc::new(start(pool, settings).await), server)
}

/// Crashes PostgreSQL (immediate stop), keeps it down for `down_for`, starts it again.
async fn crash_for(server: EmbeddedPostgres, down_for: Duration) -> EmbeddedPostgres {
    let server = tokio::task::spawn_blocking(move || {
        let mut server = server;
        server.crash().expect("crash PostgreSQL");
        server
    })
    .await
    .expect("task");
    tokio::time::sleep(down_for).await;
    tokio::task::spawn_blocking(move || {
        let mut server = server;
        server
            .start_again(Durability::Durable)
            .expect("start PostgreSQL again");
        server
    })
    .await
    .expect("task")
}

/// What one shopper's request got, and when (0: before the first crash, 1: while
/// down, 2: after a restart).
struct Seen {
    phase: u8,
    what: &'static str,
    status: StatusCode,
    retry_after: bool,
}

/// Places, reads and cancels orders until `stop`: each order by a new shopper (no
/// unpaid-order cap in the way). What every request got, and the orders acknowledged.
async fn shop(
    app: Arc<TestApp>,
    products: Vec<Uuid>,
    worker: usize,
    phase: Arc<AtomicU8>,
    stop: Arc<AtomicBool>,
) -> (Vec<Seen>, Vec<(String, String)>) {
    let (mut seen, mut placed) = (Vec::new(), Vec::new());
    let mut note = |what, answer: &crate::support::Answer| {
        seen.push(Seen {
            phase: phase.load(Ordering::SeqCst),
            what,
            status: answer.status,
            retry_after: answer.headers.contains_key("retry-after"),
        });
    };
    let mut n = 0;
    while !stop.load(Ordering::SeqCst) {
        n += 1;
        let user = format!("crash-{worker}-{n}");
        let shopper = app.user(&user);
        let product = products[n % products.len()];
        let answer = shopper
            .post(
                "/api/v1/orders",
                &serde_json::json!({
                    "lines": [{"product_id": product, "quantity": 1}],
                    "address": crate::support::address(),
                }),
            )
            .await;
        note("place", &answer);
        if answer.status != StatusCode::CREATED {
            continue;
        }
        let id = answer.body["data"]["id"].as_str().expect("id").to_owned();
        placed.push((user, id.clone()));
        note("read", &shopper.get(&format!("/api/v1/orders/{id}")).await);
        if n % 2 == 0 {
            let cancel = shopper
                .post(
                    &format!("/api/v1/orders/{id}/cancel"),
                    &serde_json::json!({}),
                )
                .await;
            note("cancel", &cancel);
        }
    }
    (seen, placed)
}

#[tokio::test]
async fn a_postgresql_crash_under_load_answers_503_never_500_and_loses_no_acknowledged_order() {
    let (app, server) = app_on_own_postgres().await;
    let mut products = Vec::new();
    for name in ["Tea", "Cup", "Pot"] {
        products.push(app.admin().create_product(name, 100, 1_000_000).await);
    }
    let (phase, stop) = (Arc::new(AtomicU8::new(0)), Arc::new(AtomicBool::new(false)));
    let workers: Vec<_> = (0..12)
        .map(|worker| {
            tokio::spawn(shop(
                Arc::clone(&app),
                products.clone(),
                worker,
                Arc::clone(&phase),
                Arc::clone(&stop),
            ))
        })
        .collect();

    // Each crash meets whatever requests are in flight at that instant: a few per
    // crash, so several crashes.
    let mut server = server;
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        phase.store(1, Ordering::SeqCst);
        server = crash_for(server, Duration::from_secs(1)).await;
        phase.store(2, Ordering::SeqCst);
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop.store(true, Ordering::SeqCst);
    let (mut seen, mut placed) = (Vec::new(), Vec::new());
    for worker in workers {
        let (their_seen, their_placed) = worker.await.expect("worker");
        seen.extend(their_seen);
        placed.extend(their_placed);
    }

    // (phase, request, status) → how many, for the failure messages.
    let mut tally = std::collections::BTreeMap::new();
    for s in &seen {
        *tally
            .entry((s.phase, s.what, s.status.as_u16()))
            .or_insert(0) += 1;
    }
    let faults: Vec<_> = seen
        .iter()
        .filter(|s| s.status.is_server_error() && s.status != StatusCode::SERVICE_UNAVAILABLE)
        .map(|s| (s.what, s.status))
        .collect();
    assert!(
        faults.is_empty(),
        "answered a fault, not 503: {faults:?}; all answers: {tally:?}"
    );
    let unavailable: Vec<_> = seen
        .iter()
        .filter(|s| s.status == StatusCode::SERVICE_UNAVAILABLE)
        .collect();
    assert!(
        !unavailable.is_empty(),
        "the crashes were never met: {tally:?}"
    );
    assert!(
        unavailable.iter().all(|s| s.retry_after),
        "every 503 says when to retry"
    );
    for (phase, when) in [(0, "before the crashes"), (2, "after a restart")] {
        assert!(
            seen.iter()
                .any(|s| s.phase == phase && s.status == StatusCode::CREATED),
            "no order was taken {when}"
        );
    }
    // Every order a shopper was told about is there, as they see it and in the log.
    for (user, id) in &placed {
        let answer = app.user(user).get(&format!("/api/v1/orders/{id}")).await;
        assert_eq!(answer.status, StatusCode::OK, "order {id}: {}", answer.body);
    }
    let ids: Vec<String> = placed.iter().map(|(_, id)| id.clone()).collect();
    let logged: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM events
          WHERE aggregate_type = 'Order' AND sequence = 1 AND aggregate_id = ANY($1)",
    )
    .bind(&ids)
    .fetch_one(&app.pool)
    .await
    .expect("count placed orders");
    assert_eq!(logged, i64::try_from(ids.len()).expect("count"));
}

/// Each projection's state as the operators' status shows it.
async fn projection_states(app: &TestApp) -> Option<Vec<String>> {
    let answer = app.admin().get("/api/v1/admin/projections").await;
    (answer.status == StatusCode::OK).then(|| {
        answer.body["data"]
            .as_array()
            .expect("list")
            .iter()
            .map(|p| p["state"].as_str().unwrap_or_default().to_owned())
            .collect()
    })
}

#[tokio::test]
async fn after_postgresql_restarts_the_projections_say_running_again() {
    let (app, server) = app_on_own_postgres().await;
    eventually("the projections run", || async {
        projection_states(&app)
            .await
            .filter(|states| states.iter().all(|state| state == "running"))
    })
    .await;

    // Down longer than the pool waits for a connection: the listener's first attempts
    // to reconnect fail.
    let _server = crash_for(server, Duration::from_secs(7)).await;

    eventually("every projection says running again", || async {
        projection_states(&app)
            .await
            .filter(|states| states.iter().all(|state| state == "running"))
    })
    .await;
}
