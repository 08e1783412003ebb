//! Dev mode: a payment notice made and signed exactly as WeChat Pay makes one, with the
//! dev platform key, so the simulated payment goes through the real verification path.

use chrono::{DateTime, Utc};
use serde_json::json;

use super::{KeyError, Transaction, WeChatPayConfig, nonce};

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
    let signer = config.simulator.as_ref().ok_or(KeyError::Sign)?;
    let resource_nonce: String = nonce().chars().take(12).collect();
    let plain = serde_json::to_vec(transaction).map_err(|_| KeyError::Sign)?;
    let ciphertext = config
        .api_v3_key
        .encrypt(&resource_nonce, "transaction", &plain)
        .ok_or(KeyError::Sign)?;
    let body = json!({
        "id": uuid::Uuid::new_v4().to_string(),
        "create_time": now.to_rfc3339(),
        "resource_type": "encrypt-resource",
        "event_type": "TRANSACTION.SUCCESS",
        "summary": "支付成功",
        "resource": {
            "original_type": "transaction",
            "algorithm": "AEAD_AES_256_GCM",
            "ciphertext": ciphertext,
            "associated_data": "transaction",
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
