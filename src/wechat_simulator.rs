//! Dev mode's WeChat platform (without an app id and secret): the server API calls ordo
//! makes with the mini program's access token, answered as WeChat answers them and
//! recorded (`dev_wechat_calls`, shown in the console), so the whole journey runs
//! locally through ordo's real client. It issues tokens and refuses any other (40001),
//! as WeChat does after a restart forgot them; it takes one correction of a payment's
//! shipping, as WeChat does.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use axum::extract::{Query, State};
use axum::routing::post;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde::Serialize;
use serde_json::{Value, json};
use sqlx::PgPool;
use utoipa::ToSchema;

use crate::platform::delivery_companies::BUNDLED;

/// One call the simulated platform received.
#[derive(Debug, Serialize, ToSchema, sqlx::FromRow)]
pub struct SimulatedCall {
    pub id: i64,
    /// `stable_token`, `upload_shipping_info`, `get_order`, `get_delivery_list`, …
    pub api: String,
    /// The request's body (without the secret).
    #[schema(value_type = Object)]
    pub request: Value,
    /// What it answered: 0 for success.
    pub errcode: i32,
    pub received_at: DateTime<Utc>,
}

/// What the simulated platform received (`dev_wechat_calls`).
#[derive(Debug, Clone)]
pub struct Received {
    pool: PgPool,
}

impl Received {
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }

    /// The newest `limit` calls.
    pub async fn newest(
        &self,
        limit: i64,
    ) -> Result<Vec<SimulatedCall>, crate::database::DatabaseError> {
        Ok(sqlx::query_as(
            "SELECT id, api, request, errcode, received_at FROM dev_wechat_calls
              ORDER BY id DESC LIMIT $1",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await?)
    }
}

struct Simulator {
    pool: PgPool,
    /// The tokens it issued (forgotten when the server restarts).
    tokens: Mutex<HashSet<String>>,
}

type Shared = State<Arc<Simulator>>;

#[derive(Deserialize)]
struct TokenQuery {
    access_token: Option<String>,
}

/// The simulator's routes, mounted at [`crate::wechat::SIMULATOR_PATH`].
pub fn router(pool: PgPool) -> Router {
    let simulator = Arc::new(Simulator {
        pool,
        tokens: Mutex::new(HashSet::new()),
    });
    Router::new()
        .route("/cgi-bin/stable_token", post(stable_token))
        .route(
            "/wxa/sec/order/upload_shipping_info",
            post(upload_shipping_info),
        )
        .route("/wxa/sec/order/get_order", post(get_order))
        .route(
            "/cgi-bin/express/delivery/open_msg/get_delivery_list",
            post(delivery_list),
        )
        .route("/wxa/business/getuserphonenumber", post(phone_number))
        .route("/cgi-bin/message/subscribe/send", post(send_message))
        .with_state(simulator)
}

impl Simulator {
    fn knows(&self, query: &TokenQuery) -> bool {
        let Some(token) = &query.access_token else {
            return false;
        };
        self.tokens
            .lock()
            .is_ok_and(|tokens| tokens.contains(token))
    }

    /// Records the call and what it answered.
    async fn answer(&self, api: &str, request: &Value, answer: Value) -> Json<Value> {
        let errcode = answer.get("errcode").and_then(Value::as_i64).unwrap_or(0);
        let recorded =
            sqlx::query("INSERT INTO dev_wechat_calls (api, request, errcode) VALUES ($1, $2, $3)")
                .bind(api)
                .bind(request)
                .bind(i32::try_from(errcode).unwrap_or(-1))
                .execute(&self.pool)
                .await;
        if let Err(err) = recorded {
            tracing::warn!(%err, api, "could not record a simulated WeChat call");
        }
        Json(answer)
    }

    fn invalid_token() -> Value {
        json!({"errcode": 40001, "errmsg": "invalid credential, access_token is invalid or not latest"})
    }
}

async fn stable_token(State(simulator): Shared, Json(request): Json<Value>) -> Json<Value> {
    let token = format!("dev-token-{}", crate::wechat_pay::nonce());
    if let Ok(mut tokens) = simulator.tokens.lock() {
        tokens.insert(token.clone());
    }
    // The secret is not recorded.
    let shown =
        json!({"appid": request.get("appid"), "force_refresh": request.get("force_refresh")});
    simulator
        .answer(
            "stable_token",
            &shown,
            json!({"access_token": token, "expires_in": 7200}),
        )
        .await
}

/// How many times a payment's shipping was recorded, by its key.
async fn recorded_shipments(pool: &PgPool, key: &Value) -> i64 {
    sqlx::query_scalar(
        "SELECT count(*) FROM dev_wechat_calls
          WHERE api = 'upload_shipping_info' AND errcode = 0 AND request -> 'order_key' = $1",
    )
    .bind(key)
    .fetch_one(pool)
    .await
    .unwrap_or(0)
}

async fn upload_shipping_info(
    State(simulator): Shared,
    Query(query): Query<TokenQuery>,
    Json(request): Json<Value>,
) -> Json<Value> {
    let api = "upload_shipping_info";
    if !simulator.knows(&query) {
        return simulator
            .answer(api, &request, Simulator::invalid_token())
            .await;
    }
    let key = request.get("order_key").cloned().unwrap_or(Value::Null);
    let missing = [
        "order_key",
        "logistics_type",
        "shipping_list",
        "upload_time",
        "payer",
    ]
    .into_iter()
    .find(|field| request.get(field).is_none());
    let answer = if let Some(field) = missing {
        json!({"errcode": 10060014, "errmsg": format!("param error: {field} is required")})
    } else {
        match recorded_shipments(&simulator.pool, &key).await {
            0 | 1 => json!({"errcode": 0, "errmsg": "ok"}),
            _ => json!({"errcode": 10060003, "errmsg": "the payment used its one re-ship"}),
        }
    };
    simulator.answer(api, &request, answer).await
}

async fn get_order(
    State(simulator): Shared,
    Query(query): Query<TokenQuery>,
    Json(request): Json<Value>,
) -> Json<Value> {
    let api = "get_order";
    if !simulator.knows(&query) {
        return simulator
            .answer(api, &request, Simulator::invalid_token())
            .await;
    }
    let key = match (
        request.get("transaction_id"),
        request.get("merchant_trade_no"),
    ) {
        (Some(id), _) => json!({"order_number_type": 2, "transaction_id": id}),
        (None, Some(no)) => json!({"order_number_type": 1, "mchid": request.get("merchant_id"),
                                   "out_trade_no": no}),
        (None, None) => Value::Null,
    };
    let shipped = recorded_shipments(&simulator.pool, &key).await;
    let answer = json!({"errcode": 0, "errmsg": "ok", "order": {
        "order_state": if shipped > 0 { 2 } else { 1 },
        "shipping": {"finish_shipping_count": shipped},
    }});
    simulator.answer(api, &request, answer).await
}

async fn delivery_list(
    State(simulator): Shared,
    Query(query): Query<TokenQuery>,
    Json(request): Json<Value>,
) -> Json<Value> {
    let api = "get_delivery_list";
    if !simulator.knows(&query) {
        return simulator
            .answer(api, &request, Simulator::invalid_token())
            .await;
    }
    let list: Vec<Value> = BUNDLED
        .iter()
        .map(|(id, name)| json!({"delivery_id": id, "delivery_name": name}))
        .collect();
    let answer = json!({"errcode": 0, "delivery_list": list, "count": list.len()});
    simulator.answer(api, &request, answer).await
}

/// A code `dev:<digits>` is the phone `<digits>`, as `getPhoneNumber` would give in the
/// dev tools; any other code is refused as used or expired.
async fn phone_number(
    State(simulator): Shared,
    Query(query): Query<TokenQuery>,
    Json(request): Json<Value>,
) -> Json<Value> {
    let api = "getuserphonenumber";
    if !simulator.knows(&query) {
        return simulator
            .answer(api, &request, Simulator::invalid_token())
            .await;
    }
    let code = request
        .get("code")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let answer = match code.strip_prefix("dev:") {
        Some(phone) if !phone.is_empty() && phone.chars().all(|c| c.is_ascii_digit()) => {
            json!({"errcode": 0, "errmsg": "ok", "phone_info": {
                "phoneNumber": phone, "purePhoneNumber": phone, "countryCode": 86,
                "watermark": {"timestamp": chrono::Utc::now().timestamp(), "appid": "wx_dev"}}})
        }
        _ => json!({"errcode": 40029, "errmsg": "invalid code"}),
    };
    simulator.answer(api, &request, answer).await
}

/// A subscribe message: taken and recorded (what the shopper would have read).
async fn send_message(
    State(simulator): Shared,
    Query(query): Query<TokenQuery>,
    Json(request): Json<Value>,
) -> Json<Value> {
    let api = "subscribe_send";
    if !simulator.knows(&query) {
        return simulator
            .answer(api, &request, Simulator::invalid_token())
            .await;
    }
    let missing = ["touser", "template_id", "data"]
        .into_iter()
        .find(|field| request.get(field).is_none());
    let answer = match missing {
        Some(field) => json!({"errcode": 47003, "errmsg": format!("argument invalid! {field}")}),
        None => {
            json!({"errcode": 0, "errmsg": "ok", "msgid": chrono::Utc::now().timestamp_micros()})
        }
    };
    simulator.answer(api, &request, answer).await
}
