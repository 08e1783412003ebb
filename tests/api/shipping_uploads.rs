//! Shipping info uploaded to WeChat from the event feed, against a fake WeChat over HTTP:
//! uploaded once after ship with the payment's transaction, the payer's openid, the
//! tracking number and delivery id; an unknown delivery id refused; a token WeChat calls
//! invalid refreshed once and the call retried once; two servers sharing one token; an
//! upload that could not be made before the server stopped made after its restart; a
//! refusal recorded, listed and retried; a correction uploaded again, once.

use std::time::Duration;

use ordo::state::AppSettings;
use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;
use wiremock::ResponseTemplate;

use crate::support::wechat::FakeWeChat;
use crate::support::{TestApp, eventually, fresh_database, settle, start};

/// An app whose WeChat is `wechat` (dev logins for the shoppers).
async fn app_on(pool: sqlx::PgPool, wechat: &FakeWeChat) -> TestApp {
    start(
        pool,
        AppSettings {
            dev_login: true,
            wechat: wechat.config(),
            ..AppSettings::default()
        },
    )
    .await
}

/// A paid order of 2 × Oolong by `shopper`, delivered to a phone: its id and payment id.
async fn paid_order(app: &TestApp, shopper: &str) -> (Uuid, String) {
    let tea = app.admin().create_product("Oolong", 4_800, 10).await;
    let (status, body) = app
        .shopper(shopper)
        .await
        .place_order(&[(tea, 2)])
        .await
        .into_parts();
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let id: Uuid = body["data"]["id"]
        .as_str()
        .and_then(|id| id.parse().ok())
        .expect("an order id");
    app.pay(id, 9_600).await;
    let payment = app
        .admin()
        .get(&format!("/api/v1/admin/orders/{id}"))
        .await
        .body["data"]["payment_id"]
        .as_str()
        .expect("a payment id")
        .to_owned();
    (id, payment)
}

async fn ship(app: &TestApp, id: Uuid, body: Value) -> (StatusCode, Value) {
    app.admin()
        .post(&format!("/api/v1/admin/orders/{id}/ship"), &body)
        .await
        .into_parts()
}

/// The order's upload state, once it is `wanted`.
async fn upload_reaches(app: &TestApp, id: Uuid, wanted: &str) -> Value {
    eventually(&format!("the upload is {wanted}"), || async {
        let order = app
            .admin()
            .get(&format!("/api/v1/admin/orders/{id}"))
            .await
            .body;
        let upload = order["data"]["shipping_upload"].clone();
        (upload["state"] == wanted).then_some(upload)
    })
    .await
}

/// The openid the shopper logged in with.
async fn openid_of(app: &TestApp, shopper: &str) -> String {
    sqlx::query_scalar(
        "SELECT payload -> 'UserRegistered' ->> 'openid' FROM events
          WHERE event_type = 'UserRegistered' AND payload::text LIKE $1",
    )
    .bind(format!("%{shopper}%"))
    .fetch_one(&app.pool)
    .await
    .expect("the shopper's openid")
}

#[tokio::test]
async fn a_shipped_order_is_uploaded_once_with_its_payment_payer_tracking_and_delivery_id() {
    let wechat = FakeWeChat::start().await;
    let (pool, _) = fresh_database().await;
    let app = app_on(pool, &wechat).await;
    let (id, payment) = paid_order(&app, "mei").await;

    let (status, shipped) = ship(
        &app,
        id,
        json!({"express_company": "SF", "tracking_no": "SF1234567890"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{shipped}");
    assert_eq!(shipped["data"]["status"], "shipped");
    assert_eq!(
        shipped["data"]["carrier"], "顺丰速运",
        "WeChat's name for SF"
    );
    assert_eq!(shipped["data"]["express_company"], "SF");
    assert_eq!(shipped["data"]["logistics_type"], "express");
    assert!(shipped["data"]["shipping_upload"].is_object(), "{shipped}");

    let upload = upload_reaches(&app, id, "uploaded").await;
    assert!(upload["uploaded_at"].is_string(), "{upload}");
    settle(&app.pool).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let uploads = wechat.uploads().await;
    assert_eq!(uploads.len(), 1, "uploaded once: {uploads:?}");
    let (token, body) = &uploads[0];
    assert_eq!(token, "token-1");
    assert_eq!(
        body["order_key"],
        json!({"order_number_type": 2, "transaction_id": payment})
    );
    assert_eq!(body["logistics_type"], 1);
    assert_eq!(body["delivery_mode"], 1);
    assert_eq!(body["payer"]["openid"], openid_of(&app, "mei").await);
    let parcel = &body["shipping_list"][0];
    assert_eq!(parcel["tracking_no"], "SF1234567890");
    assert_eq!(parcel["express_company"], "SF");
    assert_eq!(parcel["item_desc"], "Oolong*2");
    let contact = parcel["contact"]["receiver_contact"]
        .as_str()
        .expect("SF needs a contact");
    assert!(contact.starts_with('*') && contact.len() >= 4, "{contact}");
    assert!(
        body["upload_time"]
            .as_str()
            .is_some_and(|t| t.ends_with("+08:00")),
        "{body}"
    );
    assert_eq!(wechat.token_fetches(), 1);
}

#[tokio::test]
async fn an_unknown_delivery_id_or_a_missing_tracking_number_is_refused_naming_it() {
    let wechat = FakeWeChat::start().await;
    let (pool, _) = fresh_database().await;
    let app = app_on(pool, &wechat).await;
    let (id, _) = paid_order(&app, "mei").await;

    for (body, field) in [
        (
            json!({"express_company": "NOPE", "tracking_no": "1"}),
            "express_company",
        ),
        (json!({"express_company": "ZTO"}), "tracking_no"),
        (json!({"tracking_no": "1"}), "express_company"),
        (
            json!({"express_company": "顺丰😀", "tracking_no": "1"}),
            "express_company",
        ),
        (
            json!({"express_company": "S".repeat(10_000), "tracking_no": "1"}),
            "express_company",
        ),
        (
            json!({"express_company": "ZTO", "tracking_no": "1".repeat(10_000)}),
            "tracking_no",
        ),
    ] {
        let (status, refused) = ship(&app, id, body.clone()).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}: {refused}"
        );
        assert_eq!(refused["data"]["errors"][0]["field"], field, "{refused}");
    }
    assert_eq!(app.count_events("OrderShipped").await, 0);

    // Goods the shopper collects travel without a carrier's number.
    let (status, shipped) = ship(&app, id, json!({"logistics_type": "self_pickup"})).await;
    assert_eq!(status, StatusCode::OK, "{shipped}");
    assert_eq!(shipped["data"]["logistics_type"], "self_pickup");
    upload_reaches(&app, id, "uploaded").await;
    let (_, body) = &wechat.uploads().await[0];
    assert_eq!(body["logistics_type"], 4);
    assert_eq!(body["shipping_list"], json!([{"item_desc": "Oolong*2"}]));
}

#[tokio::test]
async fn a_token_wechat_calls_invalid_is_fetched_again_once_and_the_upload_retried_once() {
    let wechat = FakeWeChat::start().await;
    let (pool, _) = fresh_database().await;
    let app = app_on(pool, &wechat).await;
    let (id, _) = paid_order(&app, "mei").await;
    wechat
        .answer_next_upload(ResponseTemplate::new(200).set_body_json(
            json!({"errcode": 40001, "errmsg": "invalid credential, access_token is invalid"}),
        ))
        .await;

    let (status, shipped) = ship(
        &app,
        id,
        json!({"express_company": "ZTO", "tracking_no": "7"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{shipped}");
    let upload = upload_reaches(&app, id, "uploaded").await;

    assert_eq!(
        upload["attempts"], 1,
        "one attempt: refreshed and retried within it"
    );
    let tokens: Vec<String> = wechat.uploads().await.into_iter().map(|(t, _)| t).collect();
    assert_eq!(tokens, ["token-1", "token-2"]);
    assert_eq!(wechat.token_fetches(), 2);
}

#[tokio::test]
async fn two_servers_share_one_token() {
    let wechat = FakeWeChat::start().await;
    let (pool, _) = fresh_database().await;
    let first = app_on(pool.clone(), &wechat).await;
    let second = app_on(pool, &wechat).await;
    let (one, _) = paid_order(&first, "mei").await;
    let (two, _) = paid_order(&second, "lei").await;

    let body = json!({"express_company": "YTO", "tracking_no": "YT1"});
    let (a, b) = tokio::join!(ship(&first, one, body.clone()), ship(&second, two, body));
    assert_eq!(
        (a.0, b.0),
        (StatusCode::OK, StatusCode::OK),
        "{} {}",
        a.1,
        b.1
    );
    upload_reaches(&first, one, "uploaded").await;
    upload_reaches(&first, two, "uploaded").await;

    assert_eq!(wechat.token_fetches(), 1, "one fetch for both servers");
    let tokens: Vec<String> = wechat.uploads().await.into_iter().map(|(t, _)| t).collect();
    assert_eq!(tokens, ["token-1", "token-1"]);
}

#[tokio::test]
async fn an_upload_not_made_before_the_server_stopped_is_made_after_its_restart() {
    let wechat = FakeWeChat::start().await;
    let (pool, _) = fresh_database().await;
    let app = app_on(pool.clone(), &wechat).await;
    let (id, _) = paid_order(&app, "mei").await;
    // WeChat is down while the order ships.
    wechat.answer_next_upload(ResponseTemplate::new(503)).await;

    let (status, _) = ship(
        &app,
        id,
        json!({"express_company": "STO", "tracking_no": "S1"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let upload = eventually("the first attempt fails", || async {
        let order = app
            .admin()
            .get(&format!("/api/v1/admin/orders/{id}"))
            .await
            .body;
        let upload = order["data"]["shipping_upload"].clone();
        (upload["attempts"] == 1
            && upload["state"] == "pending"
            && upload["last_error"].is_string())
        .then_some(upload)
    })
    .await;
    assert!(
        upload["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("503")),
        "{upload}"
    );
    // Stopped before its next attempt (a second away).
    drop(app);
    tokio::time::sleep(Duration::from_millis(300)).await;

    let restarted = app_on(pool, &wechat).await;
    let upload = upload_reaches(&restarted, id, "uploaded").await;
    assert_eq!(upload["attempts"], 2);
    let uploads = wechat.uploads().await;
    assert_eq!(
        uploads.len(),
        2,
        "the failed one, then the one that went through"
    );
    assert_eq!(uploads[1].1["shipping_list"][0]["tracking_no"], "S1");
}

#[tokio::test]
async fn a_refused_upload_is_recorded_listed_and_retried_when_an_operator_asks() {
    let wechat = FakeWeChat::start().await;
    let (pool, _) = fresh_database().await;
    let app = app_on(pool, &wechat).await;
    let (id, _) = paid_order(&app, "mei").await;
    wechat
        .answer_next_upload(ResponseTemplate::new(200).set_body_json(
            json!({"errcode": 10060031, "errmsg": "payment does not belong to the payer"}),
        ))
        .await;

    let (status, _) = ship(
        &app,
        id,
        json!({"express_company": "JD", "tracking_no": "JD9"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let upload = upload_reaches(&app, id, "failed").await;
    assert!(
        upload["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("10060031")),
        "{upload}"
    );
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    assert_eq!(wechat.uploads().await.len(), 1, "not retried by itself");
    let (status, failed) = app
        .admin()
        .get("/api/v1/admin/shipping-uploads")
        .await
        .into_parts();
    assert_eq!(status, StatusCode::OK);
    assert_eq!(failed["data"][0]["order_id"], json!(id), "{failed}");

    let retry = format!("/api/v1/admin/orders/{id}/shipping-upload/retry");
    let (status, answer) = app.admin().post(&retry, &json!({})).await.into_parts();
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    upload_reaches(&app, id, "uploaded").await;
    assert_eq!(wechat.uploads().await.len(), 2);
    let (status, _) = app.admin().post(&retry, &json!({})).await.into_parts();
    assert_eq!(status, StatusCode::CONFLICT, "nothing left to retry");
}

#[tokio::test]
async fn a_correction_is_uploaded_again_once_and_a_second_one_is_refused() {
    let wechat = FakeWeChat::start().await;
    let (pool, _) = fresh_database().await;
    let app = app_on(pool, &wechat).await;
    let (id, _) = paid_order(&app, "mei").await;
    let first = json!({"express_company": "ZTO", "tracking_no": "Z1"});
    let (status, _) = ship(&app, id, first.clone()).await;
    assert_eq!(status, StatusCode::OK);
    upload_reaches(&app, id, "uploaded").await;

    // The same shipment again changes nothing; another tracking number corrects it.
    let (status, _) = ship(&app, id, first).await;
    assert_eq!(status, StatusCode::OK);
    let (status, corrected) = ship(
        &app,
        id,
        json!({"express_company": "ZTO", "tracking_no": "Z2"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{corrected}");
    assert_eq!(corrected["data"]["tracking_no"], "Z2");
    assert!(corrected["data"]["shipment_corrected_at"].is_string());
    eventually("the correction is uploaded", || async {
        (wechat.uploads().await.len() == 2).then_some(())
    })
    .await;
    upload_reaches(&app, id, "uploaded").await;
    let uploads = wechat.uploads().await;
    assert_eq!(uploads[1].1["shipping_list"][0]["tracking_no"], "Z2");
    assert!(uploads[1].1["upload_time"].as_str() > uploads[0].1["upload_time"].as_str());

    let (status, refused) = ship(
        &app,
        id,
        json!({"express_company": "ZTO", "tracking_no": "Z3"}),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{refused}");
    assert_eq!(app.count_events("ShipmentCorrected").await, 1);
    assert_eq!(app.count_events("OrderShipped").await, 1);
}

#[tokio::test]
async fn in_dev_mode_the_upload_goes_to_the_simulated_platform() {
    let (pool, _) = fresh_database().await;
    let app = start(pool, crate::support::dev_mode_settings()).await;
    let (id, payment) = paid_order(&app, "mei").await;
    let (status, _) = ship(
        &app,
        id,
        json!({"express_company": "YD", "tracking_no": "YD1"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    upload_reaches(&app, id, "uploaded").await;
    let recorded: Vec<(String, Value)> = sqlx::query_as(
        "SELECT api, request FROM dev_wechat_calls WHERE api = 'upload_shipping_info'",
    )
    .fetch_all(&app.pool)
    .await
    .expect("the simulated calls");
    assert_eq!(recorded.len(), 1);
    assert_eq!(recorded[0].1["order_key"]["transaction_id"], payment);
}

#[tokio::test]
async fn the_same_shipment_sent_twice_at_once_ships_and_uploads_once() {
    let wechat = FakeWeChat::start().await;
    let (pool, _) = fresh_database().await;
    let app = app_on(pool, &wechat).await;
    let (id, _) = paid_order(&app, "mei").await;
    let body = json!({"express_company": "ZTO", "tracking_no": "ZT-TWICE"});

    let (first, second) = tokio::join!(ship(&app, id, body.clone()), ship(&app, id, body));
    assert_eq!(
        (first.0, second.0),
        (StatusCode::OK, StatusCode::OK),
        "{} {}",
        first.1,
        second.1
    );
    upload_reaches(&app, id, "uploaded").await;
    tokio::time::sleep(Duration::from_millis(1_000)).await;

    assert_eq!(app.count_events("OrderShipped").await, 1);
    assert_eq!(app.count_events("ShipmentCorrected").await, 0);
    assert_eq!(wechat.uploads().await.len(), 1);
}
