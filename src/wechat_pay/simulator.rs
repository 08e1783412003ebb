//! Dev mode: payment and refund notices made and signed exactly as WeChat Pay makes
//! them, with the dev platform key, so simulated ones go through the real verification
//! path.

use chrono::{DateTime, Utc};
use serde_json::json;

use super::{KeyError, RefundResult, Transaction, WeChatPayConfig, nonce};

/// A notice as WeChat Pay sends it.
#[derive(Debug, Clone)]
pub struct SignedNotice {
    /// (name, value), the `Wechatpay-*` headers among them.
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
}

/// A signed `TRANSACTION.SUCCESS` notice for `transaction`.
pub fn signed_notice(
    config: &WeChatPayConfig,
    transaction: &Transaction,
    now: DateTime<Utc>,
) -> Result<SignedNotice, KeyError> {
    let plain = serde_json::to_vec(transaction).map_err(|_| KeyError::Sign)?;
    signed(
        config,
        ("TRANSACTION.SUCCESS", "支付成功", "transaction"),
        &plain,
        now,
    )
}

/// A signed `REFUND.<status>` notice for `result`.
pub fn signed_refund_notice(
    config: &WeChatPayConfig,
    result: &RefundResult,
    now: DateTime<Utc>,
) -> Result<SignedNotice, KeyError> {
    let plain = serde_json::to_vec(result).map_err(|_| KeyError::Sign)?;
    let event_type = format!("REFUND.{}", result.refund_status);
    signed(config, (&event_type, "退款成功", "refund"), &plain, now)
}

/// A notice of `(event type, summary, resource type)` carrying `plain`, encrypted and
/// signed as WeChat Pay does.
fn signed(
    config: &WeChatPayConfig,
    (event_type, summary, original_type): (&str, &str, &str),
    plain: &[u8],
    now: DateTime<Utc>,
) -> Result<SignedNotice, KeyError> {
    let signer = config.simulator.as_ref().ok_or(KeyError::Sign)?;
    let resource_nonce: String = nonce().chars().take(12).collect();
    let ciphertext = config
        .api_v3_key
        .encrypt(&resource_nonce, original_type, plain)
        .ok_or(KeyError::Sign)?;
    let body = json!({
        "id": uuid::Uuid::new_v4().to_string(),
        "create_time": now.to_rfc3339(),
        "resource_type": "encrypt-resource",
        "event_type": event_type,
        "summary": summary,
        "resource": {
            "original_type": original_type,
            "algorithm": "AEAD_AES_256_GCM",
            "ciphertext": ciphertext,
            "associated_data": original_type,
            "nonce": resource_nonce,
        }
    })
    .to_string();
    let timestamp = now.timestamp().to_string();
    let header_nonce = nonce();
    let signature = signer.sign(&format!("{timestamp}\n{header_nonce}\n{body}\n"))?;
    let headers = vec![
        ("wechatpay-timestamp", timestamp),
        ("wechatpay-nonce", header_nonce),
        ("wechatpay-signature", signature),
        (
            "wechatpay-serial",
            config
                .platform_serial
                .clone()
                .unwrap_or_else(|| "DEV-PLATFORM".to_owned()),
        ),
        ("content-type", "application/json".to_owned()),
    ];
    Ok(SignedNotice { headers, body })
}
