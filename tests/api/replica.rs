//! Reads off the primary (`DATABASE_READ_URL`): a real streaming replica made with
//! `pg_basebackup -R` answers the catalog and the shoppers' orders while it keeps up; a
//! shopper reads what they just wrote; a replica that lags or dies sends reads back to
//! the primary.

use std::time::Duration;

use ordo::database;
use ordo::embedded_postgres::{Durability, EmbeddedPostgres};
use ordo::reads::replica::ReplicaSettings;
use ordo::state::AppSettings;
use reqwest::StatusCode;
use sqlx::PgPool;

use crate::support::{TestApp, eventually, start};

/// A value of the `/metrics` page: the series named exactly `series` (labels included).
async fn metric(app: &TestApp, series: &str) -> f64 {
    let text = app.metrics().await;
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or(0.0)
}

/// The product's availability as the catalog answers it; `None` while it is not shown.
async fn available(app: &TestApp, product: uuid::Uuid) -> Option<i64> {
    let (status, body) = app
        .anon()
        .get(&format!("/api/v1/products/{product}"))
        .await
        .into_parts();
    (status == StatusCode::OK).then(|| body["data"]["available"].as_i64().expect("available"))
}

#[tokio::test]
async fn a_replica_answers_reads_while_it_keeps_up_and_the_primary_when_it_lags_or_dies() {
    // A cluster of its own (a replica copies the whole cluster), durable as in service:
    // with asynchronous commits a commit reaches the replica only at the WAL writer's
    // next flush, a wait longer than a read waits for its caller's write.
    let primary = EmbeddedPostgres::start_temporary(Durability::Durable).expect("a primary");
    database::ensure_database(&primary.connect_options("postgres"), "shop")
        .await
        .expect("create the shop's database");
    let pool: PgPool = database::connect(primary.connect_options("shop"), 8)
        .await
        .expect("connect to the primary");
    database::migrate(&pool).await.expect("migrate");
    let mut replica = primary
        .start_replica(Durability::Throwaway)
        .expect("a streaming replica");
    let on_replica = database::connect(replica.connect_options("shop"), 2)
        .await
        .expect("connect to the replica");
    let app = start(
        pool,
        AppSettings {
            dev_mode: true,
            read_replica: Some(ReplicaSettings {
                options: replica.connect_options("shop"),
                // Generous, so that a loaded machine's slow replay is not taken for
                // a lagging replica: the test is about where reads go, not how fast.
                max_lag: Duration::from_secs(3),
                wait: Duration::from_secs(5),
                max_connections: 4,
            }),
            ..AppSettings::default()
        },
    )
    .await;
    eventually("the replica is read", || async {
        (metric(&app, "read_replica_usable").await == 1.0).then_some(())
    })
    .await;

    // The catalog comes from the replica once it has replayed the product.
    let tea = app.admin().create_product("Longjing", 6_800, 10).await;
    eventually("the replica shows the new product", || async {
        (available(&app, tea).await == Some(10)).then_some(())
    })
    .await;

    // A shopper reads their order at once, from the replica that waited for it.
    let replica_reads = r#"reads_total{database="replica"}"#;
    let before = metric(&app, replica_reads).await;
    let mei = app.user("mei");
    let (status, placed) = mei.place_order(&[(tea, 1)]).await.into_parts();
    assert_eq!(status, StatusCode::CREATED, "{placed}");
    let order = placed["data"]["id"].as_str().expect("order id").to_owned();
    let (status, read) = mei
        .get(&format!("/api/v1/orders/{order}"))
        .await
        .into_parts();
    assert_eq!(
        status,
        StatusCode::OK,
        "the shopper reads their order at once: {read}"
    );
    assert_eq!(read["data"]["status"], "awaiting_payment");
    let (status, list) = mei.get("/api/v1/orders").await.into_parts();
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["data"]["list"][0]["id"], order.as_str(), "{list}");
    assert!(
        metric(&app, replica_reads).await >= before + 2.0,
        "the order and the list were read from the replica"
    );

    // The replica stops replaying: past the allowed lag, reads go to the primary, and a
    // writer still reads what they wrote.
    sqlx::query("SELECT pg_wal_replay_pause()")
        .execute(&on_replica)
        .await
        .expect("pause replay");
    let (status, second) = mei.place_order(&[(tea, 2)]).await.into_parts();
    assert_eq!(status, StatusCode::CREATED, "{second}");
    let second = second["data"]["id"].as_str().expect("order id").to_owned();
    let (status, read) = mei
        .get(&format!("/api/v1/orders/{second}"))
        .await
        .into_parts();
    assert_eq!(
        status,
        StatusCode::OK,
        "read from the primary after the wait: {read}"
    );
    let (status, list) = mei.get("/api/v1/orders").await.into_parts();
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        list["data"]["list"][0]["id"],
        second.as_str(),
        "the shopper's list shows what they just wrote: {list}"
    );
    eventually("a lagging replica is left", || async {
        (metric(&app, "read_replica_usable").await == 0.0).then_some(())
    })
    .await;
    eventually(
        "anyone's catalog read sees the primary's stock while the replica lags",
        || async { (available(&app, tea).await == Some(7)).then_some(()) },
    )
    .await;
    sqlx::query("SELECT pg_wal_replay_resume()")
        .execute(&on_replica)
        .await
        .expect("resume replay");
    eventually("a replica that caught up is read again", || async {
        (metric(&app, "read_replica_usable").await == 1.0).then_some(())
    })
    .await;
    on_replica.close().await;

    // The replica dies: reads go on, from the primary.
    replica.stop().expect("stop the replica");
    let (status, read) = mei
        .get(&format!("/api/v1/orders/{order}"))
        .await
        .into_parts();
    assert_eq!(status, StatusCode::OK, "{read}");
    assert_eq!(available(&app, tea).await, Some(7));
    let (status, _) = mei.get("/api/v1/orders").await.into_parts();
    assert_eq!(status, StatusCode::OK);
}
