//! The console's WeChat page in a real browser, in dev mode (the platform simulated): an
//! upload WeChat refused is listed with its reason and a Retry, and the simulated
//! platform's calls are shown; the health page shows the subscriber's calls, not a
//! Rebuild button.

use uuid::Uuid;

use crate::console::console_url;
use crate::support::browser::Browser;
use crate::support::paying::paid_and_shipped;
use crate::support::{TestApp, dev_mode_settings, eventually, fresh_database, start};

async fn upload_state(app: &TestApp, id: Uuid) -> String {
    let order = app
        .admin()
        .get(&format!("/api/v1/admin/orders/{id}"))
        .await
        .body;
    order["data"]["shipping_upload"]["state"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn the_wechat_page_lists_a_refused_upload_with_retry_and_the_simulated_calls() {
    let (pool, options) = fresh_database().await;
    let app = start(pool, dev_mode_settings()).await;
    let url = console_url(&app, &options, &[]);
    let mei = app.shopper("mei").await;
    let uploaded = paid_and_shipped(&app, &mei, "ZTO", "ZT1").await;
    // A token for a user who never logged in: WeChat has no openid to name as the payer.
    let ghost = paid_and_shipped(&app, &app.user("ghost"), "ZTO", "ZT1").await;
    eventually("both uploads are decided", || async {
        (upload_state(&app, uploaded).await == "uploaded"
            && upload_state(&app, ghost).await == "failed")
            .then_some(())
    })
    .await;

    let browser = Browser::start(1280, 900).await;
    browser.open(&url).await;
    browser
        .wait_for_text("[data-testid=state-shipping_uploads]", "running")
        .await;
    let calls = browser
        .text_of("[data-testid=calls-shipping_uploads]")
        .await;
    assert!(calls.contains("0 waiting, 1 failed"), "{calls}");
    let rebuild = browser
        .run("return document.querySelector('[data-testid=rebuild-shipping_uploads]') === null;")
        .await;
    assert_eq!(
        rebuild, true,
        "a subscriber calling WeChat is never rebuilt"
    );

    browser
        .run("location.hash = '#/platform'; return null;")
        .await;
    let row = browser.text_of("[data-testid=failed-upload]").await;
    assert!(
        row.contains(&ghost.to_string()) && row.contains("no openid"),
        "{row}"
    );
    let simulated = browser
        .run(
            "return [...document.querySelectorAll('[data-testid=simulated-call]')]
                 .map((row) => row.innerText);",
        )
        .await;
    let simulated: Vec<String> = serde_json::from_value(simulated).expect("rows");
    assert!(
        simulated
            .iter()
            .any(|row| row.contains("upload_shipping_info")),
        "{simulated:?}"
    );

    let due_at = || async {
        sqlx::query_scalar::<_, chrono::DateTime<chrono::Utc>>(
            "SELECT next_attempt_at FROM platform_calls WHERE order_id = $1",
        )
        .bind(ghost)
        .fetch_one(&app.pool)
        .await
        .expect("the call")
    };
    let before = due_at().await;
    browser.click(&format!("[data-testid=retry-{ghost}]")).await;
    // Made again (and refused again: the shopper still has no openid).
    eventually("the retry is made", || async {
        (due_at().await > before && upload_state(&app, ghost).await == "failed").then_some(())
    })
    .await;
    // Listed again, once the page is shown again.
    browser
        .run("location.hash = '#/health'; return null;")
        .await;
    browser
        .run("location.hash = '#/platform'; return null;")
        .await;
    let row = browser.text_of("[data-testid=failed-upload]").await;
    assert!(row.contains(&ghost.to_string()), "{row}");
}
