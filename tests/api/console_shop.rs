//! The console's shop orders page, in a real browser: the tabs' counts, a tab's orders,
//! a search, and a day's parcels shipped from a CSV, each row with its result.

use reqwest::StatusCode;
use serde_json::json;

use crate::console::console_url;
use crate::support::browser::Browser;
use crate::support::{eventually, fresh_database, settle, spawn_app_on};

#[tokio::test]
async fn the_merchant_ships_the_days_parcels_from_a_csv_and_the_tabs_follow() {
    let (pool, options) = fresh_database().await;
    let app = spawn_app_on(pool).await;
    let url = console_url(&app, &options, &[]);
    let tea = app.admin().create_product("Oolong", 4_800, 10).await;
    let mut paid = Vec::new();
    for shopper in ["mei", "lei"] {
        let (status, body) = app
            .user(shopper)
            .place_order(&[(tea, 1)])
            .await
            .into_parts();
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let id = body["data"]["id"].as_str().expect("id").to_owned();
        app.pay(id.parse().expect("uuid"), 4_800).await;
        paid.push(id);
    }
    let (status, body) = app.user("han").place_order(&[(tea, 1)]).await.into_parts();
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let unpaid = body["data"]["id"].as_str().expect("id").to_owned();
    settle(&app.pool).await;

    let browser = Browser::start(1280, 900).await;
    browser.open(&url).await;
    browser.text_of("[data-testid=projections]").await;
    browser
        .open(&format!("{}/console/#/shop/paid", app.address))
        .await;
    browser
        .wait_for_text("[data-testid=tab-paid]", "To ship: 2")
        .await;
    browser
        .wait_for_text("[data-testid=tab-awaiting_payment]", "Awaiting payment: 1")
        .await;
    let rows = browser
        .run("return document.querySelectorAll('[data-testid=shop-row]').length;")
        .await;
    assert_eq!(rows, 2, "the paid orders");

    // A CSV with a header, both paid orders, the unpaid one and a made-up id.
    let csv = format!(
        "order_id,express_company,tracking_no\\n{},SF,SF001\\n{},ZTO,ZT002\\n{},SF,SF003\\n{},SF,SF004",
        paid[0],
        paid[1],
        unpaid,
        uuid::Uuid::now_v7()
    );
    browser
        .run(&format!(
            "document.querySelector('[data-testid=ship-text]').value = '{csv}';
             document.querySelector('[data-testid=ship-send]').click();"
        ))
        .await;
    browser
        .wait_for_text("[data-testid=ship-summary]", "2 shipped, 2 refused.")
        .await;
    let results = browser
        .run(
            "return [...document.querySelectorAll('[data-testid=ship-result]')]
                .map(row => row.textContent);",
        )
        .await;
    let results: Vec<String> = serde_json::from_value(results).expect("texts");
    assert!(results[0].ends_with("shipped"), "{results:?}");
    assert!(results[2].contains("refused"), "{results:?}");
    // The tabs follow: nothing left to ship.
    browser
        .wait_for_text("[data-testid=tab-paid]", "To ship: 0")
        .await;
    browser
        .wait_for_text("[data-testid=tab-shipped]", "Shipped: 2")
        .await;

    // A search by the receiver's phone finds the three orders (every order has it).
    browser
        .open(&format!("{}/console/#/shop/", app.address))
        .await;
    browser
        .run(
            "const search = document.querySelector('[data-testid=shop-search]');
             search.value = '13800000000';
             search.form.requestSubmit();",
        )
        .await;
    let rows = eventually("the search's rows", || async {
        let rows = browser
            .run("return document.querySelectorAll('[data-testid=shop-row]').length;")
            .await;
        (rows == json!(3)).then_some(rows)
    })
    .await;
    assert_eq!(rows, 3);
}

#[tokio::test]
async fn an_orders_page_ships_it_and_offers_its_refund() {
    let (pool, options) = fresh_database().await;
    let app = spawn_app_on(pool).await;
    let url = console_url(&app, &options, &[]);
    let tea = app.admin().create_product("Oolong", 4_800, 10).await;
    let (status, body) = app.user("mei").place_order(&[(tea, 1)]).await.into_parts();
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let id = body["data"]["id"].as_str().expect("id").to_owned();
    app.pay(id.parse().expect("uuid"), 4_800).await;
    settle(&app.pool).await;

    let browser = Browser::start(1280, 900).await;
    browser.open(&url).await;
    browser.text_of("[data-testid=projections]").await;
    browser
        .open(&format!("{}/console/#/orders/{id}", app.address))
        .await;
    browser
        .wait_for_text("[data-testid=action-status]", "paid")
        .await;
    browser
        .run(
            "document.querySelector('[data-testid=ship-company]').value = 'ZTO';
             document.querySelector('[data-testid=ship-tracking]').value = 'ZT0001';
             document.querySelector('[data-testid=ship-order]').click();",
        )
        .await;
    browser
        .wait_for_text("[data-testid=action-result]", "Shipped: now shipped.")
        .await;
    let (_, order) = app
        .admin()
        .get(&format!("/api/v1/admin/orders/{id}"))
        .await
        .into_parts();
    assert_eq!(order["data"]["tracking_no"], "ZT0001", "{order}");
    assert_eq!(order["data"]["express_company"], "ZTO", "{order}");
    // The page comes back shipped, with the refund offered; without WeChat Pay on this
    // server the refund is refused, and the page says why.
    browser
        .wait_for_text("[data-testid=action-status]", "shipped")
        .await;
    browser
        .run(
            "window.confirm = () => true;
             document.querySelector('[data-testid=refund-reason]').value = 'damaged';
             document.querySelector('[data-testid=refund-order]').click();",
        )
        .await;
    browser
        .wait_for_text("[data-testid=action-error]", "WeChat Pay is not configured")
        .await;
}
