//! The feed's horizon waits only for transactions that can append events: a transaction
//! held open anywhere on the cluster (an operator's psql, another database's work) no
//! longer freezes the read side, is named where operators look, and can never slip an
//! event in behind the projections.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;
use sqlx::{Connection, PgConnection};
use uuid::Uuid;

use crate::support::held::{HeldTransaction, held_append, insert_probe};
use crate::support::{
    TestApp, database_url, eventually, fresh_database, settle, start, timing_out_after,
};

fn id_of(body: &Value) -> Uuid {
    body["data"]["id"]
        .as_str()
        .and_then(|id| id.parse().ok())
        .expect("an order id")
}

/// The status the order views hold for `order` (read straight from the table: what the
/// projector wrote, not a fallback).
async fn viewed_status(app: &TestApp, order: Uuid) -> Option<String> {
    sqlx::query_scalar("SELECT status FROM order_views WHERE order_id = $1")
        .bind(order)
        .fetch_optional(&app.pool)
        .await
        .expect("order views")
}

async fn shop_keeps_serving_while(held: HeldTransaction, app: &TestApp, own_database: bool) {
    let product = app.admin().create_product("Oolong", 4800, 100).await;
    let (status, placed) = app
        .user("mei")
        .place_order(&[(product, 1)])
        .await
        .into_parts();
    assert_eq!(status, StatusCode::CREATED, "{placed}");
    let (status, to_pay) = app
        .user("mei")
        .place_order(&[(product, 2)])
        .await
        .into_parts();
    assert_eq!(status, StatusCode::CREATED, "{to_pay}");
    let (status, to_cancel) = app
        .user("mei")
        .place_order(&[(product, 3)])
        .await
        .into_parts();
    assert_eq!(status, StatusCode::CREATED, "{to_cancel}");
    let (placed, to_pay, to_cancel) = (id_of(&placed), id_of(&to_pay), id_of(&to_cancel));
    app.pay(to_pay, 9600).await;
    let (status, body) = app
        .user("mei")
        .cancel_order(&to_cancel.to_string())
        .await
        .into_parts();
    assert_eq!(status, StatusCode::OK, "{body}");

    // The projector reads past the held transaction: the views themselves show it all.
    for (order, wanted) in [
        (placed, "awaiting_payment"),
        (to_pay, "paid"),
        (to_cancel, "cancelled"),
    ] {
        eventually(
            "the order views show the order while the transaction is held",
            || async { (viewed_status(app, order).await.as_deref() == Some(wanted)).then_some(()) },
        )
        .await;
    }
    let (status, list) = app.user("mei").get("/api/v1/orders").await.into_parts();
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(list["data"]["pagination"]["total"], 3, "{list}");
    let statuses: Vec<&str> = list["data"]["list"]
        .as_array()
        .expect("a list")
        .iter()
        .filter_map(|order| order["status"].as_str())
        .collect();
    assert_eq!(
        statuses,
        ["cancelled", "paid", "awaiting_payment"],
        "{list}"
    );
    // Available stock follows too (97 of 100: 1 held, 2 sold, 3 given back).
    eventually("the catalog shows the stock moves", || async {
        let (_, product) = app
            .anon()
            .get(&format!("/api/v1/products/{product}"))
            .await
            .into_parts();
        (product["data"]["available"] == 97).then_some(())
    })
    .await;

    // The payment timeout still cancels the unpaid order.
    eventually("the unpaid order expires", || async {
        (viewed_status(app, placed).await.as_deref() == Some("cancelled")).then_some(())
    })
    .await;

    // Operators see who holds a transaction id, and for how long.
    let readiness = eventually("/readyz names the held transaction", || async {
        let (status, body) = app.anon().get("/readyz").await.into_parts();
        assert_eq!(status, StatusCode::OK, "{body}");
        let named = body["data"]["read_side"]["feed_horizon"]["long_running"]
            .as_array()
            .is_some_and(|holders| holders.iter().any(|h| h["pid"] == held.pid));
        named.then_some(body)
    })
    .await;
    let holder = readiness["data"]["read_side"]["feed_horizon"]["long_running"]
        .as_array()
        .and_then(|holders| holders.iter().find(|h| h["pid"] == held.pid).cloned())
        .expect("the holder");
    assert_eq!(holder["appender"], false, "{holder}");
    assert_eq!(
        readiness["data"]["read_side"]["projector"], "running",
        "{readiness}"
    );
    assert_eq!(holder["state"], "idle in transaction", "{holder}");
    assert_eq!(holder["query"], "SELECT pg_current_xact_id()", "{holder}");
    // The gauge is sampled apart from /readyz's list: it may lag it by a few
    // milliseconds, so it is read until it has caught up (bounded).
    let (age, metrics) = eventually("the bystander's age reaches 5 s", || async {
        let metrics = app.metrics().await;
        let age: f64 = metrics
            .lines()
            .find(|line| line.starts_with("feed_horizon_age_seconds{holder=\"bystander\"}"))
            .and_then(|line| line.rsplit(' ').next())
            .and_then(|value| value.parse().ok())
            .expect("feed_horizon_age_seconds for bystanders");
        (age >= 5.0).then_some((age, metrics))
    })
    .await;
    assert!(age >= 5.0, "the bystander's age: {age}\n{metrics}");

    let mut held = held;
    if own_database {
        // Half a minute into the hold, the shop is still as quick to show a new order.
        tokio::time::sleep_until(held.since + Duration::from_secs(30)).await;
        let (status, late) = app
            .user("lei")
            .place_order(&[(product, 1)])
            .await
            .into_parts();
        assert_eq!(status, StatusCode::CREATED, "{late}");
        let late = id_of(&late);
        eventually(
            "the order views show an order placed 30 s into the hold",
            || async { viewed_status(app, late).await.is_some().then_some(()) },
        )
        .await;
        // Should the held transaction try to append now, it is refused (retryable):
        // its events would sort before what the projections already read.
        let refused = sqlx::query(
            "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type,
                                 event_version, payload, metadata)
             VALUES ('Order', $1, 1, 'OrderPaid', '1.0', '{}', '{}')",
        )
        .bind(Uuid::now_v7().to_string())
        .execute(&mut held.conn)
        .await
        .expect_err("a passed bystander may not append");
        let code = refused.as_database_error().and_then(|db| db.code());
        assert_eq!(code.as_deref(), Some("40001"), "{refused}");
    }
    sqlx::query("ROLLBACK")
        .execute(&mut held.conn)
        .await
        .expect("end the held transaction");

    // Nothing was skipped or applied twice meanwhile.
    settle(&app.pool).await;
    crate::support::audit::assert_log_verifies(app).await;
}

#[tokio::test]
async fn a_transaction_held_in_another_database_of_the_cluster_does_not_freeze_the_shop() {
    let (pool, _) = fresh_database().await;
    let app = start(pool, timing_out_after(Duration::from_secs(3))).await;
    let held = HeldTransaction::on(&database_url("postgres")).await;
    shop_keeps_serving_while(held, &app, false).await;
}

#[tokio::test]
async fn a_transaction_held_in_the_shops_own_database_does_not_freeze_the_shop() {
    let (pool, options) = fresh_database().await;
    let app = start(pool, timing_out_after(Duration::from_secs(3))).await;
    let name = options.get_database().expect("a database name");
    let held = HeldTransaction::on(&database_url(name)).await;
    shop_keeps_serving_while(held, &app, true).await;
}

/// An append that announced itself (its first INSERT) is waited for however long it
/// runs: the feed shows nothing committed after it until it ends, then both, in order.
#[tokio::test]
async fn the_feed_waits_for_an_appending_transaction_however_long_it_runs() {
    let (pool, options) = fresh_database().await;
    let name = options.get_database().expect("a database name");
    let mut appender = PgConnection::connect(&database_url(name))
        .await
        .expect("connect");
    sqlx::query("BEGIN")
        .execute(&mut appender)
        .await
        .expect("begin");
    insert_probe(&mut appender, "slow").await;
    // Long enough for the watcher to pass a bystander; an appender is not one.
    tokio::time::sleep(Duration::from_millis(600)).await;
    ordo::feed_horizon::check(&pool, &[])
        .await
        .expect("look at the horizon");
    let mut other = pool.acquire().await.expect("connection");
    insert_probe(&mut other, "fast").await;
    let store = ordo::event_store::EventStore::new(pool.clone());
    let feed = store
        .read_feed(ordo::event_store::FeedPosition::START, 100)
        .await
        .expect("feed");
    assert!(feed.is_empty(), "the feed ran past an appender: {feed:?}");

    sqlx::query("COMMIT")
        .execute(&mut appender)
        .await
        .expect("commit");
    let feed =
        crate::support::read_feed_until(&store, ordo::event_store::FeedPosition::START, 100, 2)
            .await;
    let ids: Vec<&str> = feed.iter().map(|e| e.aggregate_id.as_str()).collect();
    assert_eq!(ids, ["slow", "fast"]);
}

/// Property 4 under the new horizon: appenders commit out of order while bystanders hold
/// ids for a while and then try to append (some in time, some too late and refused); a
/// reader tailing the feed meanwhile sees every committed event exactly once, in order.
#[tokio::test]
async fn a_reader_tailing_the_feed_past_bystanders_never_skips_or_repeats_an_event() {
    use std::collections::HashSet;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

    use ordo::event_store::{
        EventData, EventMetadata, EventStore, FeedPosition, StreamAppend, StreamId,
    };

    let (pool, options) = fresh_database().await;
    let url = database_url(options.get_database().expect("a database name"));
    let store = EventStore::new(pool.clone());
    let running = Arc::new(AtomicBool::new(true));
    let refused = Arc::new(AtomicUsize::new(0));
    let committed: Arc<std::sync::Mutex<HashSet<String>>> = Arc::default();

    // The watcher, looking more often than the server's does.
    let watcher = {
        let (pool, running) = (pool.clone(), running.clone());
        tokio::spawn(async move {
            while running.load(Ordering::Relaxed) {
                ordo::feed_horizon::check(&pool, &[]).await.expect("check");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
    };
    let appenders: Vec<_> = (0..4)
        .map(|writer| {
            let (store, running, committed) = (store.clone(), running.clone(), committed.clone());
            tokio::spawn(async move {
                let mut n = 0;
                while running.load(Ordering::Relaxed) {
                    let id = format!("w{writer}-{n}");
                    n += 1;
                    let append = StreamAppend {
                        stream: StreamId::new("Probe", id.clone()),
                        expected_sequence: 0,
                        events: vec![EventData {
                            event_type: "Probed".to_owned(),
                            event_version: "1.0".to_owned(),
                            payload: serde_json::json!({}),
                            metadata: None,
                        }],
                    };
                    store
                        .append(&[append], &EventMetadata::default())
                        .await
                        .expect("append");
                    committed.lock().expect("lock").insert(id);
                }
            })
        })
        .collect();
    let bystanders: Vec<_> =
        (0..3)
            .map(|who| {
                let (url, running, committed, refused) = (
                    url.clone(),
                    running.clone(),
                    committed.clone(),
                    refused.clone(),
                );
                tokio::spawn(async move {
                    let mut n: u64 = 0;
                    while running.load(Ordering::Relaxed) {
                        let held = HeldTransaction::on(&url).await;
                        let mut conn = held.conn;
                        // Some append within the grace, most after it.
                        let wait = (n * 137 + who * 71) % 700;
                        tokio::time::sleep(Duration::from_millis(wait)).await;
                        let id = format!("b{who}-{n}");
                        n += 1;
                        match sqlx::query(
                        "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type,
                                             event_version, payload, metadata)
                         VALUES ('Probe', $1, 1, 'Probed', '1.0', '{}', '{}')",
                    )
                    .bind(&id)
                    .execute(&mut conn)
                    .await
                    {
                        Ok(_) => {
                            sqlx::query("COMMIT").execute(&mut conn).await.expect("commit");
                            committed.lock().expect("lock").insert(id);
                        }
                        Err(err) => {
                            let code = err.as_database_error().and_then(|db| db.code());
                            assert_eq!(code.as_deref(), Some("40001"), "{err}");
                            refused.fetch_add(1, Ordering::Relaxed);
                            sqlx::query("ROLLBACK").execute(&mut conn).await.expect("rollback");
                        }
                    }
                    }
                })
            })
            .collect();

    let mut seen: Vec<(FeedPosition, String)> = Vec::new();
    let mut checkpoint = FeedPosition::START;
    let until = tokio::time::Instant::now() + Duration::from_secs(4);
    while tokio::time::Instant::now() < until {
        for event in store.read_feed(checkpoint, 500).await.expect("read") {
            checkpoint = event.position;
            seen.push((event.position, event.aggregate_id));
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    running.store(false, Ordering::Relaxed);
    for task in appenders.into_iter().chain(bystanders) {
        task.await.expect("task");
    }
    watcher.await.expect("watcher");
    let committed = committed.lock().expect("lock").clone();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while seen.len() < committed.len() && tokio::time::Instant::now() < deadline {
        for event in store.read_feed(checkpoint, 500).await.expect("read") {
            checkpoint = event.position;
            seen.push((event.position, event.aggregate_id));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    assert!(
        seen.windows(2).all(|pair| pair[0].0 < pair[1].0),
        "out of feed order"
    );
    let ids: Vec<&String> = seen.iter().map(|(_, id)| id).collect();
    let unique: HashSet<&String> = ids.iter().copied().collect();
    assert_eq!(unique.len(), ids.len(), "an event was read twice");
    let missing: Vec<&String> = committed.iter().filter(|id| !unique.contains(id)).collect();
    assert!(missing.is_empty(), "skipped: {missing:?}");
    assert_eq!(
        unique.len(),
        committed.len(),
        "read an event never committed"
    );
    assert!(
        refused.load(Ordering::Relaxed) > 0,
        "no bystander was passed and then refused: the test did not exercise the horizon"
    );
    assert!(
        committed.iter().any(|id| id.starts_with('b')),
        "no bystander appended in time"
    );
}

/// When the read side lags anyway (here an appending transaction holds the horizon), a
/// shopper still sees their own orders as they are: read from the events.
#[tokio::test]
async fn while_an_appender_holds_the_read_side_a_shopper_sees_their_orders_as_they_are() {
    let (pool, options) = fresh_database().await;
    let app = start(pool, timing_out_after(Duration::from_secs(900))).await;
    let product = app.admin().create_product("Oolong", 4800, 100).await;
    let (status, before) = app
        .user("mei")
        .place_order(&[(product, 1)])
        .await
        .into_parts();
    assert_eq!(status, StatusCode::CREATED, "{before}");
    let before = id_of(&before);
    settle(&app.pool).await;

    // An append that never ends: the feed's horizon waits for it, as it must.
    let name = options.get_database().expect("a database name");
    let mut appender = held_append(&database_url(name)).await;
    let (status, placed) = app
        .user("mei")
        .place_order(&[(product, 2)])
        .await
        .into_parts();
    assert_eq!(status, StatusCode::CREATED, "{placed}");
    let placed = id_of(&placed);
    eventually("the server sees its order views behind", || async {
        app.state.horizon.report().stale("orders").then_some(())
    })
    .await;
    app.pay(placed, 9600).await;
    let (status, body) = app
        .user("mei")
        .cancel_order(&before.to_string())
        .await
        .into_parts();
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        viewed_status(&app, placed).await,
        None,
        "the views really lag"
    );

    let shopper = app.user("mei");
    let (status, detail) = shopper
        .get(&format!("/api/v1/orders/{placed}"))
        .await
        .into_parts();
    assert_eq!(status, StatusCode::OK, "{detail}");
    assert_eq!(detail["data"]["status"], "paid", "{detail}");
    let (status, list) = shopper.get("/api/v1/orders").await.into_parts();
    assert_eq!(status, StatusCode::OK, "{list}");
    let listed: Vec<(String, String)> = list["data"]["list"]
        .as_array()
        .expect("a list")
        .iter()
        .map(|order| {
            (
                order["id"].as_str().unwrap_or_default().to_owned(),
                order["status"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        listed,
        [
            (placed.to_string(), "paid".to_owned()),
            (before.to_string(), "cancelled".to_owned())
        ],
        "{list}"
    );
    assert_eq!(list["data"]["pagination"]["total"], 2, "{list}");
    // Someone else's order is still not theirs to read.
    let (status, _) = app
        .user("lei")
        .get(&format!("/api/v1/orders/{placed}"))
        .await
        .into_parts();
    assert_eq!(status, StatusCode::NOT_FOUND);
    // The read side's health says so.
    let (_, readiness) = app.anon().get("/readyz").await.into_parts();
    let appender_age = readiness["data"]["read_side"]["feed_horizon"]["appender_age_seconds"]
        .as_f64()
        .expect("appender age");
    assert!(appender_age > 0.0, "{readiness}");

    sqlx::query("ROLLBACK")
        .execute(&mut appender)
        .await
        .expect("end it");
    eventually("the views catch up", || async {
        (viewed_status(&app, placed).await.as_deref() == Some("paid")).then_some(())
    })
    .await;
}
