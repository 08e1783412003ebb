//! Behind a reverse proxy: `X-Forwarded-For` is believed only from the proxies the
//! operator trusts, so each shopper has their own rate allowance and the events record
//! their address; from anyone else the header is ignored.

use ordo::rate_limit::{Rate, RateLimits};
use ordo::state::AppSettings;
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::support::{TestApp, address, spawn_app_with};

/// An app (dev mode) allowing each address one request at a time, with these proxies.
async fn app_behind(trusted_proxies: &[&str]) -> TestApp {
    spawn_app_with(AppSettings {
        dev_mode: true,
        rate_limits: RateLimits {
            per_ip: Some(Rate {
                per_second: 1,
                burst: 1,
            }),
            per_user: None,
            login_per_ip: None,
        },
        trusted_proxies: trusted_proxies
            .iter()
            .map(|net| net.parse().expect("a CIDR block"))
            .collect(),
        ..AppSettings::default()
    })
    .await
}

/// Whether one of three requests sent at once as `forwarded_for` is refused: the
/// allowance refills once a second, and a loaded machine can space requests sent in a
/// row a second apart, so a spent allowance is checked with three at once.
async fn refused_among_three(app: &TestApp, forwarded_for: &str) -> bool {
    let answers = tokio::join!(
        products_for(app, forwarded_for),
        products_for(app, forwarded_for),
        products_for(app, forwarded_for)
    );
    [answers.0, answers.1, answers.2].contains(&StatusCode::TOO_MANY_REQUESTS)
}

async fn products_for(app: &TestApp, forwarded_for: &str) -> StatusCode {
    app.anon()
        .request(Method::GET, "/api/v1/products")
        .header("x-forwarded-for", forwarded_for)
        .send()
        .await
        .expect("the request reaches the app")
        .status()
}

#[tokio::test]
async fn behind_a_trusted_proxy_each_shopper_has_their_own_allowance() {
    // The tests' requests come from 127.0.0.1: here, the proxy.
    let app = app_behind(&["127.0.0.1/32"]).await;

    assert_eq!(products_for(&app, "203.0.113.1").await, StatusCode::OK);
    assert!(
        refused_among_three(&app, "203.0.113.1").await,
        "the first shopper spent their allowance"
    );
    assert_eq!(
        products_for(&app, "203.0.113.2").await,
        StatusCode::OK,
        "another shopper behind the same proxy is not held up"
    );
    // A shopper forging the header's left part is still known by what the proxy appended.
    assert!(refused_among_three(&app, "203.0.113.2, 203.0.113.1").await);
}

#[tokio::test]
async fn from_an_untrusted_peer_a_forged_forwarded_for_is_ignored() {
    let app = app_behind(&[]).await;

    assert_eq!(products_for(&app, "203.0.113.1").await, StatusCode::OK);
    // Three at once (see `refused_among_three`), each forging another address: all share the peer's.
    let again = tokio::join!(
        products_for(&app, "203.0.113.2"),
        products_for(&app, "203.0.113.3"),
        products_for(&app, "203.0.113.4")
    );
    assert!(
        [again.0, again.1, again.2].contains(&StatusCode::TOO_MANY_REQUESTS),
        "a made-up address does not buy a new allowance: {again:?}"
    );
}

#[tokio::test]
async fn the_events_of_an_order_placed_through_the_proxy_record_the_shoppers_address() {
    let app = app_behind(&["127.0.0.0/8"]).await;
    let tea = app.admin().create_product("Oolong", 4_800, 5).await;
    let shopper = app.user("mei");

    let response = shopper
        .request(Method::POST, "/api/v1/orders")
        .header("x-forwarded-for", "198.51.100.23")
        .json(&json!({"lines": [{"product_id": tea, "quantity": 1}], "address": address()}))
        .send()
        .await
        .expect("place");
    assert_eq!(response.status(), StatusCode::CREATED);

    let recorded: Vec<Option<String>> = sqlx::query_scalar(
        "SELECT metadata ->> 'client_address' FROM events
          WHERE event_type IN ('OrderPlaced', 'StockReserved') ORDER BY global_position",
    )
    .fetch_all(&app.pool)
    .await
    .expect("events");
    assert_eq!(
        recorded,
        vec![Some("198.51.100.23".to_owned()); 2],
        "the order and its reservation name the shopper, not the proxy"
    );
}

#[tokio::test]
async fn the_addresses_of_one_ipv6_64_share_one_allowance() {
    let app = app_behind(&["127.0.0.1/32"]).await;

    assert_eq!(products_for(&app, "2001:db8:0:7::1").await, StatusCode::OK);
    assert!(
        refused_among_three(&app, "2001:db8:0:7:ffff:ffff:ffff:2").await,
        "another address of the same /64 is the same subscriber"
    );
    assert_eq!(
        products_for(&app, "2001:db8:0:8::1").await,
        StatusCode::OK,
        "another /64 has its own allowance"
    );
}
