//! The payment timeout: unpaid orders are cancelled once, their stock released once —
//! across restarts, with several servers, and when a payment races the timeout.

use std::time::{Duration, Instant};

use aggregates::order::{Order, OrderStatus};
use ordo::state::AppSettings;
use reqwest::StatusCode;
use sqlx::PgPool;
use uuid::Uuid;

use crate::support::{
    FakeWeChatPay, NoticeOptions, TestApp, eventually, fresh_database, start, timing_out_after,
};

async fn place(app: &TestApp, user: &str, product: Uuid) -> Uuid {
    let (status, body) = app
        .user(user)
        .place_order(&[(product, 1)])
        .await
        .into_parts();
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["data"]["id"]
        .as_str()
        .and_then(|id| id.parse().ok())
        .expect("order id")
}

/// The order as its events make it.
async fn order(app: &TestApp, id: Uuid) -> Order {
    app.events
        .load::<Order>(&id.to_string())
        .await
        .expect("load order")
        .aggregate
}

/// Waits (at most 20 s) until none of `orders` awaits payment any more.
async fn until_settled(app: &TestApp, orders: &[Uuid]) {
    eventually("every order leaves awaiting payment", || async {
        for &id in orders {
            if order(app, id).await.status == Some(OrderStatus::AwaitingPayment) {
                return None;
            }
        }
        Some(())
    })
    .await
}

async fn count(pool: &PgPool, event_type: &str) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM events WHERE event_type = $1")
        .bind(event_type)
        .fetch_one(pool)
        .await
        .expect("count")
}

#[tokio::test]
async fn an_unpaid_order_is_cancelled_at_its_timeout_and_its_stock_comes_back() {
    let (pool, _) = fresh_database().await;
    let app = start(pool, timing_out_after(Duration::from_secs(2))).await;
    let tea = app.admin().create_product("Tea", 500, 5).await;
    let id = place(&app, "u1", tea).await;
    assert_eq!(app.stock(tea).await.available(), 4);

    until_settled(&app, &[id]).await;

    let cancelled = order(&app, id).await;
    assert_eq!(cancelled.status, Some(OrderStatus::Cancelled));
    assert_eq!(
        cancelled.cancel_reason.map(|reason| reason.as_str()),
        Some("payment_timeout")
    );
    assert!(
        cancelled.cancelled_at >= cancelled.expires_at,
        "never early"
    );
    assert_eq!(app.stock(tea).await.available(), 5);
    assert_eq!(app.count_events("StockReleased").await, 1);
    // The shopper sees why.
    let (status, view) = app
        .user("u1")
        .get(&format!("/api/v1/orders/{id}"))
        .await
        .into_parts();
    assert_eq!(status, StatusCode::OK);
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut view = view;
    while view["data"]["status"] != "cancelled" && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
        view = app
            .user("u1")
            .get(&format!("/api/v1/orders/{id}"))
            .await
            .body;
    }
    assert_eq!(view["data"]["cancel_reason"], "payment_timeout");
}

#[tokio::test]
async fn orders_that_expire_while_no_server_runs_are_cancelled_after_a_restart() {
    let (pool, _) = fresh_database().await;
    let first = start(pool.clone(), timing_out_after(Duration::from_secs(2))).await;
    let tea = first.admin().create_product("Tea", 500, 10).await;
    let mut orders = Vec::new();
    for n in 0..5 {
        orders.push(place(&first, &format!("u{n}"), tea).await);
    }
    drop(first);

    tokio::time::sleep(Duration::from_millis(2_500)).await;
    assert_eq!(
        count(&pool, "OrderCancelled").await,
        0,
        "no server, no cancel"
    );

    let second = start(pool.clone(), timing_out_after(Duration::from_secs(2))).await;
    until_settled(&second, &orders).await;

    assert_eq!(count(&pool, "OrderCancelled").await, 5);
    assert_eq!(second.stock(tea).await.available(), 10);
}

#[tokio::test]
async fn two_servers_cancel_each_expired_order_once() {
    let (pool, _) = fresh_database().await;
    let one = start(pool.clone(), timing_out_after(Duration::from_secs(1))).await;
    let two = start(pool.clone(), timing_out_after(Duration::from_secs(1))).await;
    let tea = one.admin().create_product("Tea", 500, 100).await;
    let mut orders = Vec::new();
    for n in 0..30 {
        let app = if n % 2 == 0 { &one } else { &two };
        orders.push(place(app, &format!("u{n}"), tea).await);
    }

    until_settled(&one, &orders).await;
    // Give a late duplicate the chance to show.
    tokio::time::sleep(Duration::from_millis(500)).await;

    assert_eq!(count(&pool, "OrderCancelled").await, 30);
    assert_eq!(count(&pool, "StockReleased").await, 30);
    let stock = one.stock(tea).await;
    assert_eq!(
        (stock.on_hand(), stock.reserved(), stock.available()),
        (100, 0, 100)
    );
}

#[tokio::test]
async fn a_payment_racing_the_timeout_ends_paid_or_refunded_and_stock_adds_up() {
    let fake = FakeWeChatPay::start().await;
    let (pool, _) = fresh_database().await;
    let settings = AppSettings {
        wechat_pay: Some(fake.config()),
        ..timing_out_after(Duration::from_secs(1))
    };
    let one = start(pool.clone(), settings.clone()).await;
    let two = start(pool.clone(), settings).await;
    let products = [
        one.admin().create_product("Tea", 500, 1_000).await,
        one.admin().create_product("Cake", 700, 1_000).await,
    ];

    for round in 0..3 {
        let mut orders = Vec::new();
        for n in 0..20 {
            let app = if n % 2 == 0 { &one } else { &two };
            let product = products[n % 2];
            orders.push((place(app, &format!("r{round}u{n}"), product).await, product));
        }
        // The notices land around the moment the orders expire, on either server,
        // while both servers' timeouts sweep.
        tokio::time::sleep(Duration::from_millis(950)).await;
        let notices = orders.iter().enumerate().map(|(n, (id, product))| {
            let app = if n % 3 == 0 { &one } else { &two };
            let price = if *product == products[0] { 500 } else { 700 };
            let fake = &fake;
            async move {
                tokio::time::sleep(Duration::from_millis((n as u64 % 5) * 25)).await;
                fake.send_notice(&app.address, *id, &NoticeOptions::paying(price))
                    .await
            }
        });
        for (status, answer) in futures::future::join_all(notices).await {
            assert_eq!(
                status,
                StatusCode::OK,
                "every notice is answered success: {answer}"
            );
        }
        let ids: Vec<Uuid> = orders.iter().map(|(id, _)| *id).collect();
        until_settled(&one, &ids).await;

        for (id, _) in &orders {
            let order = order(&one, *id).await;
            match order.status {
                Some(OrderStatus::Paid) => assert!(order.refunds_due.is_empty(), "{id}"),
                Some(OrderStatus::Cancelled) => {
                    assert_eq!(order.refunds_due.len(), 1, "{id}: the payment is owed back");
                }
                other => panic!("{id} ended {other:?}"),
            }
        }
    }

    // Every unit is on hand, or sold to exactly one paid order.
    let paid = count(&pool, "OrderPaid").await;
    let cancelled = count(&pool, "OrderCancelled").await;
    assert_eq!(paid + cancelled, 60);
    assert_eq!(count(&pool, "RefundRequired").await, cancelled);
    assert_eq!(count(&pool, "StockSold").await, paid);
    assert_eq!(count(&pool, "StockReleased").await, cancelled);
    let mut on_hand = 0;
    for product in products {
        let stock = one.stock(product).await;
        assert_eq!(stock.reserved(), 0);
        on_hand += stock.on_hand();
    }
    assert_eq!(on_hand, 2_000 - paid);
    println!("race: {paid} paid, {cancelled} cancelled with a refund required");
}
