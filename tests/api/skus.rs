//! Products with specs (SKUs): each SKU sells from its own stock, with every guarantee a
//! product's stock has — never oversold under concurrent shoppers on two server
//! processes —, its own price captured per order line, and units given back to the SKU
//! they came from; purchase limits count across a product's SKUs.

use ordo::rate_limit::RateLimits;
use ordo::state::AppSettings;
use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::support::audit::assert_log_verifies;
use crate::support::read_models::{read_models, rebuilt};
use crate::support::{Client, TestApp, address, fresh_database, settle, spawn_app, start};

/// No per-user rate limit: these tests send bursts far above what one lets through.
fn burst_settings() -> AppSettings {
    AppSettings {
        dev_mode: true,
        rate_limits: RateLimits {
            per_user: None,
            ..RateLimits::default()
        },
        ..AppSettings::default()
    }
}

/// A T-shirt in sizes S and M: (product, S, M).
struct TShirt {
    id: Uuid,
    small: Uuid,
    medium: Uuid,
}

/// Creates the T-shirt: S at ¥59.00 with `small` units, M at ¥69.00 with `medium`.
async fn t_shirt(admin: &Client, small: i64, medium: i64, limit: Value) -> TShirt {
    let (status, body) = admin
        .post(
            "/api/v1/admin/products",
            &json!({
                "name": "T-shirt", "category": "clothes", "limit_per_user": limit,
                "specs": [{"name": "size", "values": ["S", "M", "L"]}],
                "skus": [
                    {"spec": {"size": "S"}, "price_cents": 5900, "initial_stock": small,
                     "code": "TS-S"},
                    {"spec": {"size": "M"}, "price_cents": 6900, "initial_stock": medium},
                ],
            }),
        )
        .await
        .into_parts();
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let data = &body["data"];
    assert_eq!(
        (&data["price_cents"], &data["price_max_cents"]),
        (&json!(5900), &json!(6900))
    );
    assert_eq!(data["available"], small + medium);
    assert_eq!(data["skus"][0]["code"], "TS-S");
    let id = |v: &Value| v.as_str().expect("id").parse().expect("uuid");
    TShirt {
        id: id(&data["id"]),
        small: id(&data["skus"][0]["id"]),
        medium: id(&data["skus"][1]["id"]),
    }
}

/// Places an order of these (product, SKU, quantity) lines.
async fn order(shopper: &Client, lines: &[(Uuid, Option<Uuid>, i64)]) -> (StatusCode, Value) {
    let lines: Vec<Value> = lines
        .iter()
        .map(|(product, sku, quantity)| {
            let mut line = json!({"product_id": product, "quantity": quantity});
            if let Some(sku) = sku {
                line["sku_id"] = json!(sku);
            }
            line
        })
        .collect();
    shopper
        .post(
            "/api/v1/orders",
            &json!({"lines": lines, "address": address()}),
        )
        .await
        .into_parts()
}

/// The catalog's detail of the product: every SKU's availability by id.
async fn availability(app: &TestApp, product: Uuid) -> Value {
    let (status, body) = app
        .anon()
        .get(&format!("/api/v1/products/{product}"))
        .await
        .into_parts();
    assert_eq!(status, StatusCode::OK, "{body}");
    body["data"].clone()
}

#[tokio::test]
async fn each_sku_sells_exactly_its_own_stock_under_twelve_shoppers_on_two_processes() {
    let (pool, _) = fresh_database().await;
    let first = start(pool.clone(), burst_settings()).await;
    let second = start(pool, burst_settings()).await;
    let shirt = t_shirt(&first.admin(), 7, 4, Value::Null).await;
    // Both processes have both SKUs cached before the burst: each decides on stock the
    // other one moves, so only the event store keeps them honest.
    for app in [&first, &second] {
        let (status, body) = order(&app.user("warm-up"), &[(shirt.id, Some(shirt.small), 1)]).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let (status, body) =
            order(&app.user("warm-up"), &[(shirt.id, Some(shirt.medium), 1)]).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    // Left: S 5, M 2. Twelve shoppers, each asking six times on both processes: single
    // lines (the hot-SKU batches) and two-SKU orders (the multi-line path).
    let mut tasks = Vec::new();
    for n in 0..72usize {
        let app = if n % 2 == 0 { &first } else { &second };
        let shopper = app.user(&format!("shopper-{}", n % 12));
        let lines = match n % 3 {
            0 => vec![(shirt.id, Some(shirt.small), 1)],
            1 => vec![(shirt.id, Some(shirt.medium), 1)],
            _ => vec![
                (shirt.id, Some(shirt.small), 1),
                (shirt.id, Some(shirt.medium), 1),
            ],
        };
        tasks.push(tokio::spawn(async move { order(&shopper, &lines).await }));
    }
    let mut sold = std::collections::HashMap::<String, i64>::new();
    for task in tasks {
        let (status, body) = task.await.expect("order task");
        match status {
            StatusCode::CREATED => {
                for line in body["data"]["lines"].as_array().expect("lines") {
                    *sold
                        .entry(line["spec"]["size"].as_str().expect("size").to_owned())
                        .or_default() += line["quantity"].as_i64().expect("quantity");
                }
            }
            StatusCode::CONFLICT => {
                // Sold out, named by SKU.
                assert_eq!(body["code"], 40901, "{body}");
                let shortage = &body["data"]["shortages"][0];
                assert_eq!(shortage["product_id"], shirt.id.to_string(), "{body}");
                assert!(
                    [shirt.small.to_string(), shirt.medium.to_string()]
                        .contains(&shortage["sku_id"].as_str().unwrap_or_default().to_owned()),
                    "{body}"
                );
            }
            other => panic!("unexpected {other}: {body}"),
        }
    }
    assert_eq!(
        (sold.get("S"), sold.get("M")),
        (Some(&5), Some(&2)),
        "{sold:?}"
    );
    for (sku, held) in [(shirt.small, 7), (shirt.medium, 4)] {
        let stock = first.stock(sku).await;
        assert_eq!((stock.on_hand(), stock.reserved()), (held, held));
    }
    settle(&first.pool).await;
    let detail = availability(&first, shirt.id).await;
    assert_eq!(detail["available"], 0, "{detail}");
    assert_eq!(detail["skus"][0]["available"], 0, "{detail}");
    assert_eq!(detail["skus"][1]["available"], 0, "{detail}");
}

#[tokio::test]
async fn a_limit_counts_units_across_the_products_skus_even_in_a_burst() {
    let (pool, _) = fresh_database().await;
    let app = start(pool, burst_settings()).await;
    let shirt = t_shirt(&app.admin(), 100, 100, json!(3)).await;
    let shopper = app.user("ann");
    let (status, body) = order(&shopper, &[(shirt.id, Some(shirt.small), 2)]).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    // Two more of another size pass the limit of 3 for the product.
    let (status, body) = order(&shopper, &[(shirt.id, Some(shirt.medium), 2)]).await;
    assert_eq!(
        (status, &body["code"]),
        (StatusCode::CONFLICT, &json!(40904)),
        "{body}"
    );
    assert_eq!(
        body["data"]["limits"][0]["product_id"],
        shirt.id.to_string()
    );
    // Twenty at once, alternating sizes: exactly one more unit fits.
    let mut tasks = Vec::new();
    for n in 0..20 {
        let shopper = app.user("ann");
        let sku = if n % 2 == 0 {
            shirt.small
        } else {
            shirt.medium
        };
        tasks.push(tokio::spawn(async move {
            order(&shopper, &[(shirt.id, Some(sku), 1)]).await
        }));
    }
    let mut placed = 0;
    for task in tasks {
        let (status, body) = task.await.expect("task");
        if status == StatusCode::CREATED {
            placed += 1;
        } else {
            assert_eq!(body["code"], 40904, "{body}");
        }
    }
    assert_eq!(placed, 1);
}

#[tokio::test]
async fn a_line_must_name_its_sku_unless_the_product_has_only_one() {
    let app = spawn_app().await;
    let admin = app.admin();
    let shirt = t_shirt(&admin, 5, 5, Value::Null).await;
    let tea = admin.create_product("Tea", 500, 5).await;
    let shopper = app.user("ann");

    let (status, body) = order(&shopper, &[(tea, None, 1), (shirt.id, None, 1)]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(
        body["data"]["errors"][0]["field"], "lines[1].sku_id",
        "{body}"
    );
    assert_eq!(
        body["data"]["errors"][0]["message"],
        "required: T-shirt comes in 2 SKUs"
    );
    // The single-line path refuses the same way.
    let (status, body) = order(&shopper, &[(shirt.id, None, 1)]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(
        body["data"]["errors"][0]["field"], "lines[0].sku_id",
        "{body}"
    );
    // A SKU of another product, and an unknown one.
    let (status, body) = order(&shopper, &[(tea, Some(shirt.small), 1)]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["data"]["errors"][0]["message"], "Tea has no such SKU");
    // One SKU named twice, once by leaving it out.
    let (status, body) = order(&shopper, &[(tea, None, 1), (tea, Some(tea), 1)]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(
        body["data"]["errors"][0]["field"], "lines[1].sku_id",
        "{body}"
    );

    // A product without specs is its one SKU: named or not.
    let (status, body) = order(&shopper, &[(tea, None, 1)]).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["data"]["lines"][0]["sku_id"], tea.to_string());
    assert_eq!(body["data"]["lines"][0]["spec"], json!({}));
    let (status, body) = order(&shopper, &[(tea, Some(tea), 1)]).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let stock = app.stock(tea).await;
    assert_eq!(stock.reserved(), 2);
}

#[tokio::test]
async fn each_line_keeps_its_skus_price_and_spec_as_they_were() {
    let app = spawn_app().await;
    let admin = app.admin();
    let shirt = t_shirt(&admin, 10, 10, Value::Null).await;
    let shopper = app.user("ann");
    let (status, first) = order(
        &shopper,
        &[
            (shirt.id, Some(shirt.small), 2),
            (shirt.id, Some(shirt.medium), 1),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    let lines = &first["data"]["lines"];
    assert_eq!(lines[0]["unit_price_cents"], 5900);
    assert_eq!(lines[0]["spec"], json!({"size": "S"}));
    assert_eq!(lines[1]["unit_price_cents"], 6900);
    assert_eq!(lines[1]["sku_id"], shirt.medium.to_string());
    assert_eq!(first["data"]["total_cents"], 2 * 5900 + 6900);

    // M gets dearer; S goes off sale.
    let path = format!("/api/v1/admin/products/{}/skus/{}", shirt.id, shirt.medium);
    let (status, body) = admin
        .put(&path, &json!({"price_cents": 7900}))
        .await
        .into_parts();
    assert_eq!(status, StatusCode::OK, "{body}");
    let path = format!("/api/v1/admin/products/{}/skus/{}", shirt.id, shirt.small);
    let (status, body) = admin
        .put(&path, &json!({"on_sale": false}))
        .await
        .into_parts();
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        (
            &body["data"]["price_cents"],
            &body["data"]["price_max_cents"]
        ),
        (&json!(7900), &json!(7900))
    );

    let (status, body) = order(&shopper, &[(shirt.id, Some(shirt.medium), 1)]).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["data"]["lines"][0]["unit_price_cents"], 7900);
    let (status, body) = order(&shopper, &[(shirt.id, Some(shirt.small), 1)]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(
        body["data"]["errors"][0]["message"],
        "T-shirt S is not on sale"
    );
    // The first order keeps what it was sold at.
    let id = first["data"]["id"].as_str().expect("id");
    let (_, body) = shopper
        .get(&format!("/api/v1/orders/{id}"))
        .await
        .into_parts();
    assert_eq!(body["data"]["lines"][1]["unit_price_cents"], 6900, "{body}");
    assert_eq!(body["data"]["lines"][0]["spec"]["size"], "S", "{body}");
    // The list shows the range of what sells.
    let (_, list) = app.anon().get("/api/v1/products").await.into_parts();
    let item = &list["data"]["list"][0];
    assert_eq!(
        (&item["price_cents"], &item["price_max_cents"]),
        (&json!(7900), &json!(7900)),
        "{list}"
    );
}

#[tokio::test]
async fn a_cancelled_order_gives_each_sku_its_own_units_back_and_the_audit_sees_them() {
    let app = spawn_app().await;
    let shirt = t_shirt(&app.admin(), 10, 5, Value::Null).await;
    let shopper = app.user("ann");
    let (status, placed) = order(
        &shopper,
        &[
            (shirt.id, Some(shirt.small), 3),
            (shirt.id, Some(shirt.medium), 2),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{placed}");
    let id = placed["data"]["id"].as_str().expect("id");
    settle(&app.pool).await;
    let detail = availability(&app, shirt.id).await;
    assert_eq!(
        (
            &detail["skus"][0]["available"],
            &detail["skus"][1]["available"]
        ),
        (&json!(7), &json!(3))
    );
    assert_eq!(detail["available"], 10);

    let (status, body) = shopper.cancel_order(id).await.into_parts();
    assert_eq!(status, StatusCode::OK, "{body}");
    settle(&app.pool).await;
    let detail = availability(&app, shirt.id).await;
    assert_eq!(
        (
            &detail["skus"][0]["available"],
            &detail["skus"][1]["available"]
        ),
        (&json!(10), &json!(5))
    );

    // Stock moves, the stock as of now and the order's state per SKU.
    let admin = app.admin();
    let (status, moves) = admin
        .get(&format!(
            "/api/v1/admin/products/{}/skus/{}/stock/moves",
            shirt.id, shirt.medium
        ))
        .await
        .into_parts();
    assert_eq!(status, StatusCode::OK, "{moves}");
    let kinds: Vec<&str> = moves["data"]
        .as_array()
        .expect("moves")
        .iter()
        .map(|m| m["type"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(
        kinds,
        ["StockAdded", "StockReserved", "StockReleased"],
        "{moves}"
    );
    let (status, now) = admin
        .get(&format!(
            "/api/v1/admin/products/{}/skus/{}/stock?as_of={}",
            shirt.id,
            shirt.small,
            chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
        ))
        .await
        .into_parts();
    assert_eq!(status, StatusCode::OK, "{now}");
    assert_eq!(
        (&now["data"]["on_hand"], &now["data"]["sku_id"]),
        (&json!(10), &json!(shirt.small))
    );
    let (status, state) = admin
        .get(&format!(
            "/api/v1/admin/orders/{id}/state?as_of={}",
            chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
        ))
        .await
        .into_parts();
    assert_eq!(status, StatusCode::OK, "{state}");
    assert_eq!(
        state["data"]["stocks"][1]["sku_id"],
        shirt.medium.to_string(),
        "{state}"
    );
    // A SKU the product does not have.
    let (status, _) = admin
        .get(&format!(
            "/api/v1/admin/products/{}/skus/{}/stock/moves",
            shirt.id,
            Uuid::now_v7()
        ))
        .await
        .into_parts();
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_log_verifies(&app).await;
}

#[tokio::test]
async fn operators_add_skus_restock_them_and_picture_them_and_bad_requests_are_named() {
    let (app, _media) = crate::images::app_with_local_images().await;
    let admin = app.admin();
    // A price beside SKUs, SKUs without specs: refused, each field named.
    let (status, body) = admin
        .post(
            "/api/v1/admin/products",
            &json!({"name": "Cap", "price_cents": 100,
                    "skus": [{"spec": {"colour": "red"}, "price_cents": 100}]}),
        )
        .await
        .into_parts();
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["data"]["errors"][0]["field"], "price_cents", "{body}");
    let (status, body) = admin
        .post(
            "/api/v1/admin/products",
            &json!({"name": "Cap", "skus": [{"spec": {"colour": "red"}, "price_cents": 100}]}),
        )
        .await
        .into_parts();
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["data"]["errors"][0]["field"], "specs", "{body}");
    let (status, body) = admin
        .post("/api/v1/admin/products", &json!({"name": "Cap"}))
        .await
        .into_parts();
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["data"]["errors"][0]["field"], "price_cents", "{body}");

    let shirt = t_shirt(&admin, 1, 1, Value::Null).await;
    let skus = format!("/api/v1/admin/products/{}/skus", shirt.id);
    // XL is not listed yet: the spec gains it.
    let (status, body) = admin
        .post(
            &skus,
            &json!({"spec": {"size": "XL"}, "price_cents": 7900, "initial_stock": 4}),
        )
        .await
        .into_parts();
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(
        body["data"]["specs"][0]["values"],
        json!(["S", "M", "L", "XL"])
    );
    let xl = &body["data"]["skus"][2];
    assert_eq!(
        (&xl["available"], &xl["price_cents"]),
        (&json!(4), &json!(7900))
    );
    assert_eq!(body["data"]["price_max_cents"], 7900);
    let xl: Uuid = xl["id"].as_str().expect("id").parse().expect("uuid");
    let (status, body) = admin
        .post(&skus, &json!({"spec": {"size": "M"}, "price_cents": 1}))
        .await
        .into_parts();
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["data"]["errors"][0]["field"], "sku.spec", "{body}");
    let (status, body) = admin
        .post(&skus, &json!({"spec": {"colour": "red"}, "price_cents": 1}))
        .await
        .into_parts();
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    // A product without specs takes none.
    let tea = admin.create_product("Tea", 500, 5).await;
    let (status, body) = admin
        .post(
            &format!("/api/v1/admin/products/{tea}/skus"),
            &json!({"spec": {"size": "S"}, "price_cents": 1}),
        )
        .await
        .into_parts();
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["data"]["errors"][0]["field"], "spec", "{body}");

    // Restock and write off one SKU.
    let stock = format!("/api/v1/admin/products/{}/skus/{xl}/stock", shirt.id);
    let (status, body) = admin
        .post(&stock, &json!({"quantity": 6, "reason": "delivery"}))
        .await
        .into_parts();
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["skus"][2]["on_hand"], 10);
    let (status, body) = admin
        .post(&stock, &json!({"quantity": -11, "reason": "lost"}))
        .await
        .into_parts();
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let (status, _) = admin
        .post(
            &format!(
                "/api/v1/admin/products/{}/skus/{}/stock",
                shirt.id,
                Uuid::now_v7()
            ),
            &json!({"quantity": 1}),
        )
        .await
        .into_parts();
    assert_eq!(status, StatusCode::NOT_FOUND);
    // The product-level stock path is a product without specs' own.
    let (status, body) = admin
        .post(
            &format!("/api/v1/admin/products/{tea}/skus/{tea}/stock"),
            &json!({"quantity": 1}),
        )
        .await
        .into_parts();
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["on_hand"], 6);

    // A SKU's picture is one of the product's images.
    let sku = format!("/api/v1/admin/products/{}/skus/{xl}", shirt.id);
    let (status, body) = admin
        .put(&sku, &json!({"image": "/media/nothing.jpg"}))
        .await
        .into_parts();
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["data"]["errors"][0]["field"], "image", "{body}");
    let png = include_bytes!("../fixtures/tea.png");
    let (status, body) = admin
        .upload(
            &format!("/api/v1/admin/products/{}/images", shirt.id),
            &[("file", "xl.png", png)],
        )
        .await
        .into_parts();
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let url = body["data"]["url"].as_str().expect("url").to_owned();
    let (status, body) = admin.put(&sku, &json!({"image": url})).await.into_parts();
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["skus"][2]["image"], url.as_str());
    settle(&app.pool).await;
    let detail = availability(&app, shirt.id).await;
    assert_eq!(detail["skus"][2]["image"], url.as_str(), "{detail}");
    // An order of XL captures its picture.
    let (status, body) = order(&app.user("ann"), &[(shirt.id, Some(xl), 1)]).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["data"]["lines"][0]["image"], url.as_str());
}

#[tokio::test]
async fn after_a_mixed_run_every_read_model_equals_a_rebuild_and_the_log_verifies() {
    let app = spawn_app().await;
    let admin = app.admin();
    let shirt = t_shirt(&admin, 30, 30, json!(20)).await;
    let tea = admin.create_product("Tea", 500, 30).await;
    let mut tasks = Vec::new();
    for n in 0..8usize {
        let shopper = app.user(&format!("shopper-{n}"));
        let shirt = (shirt.id, shirt.small, shirt.medium);
        tasks.push(tokio::spawn(async move {
            for round in 0..4usize {
                let lines = match (n + round) % 3 {
                    0 => vec![(shirt.0, Some(shirt.1), 1 + round as i64 % 2)],
                    1 => vec![(shirt.0, Some(shirt.2), 1), (tea, None, 2)],
                    _ => vec![(tea, None, 1)],
                };
                let (status, body) = order(&shopper, &lines).await;
                if status == StatusCode::CREATED && round % 2 == 1 {
                    let id = body["data"]["id"].as_str().expect("id").to_owned();
                    shopper.cancel_order(id).await;
                }
            }
        }));
    }
    let path = format!("/api/v1/admin/products/{}/skus/{}", shirt.id, shirt.medium);
    let (status, _) = admin
        .put(&path, &json!({"price_cents": 7100}))
        .await
        .into_parts();
    assert_eq!(status, StatusCode::OK);
    let (status, _) = admin
        .post(
            &format!("/api/v1/admin/products/{}/skus", shirt.id),
            &json!({"spec": {"size": "L"}, "price_cents": 7500, "initial_stock": 3}),
        )
        .await
        .into_parts();
    assert_eq!(status, StatusCode::CREATED);
    for task in tasks {
        task.await.expect("shopper");
    }
    settle(&app.pool).await;
    let live = read_models(&app.pool).await;
    assert_eq!(live[5].len(), 3, "three SKU rows: {:?}", live[5]);
    // The catalog agrees with each SKU's Stock aggregate.
    for row in &live[5] {
        let sku: Uuid = row["sku_id"].as_str().expect("id").parse().expect("uuid");
        let stock = app.stock(sku).await;
        assert_eq!(row["available"], json!(stock.available()), "{row}");
    }
    assert_eq!(live, rebuilt(&app).await);
    assert_log_verifies(&app).await;
}

#[tokio::test]
async fn the_consoles_stock_page_picks_a_sku_and_shows_its_own_moves() {
    let (pool, options) = fresh_database().await;
    let app = crate::support::spawn_app_on(pool).await;
    let url = crate::console::console_url(&app, &options, &[]);
    let shirt = t_shirt(&app.admin(), 10, 5, Value::Null).await;
    let (status, body) = order(&app.user("mei"), &[(shirt.id, Some(shirt.medium), 2)]).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    settle(&app.pool).await;

    let browser = crate::support::browser::Browser::start(1280, 900).await;
    browser.open(&url).await;
    browser.text_of("[data-testid=projections]").await;
    // The product alone: its first SKU, S, untouched since it arrived.
    browser
        .open(&format!("{}/console/#/stock/{}", app.address, shirt.id))
        .await;
    let options = crate::support::eventually("the SKU picker", || async {
        let options = browser
            .run(
                "return [...document.querySelectorAll('[data-testid=sku-picker] option')]
                    .map(o => o.textContent);",
            )
            .await;
        (options != json!([])).then_some(options)
    })
    .await;
    assert_eq!(
        options,
        json!(["size S · 10 available", "size M · 3 available"]),
        "{options}"
    );
    let newest = browser.text_of("[data-testid=stock-move]").await;
    assert!(
        newest.contains("StockAdded") && newest.ends_with("10 0 10"),
        "{newest}"
    );
    // Picking M shows M's moves: its reservation.
    browser
        .run(&format!(
            "const picker = document.querySelector('[data-testid=sku-picker]');
                 picker.value = '{}';
                 picker.dispatchEvent(new Event('change'));",
            shirt.medium
        ))
        .await;
    let newest = crate::support::eventually("M's moves shown", || async {
        let newest = browser.text_of("[data-testid=stock-move]").await;
        newest.contains("StockReserved").then_some(newest)
    })
    .await;
    assert!(newest.ends_with("5 2 3"), "{newest}");
    browser
        .run("document.querySelector('form.row').requestSubmit();")
        .await;
    browser
        .wait_for_text("[data-testid=stock-available]", "3")
        .await;
}

#[tokio::test]
async fn verify_names_an_order_line_whose_sku_its_product_never_added() {
    let app = spawn_app().await;
    let admin = app.admin();
    let shirt = t_shirt(&admin, 5, 5, Value::Null).await;
    let other = t_shirt(&admin, 5, 5, Value::Null).await;
    let (status, body) = order(&app.user("ann"), &[(shirt.id, Some(shirt.small), 1)]).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_log_verifies(&app).await;
    // Behind ordo's back: the line now names the other T-shirt's S.
    crate::support::audit::tamper(
        &app.pool,
        &format!(
            "UPDATE events SET payload = replace(payload::text, '{}', '{}')::json
              WHERE aggregate_type = 'Order' AND event_type = 'OrderPlaced'",
            shirt.small, other.small
        ),
    )
    .await;
    let report = crate::support::audit::verify_report(&app).await;
    assert_eq!(report["ok"], false);
    let unknown: Vec<&Value> = report["failures"]
        .as_array()
        .expect("failures")
        .iter()
        .filter(|f| f["kind"] == "unknown_sku")
        .collect();
    assert_eq!(unknown.len(), 1, "{report}");
    assert_eq!(
        unknown[0]["message"],
        format!(
            "a line names SKU {}, which product {} never added",
            other.small, shirt.id
        )
    );
}

#[tokio::test]
async fn one_sku_named_twice_once_by_leaving_it_out_is_refused_not_waited_on() {
    let app = spawn_app().await;
    let (status, body) = app
        .admin()
        .post(
            "/api/v1/admin/products",
            &json!({"name": "Cap", "specs": [{"name": "colour", "values": ["red"]}],
                    "skus": [{"spec": {"colour": "red"}, "price_cents": 900, "initial_stock": 5}]}),
        )
        .await
        .into_parts();
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let cap: Uuid = body["data"]["id"]
        .as_str()
        .expect("id")
        .parse()
        .expect("uuid");
    let red: Uuid = body["data"]["skus"][0]["id"]
        .as_str()
        .expect("id")
        .parse()
        .expect("uuid");
    let placed = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        order(&app.user("ann"), &[(cap, None, 1), (cap, Some(red), 1)]),
    )
    .await
    .expect("answered, not hung on its own stock");
    let (status, body) = placed;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(
        body["data"]["errors"][0]["field"], "lines[1].sku_id",
        "{body}"
    );
    // The stock is free for the next order.
    let (status, body) = order(&app.user("ann"), &[(cap, None, 2)]).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}
