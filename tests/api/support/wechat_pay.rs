//! A fake WeChat Pay over real HTTP (wiremock): it answers the JSAPI prepay with a
//! signed prepay id, and it makes payment notices the way WeChat Pay does — encrypted
//! with the APIv3 key, signed with the platform key — built here from the primitives,
//! not with ordo's own simulator.

use std::sync::{Arc, OnceLock};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::{DateTime, Utc};
use ordo::wechat_pay::{ApiV3Key, SigningKey, VerifyingKey, WeChatPayConfig};
use serde_json::{Value, json};
use uuid::Uuid;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

pub const APP_ID: &str = "wx_test_app";
pub const MCH_ID: &str = "1230000109";
pub const PLATFORM_SERIAL: &str = "PUB_KEY_ID_0001";

/// RSA keys take a moment to generate: one set per test run.
struct Keys {
    merchant: Arc<SigningKey>,
    platform: SigningKey,
    stranger: SigningKey,
}

fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| Keys {
        merchant: Arc::new(SigningKey::generate().expect("merchant key")),
        platform: SigningKey::generate().expect("platform key"),
        stranger: SigningKey::generate().expect("another key"),
    })
}

/// How to make a notice, right or wrong in one way.
#[derive(Debug, Clone)]
pub struct NoticeOptions {
    pub amount_cents: i64,
    pub transaction_id: String,
    pub sent_at: DateTime<Utc>,
    /// Signed by a key that is not WeChat Pay's.
    pub wrong_signer: bool,
    /// Encrypted with an APIv3 key that is not the merchant's.
    pub wrong_api_key: bool,
    /// One byte of the ciphertext changed before signing, so only the encryption can tell.
    pub tampered: bool,
}

impl NoticeOptions {
    pub fn paying(amount_cents: i64) -> Self {
        Self {
            amount_cents,
            transaction_id: format!("4200{:024}", rand::random::<u64>()),
            sent_at: Utc::now(),
            wrong_signer: false,
            wrong_api_key: false,
            tampered: false,
        }
    }
}

pub struct FakeWeChatPay {
    pub server: MockServer,
    pub api_v3_key: ApiV3Key,
}

impl FakeWeChatPay {
    /// Starts the fake, answering every JSAPI prepay with a signed prepay id.
    pub async fn start() -> Self {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/v3/pay/transactions/jsapi"))
            .respond_with(SignedAnswer(
                json!({"prepay_id": "wx201410272009395522657a690389285100"}),
            ))
            .mount(&server)
            .await;
        Self {
            server,
            api_v3_key: ApiV3Key::new(b"0123456789abcdefghijABCDEFGHIJ01").expect("key"),
        }
    }

    /// The merchant account ordo is configured with, against this fake.
    pub fn config(&self) -> WeChatPayConfig {
        WeChatPayConfig {
            base_url: Some(self.server.uri()),
            app_id: APP_ID.to_owned(),
            mch_id: MCH_ID.to_owned(),
            merchant_serial: "MERCHANT_SERIAL_1".to_owned(),
            merchant_key: keys().merchant.clone(),
            platform_key: VerifyingKey::from_pem(
                &keys().platform.public_key_pem().expect("public key"),
            )
            .expect("platform key"),
            platform_serial: Some(PLATFORM_SERIAL.to_owned()),
            api_v3_key: self.api_v3_key.clone(),
            notify_url: "https://shop.example.com/api/v1/payments/wechat/notify".to_owned(),
            timeout: std::time::Duration::from_secs(2),
            simulator: None,
        }
    }

    /// The settings an `ordo serve` process needs to use this fake, its keys written as
    /// files into `dir`.
    pub fn process_settings(&self, dir: &std::path::Path) -> Vec<(String, String)> {
        let write = |name: &str, text: &str| {
            let path = dir.join(name);
            std::fs::write(&path, text).expect("write a key file");
            path.to_str().expect("a UTF-8 path").to_owned()
        };
        let merchant_key = write(
            "wechatpay-merchant-key.pem",
            &keys().merchant.to_pem().expect("pem"),
        );
        let platform_key = write(
            "wechatpay-public-key.pem",
            &keys().platform.public_key_pem().expect("pem"),
        );
        let api_v3_key = write(
            "wechatpay-apiv3-key",
            &String::from_utf8_lossy(self.api_v3_key.as_bytes()),
        );
        [
            ("ORDO_WECHATPAY_BASE_URL", self.server.uri()),
            ("ORDO_WECHATPAY_MCH_ID", MCH_ID.to_owned()),
            (
                "ORDO_WECHATPAY_MCH_SERIAL_NO",
                "MERCHANT_SERIAL_1".to_owned(),
            ),
            ("ORDO_WECHATPAY_MCH_PRIVATE_KEY_FILE", merchant_key),
            ("ORDO_WECHATPAY_PUBLIC_KEY_FILE", platform_key),
            ("ORDO_WECHATPAY_PUBLIC_KEY_ID", PLATFORM_SERIAL.to_owned()),
            ("ORDO_WECHATPAY_APIV3_KEY_FILE", api_v3_key),
            (
                "ORDO_WECHATPAY_NOTIFY_URL",
                "https://shop.example.com/api/v1/payments/wechat/notify".to_owned(),
            ),
        ]
        .into_iter()
        .map(|(name, value)| (name.to_owned(), value))
        .collect()
    }

    /// The merchant's public key, to check what ordo signed.
    pub fn merchant_public_key() -> VerifyingKey {
        VerifyingKey::from_pem(&keys().merchant.public_key_pem().expect("pem")).expect("key")
    }

    /// Answers the prepay with `answer` instead (e.g. an error).
    pub async fn answer_prepay_with(&self, template: ResponseTemplate) {
        self.server.reset().await;
        Mock::given(method("POST"))
            .and(path("/v3/pay/transactions/jsapi"))
            .respond_with(template)
            .mount(&self.server)
            .await;
    }

    /// Headers and body of a payment notice for `order`.
    pub fn notice(&self, order: Uuid, options: &NoticeOptions) -> (Vec<(String, String)>, String) {
        let transaction = json!({
            "appid": APP_ID,
            "mchid": MCH_ID,
            "out_trade_no": order.simple().to_string(),
            "transaction_id": options.transaction_id,
            "trade_type": "JSAPI",
            "trade_state": "SUCCESS",
            "trade_state_desc": "支付成功",
            "bank_type": "CMC",
            "attach": "",
            "success_time": options.sent_at.to_rfc3339(),
            "payer": {"openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"},
            "amount": {"total": options.amount_cents, "payer_total": options.amount_cents,
                       "currency": "CNY", "payer_currency": "CNY"},
        });
        let key = if options.wrong_api_key {
            ApiV3Key::new(b"ZZZZZZZZZZabcdefghijABCDEFGHIJ01").expect("key")
        } else {
            self.api_v3_key.clone()
        };
        let nonce = "fdasflkja484";
        let mut ciphertext = key
            .encrypt(nonce, "transaction", transaction.to_string().as_bytes())
            .expect("encrypt");
        if options.tampered {
            let mut bytes = BASE64.decode(&ciphertext).expect("base64");
            bytes[3] ^= 0x01;
            ciphertext = BASE64.encode(bytes);
        }
        let body = json!({
            "id": Uuid::new_v4().to_string(),
            "create_time": options.sent_at.to_rfc3339(),
            "resource_type": "encrypt-resource",
            "event_type": "TRANSACTION.SUCCESS",
            "summary": "支付成功",
            "resource": {
                "original_type": "transaction",
                "algorithm": "AEAD_AES_256_GCM",
                "ciphertext": ciphertext,
                "associated_data": "transaction",
                "nonce": nonce,
            }
        })
        .to_string();
        let timestamp = options.sent_at.timestamp().to_string();
        let header_nonce = Uuid::new_v4().simple().to_string();
        let signer = if options.wrong_signer {
            &keys().stranger
        } else {
            &keys().platform
        };
        let signature = signer
            .sign(&format!("{timestamp}\n{header_nonce}\n{body}\n"))
            .expect("sign");
        let headers = vec![
            ("Wechatpay-Timestamp".to_owned(), timestamp),
            ("Wechatpay-Nonce".to_owned(), header_nonce),
            ("Wechatpay-Signature".to_owned(), signature),
            ("Wechatpay-Serial".to_owned(), PLATFORM_SERIAL.to_owned()),
            ("Content-Type".to_owned(), "application/json".to_owned()),
        ];
        (headers, body)
    }

    /// Sends a notice to the app as WeChat Pay would: the status and WeChat-format answer.
    pub async fn send_notice(
        &self,
        app_address: &str,
        order: Uuid,
        options: &NoticeOptions,
    ) -> (reqwest::StatusCode, Value) {
        let (headers, body) = self.notice(order, options);
        let mut request = reqwest::Client::new()
            .post(format!("{app_address}/api/v1/payments/wechat/notify"))
            .body(body);
        for (name, value) in headers {
            request = request.header(name, value);
        }
        let response = request.send().await.expect("notice sent");
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }
}

/// WeChat Pay's answer to a prepay, signed with the platform key as WeChat Pay signs.
struct SignedAnswer(Value);

impl Respond for SignedAnswer {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        let body = self.0.to_string();
        let timestamp = Utc::now().timestamp().to_string();
        let nonce = Uuid::new_v4().simple().to_string();
        let signature = keys()
            .platform
            .sign(&format!("{timestamp}\n{nonce}\n{body}\n"))
            .expect("sign");
        ResponseTemplate::new(200)
            .insert_header("Wechatpay-Timestamp", timestamp.as_str())
            .insert_header("Wechatpay-Nonce", nonce.as_str())
            .insert_header("Wechatpay-Signature", signature.as_str())
            .insert_header("Wechatpay-Serial", PLATFORM_SERIAL)
            .insert_header("Content-Type", "application/json")
            .set_body_string(body)
    }
}
