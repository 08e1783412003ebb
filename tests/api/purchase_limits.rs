//! Purchase limits ("限购") and the open-order cap: decided by the write model with the
//! order and its reservations, so no burst of requests, on one server process or two,
//! takes a shopper past them; cancelled and expired orders give their units back.

use std::time::Duration;

use ordo::rate_limit::RateLimits;
use ordo::state::AppSettings;
use ordo::write::WriteSettings;
use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::support::{TestApp, address, eventually, fresh_database, start};

/// Dev mode with the open-order cap at `max_unpaid_orders` and no per-user rate limit:
/// these tests send one shopper's requests in bursts far above what a rate limit lets
/// through, to try the invariants, not the limiter.
fn settings(max_unpaid_orders: u32) -> AppSettings {
    AppSettings {
        dev_mode: true,
        write: WriteSettings {
            max_unpaid_orders,
            ..WriteSettings::default()
        },
        rate_limits: RateLimits {
            per_user: None,
            ..RateLimits::default()
        },
        ..AppSettings::default()
    }
}

/// Creates a product with this purchase limit (`null`: none) and 1,000 units.
async fn product(app: &TestApp, name: &str, limit: Value) -> Uuid {
    let (status, body) = app
        .admin()
        .post(
            "/api/v1/admin/products",
            &json!({"name": name, "price_cents": 100, "initial_stock": 1000,
                    "limit_per_user": limit}),
        )
        .await
        .into_parts();
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["data"]["limit_per_user"], limit);
    body["data"]["id"]
        .as_str()
        .expect("id")
        .parse()
        .expect("uuid")
}

/// One order to send: the server process, the shopper, the (product, quantity) lines.
type Attempt<'a> = (&'a TestApp, String, Vec<(Uuid, i64)>);

/// Sends all these orders at once; their answers in order.
async fn all_at_once(orders: Vec<Attempt<'_>>) -> Vec<(StatusCode, Value)> {
    let mut tasks = Vec::new();
    for (app, shopper, lines) in orders {
        let shopper = app.user(&shopper);
        let lines: Vec<Value> = lines
            .iter()
            .map(|(id, quantity)| json!({"product_id": id, "quantity": quantity}))
            .collect();
        tasks.push(tokio::spawn(async move {
            shopper
                .post(
                    "/api/v1/orders",
                    &json!({"lines": lines, "address": address()}),
                )
                .await
                .into_parts()
        }));
    }
    let mut answers = Vec::new();
    for task in tasks {
        answers.push(task.await.expect("order task"));
    }
    answers
}

/// Units of `product` the shopper's accepted orders hold (their lines, from the answers).
fn units_of(answers: &[(StatusCode, Value)], product: Uuid) -> i64 {
    answers
        .iter()
        .filter(|(status, _)| *status == StatusCode::CREATED)
        .flat_map(|(_, body)| {
            body["data"]["lines"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .filter(|line| line["product_id"] == product.to_string())
        .map(|line| line["quantity"].as_i64().expect("quantity"))
        .sum()
}

/// Every refusal is a 409 40904 naming the limited product: the limit, what the shopper
/// already held and what the order asked for.
fn assert_refusals_name_the_limit(answers: &[(StatusCode, Value)], product: Uuid, limit: i64) {
    for (status, body) in answers.iter().filter(|(s, _)| *s != StatusCode::CREATED) {
        assert_eq!(*status, StatusCode::CONFLICT, "{body}");
        assert_eq!(body["code"], 40904, "{body}");
        let breach = &body["data"]["limits"][0];
        assert_eq!(breach["product_id"], product.to_string(), "{body}");
        assert_eq!(breach["limit"], limit, "{body}");
        let (already, requested) = (
            breach["already"].as_i64().expect("already"),
            breach["requested"].as_i64().expect("requested"),
        );
        assert!(already + requested > limit && already <= limit, "{body}");
    }
}

#[tokio::test]
async fn two_hundred_concurrent_attempts_by_one_shopper_never_pass_the_limit() {
    let (pool, _) = fresh_database().await;
    let app = start(pool, settings(1_000)).await;
    let limited = product(&app, "Flash tea", json!(3)).await;
    let free = product(&app, "Cups", Value::Null).await;

    // Single-line orders (through the product's batch) and two-line orders (the other
    // path), one or two units each.
    let orders = (0..200)
        .map(|n| {
            let lines = match n % 3 {
                0 => vec![(limited, 1)],
                1 => vec![(limited, 2)],
                _ => vec![(free, 1), (limited, 1)],
            };
            (&app, "greedy".to_owned(), lines)
        })
        .collect();
    let answers = all_at_once(orders).await;

    let held = units_of(&answers, limited);
    assert!(
        held == 3 || held == 2,
        "the shopper got {held} units of a product limited to 3"
    );
    assert_refusals_name_the_limit(&answers, limited, 3);
    let stock = app.stock(limited).await;
    assert_eq!(
        stock.reserved(),
        held,
        "only accepted orders reserved units"
    );
    assert_eq!(app.stock(free).await.reserved(), units_of(&answers, free));
    let placed = answers
        .iter()
        .filter(|(status, _)| *status == StatusCode::CREATED)
        .count();
    assert_eq!(app.count_events("OrderPlaced").await, placed as i64);
    assert_eq!(app.count_events("PurchaseOpened").await, placed as i64);

    // Another shopper is not held back by the first one's purchases.
    let patient = app.user("patient");
    let (status, body) = patient.place_order(&[(limited, 3)]).await.into_parts();
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

#[tokio::test]
async fn two_shoppers_on_two_server_processes_never_pass_the_limit() {
    let (pool, _) = fresh_database().await;
    let first = start(pool.clone(), settings(1_000)).await;
    let second = start(pool, settings(1_000)).await;
    let limited = product(&first, "Flash tea", json!(2)).await;
    // Both processes have the product and both shoppers cached before the burst, so
    // each decides on state the other one moves: only the event store keeps them honest.
    for (app, shopper) in [(&first, "ann"), (&second, "bob")] {
        let other = product(app, "Warm-up", Value::Null).await;
        let shopper = app.user(shopper);
        let (status, body) = shopper.place_order(&[(other, 1)]).await.into_parts();
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let ann = second.user("ann");
    let (status, body) = ann.place_order(&[(limited, 1)]).await.into_parts();
    assert_eq!(status, StatusCode::CREATED, "{body}");

    let shopper = |n: usize| if n % 4 < 2 { "ann" } else { "bob" };
    let orders = (0..200)
        .map(|n| {
            let app = if n % 2 == 0 { &first } else { &second };
            (app, shopper(n).to_owned(), vec![(limited, 1)])
        })
        .collect();
    let answers = all_at_once(orders).await;

    let placed_by = |who: &str| {
        answers
            .iter()
            .enumerate()
            .filter(|(n, (status, _))| *status == StatusCode::CREATED && shopper(*n) == who)
            .count()
    };
    // Ann already held one unit.
    assert_eq!((placed_by("ann"), placed_by("bob")), (1, 2));
    assert_refusals_name_the_limit(&answers, limited, 2);
    assert_eq!(first.stock(limited).await.reserved(), 4);
}

#[tokio::test]
async fn the_open_order_cap_plus_one_concurrent_orders_places_exactly_the_cap() {
    let (pool, _) = fresh_database().await;
    let first = start(pool.clone(), settings(5)).await;
    let second = start(pool, settings(5)).await;
    let tea = product(&first, "Tea", Value::Null).await;
    let cups = product(&first, "Cups", Value::Null).await;

    // Six orders at once, over both processes and both order paths.
    let orders = (0..6)
        .map(|n| {
            let app = if n % 2 == 0 { &first } else { &second };
            let lines = if n % 3 == 0 {
                vec![(tea, 1), (cups, 1)]
            } else {
                vec![(tea, 1)]
            };
            (app, "busy".to_owned(), lines)
        })
        .collect();
    let answers = all_at_once(orders).await;

    let placed: Vec<(Uuid, i64)> = answers
        .iter()
        .filter(|(status, _)| *status == StatusCode::CREATED)
        .map(|(_, body)| {
            let id = body["data"]["id"]
                .as_str()
                .expect("id")
                .parse()
                .expect("uuid");
            (id, body["data"]["total_cents"].as_i64().expect("total"))
        })
        .collect();
    assert_eq!(placed.len(), 5, "{answers:?}");
    let refused = answers
        .iter()
        .find(|(status, _)| *status != StatusCode::CREATED)
        .expect("one refused");
    assert_eq!(refused.0, StatusCode::CONFLICT);
    assert_eq!(refused.1["code"], 40905, "{}", refused.1);
    assert_eq!(refused.1["data"]["max_unpaid_orders"], 5);
    assert_eq!(units_of(&answers, tea), first.stock(tea).await.reserved());

    // A paid order no longer counts as unpaid: the next order is placed.
    first.pay(placed[0].0, placed[0].1).await;
    let (busy_on_first, busy_on_second) = (first.user("busy"), second.user("busy"));
    let (status, body) = busy_on_second.place_order(&[(tea, 1)]).await.into_parts();
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = busy_on_first.place_order(&[(tea, 1)]).await.into_parts();
    assert_eq!(
        (status, body["code"].clone()),
        (StatusCode::CONFLICT, json!(40905))
    );
    // Nor does a cancelled one.
    let (status, _) = busy_on_second.cancel_order(placed[1].0).await.into_parts();
    assert_eq!(status, StatusCode::OK);
    let (status, body) = busy_on_first.place_order(&[(tea, 1)]).await.into_parts();
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

#[tokio::test]
async fn cancelled_and_expired_orders_give_their_units_back_and_paid_ones_keep_them() {
    let (pool, _) = fresh_database().await;
    let app = start(
        pool,
        AppSettings {
            write: WriteSettings {
                payment_timeout: Duration::from_secs(2),
                ..settings(100).write
            },
            ..settings(100)
        },
    )
    .await;
    let tea = product(&app, "Tea", json!(2)).await;
    let sam = app.user("sam");
    let order_id = |body: &Value| body["data"]["id"].as_str().expect("id").to_owned();

    let (status, body) = sam.place_order(&[(tea, 2)]).await.into_parts();
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let first = order_id(&body);
    let (status, body) = sam.place_order(&[(tea, 1)]).await.into_parts();
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(
        body["data"]["limits"],
        json!([{"product_id": tea, "limit": 2, "already": 2, "requested": 1}])
    );

    // Cancelled: both units come back.
    let (status, _) = sam.cancel_order(&first).await.into_parts();
    assert_eq!(status, StatusCode::OK);
    let (status, body) = sam.place_order(&[(tea, 1)]).await.into_parts();
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let paid = order_id(&body);
    app.pay(paid.parse().expect("uuid"), 100).await;

    // Expired unpaid: its unit comes back. The paid one keeps counting.
    let (status, body) = sam.place_order(&[(tea, 1)]).await.into_parts();
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let expiring = order_id(&body);
    eventually("the unpaid order expires", || async {
        let (_, body) = sam
            .get(&format!("/api/v1/orders/{expiring}"))
            .await
            .into_parts();
        (body["data"]["status"] == "cancelled").then_some(())
    })
    .await;
    let (status, body) = sam.place_order(&[(tea, 2)]).await.into_parts();
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(
        body["data"]["limits"],
        json!([{"product_id": tea, "limit": 2, "already": 1, "requested": 2}])
    );
    let (status, body) = sam.place_order(&[(tea, 1)]).await.into_parts();
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let stock = app.stock(tea).await;
    assert_eq!((stock.on_hand(), stock.reserved()), (999, 1));
}

#[tokio::test]
async fn a_limit_is_set_shown_changed_and_removed_through_the_api() {
    let (pool, _) = fresh_database().await;
    let app = start(pool, settings(5)).await;
    let admin = app.admin();
    for bad in [json!(0), json!(-1), json!("two"), json!(1.5)] {
        let (status, body) = admin
            .post(
                "/api/v1/admin/products",
                &json!({"name": "Tea", "price_cents": 1, "limit_per_user": bad}),
            )
            .await
            .into_parts();
        assert!(status.is_client_error(), "{bad}: {status} {body}");
        assert!(
            body["message"]
                .as_str()
                .expect("message")
                .contains("limit_per_user"),
            "{body}"
        );
    }
    let tea = product(&app, "Tea", json!(1)).await;
    let anon = app.anon();
    let limit_shown = || async {
        let (_, body) = anon
            .get(&format!("/api/v1/products/{tea}"))
            .await
            .into_parts();
        body["data"]["limit_per_user"].clone()
    };
    assert_eq!(limit_shown().await, json!(1));

    let put = |body: Value| {
        let admin = &admin;
        async move {
            admin
                .put(&format!("/api/v1/admin/products/{tea}"), &body)
                .await
                .into_parts()
        }
    };
    let (status, body) = put(json!({"limit_per_user": 4})).await;
    assert_eq!(
        (status, body["data"]["limit_per_user"].clone()),
        (StatusCode::OK, json!(4))
    );
    let (status, body) = put(json!({"price_cents": 3})).await;
    assert_eq!(
        body["data"]["limit_per_user"], 4,
        "absent keeps the limit: {status} {body}"
    );
    let (status, body) = put(json!({"limit_per_user": 0})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["data"]["errors"][0]["field"], "limit_per_user");
    let (status, body) = put(json!({"limit_per_user": null})).await;
    assert_eq!(
        (status, body["data"]["limit_per_user"].clone()),
        (StatusCode::OK, Value::Null)
    );
    assert_eq!(limit_shown().await, Value::Null);
    let (_, list) = anon.get("/api/v1/products").await.into_parts();
    assert_eq!(list["data"]["list"][0]["limit_per_user"], Value::Null);

    // Without a limit, one shopper may take what there is.
    let anyone = app.user("any");
    let (status, body) = anyone.place_order(&[(tea, 999)]).await.into_parts();
    assert_eq!(status, StatusCode::CREATED, "{body}");
}
