//! The operators' console in a real headless browser (chromium through chromedriver):
//! signed in through `ordo console-url`, every figure from the API it shows.

use reqwest::{Method, StatusCode};
use serde_json::Value;
use sqlx::postgres::PgConnectOptions;

use crate::support::audit::{halve_a_reservation, seal, streamed_verifications};
use crate::support::browser::Browser;
use crate::support::{
    Client, TestApp, dev_mode_settings, fresh_database, settle, spawn_app_on, start,
};

/// A dev-mode app and what `ordo console-url` prints for it.
async fn app_and_console_url() -> (TestApp, PgConnectOptions, String) {
    let (pool, options) = fresh_database().await;
    let app = spawn_app_on(pool).await;
    let url = console_url(&app, &options, &[]);
    (app, options, url)
}

pub(crate) fn console_url(app: &TestApp, options: &PgConnectOptions, extra: &[&str]) -> String {
    let listen = app.address.trim_start_matches("http://");
    let mut args = vec!["console-url", "--listen", listen, "--sub", "alice"];
    args.extend_from_slice(extra);
    let output = TestApp::cli(options, &args);
    assert!(output.status.success(), "{output:?}");
    let url = String::from_utf8(output.stdout).expect("utf-8");
    url.trim().to_owned()
}

/// Holds the seals table until the transaction ends: a verification waits at its pass 2.
async fn hold_the_seals(app: &TestApp) -> sqlx::Transaction<'static, sqlx::Postgres> {
    let mut holder = app.pool.begin().await.expect("a transaction");
    sqlx::query("LOCK TABLE audit_seals IN ACCESS EXCLUSIVE MODE")
        .execute(&mut *holder)
        .await
        .expect("lock the seals");
    holder
}

async fn session_token(browser: &Browser) -> Value {
    browser
        .run("return sessionStorage.getItem('ordo.console.token');")
        .await
}

#[tokio::test]
async fn an_operator_signs_in_through_console_url_sees_the_projections_and_a_rebuild_finish() {
    let (app, _options, url) = app_and_console_url().await;
    assert!(
        url.starts_with(&format!("{}/console/#token=ey", app.address)),
        "{url}"
    );
    let tea = app.admin().create_product("Oolong", 4_800, 10).await;
    let (status, placed) = app.user("mei").place_order(&[(tea, 1)]).await.into_parts();
    assert_eq!(status, StatusCode::CREATED, "{placed}");
    let browser = Browser::start(1280, 900).await;
    browser.open(&url).await;

    // Orders counted as /metrics counts them (the process's counter: at least ours).
    let placed_total = browser.text_of("[data-testid=placed-total]").await;
    assert!(
        placed_total.parse::<u64>().is_ok_and(|n| n >= 1),
        "{placed_total}"
    );

    for projection in ["catalog", "daily_sales", "orders"] {
        browser
            .wait_for_text(&format!("[data-testid=state-{projection}]"), "running")
            .await;
    }
    // The token left the address bar for this tab's storage.
    let address = browser.run("return location.href;").await;
    assert!(
        !address.as_str().unwrap_or_default().contains("token"),
        "{address}"
    );
    // The link's token was traded for the console's own; the link is spent.
    let link_token = url.split("#token=").nth(1).expect("a token").to_owned();
    let console_token = session_token(&browser).await;
    assert!(
        console_token
            .as_str()
            .is_some_and(|token| token.starts_with("ey") && token != link_token),
        "{console_token}"
    );
    let (status, refused) = app
        .with_token(&link_token)
        .get("/api/v1/admin/projections")
        .await
        .into_parts();
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{refused}");

    browser.click("[data-testid=rebuild-catalog]").await;
    let rebuilt = browser.text_of("[data-testid=rebuilt-catalog]").await;
    assert_eq!(rebuilt, "rebuilt: now version 2");
    let (status, body) = app
        .admin()
        .get("/api/v1/admin/projections")
        .await
        .into_parts();
    assert_eq!(status, StatusCode::OK);
    let catalog = body["data"]
        .as_array()
        .and_then(|list| list.iter().find(|p| p["name"] == "catalog"))
        .expect("the catalog")
        .clone();
    assert_eq!(
        (catalog["version"].clone(), catalog["state"].clone()),
        (2.into(), "running".into())
    );

    // A rebuild that stops says why on the page, and the next one clears it.
    sqlx::query("CREATE VIEW product_catalog__rebuild AS SELECT 1 AS in_the_way")
        .execute(&app.pool)
        .await
        .expect("a view");
    browser.click("[data-testid=rebuild-catalog]").await;
    let stopped = browser.text_of("[data-testid=rebuild-error-catalog]").await;
    assert!(
        stopped.starts_with("last rebuild stopped: ")
            && stopped.contains("product_catalog__rebuild"),
        "{stopped}"
    );
    sqlx::query("DROP VIEW product_catalog__rebuild")
        .execute(&app.pool)
        .await
        .expect("out of the way");
    browser.click("[data-testid=rebuild-catalog]").await;
    browser
        .wait_for_text("[data-testid=rebuilt-catalog]", "rebuilt: now version 3")
        .await;

    // The link in the history signs no one in again, and leaves this tab signed in.
    browser.open(&url).await;
    let spent = browser.text_of("[data-testid=sign-in-error]").await;
    assert!(spent.contains("works once"), "{spent}");
    assert_eq!(session_token(&browser).await, console_token);

    // Everything the page loaded came from ordo itself.
    let origins = browser
        .run(
            "return performance.getEntriesByType('resource').map(e => new URL(e.name).origin)
                .concat([location.origin]);",
        )
        .await;
    for origin in origins.as_array().expect("a list") {
        assert_eq!(origin.as_str(), Some(app.address.as_str()), "{origins}");
    }
}

#[tokio::test]
async fn an_orders_timeline_shows_it_placed_and_cancelled_and_the_slider_shows_it_earlier() {
    let (app, _options, url) = app_and_console_url().await;
    let tea = app.admin().create_product("Oolong", 4_800, 10).await;
    let (status, placed) = app.user("mei").place_order(&[(tea, 2)]).await.into_parts();
    assert_eq!(status, StatusCode::CREATED, "{placed}");
    let order = placed["data"]["id"].as_str().expect("order id").to_owned();
    // Apart in time, so the slider has two instants to stand on.
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let (status, body) = app.user("mei").cancel_order(&order).await.into_parts();
    assert_eq!(status, StatusCode::OK, "{body}");
    settle(&app.pool).await;

    let browser = Browser::start(1280, 900).await;
    browser.open(&url).await;
    browser.text_of("[data-testid=projections]").await;
    browser
        .open(&format!("{}/console/#/orders/{order}", app.address))
        .await;

    browser
        .wait_for_text("[data-testid=as-of-status]", "cancelled")
        .await;
    let timeline = browser.text_of("[data-testid=timeline]").await;
    for event in [
        "OrderPlaced",
        "StockReserved",
        "OrderCancelled",
        "StockReleased",
    ] {
        assert!(timeline.contains(event), "{event} in {timeline}");
    }
    assert!(timeline.contains("(user)"), "who: {timeline}");

    // The slider to its first instant: the order as it was placed.
    browser
        .run(
            "const slider = document.querySelector('[data-testid=as-of]');
             slider.value = slider.min;
             slider.dispatchEvent(new Event('input'));
             return slider.max;",
        )
        .await;
    browser
        .wait_for_text("[data-testid=as-of-status]", "awaiting_payment")
        .await;
    let label = browser.text_of("[data-testid=as-of-label]").await;
    assert!(label.contains("after event 1 of 2"), "{label}");
    // Any instant: a minute before it was placed, the order did not exist.
    browser
        .run(
            "const when = document.querySelector('[data-testid=as-of-instant]');
             when.value = new Date(Date.now() - 60000).toISOString().slice(0, 19);
             when.form.requestSubmit();",
        )
        .await;
    browser
        .wait_for_text("[data-testid=error]", "order not found")
        .await;

    // The shopper's orders, each linked to its timeline.
    browser
        .open(&format!("{}/console/#/orders", app.address))
        .await;
    browser
        .run(
            "document.querySelector('[data-testid=shopper-id]').value = 'mei';
             document.querySelector('[data-testid=shopper-id]').form.requestSubmit();",
        )
        .await;
    let row = browser.text_of("[data-testid=order-row]").await;
    assert!(row.contains(&order) && row.contains("cancelled"), "{row}");

    // The product's stock page: its moves, newest first, with the stock each left.
    browser
        .open(&format!("{}/console/#/stock/{tea}", app.address))
        .await;
    let newest = browser.text_of("[data-testid=stock-move]").await;
    assert!(
        newest.contains("StockReleased") && newest.ends_with("10 0 10"),
        "{newest}"
    );
    let rows = browser
        .run("return document.querySelectorAll('[data-testid=stock-move]').length;")
        .await;
    assert_eq!(rows, 3, "added, reserved, released");
}

#[tokio::test]
async fn verify_reads_ok_and_after_an_event_is_tampered_with_names_it() {
    let (app, _options, url) = app_and_console_url().await;
    let tea = app.admin().create_product("Oolong", 4_800, 10).await;
    let (status, placed) = app.user("mei").place_order(&[(tea, 2)]).await.into_parts();
    assert_eq!(status, StatusCode::CREATED, "{placed}");
    settle(&app.pool).await;

    let sealed = seal(&app).await;
    let browser = Browser::start(1280, 900).await;
    browser.open(&url).await;
    browser.text_of("[data-testid=projections]").await;
    browser
        .open(&format!("{}/console/#/audit", app.address))
        .await;
    let seal = browser.text_of("[data-testid=seal]").await;
    assert!(seal.contains(&sealed.cumulative_hash), "{seal}");
    browser.click("[data-testid=run-verify]").await;
    browser
        .wait_for_text("[data-testid=verify-result]", "ok")
        .await;

    // A verification under way shows its pass and count; Cancel calls it off on the
    // server. (The seals pass waits on this lock: it is surely still running.)
    let cancelled_before = streamed_verifications(&app, "cancelled").await;
    let events: i64 = sqlx::query_scalar("SELECT count(*) FROM events")
        .fetch_one(&app.pool)
        .await
        .expect("count");
    let holder = hold_the_seals(&app).await;
    browser.click("[data-testid=run-verify]").await;
    let under_way = format!("of {events} events (100%)");
    crate::support::eventually("the progress shows", || async {
        let label = browser.text_of("[data-testid=verify-progress]").await;
        (label.starts_with("1/4 every stream's hashes") && label.contains(&under_way)).then_some(())
    })
    .await;
    browser.click("[data-testid=cancel-verify]").await;
    browser
        .wait_for_text("[data-testid=verify-cancelled]", "Cancelled.")
        .await;
    holder.commit().await.expect("unlock");
    crate::support::eventually("the server called it off", || async {
        (streamed_verifications(&app, "cancelled").await > cancelled_before).then_some(())
    })
    .await;

    let target: i64 =
        sqlx::query_scalar("SELECT global_position FROM events WHERE event_type = 'StockReserved'")
            .fetch_one(&app.pool)
            .await
            .expect("the reservation");
    halve_a_reservation(&app.pool, target).await;
    browser.click("[data-testid=run-verify]").await;
    let result = browser.text_of("[data-testid=verify-result].bad").await;
    assert!(
        result.starts_with("failed:") && result.ends_with(&format!("at position {target}")),
        "{result}"
    );
    let failure = browser.text_of("[data-testid=verify-failure]").await;
    assert!(failure.contains("hash_mismatch"), "{failure}");
    assert!(failure.contains(&target.to_string()), "{failure}");
}

#[tokio::test]
async fn a_link_that_does_not_work_leaves_a_signed_in_tab_and_a_new_one_ends_its_old_token() {
    let (app, options, url) = app_and_console_url().await;
    let browser = Browser::start(1280, 900).await;
    browser.open(&url).await;
    browser.text_of("[data-testid=projections]").await;
    let first = session_token(&browser).await;
    let first = first.as_str().expect("the console's token").to_owned();

    // Links that do not work: made up, and a shopper's.
    let mallory = app.user("mallory");
    for link in ["not-a-token", mallory.token()] {
        browser
            .open(&format!("{}/console/#token={link}", app.address))
            .await;
        browser.text_of("[data-testid=sign-in-error]").await;
        assert_eq!(
            session_token(&browser).await,
            first,
            "{link}: still signed in"
        );
        browser.text_of("[data-testid=projections]").await;
    }
    let (status, body) = app
        .with_token(&first)
        .get("/api/v1/admin/projections")
        .await
        .into_parts();
    assert_eq!(
        status,
        StatusCode::OK,
        "the tab's token was not revoked: {body}"
    );

    // A link that works replaces the tab's sign-in, and only then ends the old token.
    browser.open(&console_url(&app, &options, &[])).await;
    let second = crate::support::eventually("signed in with the new link", || async {
        let token = session_token(&browser).await;
        token
            .as_str()
            .filter(|token| *token != first)
            .map(str::to_owned)
    })
    .await;
    crate::support::eventually("the old token is revoked", || async {
        let (status, _) = app
            .with_token(&first)
            .get("/api/v1/admin/projections")
            .await
            .into_parts();
        (status == StatusCode::UNAUTHORIZED).then_some(())
    })
    .await;
    let (status, body) = app
        .with_token(&second)
        .get("/api/v1/admin/projections")
        .await
        .into_parts();
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn a_shoppers_token_is_refused_and_signing_out_forgets_the_token() {
    let (app, options, url) = app_and_console_url().await;
    let browser = Browser::start(390, 844).await;

    let shopper = app.user("mei");
    browser
        .open(&shopper.url(&format!("/console/#token={}", shopper.token())))
        .await;
    let refused = browser.text_of("[data-testid=signed-out]").await;
    assert!(refused.contains("not an operator's"), "{refused}");
    assert_eq!(session_token(&browser).await, Value::Null);

    // At phone width, signed in: the page fits the screen (wide tables scroll in place).
    browser.open(&url).await;
    browser.text_of("[data-testid=projections]").await;
    let overflow = browser
        .run("return document.documentElement.scrollWidth - window.innerWidth;")
        .await;
    assert!(overflow.as_i64().is_some_and(|px| px <= 0), "{overflow}");
    let signed_in = session_token(&browser).await;
    let signed_in = signed_in.as_str().expect("the console's token").to_owned();
    // No page shows a value the API left out as "null" or "undefined" (an empty shop:
    // no seals, no notices, no refunds due, no orders).
    for route in ["#/health", "#/audit", "#/payments", "#/orders", "#/stock"] {
        browser
            .open(&format!("{}/console/{route}", app.address))
            .await;
        let text = crate::support::eventually("the page loaded", || async {
            let text = browser.run("return document.body.innerText;").await;
            let text = text.as_str().unwrap_or_default().to_owned();
            (text.contains("Sign out") && !text.contains("Loading")).then_some(text)
        })
        .await;
        assert!(
            !text.contains("null") && !text.contains("undefined"),
            "{route}: {text}"
        );
    }

    browser.click("#sign-out").await;
    browser
        .wait_for_text("[data-testid=signed-out]", "Signed out.")
        .await;
    assert_eq!(session_token(&browser).await, Value::Null);
    // Signing out revoked it: a copy of it elsewhere stops working too.
    let refused = crate::support::eventually("the token is revoked", || async {
        let (status, body) = app
            .with_token(&signed_in)
            .get("/api/v1/admin/projections")
            .await
            .into_parts();
        (status == StatusCode::UNAUTHORIZED).then_some(body)
    })
    .await;
    assert!(
        refused["message"]
            .as_str()
            .is_some_and(|m| m.contains("signed out")),
        "{refused}"
    );

    // An expired sign-in is refused the same way.
    let short = console_url(&app, &options, &["--ttl", "1s"]);
    tokio::time::sleep(std::time::Duration::from_millis(2_100)).await;
    browser.open(&short).await;
    let expired = browser.text_of("[data-testid=signed-out]").await;
    assert!(expired.contains("has expired"), "{expired}");
}

#[tokio::test]
async fn console_url_prints_the_public_address_behind_a_proxy_and_refuses_a_bad_one() {
    let (pool, options) = fresh_database().await;
    let app = spawn_app_on(pool).await;
    let url = console_url(&app, &options, &["--url", "https://shop.example.com/"]);
    assert!(
        url.starts_with("https://shop.example.com/console/#token=ey"),
        "{url}"
    );
    for bad in [
        "shop.example.com",
        "https://",
        "https://shop.example.com/?a=1",
    ] {
        let listen = app.address.trim_start_matches("http://");
        let output = TestApp::cli(&options, &["console-url", "--listen", listen, "--url", bad]);
        assert!(!output.status.success(), "{bad}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("--url"), "{bad}: {stderr}");
    }
}

#[test]
fn no_console_file_names_another_host() {
    // The SVG namespace is an identifier the DOM needs, never fetched.
    const SVG_NAMESPACE: &str = "http://www.w3.org/2000/svg";
    for (name, content) in ordo::console::assets() {
        let content = content.replace(SVG_NAMESPACE, "");
        for reference in [
            "http://", "https://", "//cdn", "url(", "@import", "src=\"//",
        ] {
            assert!(
                !content.contains(reference),
                "{name} holds {reference:?}: everything must come from ordo itself"
            );
        }
    }
}

#[tokio::test]
async fn the_console_is_served_with_a_policy_that_allows_only_ordo_itself() {
    let (app, _options, _url) = app_and_console_url().await;
    // A browser that shows the redirect rather than follow it.
    let http = ordo::tls::http_client()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("a client");
    let visitor = Client::at(http, &app.address);
    let moved = visitor
        .send_raw(visitor.request(Method::GET, "/console"))
        .await;
    assert_eq!(moved.status(), StatusCode::PERMANENT_REDIRECT);
    assert_eq!(moved.headers()["location"], "/console/");
    for (path, content_type) in [
        ("/console/", "text/html; charset=utf-8"),
        ("/console/api.js", "text/javascript; charset=utf-8"),
        (
            "/console/reconciliation.js",
            "text/javascript; charset=utf-8",
        ),
        ("/console/console.css", "text/css; charset=utf-8"),
    ] {
        let response = visitor.send_raw(visitor.request(Method::GET, path)).await;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        let headers = response.headers();
        assert_eq!(headers["content-type"], content_type, "{path}");
        let policy = headers["content-security-policy"].to_str().expect("ascii");
        assert!(
            policy.starts_with("default-src 'none'; script-src 'self'"),
            "{policy}"
        );
        assert_eq!(headers["referrer-policy"], "no-referrer");
    }
    let missing = visitor
        .send_raw(visitor.request(Method::GET, "/console/other.txt"))
        .await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
}

/// Not a check: `scripts/console-screenshots.sh` runs it to write a picture of each page
/// at 1280 px (and the health page at phone width) into `$ORDO_SCREENSHOTS`, over a shop
/// with some history: orders placed, paid, cancelled, a refund asked, a verify run.
#[tokio::test]
#[ignore = "writes screenshots; run by scripts/console-screenshots.sh"]
async fn screenshots() {
    let dir = std::path::PathBuf::from(
        std::env::var("ORDO_SCREENSHOTS").expect("ORDO_SCREENSHOTS: where to write them"),
    );
    std::fs::create_dir_all(&dir).expect("the screenshot directory");
    let (pool, options) = fresh_database().await;
    let app = start(pool, dev_mode_settings()).await;
    let url = console_url(&app, &options, &[]);
    let tea = app.admin().create_product("Oolong", 4_800, 100).await;
    let cup = app.admin().create_product("Tea cup", 1_200, 40).await;
    let mut orders = Vec::new();
    for (n, shopper) in ["mei", "lei", "han", "li", "wang", "zhao"]
        .iter()
        .enumerate()
    {
        let (status, placed) = app
            .user(shopper)
            .place_order(&[(tea, 1 + n as i64 % 3), (cup, 1)])
            .await
            .into_parts();
        assert_eq!(status, StatusCode::CREATED, "{placed}");
        let id: uuid::Uuid = placed["data"]["id"]
            .as_str()
            .and_then(|id| id.parse().ok())
            .expect("order id");
        if n % 3 != 2 {
            // Paid through dev mode's signed notices, so the payments page has some.
            let (status, body) = app
                .user(shopper)
                .post(
                    &format!("/api/v1/dev/orders/{id}/simulate-payment"),
                    &serde_json::json!({}),
                )
                .await
                .into_parts();
            assert_eq!(status, StatusCode::OK, "{body}");
        }
        orders.push(id);
    }
    let (status, body) = app
        .admin()
        .post(
            &format!("/api/v1/admin/orders/{}/refund", orders[1]),
            &serde_json::json!({"reason": "out of stock after all"}),
        )
        .await
        .into_parts();
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let (status, body) = app
        .admin()
        .post(
            &format!("/api/v1/dev/orders/{}/simulate-refund", orders[1]),
            &serde_json::json!({}),
        )
        .await
        .into_parts();
    assert_eq!(status, StatusCode::OK, "{body}");
    let cancelled = orders[2];
    let (status, body) = app
        .user("han")
        .cancel_order(&cancelled.to_string())
        .await
        .into_parts();
    assert_eq!(status, StatusCode::OK, "{body}");
    settle(&app.pool).await;
    let today = crate::support::beijing_today();
    let (status, body) = app
        .admin()
        .post(
            "/api/v1/admin/reconciliations",
            &serde_json::json!({ "date": today }),
        )
        .await
        .into_parts();
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");

    let browser = Browser::start(1280, 900).await;
    browser.open(&url).await;
    browser.text_of("[data-testid=projections]").await;
    // A few lag samples for the chart.
    tokio::time::sleep(std::time::Duration::from_secs(5)).await;
    let shots: [(&str, String, &str); 6] = [
        ("health", "#/health".to_owned(), "[data-testid=projections]"),
        (
            "orders",
            format!("#/orders/{}", orders[1]),
            "[data-testid=as-of-status]",
        ),
        ("stock", format!("#/stock/{tea}"), "form"),
        ("audit", "#/audit".to_owned(), "[data-testid=run-verify]"),
        ("payments", "#/payments".to_owned(), "table"),
        (
            "reconciliation",
            format!("#/reconciliation/{today}"),
            "[data-testid=matched]",
        ),
    ];
    for (name, route, ready) in shots {
        browser
            .open(&format!("{}/console/{route}", app.address))
            .await;
        browser.text_of(ready).await;
        if name == "audit" {
            browser.click("[data-testid=run-verify]").await;
            browser.text_of("[data-testid=verify-result]").await;
        }
        if name == "stock" {
            browser.click("form button").await;
            browser.text_of("[data-testid=stock-available]").await;
        }
        std::fs::write(dir.join(format!("{name}.png")), browser.screenshot().await)
            .expect("write the screenshot");
    }
    // A verification under way (held at its seals pass).
    let holder = hold_the_seals(&app).await;
    browser
        .open(&format!("{}/console/#/audit", app.address))
        .await;
    browser.click("[data-testid=run-verify]").await;
    browser.text_of("[data-testid=verify-progress]").await;
    tokio::time::sleep(std::time::Duration::from_millis(1_200)).await;
    std::fs::write(dir.join("audit-running.png"), browser.screenshot().await)
        .expect("write the screenshot");
    browser.click("[data-testid=cancel-verify]").await;
    holder.commit().await.expect("unlock");

    // A link signs in once: the phone gets its own.
    let phone = Browser::start(390, 844).await;
    phone.open(&console_url(&app, &options, &[])).await;
    phone.text_of("[data-testid=projections]").await;
    std::fs::write(dir.join("health-phone.png"), phone.screenshot().await)
        .expect("write the screenshot");
}
