//! How the simulated WeChat Pay talks: it believes a request only when the merchant's
//! key signed it (`Authorization: WECHATPAY2-SHA256-RSA2048 …` over method, URL,
//! timestamp, nonce and body, as WeChat Pay checks), and it signs every answer with the
//! platform key (over timestamp, nonce and body), refusals included.

use axum::body::Body;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::Response;
use chrono::Utc;
use serde_json::{Value, json};

use crate::wechat_pay::{VerifyingKey, WeChatPayConfig, nonce};

/// Whether the request is the merchant's: signed by its key, naming its merchant id.
pub fn signed_by_merchant(
    config: &WeChatPayConfig,
    merchant: &VerifyingKey,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> bool {
    let Some(authorization) = headers
        .get("authorization")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("WECHATPAY2-SHA256-RSA2048 "))
    else {
        return false;
    };
    let field = |name: &str| {
        authorization
            .split(',')
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(key, _)| *key == name)
            .map(|(_, value)| value.trim_matches('"'))
            .unwrap_or_default()
    };
    let url = uri
        .path_and_query()
        .map_or_else(|| uri.path().to_owned(), ToString::to_string);
    let mut message = format!(
        "{method}\n{url}\n{}\n{}\n",
        field("timestamp"),
        field("nonce_str")
    )
    .into_bytes();
    message.extend_from_slice(body);
    message.push(b'\n');
    field("mchid") == config.mch_id && merchant.verifies(&message, field("signature"))
}

/// An answer with `status` and `body` (empty for `Value::Null`), signed with the
/// platform key as WeChat Pay signs.
pub fn signed(config: &WeChatPayConfig, status: StatusCode, body: &Value) -> Response {
    let text = match body {
        Value::Null => String::new(),
        body => body.to_string(),
    };
    let timestamp = Utc::now().timestamp().to_string();
    let nonce = nonce();
    let signature = config
        .simulator
        .as_ref()
        .and_then(|key| key.sign(&format!("{timestamp}\n{nonce}\n{text}\n")).ok())
        .unwrap_or_default();
    let serial = config
        .platform_serial
        .clone()
        .unwrap_or_else(|| "DEV-PLATFORM".to_owned());
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .header("wechatpay-timestamp", timestamp)
        .header("wechatpay-nonce", nonce)
        .header("wechatpay-signature", signature)
        .header("wechatpay-serial", serial)
        .body(Body::from(text))
        .unwrap_or_default()
}

/// A refusal as WeChat Pay words it: `{code, message}`, signed.
pub fn refused(
    config: &WeChatPayConfig,
    status: StatusCode,
    code: &str,
    message: &str,
) -> Response {
    signed(config, status, &json!({"code": code, "message": message}))
}
