//! The console's after-sales queue, in a real browser: a refund-only approved with the
//! amount the units were paid, another request rejected with its reason, a return
//! approved, then received once its goods are back; the tabs' counts follow each step,
//! WeChat Pay is asked for each refund, and the returned units are back in stock.

use ordo::state::AppSettings;
use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::console::console_url;
use crate::support::browser::Browser;
use crate::support::{
    FakeWeChatPay, NoticeOptions, TestApp, eventually, fresh_database, settle, start,
};

const SHOPPER: &str = "00000000-0000-0000-0000-0000000a5a1e";

async fn ask(app: &TestApp, order: Uuid, kind: &str, sku: Uuid, reason: &str) -> String {
    let body = json!({"kind": kind, "lines": [{"sku_id": sku, "quantity": 1}], "reason": reason});
    let (status, body) = app
        .user(SHOPPER)
        .post(&format!("/api/v1/orders/{order}/after-sales"), &body)
        .await
        .into_parts();
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["data"]["id"].as_str().expect("id").to_owned()
}

/// The refunds WeChat Pay was asked for: each refund number's suffix, amount and the
/// payment's total, once per number.
async fn refunds_asked(fake: &FakeWeChatPay) -> Vec<(String, i64, i64)> {
    let mut asked: Vec<(String, i64, i64)> = fake
        .refund_requests()
        .await
        .iter()
        .map(|request| {
            let number = request["out_refund_no"].as_str().expect("out_refund_no");
            let suffix = number.rsplit_once('R').map(|(_, n)| n).unwrap_or(number);
            (
                format!("R{suffix}"),
                request["amount"]["refund"].as_i64().expect("refund"),
                request["amount"]["total"].as_i64().expect("total"),
            )
        })
        .collect();
    asked.sort();
    asked.dedup();
    asked
}

/// Runs `script` on the row of after-sale `id`, as `row`.
fn on_row(id: &str, script: &str) -> String {
    format!(
        "const row = document.querySelector('[data-testid=after-sale-row][data-id=\"{id}\"]'); {script}"
    )
}

async fn status_of(app: &TestApp, id: &str) -> Value {
    let (status, queue) = app
        .admin()
        .get("/api/v1/admin/after-sales?size=100")
        .await
        .into_parts();
    assert_eq!(status, StatusCode::OK, "{queue}");
    queue["data"]["list"]
        .as_array()
        .expect("list")
        .iter()
        .find(|sale| sale["id"] == id)
        .expect("listed")
        .clone()
}

#[tokio::test]
async fn the_merchant_approves_rejects_and_receives_from_the_after_sales_queue() {
    let fake = FakeWeChatPay::start().await;
    let (pool, options) = fresh_database().await;
    let app = start(
        pool,
        AppSettings {
            wechat_pay: Some(fake.config()),
            ..AppSettings::default()
        },
    )
    .await;
    let url = console_url(&app, &options, &[]);
    let cups = app.admin().create_product("Cup", 1_200, 10).await;
    let tea = app.admin().create_product("Oolong", 3_000, 10).await;
    let (status, body) = app
        .user(SHOPPER)
        .place_order(&[(cups, 2), (tea, 1)])
        .await
        .into_parts();
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let order: Uuid = body["data"]["id"]
        .as_str()
        .expect("id")
        .parse()
        .expect("uuid");
    let (status, answer) = fake
        .send_notice(&app.address, order, &NoticeOptions::paying(5_400))
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let (status, body) = app
        .admin()
        .post(
            &format!("/api/v1/admin/orders/{order}/ship"),
            &json!({"express_company": "SF", "tracking_no": "SF1"}),
        )
        .await
        .into_parts();
    assert_eq!(status, StatusCode::OK, "{body}");
    let tea_only = ask(&app, order, "refund_only", tea, "the tea never came").await;
    let cup_back = ask(&app, order, "return_refund", cups, "chipped").await;
    let second_cup = ask(&app, order, "refund_only", cups, "changed my mind").await;
    settle(&app.pool).await;

    let browser = Browser::start(1400, 900).await;
    browser.open(&url).await;
    browser.text_of("[data-testid=projections]").await;
    browser
        .open(&format!("{}/console/#/aftersales/requested", app.address))
        .await;
    browser
        .wait_for_text("[data-testid=after-sale-tab-requested]", "To decide: 3")
        .await;
    let rows = browser
        .run("return [...document.querySelectorAll('[data-testid=after-sale-row]')].map(row => row.textContent);")
        .await;
    let rows: Vec<String> = serde_json::from_value(rows).expect("texts");
    assert_eq!(rows.len(), 3, "{rows:?}");
    assert!(
        rows.iter()
            .any(|row| row.contains("Oolong × 1") && row.contains("the tea never came")),
        "each request named from its order: {rows:?}"
    );

    // The tea: approved with what it was paid, refunded at once.
    browser
        .run(&on_row(
            &tea_only,
            "row.querySelector('[data-testid=approve]').click();",
        ))
        .await;
    browser
        .wait_for_text("[data-testid=after-sale-result]", "A1: now refunding.")
        .await;
    // Each refund under its own number (WeChat Pay is asked again, with the same number,
    // while it has not answered for good).
    assert_eq!(
        refunds_asked(&fake).await,
        [("R1".to_owned(), 3_000, 5_400)]
    );

    // A reason-less rejection is refused by the server, and the page says so.
    browser
        .wait_for_text("[data-testid=after-sale-tab-requested]", "To decide: 2")
        .await;
    browser
        .run(&on_row(
            &second_cup,
            "row.querySelector('[data-testid=reject]').click();",
        ))
        .await;
    let error = eventually("the refusal shown", || async {
        let text = browser
            .run("const error = document.querySelector('[data-testid=after-sale-error]'); return error ? error.textContent : null;")
            .await;
        text.as_str().map(str::to_owned)
    })
    .await;
    assert!(error.contains("reason"), "{error}");
    browser
        .run(&on_row(
            &second_cup,
            "row.querySelector('[data-testid=reject-reason]').value = 'already in use';
             row.querySelector('[data-testid=reject]').click();",
        ))
        .await;
    browser
        .wait_for_text("[data-testid=after-sale-result]", "A3: now rejected.")
        .await;
    assert_eq!(
        status_of(&app, &second_cup).await["reject_reason"],
        "already in use"
    );

    // The chipped cup: approved for ¥10.00 (a restocking fee kept), its goods awaited.
    browser
        .wait_for_text("[data-testid=after-sale-tab-requested]", "To decide: 1")
        .await;
    browser
        .run(&on_row(
            &cup_back,
            "row.querySelector('[data-testid=approve-amount]').value = '10.00';
             row.querySelector('[data-testid=approve]').click();",
        ))
        .await;
    browser
        .wait_for_text(
            "[data-testid=after-sale-result]",
            "A2: now awaiting_return.",
        )
        .await;
    let (status, body) = app
        .user(SHOPPER)
        .post(
            &format!("/api/v1/after-sales/{cup_back}/return-shipment"),
            &json!({"express_company": "ZTO", "tracking_no": "ZT9"}),
        )
        .await
        .into_parts();
    assert_eq!(status, StatusCode::OK, "{body}");
    settle(&app.pool).await;
    browser
        .open(&format!(
            "{}/console/#/aftersales/return_shipped",
            app.address
        ))
        .await;
    browser
        .wait_for_text(
            "[data-testid=after-sale-tab-return_shipped]",
            "Return on its way: 1",
        )
        .await;
    let on_hand = app.stock(cups).await.on_hand();
    browser
        .run(&on_row(
            &cup_back,
            "window.confirm = () => true; row.querySelector('[data-testid=receive]').click();",
        ))
        .await;
    browser
        .wait_for_text("[data-testid=after-sale-result]", "A2: now refunding.")
        .await;
    assert_eq!(
        app.stock(cups).await.on_hand(),
        on_hand + 1,
        "the cup is back"
    );
    assert_eq!(
        refunds_asked(&fake).await,
        [
            ("R1".to_owned(), 3_000, 5_400),
            ("R2".to_owned(), 1_000, 5_400)
        ]
    );
    browser
        .wait_for_text("[data-testid=after-sale-tab-refunding]", "Refunding: 2")
        .await;
}
