//! Subscribe messages and verified phones against a fake WeChat over HTTP: a paid and a
//! shipped message sent once each to a shopper who accepted them, none to one who did
//! not, WeChat's "user refused" (43101) recorded and not retried; a phone code exchanged
//! for the profile's verified phone, a bad one refused naming it.

use std::time::Duration;

use ordo::state::AppSettings;
use ordo::wechat::messages::{MessageSettings, Occasion, Template};
use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

use crate::support::paying::paid_and_shipped;
use crate::support::wechat::FakeWeChat;
use crate::support::{TestApp, eventually, fresh_database, settle, start};

const SEND_PATH: &str = "/cgi-bin/message/subscribe/send";
const PAID: &str = "tpl-paid";
const SHIPPED: &str = "tpl-shipped";

async fn app_with_messages(wechat: &FakeWeChat) -> TestApp {
    let (pool, _) = fresh_database().await;
    let mut config = wechat.config();
    config.messages = MessageSettings {
        paid: Some(Template {
            id: PAID.to_owned(),
            fields: Occasion::Paid.default_fields(),
        }),
        shipped: Some(Template {
            id: SHIPPED.to_owned(),
            fields: Occasion::Shipped.default_fields(),
        }),
        ..MessageSettings::default()
    };
    start(
        pool,
        AppSettings {
            dev_login: true,
            wechat: config,
            ..AppSettings::default()
        },
    )
    .await
}

/// The messages WeChat received, in order.
async fn messages(wechat: &FakeWeChat) -> Vec<Value> {
    wechat
        .server
        .received_requests()
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|request| request.url.path() == SEND_PATH)
        .map(|request| serde_json::from_slice(&request.body).unwrap_or_default())
        .collect()
}

async fn answer_messages(wechat: &FakeWeChat, answer: Value) {
    Mock::given(method("POST"))
        .and(path(SEND_PATH))
        .respond_with(ResponseTemplate::new(200).set_body_json(answer))
        .mount(&wechat.server)
        .await;
}

/// The subscribe message calls of `order`, by state.
async fn message_states(app: &TestApp, order: Uuid) -> Vec<(String, String, Option<String>)> {
    sqlx::query_as(
        "SELECT payload ->> 'occasion', state, last_error FROM platform_calls
          WHERE kind = 'subscribe_message' AND order_id = $1 ORDER BY id",
    )
    .bind(order)
    .fetch_all(&app.pool)
    .await
    .expect("calls")
}

async fn all_decided(
    app: &TestApp,
    order: Uuid,
    count: usize,
) -> Vec<(String, String, Option<String>)> {
    eventually("the messages are decided", || async {
        let states = message_states(app, order).await;
        (states.len() == count && states.iter().all(|(_, state, _)| state != "pending"))
            .then_some(states)
    })
    .await
}

#[tokio::test]
async fn a_shopper_who_accepted_gets_a_paid_and_a_shipped_message_once_each_and_another_none() {
    let wechat = FakeWeChat::start().await;
    answer_messages(&wechat, json!({"errcode": 0, "errmsg": "ok", "msgid": 1})).await;
    let app = app_with_messages(&wechat).await;
    let mei = app.shopper("mei").await;
    let lei = app.shopper("lei").await;

    let (status, accepted) = mei
        .post(
            "/api/v1/me/subscriptions",
            &json!({"template_ids": [PAID, SHIPPED, "someone-elses"]}),
        )
        .await
        .into_parts();
    assert_eq!(status, StatusCode::OK, "{accepted}");
    assert_eq!(accepted["data"]["ignored"], json!(["someone-elses"]));
    assert_eq!(
        accepted["data"]["accepted"].as_array().map(Vec::len),
        Some(2)
    );

    let meis = paid_and_shipped(&app, &mei, "SF", "SF42").await;
    let leis = paid_and_shipped(&app, &lei, "SF", "SF42").await;
    all_decided(&app, meis, 2).await;
    let states = all_decided(&app, leis, 2).await;
    assert!(
        states.iter().all(|(_, state, why)| state == "skipped"
            && why
                .as_deref()
                .is_some_and(|w| w.contains("no unused acceptance"))),
        "{states:?}"
    );
    settle(&app.pool).await;
    tokio::time::sleep(Duration::from_millis(500)).await;

    let sent = messages(&wechat).await;
    assert_eq!(
        sent.len(),
        2,
        "one paid, one shipped, to mei only: {sent:?}"
    );
    let openid = sent[0]["touser"].clone();
    assert!(sent.iter().all(|m| m["touser"] == openid));
    let paid = sent
        .iter()
        .find(|m| m["template_id"] == PAID)
        .expect("the paid message");
    assert_eq!(
        paid["data"]["character_string1"]["value"],
        meis.simple().to_string()
    );
    assert_eq!(paid["data"]["amount2"]["value"], "¥48.00");
    assert_eq!(paid["data"]["thing3"]["value"], "Oolong");
    assert_eq!(paid["page"], format!("pages/order/detail?id={meis}"));
    let shipped = sent
        .iter()
        .find(|m| m["template_id"] == SHIPPED)
        .expect("the shipped message");
    assert_eq!(shipped["data"]["thing3"]["value"], "顺丰速运");
    assert_eq!(shipped["data"]["character_string4"]["value"], "SF42");

    // Each acceptance was used once: nothing is left to send mei.
    let left: Vec<i32> = sqlx::query_scalar("SELECT remaining FROM message_acceptances")
        .fetch_all(&app.pool)
        .await
        .expect("acceptances");
    assert_eq!(left, [0, 0]);
}

#[tokio::test]
async fn wechat_saying_the_shopper_refused_is_recorded_and_not_retried() {
    let wechat = FakeWeChat::start().await;
    answer_messages(
        &wechat,
        json!({"errcode": 43101, "errmsg": "user refuse to accept the msg"}),
    )
    .await;
    let app = app_with_messages(&wechat).await;
    let mei = app.shopper("mei").await;
    let (status, _) = mei
        .post("/api/v1/me/subscriptions", &json!({"template_ids": [PAID]}))
        .await
        .into_parts();
    assert_eq!(status, StatusCode::OK);

    let order = paid_and_shipped(&app, &mei, "SF", "SF42").await;
    let states = all_decided(&app, order, 2).await;
    let paid = states
        .iter()
        .find(|(occasion, ..)| occasion == "paid")
        .expect("paid");
    assert_eq!(paid.1, "skipped");
    assert!(
        paid.2.as_deref().is_some_and(|why| why.contains("43101")),
        "{states:?}"
    );
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    assert_eq!(messages(&wechat).await.len(), 1, "not retried");
}

#[tokio::test]
async fn a_phone_code_is_exchanged_for_the_verified_phone_and_a_bad_one_refused() {
    let wechat = FakeWeChat::start().await;
    Mock::given(method("POST"))
        .and(path("/wxa/business/getuserphonenumber"))
        .and(wiremock::matchers::body_json(json!({"code": "good-code"})))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "errcode": 0, "errmsg": "ok",
            "phone_info": {"phoneNumber": "13800138000", "purePhoneNumber": "13800138000",
                           "countryCode": 86, "watermark": {"timestamp": 1, "appid": "wx-shop"}}
        })))
        .mount(&wechat.server)
        .await;
    Mock::given(method("POST"))
        .and(path("/wxa/business/getuserphonenumber"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"errcode": 40029, "errmsg": "invalid code"})),
        )
        .mount(&wechat.server)
        .await;
    let app = app_with_messages(&wechat).await;
    let mei = app.shopper("mei").await;

    let (status, refused) = mei
        .post("/api/v1/me/phone", &json!({"code": "stale-code"}))
        .await
        .into_parts();
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    assert_eq!(refused["data"]["errors"][0]["field"], "code");
    assert_eq!(app.count_events("PhoneVerified").await, 0);

    let (status, profile) = mei
        .post("/api/v1/me/phone", &json!({"code": "good-code"}))
        .await
        .into_parts();
    assert_eq!(status, StatusCode::OK, "{profile}");
    assert_eq!(profile["data"]["phone"], "13800138000");
    assert_eq!(profile["data"]["phone_verified"], true);
    assert_eq!(app.count_events("PhoneVerified").await, 1);

    // A phone typed in afterwards is the shopper's, not verified.
    let (status, typed) = mei
        .put("/api/v1/me", &json!({"phone": "13900000000"}))
        .await
        .into_parts();
    assert_eq!(status, StatusCode::OK, "{typed}");
    assert_eq!(typed["data"]["phone_verified"], false);
}

#[tokio::test]
async fn in_dev_mode_the_phone_comes_from_the_simulated_platform() {
    let (pool, _) = fresh_database().await;
    let app = start(pool, crate::support::dev_mode_settings()).await;
    let mei = app.shopper("mei").await;
    let (status, profile) = mei
        .post("/api/v1/me/phone", &json!({"code": "dev:13700000001"}))
        .await
        .into_parts();
    assert_eq!(status, StatusCode::OK, "{profile}");
    assert_eq!(profile["data"]["phone"], "13700000001");
    let (status, _) = mei
        .post("/api/v1/me/phone", &json!({"code": "nonsense"}))
        .await
        .into_parts();
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
}
