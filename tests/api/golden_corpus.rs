//! Every event ever written still loads: the golden corpus (`tests/golden/`) holds every
//! event type as each released version wrote it; all of it must load through the write
//! side and project, and today's code must write each current version exactly as the
//! corpus shows it.

use aggregates::order::{Order, OrderEvent, OrderStatus};
use aggregates::product::{Product, ProductEvent};
use aggregates::shopper::{Shopper, ShopperEvent};
use aggregates::stock::{Stock, StockEvent};
use aggregates::user::{User, UserEvent};
use cqrs_es::DomainEvent;
use reqwest::StatusCode;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::support::{settle, spawn_app};

const CORPUS: &str = include_str!("../golden/events.ndjson");

fn corpus() -> Vec<Value> {
    CORPUS
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| serde_json::from_str(line).expect("a corpus line is JSON"))
        .collect()
}

/// The event type and version today's code gives the corpus entry's payload, once read
/// through the upcasters; and whether writing it again gives the same JSON.
fn today<E: DeserializeOwned + serde::Serialize + DomainEvent>(
    entry: &Value,
) -> (String, String, bool) {
    let (event_type, version) = (
        entry["event_type"].as_str().expect("event_type"),
        entry["event_version"].as_str().expect("event_version"),
    );
    let payload = projections::upcasting::upcast(event_type, version, entry["payload"].clone());
    let event: E = serde_json::from_value(payload.clone())
        .unwrap_or_else(|err| panic!("{event_type} v{version} does not read: {err}"));
    let same = serde_json::to_value(&event).expect("serialize") == payload;
    (event.event_type(), event.event_version(), same)
}

/// Every event type today's code can write. The match makes a new variant fail to
/// compile here until the corpus has it.
fn every_event_type() -> Vec<&'static str> {
    fn order(event: &OrderEvent) -> &'static str {
        match event {
            OrderEvent::OrderPlaced { .. } => "OrderPlaced",
            OrderEvent::OrderPaid { .. } => "OrderPaid",
            OrderEvent::OrderCancelled { .. } => "OrderCancelled",
            OrderEvent::PaymentReceived { .. } => "PaymentReceived",
            OrderEvent::RefundRequired { .. } => "RefundRequired",
            OrderEvent::OrderShipped { .. } => "OrderShipped",
            OrderEvent::ShipmentCorrected { .. } => "ShipmentCorrected",
            OrderEvent::OrderCompleted { .. } => "OrderCompleted",
            OrderEvent::RefundRequested { .. } => "RefundRequested",
            OrderEvent::RefundSucceeded { .. } => "RefundSucceeded",
            OrderEvent::RefundFailed { .. } => "RefundFailed",
            OrderEvent::RefundAbnormal { .. } => "RefundAbnormal",
            OrderEvent::AfterSaleRequested { .. } => "AfterSaleRequested",
            OrderEvent::AfterSaleApproved { .. } => "AfterSaleApproved",
            OrderEvent::AfterSaleRejected { .. } => "AfterSaleRejected",
            OrderEvent::ReturnShipped { .. } => "ReturnShipped",
            OrderEvent::ReturnReceived { .. } => "ReturnReceived",
        }
    }
    fn stock(event: &StockEvent) -> &'static str {
        match event {
            StockEvent::StockAdded { .. } => "StockAdded",
            StockEvent::StockWrittenOff { .. } => "StockWrittenOff",
            StockEvent::StockReserved { .. } => "StockReserved",
            StockEvent::StockReleased { .. } => "StockReleased",
            StockEvent::StockSold { .. } => "StockSold",
            StockEvent::StockReturned { .. } => "StockReturned",
        }
    }
    fn product(event: &ProductEvent) -> &'static str {
        match event {
            ProductEvent::ProductCreated { .. } => "ProductCreated",
            ProductEvent::ProductUpdated { .. } => "ProductUpdated",
            ProductEvent::ProductImageAdded { .. } => "ProductImageAdded",
            ProductEvent::ProductImageRemoved { .. } => "ProductImageRemoved",
            ProductEvent::SkuAdded { .. } => "SkuAdded",
            ProductEvent::SkuChanged { .. } => "SkuChanged",
        }
    }
    fn user(event: &UserEvent) -> &'static str {
        match event {
            UserEvent::UserRegistered { .. } => "UserRegistered",
            UserEvent::ProfileUpdated { .. } => "ProfileUpdated",
            UserEvent::PhoneVerified { .. } => "PhoneVerified",
        }
    }
    fn shopper(event: &ShopperEvent) -> &'static str {
        match event {
            ShopperEvent::PurchaseOpened { .. } => "PurchaseOpened",
            ShopperEvent::PurchasePaid { .. } => "PurchasePaid",
            ShopperEvent::PurchaseReleased { .. } => "PurchaseReleased",
            ShopperEvent::PurchaseReturned { .. } => "PurchaseReturned",
        }
    }
    let _ = (order, stock, product, user, shopper);
    vec![
        "OrderPlaced",
        "OrderPaid",
        "OrderCancelled",
        "PaymentReceived",
        "RefundRequired",
        "OrderShipped",
        "OrderCompleted",
        "RefundRequested",
        "RefundSucceeded",
        "RefundFailed",
        "RefundAbnormal",
        "StockAdded",
        "StockWrittenOff",
        "StockReserved",
        "StockReleased",
        "StockSold",
        "StockReturned",
        "ProductCreated",
        "ProductUpdated",
        "ProductImageAdded",
        "ProductImageRemoved",
        "SkuAdded",
        "SkuChanged",
        "UserRegistered",
        "ProfileUpdated",
        "PurchaseOpened",
        "PurchasePaid",
        "PurchaseReleased",
        "PurchaseReturned",
    ]
}

#[test]
fn the_corpus_holds_every_event_type_and_today_writes_its_current_version_as_shown() {
    let entries = corpus();
    for wanted in every_event_type() {
        let found: Vec<&Value> = entries
            .iter()
            .filter(|e| e["event_type"] == wanted)
            .collect();
        assert!(!found.is_empty(), "the corpus has no {wanted}");
        let mut current_version_seen = false;
        for entry in found {
            let (event_type, version, same) = match entry["aggregate_type"].as_str() {
                Some("Order") => today::<OrderEvent>(entry),
                Some("Stock") => today::<StockEvent>(entry),
                Some("Product") => today::<ProductEvent>(entry),
                Some("User") => today::<UserEvent>(entry),
                Some("Shopper") => today::<ShopperEvent>(entry),
                other => panic!("unknown aggregate type {other:?}"),
            };
            assert_eq!(event_type, wanted);
            if entry["event_version"] == version.as_str() {
                current_version_seen = true;
                assert!(
                    same,
                    "today's code writes {wanted} v{version} differently from the corpus: \
                     give it a new version, an upcaster and a corpus line"
                );
            }
        }
        assert!(
            current_version_seen,
            "the corpus lacks {wanted}'s current version"
        );
    }
}

#[tokio::test]
async fn every_event_of_the_golden_corpus_loads_and_projects() {
    let app = spawn_app().await;
    for entry in corpus() {
        sqlx::query(
            "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type,
                                 event_version, payload, metadata)
             VALUES ($1, $2, $3, $4, $5, $6::text::json, $7::text::json)",
        )
        .bind(entry["aggregate_type"].as_str())
        .bind(entry["aggregate_id"].as_str())
        .bind(entry["sequence"].as_i64())
        .bind(entry["event_type"].as_str())
        .bind(entry["event_version"].as_str())
        .bind(entry["payload"].to_string())
        .bind(entry["metadata"].to_string())
        .execute(&app.pool)
        .await
        .expect("insert a corpus event as its version wrote it");
    }

    // The write side loads every stream.
    let product_id = "0191b4a0-0000-7000-8000-000000000001";
    let user_id = "0191b4a0-0000-5000-8000-0000000000a1";
    let (completed, cancelled) = (
        "0191b4a0-0000-7000-8000-000000000101",
        "0191b4a0-0000-7000-8000-000000000102",
    );
    let product = app
        .events
        .load::<Product>(product_id)
        .await
        .expect("product")
        .aggregate;
    assert_eq!(
        (product.name.as_str(), product.price_cents),
        ("Oolong 2026", 5000)
    );
    let stock = app
        .events
        .load::<Stock>(product_id)
        .await
        .expect("stock")
        .aggregate;
    assert_eq!((stock.on_hand(), stock.reserved()), (5, 0));
    let user = app
        .events
        .load::<User>(user_id)
        .await
        .expect("user")
        .aggregate;
    assert_eq!(user.nickname, "Mei");
    assert_eq!(
        (user.phone.as_str(), user.phone_verified),
        ("13800138000", true)
    );
    // The shopper holds the paid order's 2 units; the cancelled one gave its unit back.
    let shopper = app
        .events
        .load::<Shopper>(user_id)
        .await
        .expect("shopper")
        .aggregate;
    let oolong = product_id.parse().expect("uuid");
    assert_eq!((shopper.unpaid_orders(), shopper.held(oolong)), (0, 2));
    let limited = app
        .events
        .load::<Product>("0191b4a0-0000-7000-8000-000000000002")
        .await
        .expect("limited product")
        .aggregate;
    assert_eq!(limited.limit_per_user, Some(1));
    let order = app
        .events
        .load::<Order>(completed)
        .await
        .expect("order")
        .aggregate;
    assert_eq!(order.status, Some(OrderStatus::Completed));
    let order = app
        .events
        .load::<Order>(cancelled)
        .await
        .expect("order")
        .aggregate;
    assert_eq!(order.status, Some(OrderStatus::Cancelled));
    assert_eq!(order.refunds_due.len(), 1);
    assert_eq!(order.refunds.len(), 1, "its late payment refunded");
    let refunded = app
        .events
        .load::<Order>("0191b4a0-0000-7000-8000-000000000103")
        .await
        .expect("order")
        .aggregate;
    assert_eq!(refunded.status, Some(OrderStatus::Refunded));
    assert_eq!(refunded.refunds.len(), 2, "refused once, then refunded");
    let stuck = app
        .events
        .load::<Order>("0191b4a0-0000-7000-8000-000000000105")
        .await
        .expect("order")
        .aggregate;
    assert_eq!(
        stuck.status,
        Some(OrderStatus::Refunding),
        "ABNORMAL is no refusal"
    );
    assert!(stuck.refunds[0].abnormal.is_some());
    // Shipped by SF (version 2: WeChat's delivery id), then corrected to ZTO, once.
    let corrected = app
        .events
        .load::<Order>("0191b4a0-0000-7000-8000-000000000106")
        .await
        .expect("order")
        .aggregate;
    let shipment = corrected.shipment.expect("shipped");
    assert_eq!(
        (
            shipment.express_company.as_deref(),
            shipment.tracking_no.as_str()
        ),
        (Some("ZTO"), "ZT0000000006")
    );
    assert!(shipment.corrected_at.is_some());
    // A product with specs: its SKUs, each with its own stock; an order of two of them.
    let t_shirt = "0191b4a0-0000-7000-8000-000000000003";
    let (small, medium) = (
        "0191b4a0-0000-7000-8000-000000000301",
        "0191b4a0-0000-7000-8000-000000000302",
    );
    let product = app
        .events
        .load::<Product>(t_shirt)
        .await
        .expect("t-shirt")
        .aggregate;
    assert_eq!((product.skus.len(), product.price_cents), (2, 5900));
    // Two M sold, one refunded before shipping and back (0.5.0).
    let stock = app.events.load::<Stock>(medium).await.expect("M").aggregate;
    assert_eq!((stock.on_hand(), stock.reserved()), (4, 0));
    let order = app
        .events
        .load::<Order>("0191b4a0-0000-7000-8000-000000000107")
        .await
        .expect("order")
        .aggregate;
    assert_eq!(order.lines[0].sku_id.to_string(), medium);
    assert_eq!(order.lines[1].spec["size"], "S");
    // Its partial refund: one M shirt's money back, then shipped; the S shirt returned
    // (its refund asked) and a refund of the other M rejected.
    assert_eq!(order.status, Some(aggregates::order::OrderStatus::Shipped));
    assert_eq!(
        (order.refunded_cents(), order.refunds[0].payment_cents),
        (6_500 + 5_900, 18_900)
    );
    let stages: Vec<_> = order.after_sales.iter().map(|sale| sale.stage).collect();
    assert_eq!(
        stages,
        [
            aggregates::order::AfterSaleStage::Received,
            aggregates::order::AfterSaleStage::Rejected
        ]
    );
    assert_eq!(order.refunded_units(order.lines[0].sku_id), 1);
    // A line written before SKUs holds its product's one SKU.
    let before = app
        .events
        .load::<Order>(completed)
        .await
        .expect("order")
        .aggregate;
    assert_eq!(before.lines[0].sku_id, before.lines[0].product_id);

    // The read side projects every event: nothing parked, nothing stopped.
    settle(&app.pool).await;
    let (status, body) = app
        .admin()
        .get("/api/v1/admin/projections")
        .await
        .into_parts();
    assert_eq!(status, StatusCode::OK, "{body}");
    for projection in body["data"].as_array().expect("list") {
        assert_eq!(projection["state"], "running", "{projection}");
        assert_eq!(projection["parked"], 0, "{projection}");
    }
    let owner = app.user(user_id);
    let (status, body) = owner
        .get(&format!("/api/v1/orders/{completed}"))
        .await
        .into_parts();
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["status"], "completed");
    assert_eq!(body["data"]["tracking_no"], "SF1234567890");
    let (_, body) = owner
        .get(&format!("/api/v1/orders/{cancelled}"))
        .await
        .into_parts();
    assert_eq!(body["data"]["cancel_reason"], "payment_timeout");
    assert_eq!(
        body["data"]["refunds_due"][0]["reason"],
        "paid_after_cancel"
    );
    assert_eq!(body["data"]["refunds"][0]["status"], "succeeded");
    let (_, body) = owner
        .get("/api/v1/orders/0191b4a0-0000-7000-8000-000000000103")
        .await
        .into_parts();
    assert_eq!(body["data"]["status"], "refunded", "{body}");
    assert_eq!(body["data"]["refunds"][0]["status"], "failed");
    assert_eq!(body["data"]["refunds"][1]["status"], "succeeded");
    let (_, body) = app
        .anon()
        .get(&format!("/api/v1/products/{product_id}"))
        .await
        .into_parts();
    assert_eq!(body["data"]["name"], "Oolong 2026");
    assert_eq!(body["data"]["available"], 5);
    assert_eq!(body["data"]["limit_per_user"], serde_json::Value::Null);
    let (_, body) = app
        .anon()
        .get("/api/v1/products/0191b4a0-0000-7000-8000-000000000002")
        .await
        .into_parts();
    assert_eq!(body["data"]["limit_per_user"], 1);
    let (_, shirt) = app
        .anon()
        .get(&format!("/api/v1/products/{t_shirt}"))
        .await
        .into_parts();
    assert_eq!(
        (
            &shirt["data"]["price_cents"],
            &shirt["data"]["price_max_cents"]
        ),
        (&serde_json::json!(5900), &serde_json::json!(6500)),
        "{shirt}"
    );
    assert_eq!(
        shirt["data"]["available"], 14,
        "10 S + 5 M − 1 S − 2 M sold + 1 M refunded before shipping + 1 S returned"
    );
    assert_eq!(shirt["data"]["skus"][0]["id"], small);
    assert_eq!(shirt["data"]["skus"][1]["available"], 4);
    assert_eq!(shirt["data"]["skus"][1]["spec"]["size"], "M");
    let (_, oolong_page) = app
        .anon()
        .get(&format!("/api/v1/products/{product_id}"))
        .await
        .into_parts();
    assert_eq!(
        oolong_page["data"]["skus"][0]["id"], product_id,
        "its one SKU"
    );
    // Its cover was removed after an order captured it: the order still shows it.
    let cup = "/media/6ecf40d2017914d60c107e8320d152044b369801156a36623aca588ba9daa9e5.jpg";
    let tea = "/media/b8aab0e04bd9123dd51f76b72d5979aa65d333f559436a468131c4572121b2fb.png";
    assert_eq!(body["data"]["images"], serde_json::json!([cup]));
    let (_, body) = owner
        .get("/api/v1/orders/0191b4a0-0000-7000-8000-000000000104")
        .await
        .into_parts();
    assert_eq!(body["data"]["lines"][0]["image"], tea, "{body}");
    let sales: (i64, i64, i64) = sqlx::query_as(
        "SELECT orders, paid_orders, revenue_cents FROM daily_sales WHERE day = '2026-11-24'",
    )
    .fetch_one(&app.pool)
    .await
    .expect("daily sales");
    // Sales count payments taken on their day; refunds are netted on the refund's day.
    assert_eq!(sales, (3, 2, 15_000));
    let refunds: Vec<(String, i64, i64)> = sqlx::query_as(
        "SELECT day::text, refunded_cents, net_cents FROM daily_sales
          WHERE refunded_cents > 0 ORDER BY day",
    )
    .fetch_all(&app.pool)
    .await
    .expect("refunds by day");
    // Order …103's payment back on the 24th; …102's extra payment was never revenue;
    // one M shirt of …107's 18,900 back on December 8th.
    assert_eq!(
        refunds,
        [
            ("2026-11-24".to_owned(), 5_000, 10_000),
            ("2026-12-08".to_owned(), 6_500, 12_400)
        ]
    );
}

#[tokio::test]
async fn a_snapshot_in_an_older_shape_is_ignored_and_the_stream_loads_from_its_events() {
    let app = spawn_app().await;
    let tea = app.admin().create_product("Tea", 100, 10).await;
    for shopper in ["a", "b"] {
        let (status, body) = app
            .user(shopper)
            .place_order(&[(tea, 1)])
            .await
            .into_parts();
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    // A snapshot as ordo 0.1.0 wrote it (each reservation by order), at the stream's head.
    sqlx::query(
        "INSERT INTO snapshots (aggregate_type, aggregate_id, last_sequence, current_snapshot, payload)
         VALUES ('Stock', $1, 3, 1, $2::text::json)",
    )
    .bind(tea.to_string())
    .bind(
        serde_json::json!({"on_hand": 10, "reservations": {
            "0191b4a0-0000-7000-8000-000000000001": 1,
            "0191b4a0-0000-7000-8000-000000000002": 1}})
        .to_string(),
    )
    .execute(&app.pool)
    .await
    .expect("old snapshot");

    let stock = app.stock(tea).await;
    assert_eq!((stock.on_hand(), stock.reserved()), (10, 2));
    // A server starting afresh decides on the right state.
    let other = crate::support::spawn_app_on(app.pool.clone()).await;
    let (status, body) = other.user("c").place_order(&[(tea, 8)]).await.into_parts();
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, _) = other.user("d").place_order(&[(tea, 1)]).await.into_parts();
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "sold out: 2 + 8 of 10 reserved"
    );
}
