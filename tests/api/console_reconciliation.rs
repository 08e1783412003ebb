//! The console's reconciliation page in a real browser, against dev mode's simulated
//! WeChat Pay: a day not yet reconciled, run from the page, then its totals, its one
//! difference (a payment whose notice was lost, recorded by the run) and the calendar's
//! colour for the day; and the days' list the calendar reads.

use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::console::console_url;
use crate::support::browser::Browser;
use crate::support::paying::place;
use crate::support::{Client, dev_mode_settings, fresh_database, start};

use crate::support::beijing_today as today;

/// An order of one `product`, paid at the simulated WeChat Pay; its notice sent or not.
async fn paid_order(shopper: &Client, product: Uuid, notify: bool) -> Uuid {
    let (id, _) = place(shopper, product, 1).await;
    let (status, body) = shopper
        .post(&format!("/api/v1/orders/{id}/pay"), &json!({}))
        .await
        .into_parts();
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = shopper
        .post(
            &format!("/api/v1/dev/orders/{id}/simulate-payment?notify={notify}"),
            &json!({}),
        )
        .await
        .into_parts();
    assert_eq!(status, StatusCode::OK, "{body}");
    id
}

#[tokio::test]
async fn an_operator_reconciles_a_day_from_the_console_and_sees_its_totals_and_differences() {
    let (pool, options) = fresh_database().await;
    let app = start(pool, dev_mode_settings()).await;
    let url = console_url(&app, &options, &[]);
    let mei = app.shopper("mei").await;
    let tea = app.admin().create_product("Oolong", 4_800, 10).await;
    let matched = paid_order(&mei, tea, true).await;
    let lost = paid_order(&mei, tea, false).await;
    crate::support::settle(&app.pool).await;

    let browser = Browser::start(1280, 900).await;
    browser.open(&url).await;
    browser
        .run(&format!(
            "location.hash = '#/reconciliation/{}'; return null;",
            today()
        ))
        .await;
    browser
        .wait_for_text("[data-testid=report-state]", "Not reconciled yet.")
        .await;
    let cell = format!("[data-testid=day-{}]", today());
    let state_of_today = format!("return document.querySelector('{cell}').dataset.state;");
    assert_eq!(browser.run(&state_of_today).await, "none");

    browser.click("[data-testid=reconcile-day]").await;
    browser
        .wait_for_text("[data-testid=report-state]", "differences")
        .await;
    assert_eq!(browser.text_of("[data-testid=matched]").await, "1");
    let wechat = browser.text_of("[data-testid=wechat-totals]").await;
    assert!(
        wechat.contains("¥96.00") && wechat.contains("2 payment(s)"),
        "{wechat}"
    );
    let ordo = browser.text_of("[data-testid=ordo-totals]").await;
    assert!(
        ordo.contains("¥48.00") && ordo.contains("1 payment(s)"),
        "{ordo}"
    );
    let rows = browser
        .run(
            "return [...document.querySelectorAll('[data-testid=difference]')]
                 .map((row) => row.innerText);",
        )
        .await;
    let rows: Vec<String> = serde_json::from_value(rows).expect("the rows' text");
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert!(
        rows[0].contains("missing_in_ordo")
            && rows[0].contains(&lost.to_string())
            && rows[0].contains("recorded now by the reconciliation"),
        "{rows:?}"
    );
    assert!(!rows[0].contains(&matched.to_string()), "{rows:?}");
    assert_eq!(browser.run(&state_of_today).await, "differences");

    // The lost payment is the order's now.
    let order = mei.get(&format!("/api/v1/orders/{lost}")).await.body;
    assert_eq!(order["data"]["status"], "paid", "{order}");

    // The calendar's figures, as the API gives them.
    let (status, body) = app
        .admin()
        .get(&format!(
            "/api/v1/admin/reconciliations/days?month={}",
            today().format("%Y-%m")
        ))
        .await
        .into_parts();
    assert_eq!(status, StatusCode::OK, "{body}");
    let expected: Value = json!([{
        "date": today(),
        "state": "differences",
        "matched": 1,
        "differences": 1,
        "wechat_total_cents": 9_600,
        "ordo_total_cents": 4_800,
    }]);
    let mut days = body["data"].clone();
    for day in days.as_array_mut().expect("a list") {
        day.as_object_mut().expect("a day").remove("ran_at");
    }
    assert_eq!(days, expected);
}

#[tokio::test]
async fn the_days_list_refuses_a_malformed_month_naming_it() {
    let (pool, _) = fresh_database().await;
    let app = start(pool, dev_mode_settings()).await;
    let admin = app.admin();
    for (query, named) in [
        ("month=2026-13", "month: must be YYYY-MM"),
        ("month=2026-1", "month: must be YYYY-MM"),
        ("month=2026-11-01", "month: must be YYYY-MM"),
        ("", "month"),
    ] {
        let (status, body) = admin
            .get(&format!("/api/v1/admin/reconciliations/days?{query}"))
            .await
            .into_parts();
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {body}");
        assert!(
            body["message"].as_str().is_some_and(|m| m.contains(named)),
            "{query}: {body}"
        );
    }
    let (status, body) = admin
        .get("/api/v1/admin/reconciliations/days?month=2026-11")
        .await
        .into_parts();
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"], json!([]));
}
