//! Text hygiene at the door: free text with control characters (NUL above all, which
//! PostgreSQL cannot store) or U+FFFF (ordo's storage escape) is refused with a 422
//! naming the field, and nothing is written.

use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::support::{TestApp, address, spawn_app};

/// What no text field takes: NUL, ESC (a C0 control) and the noncharacter U+FFFF.
const FORBIDDEN: [char; 3] = ['\u{0}', '\u{1B}', '\u{FFFF}'];

/// The answer is a 422 envelope whose first error names `field` and says why.
fn assert_refused(status: StatusCode, body: &Value, field: &str) {
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{field}: {body}");
    assert_eq!(body["code"], 42200, "{field}: {body}");
    assert_eq!(body["data"]["errors"][0]["field"], field, "{body}");
    assert!(
        body["data"]["errors"][0]["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("must ")),
        "{body}"
    );
}

fn order_body(product: Uuid) -> Value {
    json!({"lines": [{"product_id": product, "quantity": 1}], "address": address(), "remark": ""})
}

/// Sets `field` (`remark` or `address.<part>`) of an order body.
fn set_order_field(body: &mut Value, field: &str, text: &str) {
    match field.strip_prefix("address.") {
        Some(part) => body["address"][part] = json!(text),
        None => body[field] = json!(text),
    }
}

fn id_of(body: &Value) -> Uuid {
    body["data"]["id"]
        .as_str()
        .and_then(|id| id.parse().ok())
        .expect("id")
}

async fn paid_order(app: &TestApp) -> Uuid {
    let tea = app.admin().create_product("Tea", 500, 5).await;
    let (status, body) = app.user("u1").place_order(&[(tea, 2)]).await.into_parts();
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let id = id_of(&body);
    app.pay(id, 1_000).await;
    id
}

#[tokio::test]
async fn a_control_character_in_any_address_field_or_the_remark_is_refused_naming_the_field() {
    let app = spawn_app().await;
    let tea = app.admin().create_product("Tea", 500, 5).await;
    let shopper = app.user("u1");
    let fields = [
        "address.name",
        "address.phone",
        "address.province",
        "address.city",
        "address.district",
        "address.detail",
        "remark",
    ];
    for field in fields {
        for bad in FORBIDDEN {
            let mut body = order_body(tea);
            set_order_field(&mut body, field, &format!("hi{bad}there"));

            let (status, answer) = shopper.post("/api/v1/orders", &body).await.into_parts();

            assert_refused(status, &answer, field);
        }
    }
    assert_eq!(app.count_events("OrderPlaced").await, 0);
    assert_eq!(app.count_events("StockReserved").await, 0);
    let stock = app.stock(tea).await;
    assert_eq!((stock.on_hand(), stock.reserved()), (5, 0));
}

#[tokio::test]
async fn a_remark_with_a_newline_and_emoji_is_placed_and_read_back_as_typed() {
    let app = spawn_app().await;
    let tea = app.admin().create_product("Tea", 500, 5).await;
    let shopper = app.user("u1");
    let remark = "请放门口\r\nleave it at the door 🙏🏽\tthanks";
    let mut body = order_body(tea);
    set_order_field(&mut body, "remark", remark);

    let (status, placed) = shopper.post("/api/v1/orders", &body).await.into_parts();

    assert_eq!(status, StatusCode::CREATED, "{placed}");
    assert_eq!(placed["data"]["remark"], remark);
    let (status, read) = shopper
        .get(&format!("/api/v1/orders/{}", id_of(&placed)))
        .await
        .into_parts();
    assert_eq!(status, StatusCode::OK, "{read}");
    assert_eq!(read["data"]["remark"], remark);
}

#[tokio::test]
async fn a_remark_of_ten_thousand_characters_is_refused() {
    let app = spawn_app().await;
    let tea = app.admin().create_product("Tea", 500, 5).await;
    let mut body = order_body(tea);
    set_order_field(&mut body, "remark", &"长".repeat(10_000));

    let (status, answer) = app
        .user("u1")
        .post("/api/v1/orders", &body)
        .await
        .into_parts();

    assert_refused(status, &answer, "remark");
    assert_eq!(
        answer["data"]["errors"][0]["message"],
        "must be at most 200 characters"
    );
    assert_eq!(app.count_events("OrderPlaced").await, 0);
    assert_eq!(app.stock(tea).await.reserved(), 0);
}

#[tokio::test]
async fn a_control_character_in_a_new_products_text_is_refused_naming_the_field() {
    let app = spawn_app().await;
    for field in ["name", "description", "category"] {
        for bad in FORBIDDEN {
            let mut body = json!({"name": "Tea", "description": "", "category": "tea",
                                  "price_cents": 500, "initial_stock": 5});
            body[field] = json!(format!("Tea{bad}"));

            let (status, answer) = app
                .admin()
                .post("/api/v1/admin/products", &body)
                .await
                .into_parts();

            assert_refused(status, &answer, field);
        }
    }
    assert_eq!(app.count_events("ProductCreated").await, 0);
    assert_eq!(app.count_events("StockAdded").await, 0);
}

#[tokio::test]
async fn a_control_character_in_a_product_change_is_refused_and_the_product_stays_as_it_was() {
    let app = spawn_app().await;
    let tea = app.admin().create_product("Tea", 500, 5).await;
    let path = format!("/api/v1/admin/products/{tea}");
    for field in ["name", "description", "category"] {
        for bad in FORBIDDEN {
            let body = json!({ field: format!("Tea{bad}") });

            let (status, answer) = app.admin().put(&path, &body).await.into_parts();

            assert_refused(status, &answer, field);
        }
    }
    assert_eq!(app.count_events("ProductUpdated").await, 0);
    let (status, product) = app
        .anon()
        .get(&format!("/api/v1/products/{tea}"))
        .await
        .into_parts();
    assert_eq!(status, StatusCode::OK, "{product}");
    assert_eq!(
        (
            &product["data"]["name"],
            &product["data"]["description"],
            &product["data"]["category"]
        ),
        (&json!("Tea"), &json!(""), &json!("test"))
    );
}

#[tokio::test]
async fn a_name_with_a_tab_is_refused_but_a_description_may_hold_tabs_and_newlines() {
    let app = spawn_app().await;
    let admin = app.admin();
    let (status, answer) = admin
        .post(
            "/api/v1/admin/products",
            &json!({"name": "Oolong\ttea", "price_cents": 500}),
        )
        .await
        .into_parts();
    assert_refused(status, &answer, "name");
    assert_eq!(app.count_events("ProductCreated").await, 0);

    let description = "250 g\n\tloose leaf\r\n\tfrom Fujian 🍃";
    let (status, created) = admin
        .post(
            "/api/v1/admin/products",
            &json!({"name": "Oolong tea", "description": description, "price_cents": 500}),
        )
        .await
        .into_parts();
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let (status, product) = app
        .anon()
        .get(&format!("/api/v1/products/{}", id_of(&created)))
        .await
        .into_parts();
    assert_eq!(status, StatusCode::OK, "{product}");
    assert_eq!(product["data"]["description"], description);

    let (status, answer) = admin
        .put(
            &format!("/api/v1/admin/products/{}", id_of(&created)),
            &json!({"category": "tea\n"}),
        )
        .await
        .into_parts();
    assert_refused(status, &answer, "category");
}

#[tokio::test]
async fn a_control_character_in_a_shipment_is_refused_and_the_order_stays_shippable() {
    let app = spawn_app().await;
    let order = paid_order(&app).await;
    let path = format!("/api/v1/admin/orders/{order}/ship");
    for field in ["carrier", "tracking_no", "express_company"] {
        for bad in FORBIDDEN {
            let mut body =
                json!({"carrier": "SF Express", "express_company": "SF", "tracking_no": "SF123"});
            body[field] = json!(format!("SF{bad}1"));

            let (status, answer) = app.admin().post(&path, &body).await.into_parts();

            assert_refused(status, &answer, field);
        }
    }
    assert_eq!(app.count_events("OrderShipped").await, 0);
    let (status, shipped) = app
        .admin()
        .post(
            &path,
            &json!({"carrier": "SF Express", "express_company": "SF", "tracking_no": "SF123"}),
        )
        .await
        .into_parts();
    assert_eq!(status, StatusCode::OK, "still shippable: {shipped}");
}

#[tokio::test]
async fn a_control_character_in_a_stock_reason_is_refused_and_no_stock_moves() {
    let app = spawn_app().await;
    let tea = app.admin().create_product("Tea", 500, 5).await;
    let path = format!("/api/v1/admin/products/{tea}/stock");
    for quantity in [3, -1] {
        for bad in FORBIDDEN {
            let body = json!({"quantity": quantity, "reason": format!("recount{bad}")});

            let (status, answer) = app.admin().post(&path, &body).await.into_parts();

            assert_refused(status, &answer, "reason");
        }
    }
    let (status, answer) = app
        .admin()
        .post(&path, &json!({"quantity": 0, "reason": "a\nb"}))
        .await
        .into_parts();
    assert_refused(status, &answer, "quantity");
    assert_eq!(answer["data"]["errors"][1]["field"], "reason", "{answer}");

    assert_eq!(app.count_events("StockAdded").await, 1, "the initial stock");
    assert_eq!(app.count_events("StockWrittenOff").await, 0);
    assert_eq!(app.stock(tea).await.on_hand(), 5);
}

#[tokio::test]
async fn a_control_character_in_the_profile_is_refused_and_the_profile_stays_as_it_was() {
    let app = spawn_app().await;
    let mei = app.shopper("mei").await;
    for field in ["nickname", "avatar_url", "phone"] {
        for bad in FORBIDDEN {
            let text = match field {
                "nickname" => format!("Mei{bad}"),
                "avatar_url" => format!("https://img.example/{bad}.png"),
                _ => format!("+86{bad}13800000000"),
            };

            let (status, answer) = mei
                .put("/api/v1/me", &json!({ field: text }))
                .await
                .into_parts();

            assert_refused(status, &answer, field);
        }
    }
    assert_eq!(app.count_events("ProfileUpdated").await, 0);
    let (status, me) = mei.get("/api/v1/me").await.into_parts();
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!(me["data"]["nickname"], "mei");
}

#[tokio::test]
async fn a_login_code_with_a_control_character_or_over_128_characters_is_refused() {
    let app = spawn_app().await;
    let codes = FORBIDDEN
        .iter()
        .flat_map(|bad| [format!("dev:mei{bad}"), format!("{bad}wx-code")])
        .chain([format!("dev:{}", "x".repeat(125)), "dev:a\nb".to_owned()]);
    for code in codes {
        let (status, answer) = app
            .anon()
            .post("/api/v1/auth/wechat-login", &json!({"code": code}))
            .await
            .into_parts();

        assert_refused(status, &answer, "code");
    }
    assert_eq!(app.count_events("UserRegistered").await, 0);
}

#[tokio::test]
async fn a_control_character_in_the_keyword_or_category_filter_is_refused_naming_it() {
    let app = spawn_app().await;
    app.admin().create_product("Tea", 500, 5).await;
    // NUL, ESC, DEL, NEL (a C1 control) and U+FFFF, percent-encoded as UTF-8.
    let encoded = ["%00", "%1B", "%7F", "%C2%85", "%EF%BF%BF", "a%0Ab"];
    for field in ["keyword", "category"] {
        for bad in encoded {
            let (status, answer) = app
                .anon()
                .get(&format!("/api/v1/products?{field}=te{bad}"))
                .await
                .into_parts();

            assert_refused(status, &answer, field);
        }
        let (status, answer) = app
            .anon()
            .get(&format!("/api/v1/products?{field}={}", "t".repeat(101)))
            .await
            .into_parts();
        assert_refused(status, &answer, field);
        let (status, answer) = app
            .anon()
            .get(&format!("/api/v1/products?{field}={}", "t".repeat(100)))
            .await
            .into_parts();
        assert_eq!(status, StatusCode::OK, "100 characters: {answer}");
    }

    let (status, both) = app
        .anon()
        .get("/api/v1/products?keyword=%00&category=%00")
        .await
        .into_parts();
    assert_refused(status, &both, "keyword");
    assert_eq!(both["data"]["errors"][1]["field"], "category", "{both}");

    let (status, found) = app
        .anon()
        .get("/api/v1/products?keyword=te")
        .await
        .into_parts();
    assert_eq!(status, StatusCode::OK, "{found}");
    assert_eq!(found["data"]["pagination"]["total"], 1);
}
