//! Text that deceives the eye is refused at the door with a 422 naming the field: a
//! required field of invisible characters only (it looks empty), bidirectional overrides
//! and isolates (they reorder what an operator reads), and U+2028/U+2029 in a one-line
//! field (a line break to every renderer). Nothing is written.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{address, spawn_app};

fn assert_refused(status: StatusCode, body: &Value, field: &str, says: &str) {
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{field}: {body}");
    assert_eq!(body["code"], 42200, "{body}");
    assert_eq!(body["data"]["errors"][0]["field"], field, "{body}");
    assert!(
        body["data"]["errors"][0]["message"]
            .as_str()
            .is_some_and(|message| message.contains(says)),
        "{field} should say {says:?}: {body}"
    );
}

#[tokio::test]
async fn an_order_addressed_to_invisible_reordered_or_broken_text_is_refused_naming_the_field() {
    let app = spawn_app().await;
    let tea = app.admin().create_product("Tea", 500, 5).await;
    let shopper = app.user("u1");
    let cases = [
        ("name", "\u{200B}", "visible text"),
        ("name", "\u{FEFF} \u{2060}", "visible text"),
        ("detail", "1 Lake Road\u{202E}dooR", "bidirectional"),
        ("city", "Hang\u{2066}zhou\u{2069}", "bidirectional"),
        ("detail", "1 Lake Road\u{2028}Room 2", "line breaks"),
        ("district", "Xihu\u{2029}", "line breaks"),
    ];
    for (part, text, says) in cases {
        let mut body = json!({"lines": [{"product_id": tea, "quantity": 1}], "address": address()});
        body["address"][part] = json!(text);

        let (status, answer) = shopper.post("/api/v1/orders", &body).await.into_parts();

        assert_refused(status, &answer, &format!("address.{part}"), says);
    }
    assert_eq!(app.count_events("OrderPlaced").await, 0);
    assert_eq!(app.stock(tea).await.reserved(), 0);
}

#[tokio::test]
async fn a_product_named_with_invisible_characters_only_is_refused_but_a_remark_may_break_lines() {
    let app = spawn_app().await;
    let admin = app.admin();
    let product = |name: &str| json!({"name": name, "price_cents": 500, "initial_stock": 1});

    let (status, answer) = admin
        .post("/api/v1/admin/products", &product("\u{200B}\u{200B}"))
        .await
        .into_parts();
    assert_refused(status, &answer, "name", "visible text");
    let (status, answer) = admin
        .post("/api/v1/admin/products", &product("Tea\u{202E}aeT"))
        .await
        .into_parts();
    assert_refused(status, &answer, "name", "bidirectional");
    assert_eq!(app.count_events("ProductCreated").await, 0);

    // A remark is prose: a paragraph separator is a line break it may hold, and an
    // invisible joiner inside visible text (an emoji sequence) stays.
    let tea = app.admin().create_product("Tea\u{200D}🍵", 500, 5).await;
    let body = json!({"lines": [{"product_id": tea, "quantity": 1}], "address": address(),
                      "remark": "leave at the door\u{2029}thanks"});
    let (status, placed) = app
        .user("u1")
        .post("/api/v1/orders", &body)
        .await
        .into_parts();
    assert_eq!(status, StatusCode::CREATED, "{placed}");
}
