//! A fake WeChat Pay over real HTTP (wiremock): it answers the JSAPI prepay with a
//! signed prepay id and refunds with a signed refund, and it makes payment and refund
//! notices the way WeChat Pay does — encrypted with the APIv3 key, signed with the
//! platform key — built here from the primitives, not with ordo's own simulator.

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
    /// Bills served so far: a later one answers before the earlier ones.
    bills_served: std::sync::atomic::AtomicUsize,
}

impl FakeWeChatPay {
    /// Starts the fake, answering every JSAPI prepay with a signed prepay id and every
    /// refund with a signed `PROCESSING`.
    pub async fn start() -> Self {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/v3/pay/transactions/jsapi"))
            .respond_with(SignedAnswer::ok(
                json!({"prepay_id": "wx201410272009395522657a690389285100"}),
            ))
            .mount(&server)
            .await;
        let fake = Self {
            server,
            api_v3_key: ApiV3Key::new(b"0123456789abcdefghijABCDEFGHIJ01").expect("key"),
            bills_served: std::sync::atomic::AtomicUsize::new(0),
        };
        Mock::given(method("POST"))
            .and(path("/v3/refund/domestic/refunds"))
            .respond_with(RefundAnswer::status("PROCESSING"))
            .with_priority(10)
            .mount(&fake.server)
            .await;
        // A payment never opened is unknown to WeChat Pay; closing one is done (204).
        Mock::given(method("GET"))
            .and(wiremock::matchers::path_regex(
                "^/v3/pay/transactions/out-trade-no/[0-9a-f]+$",
            ))
            .respond_with(refusal(404, "ORDER_NOT_EXIST", "订单不存在"))
            .with_priority(10)
            .mount(&fake.server)
            .await;
        Mock::given(method("POST"))
            .and(wiremock::matchers::path_regex(
                "^/v3/pay/transactions/out-trade-no/[0-9a-f]+/close$",
            ))
            .respond_with(SignedAnswer::no_content())
            .with_priority(10)
            .mount(&fake.server)
            .await;
        // A refund never asked for is unknown to WeChat Pay.
        Mock::given(method("GET"))
            .and(wiremock::matchers::path_regex(
                "^/v3/refund/domestic/refunds/",
            ))
            .respond_with(refusal(404, "RESOURCE_NOT_EXISTS", "退款单不存在"))
            .with_priority(10)
            .mount(&fake.server)
            .await;
        fake
    }

    /// Answers the next `times` refund requests with `answer` instead of `PROCESSING`.
    pub async fn answer_refunds_with(&self, answer: impl Respond + 'static, times: u64) {
        Mock::given(method("POST"))
            .and(path("/v3/refund/domestic/refunds"))
            .respond_with(answer)
            .up_to_n_times(times)
            .with_priority(1)
            .mount(&self.server)
            .await;
    }

    /// The refund requests WeChat Pay received, their JSON bodies, each checked to be
    /// signed by the merchant's key over `POST\npath\ntimestamp\nnonce\nbody\n`.
    pub async fn refund_requests(&self) -> Vec<Value> {
        let requests = self.server.received_requests().await.unwrap_or_default();
        requests
            .iter()
            .filter(|request| {
                request.method.as_str() == "POST"
                    && request.url.path() == "/v3/refund/domestic/refunds"
            })
            .map(|request| {
                assert!(
                    signed_by_merchant(request),
                    "a refund request not signed by the merchant key"
                );
                serde_json::from_slice(&request.body).expect("a JSON refund request")
            })
            .collect()
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
    pub async fn answer_prepay_with(&self, template: impl Respond + 'static) {
        self.server.reset().await;
        Mock::given(method("POST"))
            .and(path("/v3/pay/transactions/jsapi"))
            .respond_with(template)
            .mount(&self.server)
            .await;
    }

    /// Answers queries for `order`'s payment: in `trade_state` (`SUCCESS`, `NOTPAY`,
    /// `USERPAYING`, …), for the amount and transaction of `options`.
    pub async fn answer_payment_query(
        &self,
        order: Uuid,
        trade_state: &str,
        options: &NoticeOptions,
    ) {
        let answer = SignedAnswer::ok(self.queried(order, trade_state, options));
        self.mount_query(order, answer, 2, None).await;
    }

    /// Answers the next query for `order`'s payment so, before any other answer.
    pub async fn answer_payment_query_once(
        &self,
        order: Uuid,
        trade_state: &str,
        options: &NoticeOptions,
    ) {
        let answer = SignedAnswer::ok(self.queried(order, trade_state, options));
        self.mount_query(order, answer, 1, Some(1)).await;
    }

    /// Answers queries for `order`'s payment as paid, signed with the timestamp `at`.
    pub async fn answer_payment_query_signed_at(
        &self,
        order: Uuid,
        options: &NoticeOptions,
        at: DateTime<Utc>,
    ) {
        let answer = SignedAnswer {
            signed_at: Some(at),
            ..SignedAnswer::ok(self.queried(order, "SUCCESS", options))
        };
        self.mount_query(order, answer, 1, None).await;
    }

    async fn mount_query(
        &self,
        order: Uuid,
        answer: SignedAnswer,
        priority: u8,
        times: Option<u64>,
    ) {
        let mock = Mock::given(method("GET"))
            .and(path(format!(
                "/v3/pay/transactions/out-trade-no/{}",
                order.simple()
            )))
            .respond_with(answer)
            .with_priority(priority);
        match times {
            Some(times) => mock.up_to_n_times(times).mount(&self.server).await,
            None => mock.mount(&self.server).await,
        }
    }

    /// WeChat Pay's answer to a query for `order`'s payment.
    fn queried(&self, order: Uuid, trade_state: &str, options: &NoticeOptions) -> Value {
        let mut transaction = self.transaction(order, options);
        transaction["trade_state"] = json!(trade_state);
        if trade_state != "SUCCESS" {
            for paid_only in ["transaction_id", "success_time", "payer"] {
                transaction
                    .as_object_mut()
                    .map(|fields| fields.remove(paid_only));
            }
        }
        transaction
    }

    /// Answers payment queries and closes with `answer` (an outage: a 500, a delay).
    pub async fn answer_payment_checks_with(&self, answer: ResponseTemplate) {
        Mock::given(wiremock::matchers::path_regex(
            "^/v3/pay/transactions/out-trade-no/",
        ))
        .respond_with(answer)
        .with_priority(1)
        .mount(&self.server)
        .await;
    }

    /// Answers bill requests with a signed answer announcing `hash` and `download_url`
    /// (before any answer given earlier).
    pub async fn answer_bill_with(&self, hash: &str, download_url: &str) {
        self.bills_served
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let priority = u8::try_from(
            50usize.saturating_sub(self.bills_served.load(std::sync::atomic::Ordering::SeqCst)),
        )
        .unwrap_or(1)
        .max(1);
        Mock::given(method("GET"))
            .and(path("/v3/bill/tradebill"))
            .respond_with(SignedAnswer::ok(json!({
                "hash_type": "SHA1",
                "hash_value": hash,
                "download_url": download_url,
            })))
            .with_priority(priority)
            .mount(&self.server)
            .await;
    }

    /// Serves `bill` (text in WeChat Pay's format) as every day's bill: announced with its
    /// SHA-1 (or `announced` instead, a lie), downloaded gzip'd.
    pub async fn serve_bill(&self, bill: &str, announced: Option<&str>) {
        let digest = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, bill.as_bytes());
        let hash: String = digest.as_ref().iter().map(|b| format!("{b:02x}")).collect();
        let token = Uuid::new_v4().simple().to_string();
        self.answer_bill_with(
            announced.unwrap_or(&hash),
            &format!("{}/v3/billdownload/file?token={token}", self.server.uri()),
        )
        .await;
        let mut packed = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        std::io::Write::write_all(&mut packed, bill.as_bytes()).expect("pack the bill");
        Mock::given(method("GET"))
            .and(path("/v3/billdownload/file"))
            .and(wiremock::matchers::query_param("token", token.as_str()))
            .respond_with(
                ResponseTemplate::new(200).set_body_bytes(packed.finish().expect("packed")),
            )
            .mount(&self.server)
            .await;
    }

    /// The payments closed at WeChat Pay (their `out_trade_no`), each request checked to
    /// be signed by the merchant's key and to name the merchant.
    pub async fn closed_payments(&self) -> Vec<String> {
        let requests = self.server.received_requests().await.unwrap_or_default();
        requests
            .iter()
            .filter(|request| {
                request.method.as_str() == "POST" && request.url.path().ends_with("/close")
            })
            .map(|request| {
                assert!(
                    signed_by_merchant(request),
                    "a close not signed by the merchant key"
                );
                let body: Value = serde_json::from_slice(&request.body).expect("a JSON close");
                assert_eq!(body["mchid"], MCH_ID);
                request
                    .url
                    .path()
                    .trim_start_matches("/v3/pay/transactions/out-trade-no/")
                    .trim_end_matches("/close")
                    .to_owned()
            })
            .collect()
    }

    /// How many payment queries WeChat Pay received, each checked to be signed by the
    /// merchant's key (over the path and its `?mchid=` query).
    pub async fn payment_queries(&self) -> usize {
        let requests = self.server.received_requests().await.unwrap_or_default();
        requests
            .iter()
            .filter(|request| {
                request.method.as_str() == "GET"
                    && request
                        .url
                        .path()
                        .starts_with("/v3/pay/transactions/out-trade-no/")
            })
            .inspect(|request| {
                assert!(
                    signed_by_merchant(request),
                    "a query not signed by the merchant key"
                );
                assert_eq!(
                    request.url.query(),
                    Some(format!("mchid={MCH_ID}").as_str())
                );
            })
            .count()
    }

    /// Headers and body of a payment notice for `order`.
    pub fn notice(&self, order: Uuid, options: &NoticeOptions) -> (Vec<(String, String)>, String) {
        let resource = self.transaction(order, options);
        self.encrypted_notice(&resource, ("TRANSACTION.SUCCESS", "transaction"), options)
    }

    fn transaction(&self, order: Uuid, options: &NoticeOptions) -> Value {
        json!({
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
        })
    }

    /// Headers and body of a refund notice (`REFUND.<status>`) for refund `refund_no` of
    /// `order`, refunding `options.amount_cents` of payment `options.transaction_id`.
    pub fn refund_notice(
        &self,
        order: Uuid,
        refund_no: &str,
        status: &str,
        options: &NoticeOptions,
    ) -> (Vec<(String, String)>, String) {
        let resource = json!({
            "mchid": MCH_ID,
            "out_trade_no": order.simple().to_string(),
            "transaction_id": options.transaction_id,
            "out_refund_no": refund_no,
            "refund_id": format!("5030{:024}", rand::random::<u64>()),
            "refund_status": status,
            "success_time": options.sent_at.to_rfc3339(),
            "user_received_account": "支付用户零钱",
            "amount": {"total": options.amount_cents, "refund": options.amount_cents,
                       "payer_total": options.amount_cents, "payer_refund": options.amount_cents},
        });
        let event_type = format!("REFUND.{status}");
        self.encrypted_notice(&resource, (&event_type, "refund"), options)
    }

    /// Sends a refund notice to the app: the status and WeChat-format answer.
    pub async fn send_refund_notice(
        &self,
        app_address: &str,
        order: Uuid,
        refund_no: &str,
        status: &str,
        options: &NoticeOptions,
    ) -> (reqwest::StatusCode, Value) {
        let (headers, body) = self.refund_notice(order, refund_no, status, options);
        post_notice(
            &format!("{app_address}/api/v1/payments/wechat/refund-notify"),
            headers,
            body,
        )
        .await
    }

    /// A notice of `(event type, resource type)` carrying `resource`, encrypted and signed
    /// as `options` say.
    fn encrypted_notice(
        &self,
        resource: &Value,
        (event_type, original_type): (&str, &str),
        options: &NoticeOptions,
    ) -> (Vec<(String, String)>, String) {
        let key = if options.wrong_api_key {
            ApiV3Key::new(b"ZZZZZZZZZZabcdefghijABCDEFGHIJ01").expect("key")
        } else {
            self.api_v3_key.clone()
        };
        let nonce = "fdasflkja484";
        let mut ciphertext = key
            .encrypt(nonce, original_type, resource.to_string().as_bytes())
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
            "event_type": event_type,
            "summary": "支付成功",
            "resource": {
                "original_type": original_type,
                "algorithm": "AEAD_AES_256_GCM",
                "ciphertext": ciphertext,
                "associated_data": original_type,
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
        post_notice(
            &format!("{app_address}/api/v1/payments/wechat/notify"),
            headers,
            body,
        )
        .await
    }
}

async fn post_notice(
    url: &str,
    headers: Vec<(String, String)>,
    body: String,
) -> (reqwest::StatusCode, Value) {
    let mut request = super::test_app::client().post(url).body(body);
    for (name, value) in headers {
        request = request.header(name, value);
    }
    let response = request.send().await.expect("notice sent");
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Whether `request` carries a `WECHATPAY2-SHA256-RSA2048` authorization signed with the
/// merchant's key over its method, path, timestamp, nonce and body.
pub fn signed_by_merchant(request: &Request) -> bool {
    let Some(authorization) = request
        .headers
        .get("authorization")
        .and_then(|value| value.to_str().ok())
    else {
        return false;
    };
    let field = |name: &str| {
        authorization
            .split(&format!("{name}=\""))
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .unwrap_or_default()
            .to_owned()
    };
    // WeChat Pay signs the URL as sent: its path and query.
    let url = match request.url.query() {
        Some(query) => format!("{}?{query}", request.url.path()),
        None => request.url.path().to_owned(),
    };
    let message = format!(
        "{}\n{}\n{}\n{}\n{}\n",
        request.method.as_str(),
        url,
        field("timestamp"),
        field("nonce_str"),
        String::from_utf8_lossy(&request.body)
    );
    authorization.starts_with("WECHATPAY2-SHA256-RSA2048 ")
        && field("mchid") == MCH_ID
        && FakeWeChatPay::merchant_public_key().verifies(message.as_bytes(), &field("signature"))
}

/// WeChat Pay's answer to a refund request: the refund with this status, for the number
/// and amount asked, signed; after `delay` when set.
pub struct RefundAnswer {
    pub status: &'static str,
    pub delay: std::time::Duration,
}

impl RefundAnswer {
    pub fn status(status: &'static str) -> Self {
        Self {
            status,
            delay: std::time::Duration::ZERO,
        }
    }
}

impl Respond for RefundAnswer {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let asked: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
        let answer = json!({
            "refund_id": format!("5030{:024}", rand::random::<u64>()),
            "out_refund_no": asked["out_refund_no"],
            "transaction_id": asked["transaction_id"],
            "out_trade_no": "",
            "channel": "ORIGINAL",
            "user_received_account": "支付用户零钱",
            "success_time": Utc::now().to_rfc3339(),
            "create_time": Utc::now().to_rfc3339(),
            "status": self.status,
            "amount": {"total": asked["amount"]["total"], "refund": asked["amount"]["refund"],
                       "payer_total": asked["amount"]["total"],
                       "payer_refund": asked["amount"]["refund"], "currency": "CNY"},
        });
        SignedAnswer::ok(answer)
            .respond(request)
            .set_delay(self.delay)
    }
}

/// WeChat Pay refusing a request: `status` (4xx) with its `{code, message}`, signed with
/// the platform key as WeChat Pay signs every answer, refusals included.
pub fn refusal(status: u16, code: &str, message: &str) -> impl Respond + use<> {
    SignedAnswer {
        status,
        ..SignedAnswer::ok(json!({"code": code, "message": message}))
    }
}

/// An answer of WeChat Pay's, signed with the platform key as WeChat Pay signs.
struct SignedAnswer {
    status: u16,
    body: Value,
    /// The timestamp signed; now when none is given.
    signed_at: Option<DateTime<Utc>>,
}

impl SignedAnswer {
    fn ok(body: Value) -> Self {
        Self {
            status: 200,
            body,
            signed_at: None,
        }
    }

    /// `204 No Content`, signed over the empty body.
    fn no_content() -> Self {
        Self {
            status: 204,
            ..Self::ok(Value::Null)
        }
    }
}

impl Respond for SignedAnswer {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        let body = match &self.body {
            Value::Null => String::new(),
            body => body.to_string(),
        };
        let timestamp = self
            .signed_at
            .unwrap_or_else(Utc::now)
            .timestamp()
            .to_string();
        let nonce = Uuid::new_v4().simple().to_string();
        let signature = keys()
            .platform
            .sign(&format!("{timestamp}\n{nonce}\n{body}\n"))
            .expect("sign");
        ResponseTemplate::new(self.status)
            .insert_header("Wechatpay-Timestamp", timestamp.as_str())
            .insert_header("Wechatpay-Nonce", nonce.as_str())
            .insert_header("Wechatpay-Signature", signature.as_str())
            .insert_header("Wechatpay-Serial", PLATFORM_SERIAL)
            .insert_header("Content-Type", "application/json")
            .set_body_string(body)
    }
}

/// Dev mode as `ordo serve` runs it on loopback: WeChat Pay with keys of its own, so
/// payments and refunds are simulated through real signed notices.
pub fn dev_mode_settings() -> ordo::state::AppSettings {
    let keys = ordo::wechat_pay::DevKeys::generate().expect("dev keys");
    ordo::state::AppSettings {
        dev_mode: true,
        wechat_pay: Some(
            keys.config("wx_dev", ordo::wechat_pay::NOTIFY_PATH.to_owned())
                .expect("dev WeChat Pay"),
        ),
        ..ordo::state::AppSettings::default()
    }
}
