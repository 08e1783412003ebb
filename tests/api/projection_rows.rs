//! Each read model on its own: given events, then rows, read through the model's own
//! queries. The catalog and the order views guard every change with their stream's
//! version, so each batch is applied twice and must change nothing the second time (a
//! batch replayed after a crash between apply and checkpoint). Daily sales are counters
//! that rely on the projector applying a batch exactly once with its checkpoint (see
//! `projections/src/daily_sales.rs`), so they are applied once.

use aggregates::order::{Address, LogisticsType, OrderEvent, OrderLine, RefundReason};
use aggregates::product::ProductEvent;
use aggregates::stock::StockEvent;
use chrono::{DateTime, TimeZone, Utc};
use cqrs_es::DomainEvent;
use projections::catalog::query as catalog;
use projections::orders::query as orders;
use projections::{EventMetadata, FeedPosition, Projection, RecordedEvent, Target};
use sqlx::PgPool;
use uuid::Uuid;

use crate::support::fresh_database;

/// Events in feed order, as the projector would hand them over.
#[derive(Default)]
struct Given {
    events: Vec<RecordedEvent>,
}

impl Given {
    fn event<E: DomainEvent>(
        mut self,
        aggregate_type: &str,
        id: Uuid,
        sequence: i64,
        event: E,
    ) -> Self {
        let position = self.events.len() as i64 + 1;
        self.events.push(RecordedEvent {
            position: FeedPosition {
                transaction_id: position,
                global_position: position,
            },
            aggregate_type: aggregate_type.to_owned(),
            aggregate_id: id.to_string(),
            sequence,
            event_type: event.event_type(),
            event_version: event.event_version(),
            payload: serde_json::to_string(&event).expect("an event serializes"),
            metadata: EventMetadata::default(),
            recorded_at: at(0),
        });
        self
    }
}

fn at(minutes: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 25, 8, 0, 0).unwrap() + chrono::Duration::minutes(minutes)
}

/// Applies each batch to the live tables `times` times, each in its own transaction.
async fn apply(
    pool: &PgPool,
    projection: &dyn Projection,
    batches: &[&[RecordedEvent]],
    times: usize,
) {
    for batch in batches {
        for _ in 0..times {
            let mut tx = pool.begin().await.expect("begin");
            projection
                .apply(&mut tx, Target::Live, batch)
                .await
                .expect("the batch applies");
            tx.commit().await.expect("commit");
        }
    }
}

fn created(name: &str, price_cents: i64) -> ProductEvent {
    ProductEvent::ProductCreated {
        name: name.to_owned(),
        description: "from the hills".to_owned(),
        category: "tea".to_owned(),
        price_cents,
        limit_per_user: None,
    }
}

#[tokio::test]
async fn the_catalog_shows_each_product_with_its_latest_fields_and_available_stock() {
    let (pool, _) = fresh_database().await;
    let tea = Uuid::new_v4();
    let order = Uuid::new_v4();
    let given = Given::default()
        .event("Product", tea, 1, created("Oolong", 4800))
        .event(
            "Stock",
            tea,
            1,
            StockEvent::StockAdded {
                quantity: 10,
                reason: "delivery".into(),
            },
        )
        .event(
            "Stock",
            tea,
            2,
            StockEvent::StockReserved {
                order_id: order,
                quantity: 3,
            },
        )
        .event(
            "Product",
            tea,
            2,
            ProductEvent::ProductUpdated {
                name: "Oolong\u{0}tea".to_owned(),
                description: "from the hills".to_owned(),
                category: "tea".to_owned(),
                price_cents: 5200,
                on_sale: false,
                limit_per_user: Some(2),
            },
        )
        .event(
            "Stock",
            tea,
            3,
            StockEvent::StockSold {
                order_id: order,
                quantity: 3,
            },
        );
    let (first, rest) = given.events.split_at(2);

    apply(
        &pool,
        &projections::catalog::ProductCatalog,
        &[first, rest],
        2,
    )
    .await;

    let row = catalog::product(&pool, tea)
        .await
        .expect("read")
        .expect("the product");
    assert_eq!(
        (
            row.name.as_str(),
            row.price_cents,
            row.on_sale,
            row.limit_per_user,
            row.available
        ),
        ("Oolong\u{0}tea", 5200, false, Some(2), 7),
        "a NUL the events held comes back as it was"
    );
    let (page, total) = catalog::page(&pool, catalog::CatalogFilter::default(), 20, 0)
        .await
        .expect("read");
    assert_eq!((page.len(), total), (1, 1));
    assert_eq!(
        catalog::product(&pool, Uuid::new_v4())
            .await
            .expect("read")
            .map(|r| r.name),
        None
    );
}

fn images(key: &str, list: &[&str], added: bool) -> ProductEvent {
    let (key, images) = (key.to_owned(), list.iter().map(|&k| k.to_owned()).collect());
    if added {
        ProductEvent::ProductImageAdded { key, images }
    } else {
        ProductEvent::ProductImageRemoved { key, images }
    }
}

#[tokio::test]
async fn the_catalog_keeps_each_products_images_whatever_else_its_batches_hold() {
    let (pool, _) = fresh_database().await;
    let (tea, cup, pot) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    let updated = ProductEvent::ProductUpdated {
        name: "Oolong 2026".to_owned(),
        description: "from the hills".to_owned(),
        category: "tea".to_owned(),
        price_cents: 5200,
        on_sale: true,
        limit_per_user: Some(3),
    };
    let first = Given::default()
        // Created with an image in one batch; the others created bare.
        .event("Product", tea, 1, created("Oolong", 4800))
        .event(
            "Product",
            tea,
            2,
            images("a\u{0}.png", &["a\u{0}.png"], true),
        )
        .event("Product", cup, 1, created("Cup", 900))
        .event("Product", pot, 1, created("Pot", 9900));
    let second = Given::default()
        // Only image events: the fields stay.
        .event("Product", cup, 2, images("b.jpg", &["b.jpg"], true))
        .event(
            "Product",
            cup,
            3,
            images("c.webp", &["b.jpg", "c.webp"], true),
        )
        // An image, then an update: both kept.
        .event(
            "Product",
            tea,
            3,
            images("d.png", &["a\u{0}.png", "d.png"], true),
        )
        .event("Product", tea, 4, updated.clone())
        // An update, then a removal: both kept.
        .event("Product", pot, 2, updated)
        .event("Product", pot, 3, images("e.png", &["e.png"], true))
        .event("Product", pot, 4, images("e.png", &[], false));

    apply(
        &pool,
        &projections::catalog::ProductCatalog,
        &[&first.events, &second.events],
        2,
    )
    .await;

    let row = |id| {
        let pool = pool.clone();
        async move {
            catalog::product(&pool, id)
                .await
                .expect("read")
                .expect("the product")
        }
    };
    let tea_row = row(tea).await;
    assert_eq!(
        tea_row.images.0,
        ["a\u{0}.png", "d.png"],
        "a NUL comes back"
    );
    assert_eq!(
        (
            tea_row.name.as_str(),
            tea_row.price_cents,
            tea_row.limit_per_user
        ),
        ("Oolong 2026", 5200, Some(3))
    );
    let cup_row = row(cup).await;
    assert_eq!(cup_row.images.0, ["b.jpg", "c.webp"]);
    assert_eq!((cup_row.name.as_str(), cup_row.price_cents), ("Cup", 900));
    let pot_row = row(pot).await;
    assert!(pot_row.images.0.is_empty());
    assert_eq!(
        (pot_row.name.as_str(), pot_row.limit_per_user),
        ("Oolong 2026", Some(3))
    );
}

fn placed(user: &str, product: Uuid, quantity: i64, minutes: i64) -> OrderEvent {
    OrderEvent::OrderPlaced {
        user_id: user.to_owned(),
        lines: vec![OrderLine {
            product_id: product,
            sku_id: product,
            name: "Oolong".to_owned(),
            spec: Default::default(),
            unit_price_cents: 4800,
            quantity,
            image: None,
        }],
        total_cents: 4800 * quantity,
        address: Address {
            name: "Mei".into(),
            phone: "13800000000".into(),
            province: "Zhejiang".into(),
            city: "Hangzhou".into(),
            district: "Xihu".into(),
            detail: "1 Lake Road".into(),
        },
        remark: "ring twice\r\n".to_owned(),
        placed_at: at(minutes),
        expires_at: at(minutes + 15),
        limits_counted: true,
    }
}

#[tokio::test]
async fn the_order_views_follow_each_order_through_its_life_and_count_per_status() {
    let (pool, _) = fresh_database().await;
    let tea = Uuid::new_v4();
    let (paid, cancelled, open) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    let given = Given::default()
        .event("Order", paid, 1, placed("mei", tea, 2, 0))
        .event("Order", cancelled, 1, placed("mei", tea, 1, 1))
        .event(
            "Order",
            paid,
            2,
            OrderEvent::OrderPaid {
                payment_id: "wx-1".into(),
                amount_cents: 9600,
                paid_at: at(2),
            },
        )
        .event(
            "Order",
            cancelled,
            2,
            OrderEvent::OrderCancelled {
                reason: aggregates::order::CancelReason::PaymentTimeout,
                cancelled_at: at(16),
            },
        )
        .event(
            "Order",
            cancelled,
            3,
            OrderEvent::PaymentReceived {
                payment_id: "wx-2".into(),
                amount_cents: 4800,
                paid_at: at(17),
            },
        )
        .event(
            "Order",
            cancelled,
            4,
            OrderEvent::RefundRequired {
                payment_id: "wx-2".into(),
                amount_cents: 4800,
                reason: RefundReason::PaidAfterCancel,
            },
        )
        .event(
            "Order",
            paid,
            3,
            OrderEvent::OrderShipped {
                carrier: "SF".into(),
                tracking_no: "SF1".into(),
                shipped_at: at(30),
                express_company: Some("SF".into()),
                logistics_type: LogisticsType::Express,
            },
        )
        .event("Order", open, 1, placed("mei", tea, 1, 40));
    // Split so that an order is placed in one batch and changed in the next.
    let (first, rest) = given.events.split_at(3);

    apply(&pool, &projections::orders::OrderViews, &[first, rest], 2).await;

    let view = |id| {
        let pool = pool.clone();
        async move {
            orders::order_of(&pool, id, "mei")
                .await
                .expect("read")
                .expect("the order")
        }
    };
    let shipped = view(paid).await;
    assert_eq!(
        (
            shipped.status.as_str(),
            shipped.payment_id.as_deref(),
            shipped.carrier.as_deref()
        ),
        ("shipped", Some("wx-1"), Some("SF"))
    );
    assert_eq!(shipped.remark, "ring twice\r\n");
    let refunded = view(cancelled).await;
    assert_eq!(refunded.status, "cancelled");
    assert_eq!(refunded.cancel_reason.as_deref(), Some("payment_timeout"));
    assert_eq!(
        refunded
            .refunds_due
            .0
            .iter()
            .map(|r| (r.payment_id.as_str(), r.amount_cents))
            .collect::<Vec<_>>(),
        vec![("wx-2", 4800)],
        "the refund is listed once though its batch was applied twice"
    );
    assert_eq!(view(open).await.status, "awaiting_payment");
    assert!(
        orders::order_of(&pool, paid, "lei")
            .await
            .expect("read")
            .is_none(),
        "not lei's"
    );

    let (all, total) = orders::orders_of(&pool, "mei", None, 20, 0)
        .await
        .expect("read");
    assert_eq!(total, 3, "counted once per order");
    assert_eq!(
        all.iter().map(|o| o.order_id).collect::<Vec<_>>(),
        vec![open, cancelled, paid]
    );
    let (cancelled_only, total) = orders::orders_of(&pool, "mei", Some("cancelled"), 20, 0)
        .await
        .expect("read");
    assert_eq!((cancelled_only.len(), total), (1, 1));
}

#[tokio::test]
async fn daily_sales_count_orders_placed_and_paid_and_revenue_per_day() {
    let (pool, _) = fresh_database().await;
    let tea = Uuid::new_v4();
    let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
    let given = Given::default()
        .event("Order", a, 1, placed("mei", tea, 2, 0))
        .event("Order", b, 1, placed("lei", tea, 1, 5))
        .event(
            "Order",
            a,
            2,
            OrderEvent::OrderPaid {
                payment_id: "wx-1".into(),
                amount_cents: 9600,
                paid_at: at(3),
            },
        );

    apply(
        &pool,
        &projections::daily_sales::DailySales,
        &[&given.events],
        1,
    )
    .await;

    let day: (i64, i64, i64) =
        sqlx::query_as("SELECT orders, paid_orders, revenue_cents FROM daily_sales WHERE day = $1")
            .bind(at(0).date_naive())
            .fetch_one(&pool)
            .await
            .expect("the day's row");
    assert_eq!(day, (2, 1, 9600));
}
