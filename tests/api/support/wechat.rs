//! A fake of WeChat's server API over real HTTP (wiremock): `stable_token` hands out a new
//! token each time and counts the fetches; the platform calls check the token they carry
//! and are recorded, so tests read exactly what ordo sent.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use ordo::secret::Secret;
use ordo::wechat::WeChatConfig;
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

pub const APP_ID: &str = "wx-shop";
const SECRET: &str = "the-app-secret";
pub const UPLOAD_PATH: &str = "/wxa/sec/order/upload_shipping_info";

pub struct FakeWeChat {
    pub server: MockServer,
    fetches: Arc<AtomicUsize>,
}

/// `stable_token`: a new token on each fetch (`token-1`, `token-2`, …).
struct NewToken(Arc<AtomicUsize>);

impl Respond for NewToken {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let body: Value = serde_json::from_slice(&request.body).unwrap_or_default();
        if body["appid"] != APP_ID || body["secret"] != SECRET {
            return ResponseTemplate::new(200)
                .set_body_json(json!({"errcode": 40125, "errmsg": "invalid appsecret"}));
        }
        let n = self.0.fetch_add(1, Ordering::SeqCst) + 1;
        ResponseTemplate::new(200)
            .set_body_json(json!({"access_token": format!("token-{n}"), "expires_in": 7200}))
    }
}

impl FakeWeChat {
    /// Starts the fake: tokens, and every upload taken.
    pub async fn start() -> Self {
        let server = MockServer::start().await;
        let fetches = Arc::new(AtomicUsize::new(0));
        Mock::given(method("POST"))
            .and(path("/cgi-bin/stable_token"))
            .respond_with(NewToken(fetches.clone()))
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .and(path("/wxa/sec/order/get_order"))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_json(json!({"errcode": 0, "order": {"order_state": 1}})),
            )
            .mount(&server)
            .await;
        // Below every other answer (wiremock's priorities: 1 first, 5 by default).
        Mock::given(method("POST"))
            .and(path(UPLOAD_PATH))
            .respond_with(
                ResponseTemplate::new(200).set_body_json(json!({"errcode": 0, "errmsg": "ok"})),
            )
            .with_priority(10)
            .mount(&server)
            .await;
        Self { server, fetches }
    }

    /// Every upload is answered `answer` from now on instead of success (the first such
    /// answer mounted wins).
    pub async fn answer_uploads(&self, answer: Value) {
        Mock::given(method("POST"))
            .and(path(UPLOAD_PATH))
            .respond_with(ResponseTemplate::new(200).set_body_json(answer))
            .mount(&self.server)
            .await;
    }

    /// The next upload (only) is answered `answer`.
    pub async fn answer_next_upload(&self, answer: ResponseTemplate) {
        Mock::given(method("POST"))
            .and(path(UPLOAD_PATH))
            .respond_with(answer)
            .up_to_n_times(1)
            .with_priority(1)
            .mount(&self.server)
            .await;
    }

    /// Settings for an app calling this fake with the mini program's app id and secret.
    pub fn config(&self) -> WeChatConfig {
        WeChatConfig {
            base_url: self.server.uri(),
            app_id: Some(APP_ID.to_owned()),
            app_secret: Some(Secret::new(SECRET)),
            timeout: Duration::from_secs(5),
            ..WeChatConfig::default()
        }
    }

    /// How many tokens were fetched.
    pub fn token_fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }

    /// The uploads received, in order: each body, with the token it carried.
    pub async fn uploads(&self) -> Vec<(String, Value)> {
        self.server
            .received_requests()
            .await
            .unwrap_or_default()
            .into_iter()
            .filter(|request| request.url.path() == UPLOAD_PATH)
            .map(|request| {
                let token = request
                    .url
                    .query_pairs()
                    .find(|(name, _)| name == "access_token")
                    .map(|(_, value)| value.into_owned())
                    .unwrap_or_default();
                (
                    token,
                    serde_json::from_slice(&request.body).unwrap_or_default(),
                )
            })
            .collect()
    }
}
