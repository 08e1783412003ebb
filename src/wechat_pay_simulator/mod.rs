//! Dev mode's WeChat Pay: the part of WeChat Pay's v3 API that ordo calls (JSAPI prepay,
//! the payment query and close, refunds and their query), served by ordo itself under
//! [`PATH`] and called by ordo's real client over HTTP, requests signed by the merchant
//! key and answers by the platform key. Its records are its own (`ledger`); the dev
//! routes play the shopper (a payment, with or without its notice) and WeChat Pay's
//! refund notice.

mod answers;
mod ledger;

use std::collections::HashMap;
use std::io::Write;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{FromRequest, OriginalUri, Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::wechat_pay::{VerifyingKey, WeChatPayConfig, nonce, write_bill};
use answers::{refused, signed, signed_by_merchant};
pub use ledger::{Ledger, Refund, RefundRefused, Trade};

pub use crate::wechat_pay::SIMULATOR_PATH as PATH;

struct Simulator {
    ledger: Ledger,
    config: Arc<WeChatPayConfig>,
    merchant: VerifyingKey,
    /// Bills asked for and not yet downloaded, gzip'd, by download token.
    bills: Mutex<HashMap<String, Vec<u8>>>,
}

type Shared = State<Arc<Simulator>>;

/// The simulator's routes, for dev mode with ordo's own WeChat Pay keys; `None` when
/// `config` has no simulator key (a real merchant account).
pub fn router(pool: PgPool, config: &WeChatPayConfig) -> Option<Router> {
    config.simulator.as_ref()?;
    let merchant = VerifyingKey::from_pem(&config.merchant_key.public_key_pem().ok()?).ok()?;
    let simulator = Simulator {
        ledger: Ledger::new(pool),
        config: Arc::new(config.clone()),
        merchant,
        bills: Mutex::new(HashMap::new()),
    };
    Some(
        Router::new()
            .route("/v3/pay/transactions/jsapi", post(prepay))
            .route("/v3/pay/transactions/out-trade-no/{no}", get(query))
            .route("/v3/pay/transactions/out-trade-no/{no}/close", post(close))
            .route("/v3/refund/domestic/refunds", post(refund))
            .route("/v3/refund/domestic/refunds/{no}", get(query_refund))
            .route("/v3/bill/tradebill", get(trade_bill))
            .route("/v3/billdownload/file", get(download_bill))
            .with_state(Arc::new(simulator)),
    )
}

/// A request the merchant's key signed (over its method, whole URL and body): its body.
/// Anything else is refused as WeChat Pay refuses it (`401 SIGN_ERROR`, signed).
struct Signed(Bytes);

/// The most a request to the simulator may carry.
const MAX_REQUEST_BYTES: usize = 1 << 20;

impl FromRequest<Arc<Simulator>> for Signed {
    type Rejection = Response;

    async fn from_request(request: Request, simulator: &Arc<Simulator>) -> Result<Self, Response> {
        let (parts, body) = request.into_parts();
        // The whole path, as the client signed it, not the one below the simulator's mount.
        let uri = parts
            .extensions
            .get::<OriginalUri>()
            .map_or_else(|| parts.uri.clone(), |original| original.0.clone());
        let config = &simulator.config;
        let body = axum::body::to_bytes(body, MAX_REQUEST_BYTES)
            .await
            .map_err(|_| refused(config, StatusCode::BAD_REQUEST, "PARAM_ERROR", "请求过大"))?;
        let signed = signed_by_merchant(
            config,
            &simulator.merchant,
            &parts.method,
            &uri,
            &parts.headers,
            &body,
        );
        if signed {
            Ok(Self(body))
        } else {
            Err(refused(
                config,
                StatusCode::UNAUTHORIZED,
                "SIGN_ERROR",
                "签名错误",
            ))
        }
    }
}

fn failed(simulator: &Simulator, err: &sqlx::Error) -> Response {
    tracing::warn!(%err, "the simulated WeChat Pay failed");
    refused(
        &simulator.config,
        StatusCode::INTERNAL_SERVER_ERROR,
        "SYSTEM_ERROR",
        "系统错误",
    )
}

#[derive(Debug, Deserialize)]
struct PrepayAsked {
    out_trade_no: String,
    #[serde(default)]
    description: String,
    amount: AmountAsked,
    payer: PayerAsked,
}

#[derive(Debug, Deserialize)]
struct AmountAsked {
    total: i64,
}

#[derive(Debug, Deserialize)]
struct PayerAsked {
    openid: String,
}

async fn prepay(State(simulator): Shared, Signed(body): Signed) -> Response {
    let Ok(asked) = serde_json::from_slice::<PrepayAsked>(&body) else {
        return refused(
            &simulator.config,
            StatusCode::BAD_REQUEST,
            "PARAM_ERROR",
            "参数错误",
        );
    };
    let opened = simulator
        .ledger
        .open(
            &asked.out_trade_no,
            &asked.payer.openid,
            &asked.description,
            asked.amount.total,
        )
        .await;
    match opened {
        Ok(trade) if trade.trade_state == "SUCCESS" => refused(
            &simulator.config,
            StatusCode::BAD_REQUEST,
            "ORDERPAID",
            "该订单已支付",
        ),
        Ok(trade) if trade.trade_state == "CLOSED" => refused(
            &simulator.config,
            StatusCode::BAD_REQUEST,
            "ORDER_CLOSED",
            "订单已关闭",
        ),
        Ok(trade) => signed(
            &simulator.config,
            StatusCode::OK,
            &json!({"prepay_id": format!("dev_{}", trade.out_trade_no)}),
        ),
        Err(err) => failed(&simulator, &err),
    }
}

/// A payment as WeChat Pay's query answers it.
pub fn transaction_json(config: &WeChatPayConfig, trade: &Trade) -> Value {
    let mut answer = json!({
        "appid": config.app_id,
        "mchid": config.mch_id,
        "out_trade_no": trade.out_trade_no,
        "trade_type": "JSAPI",
        "trade_state": trade.trade_state,
        "trade_state_desc": trade.trade_state,
        "amount": {"total": trade.total_cents, "payer_total": trade.total_cents,
                   "currency": "CNY", "payer_currency": "CNY"},
    });
    if let (Some(transaction_id), Some(success_time)) = (&trade.transaction_id, trade.success_time)
    {
        answer["transaction_id"] = json!(transaction_id);
        answer["success_time"] = json!(success_time.to_rfc3339());
        answer["payer"] = json!({"openid": trade.openid});
    }
    answer
}

async fn query(State(simulator): Shared, Path(no): Path<String>, _signed: Signed) -> Response {
    match simulator.ledger.trade(&no).await {
        Ok(Some(trade)) => signed(
            &simulator.config,
            StatusCode::OK,
            &transaction_json(&simulator.config, &trade),
        ),
        Ok(None) => not_found(&simulator, "ORDER_NOT_EXIST", "订单不存在"),
        Err(err) => failed(&simulator, &err),
    }
}

fn not_found(simulator: &Simulator, code: &str, message: &str) -> Response {
    refused(&simulator.config, StatusCode::NOT_FOUND, code, message)
}

async fn close(State(simulator): Shared, Path(no): Path<String>, _signed: Signed) -> Response {
    match simulator.ledger.close(&no).await {
        Ok(Some(trade)) if trade.trade_state == "CLOSED" => {
            signed(&simulator.config, StatusCode::NO_CONTENT, &Value::Null)
        }
        Ok(Some(_)) => refused(
            &simulator.config,
            StatusCode::BAD_REQUEST,
            "ORDERPAID",
            "该订单已支付",
        ),
        Ok(None) => not_found(&simulator, "ORDER_NOT_EXIST", "订单不存在"),
        Err(err) => failed(&simulator, &err),
    }
}

#[derive(Debug, Deserialize)]
struct RefundAsked {
    transaction_id: String,
    out_refund_no: String,
    amount: RefundAmountAsked,
}

#[derive(Debug, Deserialize)]
struct RefundAmountAsked {
    refund: i64,
}

/// A refund as WeChat Pay's answers (and notices) describe it.
pub fn refund_json(refund: &Refund) -> Value {
    json!({
        "refund_id": refund.refund_id,
        "out_refund_no": refund.out_refund_no,
        "transaction_id": refund.transaction_id,
        "out_trade_no": refund.out_trade_no,
        "channel": "ORIGINAL",
        "user_received_account": "支付用户零钱",
        "success_time": refund.success_time.map(|at| at.to_rfc3339()),
        "status": refund.status,
        "amount": {"total": refund.total_cents, "refund": refund.refund_cents,
                   "payer_total": refund.total_cents, "payer_refund": refund.refund_cents,
                   "currency": "CNY"},
    })
}

async fn refund(State(simulator): Shared, Signed(body): Signed) -> Response {
    let Ok(asked) = serde_json::from_slice::<RefundAsked>(&body) else {
        return refused(
            &simulator.config,
            StatusCode::BAD_REQUEST,
            "PARAM_ERROR",
            "参数错误",
        );
    };
    let refunded = simulator
        .ledger
        .refund(
            &asked.out_refund_no,
            &asked.transaction_id,
            asked.amount.refund,
        )
        .await;
    match refunded {
        Ok(Ok(refund)) => signed(&simulator.config, StatusCode::OK, &refund_json(&refund)),
        Ok(Err(RefundRefused::NoSuchPayment)) => {
            not_found(&simulator, "RESOURCE_NOT_EXISTS", "订单不存在")
        }
        Ok(Err(RefundRefused::NotEnough)) => refused(
            &simulator.config,
            StatusCode::FORBIDDEN,
            "NOT_ENOUGH",
            "退款金额超过可退金额",
        ),
        Err(err) => failed(&simulator, &err),
    }
}

async fn query_refund(
    State(simulator): Shared,
    Path(no): Path<String>,
    _signed: Signed,
) -> Response {
    match simulator.ledger.refund_of(&no).await {
        Ok(Some(refund)) => signed(&simulator.config, StatusCode::OK, &refund_json(&refund)),
        Ok(None) => not_found(&simulator, "RESOURCE_NOT_EXISTS", "退款单不存在"),
        Err(err) => failed(&simulator, &err),
    }
}

#[derive(Debug, Deserialize)]
struct BillAsked {
    bill_date: chrono::NaiveDate,
}

/// The bill of any day, today included, made from the simulator's own records; a day
/// without a trade has none (`NO_STATEMENT_EXIST`, as WeChat Pay answers).
async fn trade_bill(
    State(simulator): Shared,
    Query(asked): Query<BillAsked>,
    headers: HeaderMap,
    _signed: Signed,
) -> Response {
    let lines = match simulator.ledger.day(asked.bill_date).await {
        Ok(lines) if lines.is_empty() => {
            return refused(
                &simulator.config,
                StatusCode::BAD_REQUEST,
                "NO_STATEMENT_EXIST",
                "账单不存在",
            );
        }
        Ok(lines) => lines,
        Err(err) => return failed(&simulator, &err),
    };
    let text = write_bill(&lines, &simulator.config.app_id, &simulator.config.mch_id);
    let digest = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, text.as_bytes());
    let hash: String = digest.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    let mut packed = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let packed = match packed
        .write_all(text.as_bytes())
        .and_then(|()| packed.finish())
    {
        Ok(packed) => packed,
        Err(err) => {
            tracing::warn!(%err, "the simulated WeChat Pay could not pack a bill");
            return refused(
                &simulator.config,
                StatusCode::INTERNAL_SERVER_ERROR,
                "SYSTEM_ERROR",
                "系统错误",
            );
        }
    };
    let token = nonce();
    simulator
        .bills
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .insert(token.clone(), packed);
    let host = headers
        .get("host")
        .and_then(|value| value.to_str().ok())
        .unwrap_or("127.0.0.1");
    signed(
        &simulator.config,
        StatusCode::OK,
        &json!({
            "hash_type": "SHA1",
            "hash_value": hash,
            "download_url": format!("http://{host}{PATH}/v3/billdownload/file?token={token}"),
        }),
    )
}

#[derive(Debug, Deserialize)]
struct DownloadAsked {
    token: String,
}

/// A bill asked for, once: gzip'd and unsigned, as WeChat Pay serves files.
async fn download_bill(
    State(simulator): Shared,
    Query(asked): Query<DownloadAsked>,
    _signed: Signed,
) -> Response {
    let packed = simulator
        .bills
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .remove(&asked.token);
    match packed {
        Some(packed) => Response::builder()
            .status(StatusCode::OK)
            .header("content-type", "application/octet-stream")
            .body(axum::body::Body::from(packed))
            .unwrap_or_default(),
        None => refused(
            &simulator.config,
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST",
            "下载链接已失效",
        ),
    }
}
