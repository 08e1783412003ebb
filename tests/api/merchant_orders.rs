//! The merchant's orders: every order of the shop by status, with the counts its tabs
//! show, searched by order id prefix, receiver name or phone, or product name, in cursor
//! pages that neither repeat nor skip an order while new ones arrive.

use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::support::{Client, TestApp, settle, spawn_app};

/// Places an order of `quantity` × `product` delivered to `receiver` (`phone`): its id.
async fn place(
    shopper: &Client,
    product: Uuid,
    quantity: i64,
    receiver: &str,
    phone: &str,
) -> Uuid {
    let address = json!({"name": receiver, "phone": phone, "province": "Zhejiang",
                         "city": "Hangzhou", "district": "Xihu", "detail": "1 Lake Road"});
    let (status, body) = shopper
        .post(
            "/api/v1/orders",
            &json!({"lines": [{"product_id": product, "quantity": quantity}], "address": address}),
        )
        .await
        .into_parts();
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["data"]["id"]
        .as_str()
        .expect("id")
        .parse()
        .expect("uuid")
}

/// The merchant's list at `query`: (ids in order, next cursor, counts).
async fn listed(app: &TestApp, query: &str) -> (Vec<String>, Option<String>, Value) {
    let (status, body) = app
        .admin()
        .get(&format!("/api/v1/admin/orders?{query}"))
        .await
        .into_parts();
    assert_eq!(status, StatusCode::OK, "{query}: {body}");
    let ids = body["data"]["list"]
        .as_array()
        .expect("list")
        .iter()
        .map(|order| order["id"].as_str().expect("id").to_owned())
        .collect();
    let next = body["data"]["next_cursor"].as_str().map(str::to_owned);
    (ids, next, body["data"]["counts"].clone())
}

#[tokio::test]
async fn the_merchant_lists_each_status_with_counts_and_finds_orders_by_what_they_know() {
    let app = spawn_app().await;
    let admin = app.admin();
    let tea = admin.create_product("乌龙茶 Oolong", 4_800, 100).await;
    let cup = admin.create_product("Tea cup", 900, 100).await;
    let mei = app.user("mei");
    let lei = app.user("lei");
    let unpaid = place(&mei, tea, 1, "韩梅梅", "13900000001").await;
    let paid = place(&mei, cup, 2, "Han Mei", "13900000002").await;
    let shipped = place(&lei, tea, 1, "Li Lei", "13800000003").await;
    let cancelled = place(&lei, cup, 1, "Li Lei", "13800000004").await;
    app.pay(paid, 1_800).await;
    app.pay(shipped, 4_800).await;
    let (status, body) = admin
        .post(
            &format!("/api/v1/admin/orders/{shipped}/ship"),
            &json!({"express_company": "SF", "tracking_no": "SF100"}),
        )
        .await
        .into_parts();
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = lei.cancel_order(cancelled).await.into_parts();
    assert_eq!(status, StatusCode::OK, "{body}");
    settle(&app.pool).await;

    let counts = json!({"awaiting_payment": 1, "paid": 1, "shipped": 1, "cancelled": 1});
    let (all, next, shop) = listed(&app, "").await;
    assert_eq!(shop, counts);
    assert_eq!(next, None);
    let newest_first: Vec<String> = [cancelled, shipped, paid, unpaid]
        .iter()
        .map(Uuid::to_string)
        .collect();
    assert_eq!(all, newest_first);
    // Each tab: its orders, and the same counts (the status filter aside).
    for (status, id) in [
        ("awaiting_payment", unpaid),
        ("paid", paid),
        ("shipped", shipped),
        ("cancelled", cancelled),
    ] {
        let (ids, _, tab_counts) = listed(&app, &format!("status={status}")).await;
        assert_eq!(ids, [id.to_string()], "{status}");
        assert_eq!(tab_counts, counts, "{status}");
    }
    let (ids, _, _) = listed(&app, "status=refunded").await;
    assert!(ids.is_empty());

    // Found by an id prefix, the receiver's name (any case, Chinese too) or phone, a
    // product's name; the counts follow the search.
    let prefix = &shipped.to_string()[..13];
    let (ids, _, _) = listed(&app, &format!("q={prefix}")).await;
    assert!(ids.contains(&shipped.to_string()), "{ids:?}");
    let (ids, _, found) = listed(&app, "q=han%20MEI").await;
    assert_eq!(ids, [paid.to_string()]);
    assert_eq!(found, json!({"paid": 1}));
    let (ids, _, _) = listed(&app, &format!("q={}", urlencoding("韩梅"))).await;
    assert_eq!(ids, [unpaid.to_string()]);
    let (ids, _, _) = listed(&app, "q=0000004").await;
    assert_eq!(ids, [cancelled.to_string()]);
    let (ids, _, found) = listed(&app, &format!("q={}", urlencoding("乌龙"))).await;
    assert_eq!(ids, [shipped.to_string(), unpaid.to_string()]);
    assert_eq!(found, json!({"awaiting_payment": 1, "shipped": 1}));
    let (ids, _, _) = listed(&app, "q=cup&status=paid").await;
    assert_eq!(ids, [paid.to_string()]);
    // One shopper's, and a time range.
    let (ids, _, found) = listed(&app, "user_id=lei").await;
    assert_eq!(ids, [cancelled.to_string(), shipped.to_string()]);
    assert_eq!(found, json!({"shipped": 1, "cancelled": 1}));
    let future = "created_from=2999-01-01T00:00:00Z";
    let (ids, _, found) = listed(&app, future).await;
    assert!(ids.is_empty());
    assert_eq!(found, json!({}));
    let (ids, _, _) = listed(&app, "created_to=2999-01-01T00:00:00Z&q=li%20lei").await;
    assert_eq!(ids.len(), 2);

    // Bad requests name their field.
    for (query, status, field) in [
        ("cursor=yesterday", StatusCode::BAD_REQUEST, "cursor"),
        ("size=0", StatusCode::BAD_REQUEST, "size"),
        ("size=101", StatusCode::BAD_REQUEST, "size"),
        ("status=lost", StatusCode::BAD_REQUEST, "status"),
        (
            "created_from=today",
            StatusCode::BAD_REQUEST,
            "created_from",
        ),
        (
            "created_from=2026-12-02T00:00:00Z&created_to=2026-12-01T00:00:00Z",
            StatusCode::UNPROCESSABLE_ENTITY,
            "created_to",
        ),
        ("q=a%00b", StatusCode::UNPROCESSABLE_ENTITY, "q"),
    ] {
        let (got, body) = admin
            .get(&format!("/api/v1/admin/orders?{query}"))
            .await
            .into_parts();
        assert_eq!(got, status, "{query}: {body}");
        let named = body["data"]["errors"][0]["field"]
            .as_str()
            .map(str::to_owned)
            .or_else(|| body["message"].as_str().map(str::to_owned))
            .unwrap_or_default();
        assert!(named.contains(field), "{query}: {body}");
    }
    let (status, _) = mei.get("/api/v1/admin/orders").await.into_parts();
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn cursor_pages_neither_repeat_nor_skip_while_new_orders_arrive() {
    let app = spawn_app().await;
    let tea = app.admin().create_product("Tea", 500, 1_000).await;
    let mut before = Vec::new();
    for n in 0..23 {
        let shopper = app.user(&format!("shopper-{}", n % 8));
        before.push(
            place(&shopper, tea, 1, "Mei", "13900000000")
                .await
                .to_string(),
        );
    }
    settle(&app.pool).await;
    before.reverse();

    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut arrived = 0;
    loop {
        let query = match &cursor {
            Some(cursor) => format!("size=4&cursor={cursor}"),
            None => "size=4".to_owned(),
        };
        let (ids, next, _) = listed(&app, &query).await;
        seen.extend(ids);
        // New orders between pages: newer than every page, so on none of the next ones.
        for _ in 0..2 {
            place(
                &app.user(&format!("late-{arrived}")),
                tea,
                1,
                "Lei",
                "13800000000",
            )
            .await;
            arrived += 1;
        }
        settle(&app.pool).await;
        match next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(seen, before, "every order once, newest first");
    let (_, _, counts) = listed(&app, "").await;
    assert_eq!(counts["awaiting_payment"], 23 + arrived);
}

/// `text` percent-encoded for a query string.
fn urlencoding(text: &str) -> String {
    text.bytes().map(|b| format!("%{b:02X}")).collect()
}

#[tokio::test]
async fn ten_thousand_order_lines_export_as_csv_with_a_bom_a_header_and_a_row_each() {
    let app = spawn_app().await;
    let admin = app.admin();
    let mut products = Vec::new();
    for n in 0..50 {
        products.push(
            admin
                .create_product(&format!("Tea {n}"), 100 + n, 1_000)
                .await,
        );
    }
    let lines: Vec<Value> = products
        .iter()
        .map(|id| json!({"product_id": id, "quantity": 1}))
        .collect();
    let mut tasks = Vec::new();
    for n in 0..200 {
        let shopper = app.user(&format!("shopper-{}", n % 50));
        let receiver = match n {
            0 => "=HYPERLINK(\"http://evil\")".to_owned(),
            1 => "Han, \"Mei\"".to_owned(),
            _ => format!("Receiver {n}"),
        };
        let body = json!({"lines": lines, "remark": if n == 2 { "ring twice\nthen wait" } else { "" },
                          "address": {"name": receiver, "phone": "13900000000", "province": "浙江",
                                      "city": "杭州", "district": "西湖", "detail": "1 Lake Road"}});
        tasks.push(tokio::spawn(async move {
            let (status, body) = shopper.post("/api/v1/orders", &body).await.into_parts();
            assert_eq!(status, StatusCode::CREATED, "{body}");
        }));
    }
    for task in tasks {
        task.await.expect("order");
    }
    settle(&app.pool).await;

    let response = admin
        .send_raw(admin.request(reqwest::Method::GET, "/api/v1/admin/orders/export"))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()["content-type"],
        "text/csv; charset=utf-8"
    );
    assert!(
        response.headers()["content-disposition"]
            .to_str()
            .expect("ascii")
            .starts_with("attachment; filename=\"orders-")
    );
    let csv = response.text().await.expect("text");
    assert!(
        csv.starts_with("\u{feff}order_id,created_at,status,user_id,receiver,"),
        "{}",
        &csv[..200]
    );
    let rows = parse(&csv);
    assert_eq!(rows.len(), 1 + 10_000, "a header and a row per order line");
    assert!(
        rows.iter().all(|row| row.len() == 24),
        "every row has every field"
    );
    // Each order's 50 lines, each with its product and price; typed text kept whole and
    // never a formula.
    assert_eq!(rows[1][2], "awaiting_payment");
    assert_eq!(rows[1][5], "13900000000");
    assert_eq!(rows[1][6], "浙江");
    let receivers: Vec<&str> = rows.iter().map(|row| row[4].as_str()).collect();
    assert!(receivers.contains(&"'=HYPERLINK(\"http://evil\")"));
    assert!(receivers.contains(&"Han, \"Mei\""));
    assert!(rows.iter().any(|row| row[10] == "ring twice\nthen wait"));
    let tea_7: Vec<&Vec<String>> = rows.iter().filter(|row| row[12] == "Tea 7").collect();
    assert_eq!(tea_7.len(), 200);
    assert!(
        tea_7
            .iter()
            .all(|row| row[16] == "1.07" && row[18] == "62.25")
    );

    // The list's filters apply: one shopper's orders.
    let response = admin
        .send_raw(admin.request(
            reqwest::Method::GET,
            "/api/v1/admin/orders/export?user_id=shopper-3",
        ))
        .await;
    let rows = parse(&response.text().await.expect("text"));
    assert_eq!(rows.len(), 1 + 4 * 50);
    let (status, _) = admin
        .get("/api/v1/admin/orders/export?status=lost")
        .await
        .into_parts();
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

/// The rows of an RFC 4180 CSV text (quoted fields may hold commas, quotes, line breaks).
fn parse(csv: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let (mut row, mut field) = (Vec::new(), String::new());
    let mut chars = csv.trim_start_matches('\u{feff}').chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut field)),
            (false, '\r') => {}
            (false, '\n') => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            (false, c) => field.push(c),
        }
    }
    rows
}

#[tokio::test]
async fn a_bulk_shipment_ships_the_paid_orders_and_refuses_the_rest_each_with_its_reason() {
    let app = spawn_app().await;
    let tea = app.admin().create_product("Tea", 500, 100).await;
    let mut paid = Vec::new();
    for n in 0..3 {
        let id = place(&app.user(&format!("p{n}")), tea, 1, "Mei", "13900000000").await;
        app.pay(id, 500).await;
        paid.push(id);
    }
    let unpaid = place(&app.user("u"), tea, 1, "Lei", "13800000000").await;
    let unknown = Uuid::now_v7();
    let shipments = json!({"shipments": [
        {"order_id": paid[0], "express_company": "SF", "tracking_no": "SF001"},
        {"order_id": unpaid, "express_company": "SF", "tracking_no": "SF002"},
        {"order_id": paid[1], "express_company": "ZTO", "tracking_no": "ZT003"},
        {"order_id": unknown, "express_company": "SF", "tracking_no": "SF004"},
        {"order_id": paid[2], "express_company": "NOPE", "tracking_no": "X005"},
    ]});
    let admin = app.admin();
    for round in 0..2 {
        let (status, body) = admin
            .post("/api/v1/admin/orders/shipments", &shipments)
            .await
            .into_parts();
        assert_eq!(status, StatusCode::OK, "{body}");
        let results = body["data"].as_array().expect("results");
        let outcome: Vec<(bool, Value)> = results
            .iter()
            .map(|r| {
                (
                    r["shipped"].as_bool().expect("shipped"),
                    r["error"]["code"].clone(),
                )
            })
            .collect();
        assert_eq!(
            outcome,
            [
                (true, Value::Null),
                (false, json!(40902)),
                (true, Value::Null),
                (false, json!(40400)),
                (false, json!(42200)),
            ],
            "round {round}: {body}"
        );
        assert_eq!(results[0]["order_id"], paid[0].to_string());
        assert_eq!(results[0]["status"], "shipped");
        assert!(
            results[4]["error"]["message"]
                .as_str()
                .expect("message")
                .contains("NOPE"),
            "{body}"
        );
    }
    // Sent twice, shipped once.
    assert_eq!(app.count_events("OrderShipped").await, 2);
    let (_, ids, _) = {
        let (ids, next, counts) = listed(&app, "status=shipped").await;
        (next, ids, counts)
    };
    assert_eq!(ids, [paid[1].to_string(), paid[0].to_string()]);
    let (status, body) = admin
        .post("/api/v1/admin/orders/shipments", &json!({"shipments": []}))
        .await
        .into_parts();
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["data"]["errors"][0]["field"], "shipments");
    // Text no shipment could carry refuses the whole request, naming it; nothing ships.
    let (status, body) = admin
        .post(
            "/api/v1/admin/orders/shipments",
            &json!({"shipments": [
                {"order_id": paid[2], "express_company": "SF", "tracking_no": "SF9"},
                {"order_id": paid[1], "express_company": "SF", "tracking_no": "SF\u{0}"},
            ]}),
        )
        .await
        .into_parts();
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(
        body["data"]["errors"][0]["field"],
        "shipments[1].tracking_no"
    );
    // One order twice in a batch would race itself: refused, named.
    let (status, body) = admin
        .post(
            "/api/v1/admin/orders/shipments",
            &json!({"shipments": [
                {"order_id": paid[2], "express_company": "SF", "tracking_no": "SF9"},
                {"order_id": paid[2], "express_company": "ZTO", "tracking_no": "ZT9"},
            ]}),
        )
        .await
        .into_parts();
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["data"]["errors"][0]["field"], "shipments[1].order_id");
    assert_eq!(app.count_events("OrderShipped").await, 2);
}
