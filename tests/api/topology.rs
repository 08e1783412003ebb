//! The production topology, as `deploy/local-topology.sh` brings it up: PostgreSQL, two
//! `ordo serve` processes in production mode, and nginx terminating TLS in front with
//! `deploy/nginx/ordo.conf`. Driven over HTTPS the way shoppers and WeChat Pay reach it.
//! Each shopper comes from their own loopback address (127.0.0.x), so nginx sees them as
//! different clients, as it would on the internet.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, TcpListener};
use std::path::PathBuf;
use std::time::Duration;

use ordo::auth::{JwtKeys, Role};
use ordo::secret::Secret;
use reqwest::{Method, StatusCode};
use serde_json::json;
use uuid::Uuid;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use crate::support::{Client, FakeWeChatPay, NoticeOptions, address, eventually};

const JWT_SECRET: &str = "the topology's secret, at least 32 bytes long";
const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/local-topology.sh");

/// The topology under a temporary directory; dropping it brings everything down.
struct Topology {
    dir: PathBuf,
    settings: HashMap<String, String>,
}

impl Topology {
    fn up(extra: &[(String, String)]) -> Self {
        let dir = std::env::temp_dir().join(format!("ordo-topology-{}", Uuid::new_v4()));
        std::fs::create_dir_all(&dir).expect("the topology's directory");
        let mut command = std::process::Command::new("bash");
        command
            .arg(SCRIPT)
            .arg("up")
            .arg(&dir)
            .env("ORDO_BIN", env!("CARGO_BIN_EXE_ordo"))
            .env("ORDO_JWT_SECRET", JWT_SECRET);
        for (name, port) in [
            "PG_PORT",
            "ORDO_1_PORT",
            "ORDO_2_PORT",
            "HTTPS_PORT",
            "HTTP_PORT",
        ]
        .iter()
        .zip(free_ports(5))
        {
            command.env(name, port.to_string());
        }
        command.envs(extra.iter().map(|(name, value)| (name, value)));
        let output = command.output().expect("run deploy/local-topology.sh");
        let topology = Self {
            dir,
            settings: String::from_utf8_lossy(&output.stdout)
                .lines()
                .filter_map(|line| line.split_once('='))
                .map(|(name, value)| (name.to_owned(), value.to_owned()))
                .collect(),
        };
        assert!(
            output.status.success(),
            "the topology did not come up:\n{}{}\nlogs in {}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr),
            topology.dir.display()
        );
        topology
    }

    fn setting(&self, name: &str) -> &str {
        self.settings
            .get(name)
            .unwrap_or_else(|| panic!("the script printed no {name}"))
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.setting("ORDO_HTTPS_URL"))
    }

    /// A caller over HTTPS trusting only the topology's certificate, connecting from
    /// 127.0.0.`n`.
    fn client_from(&self, n: u8) -> Client {
        let pem = std::fs::read(self.setting("ORDO_CA_CERT")).expect("the certificate");
        let http = ordo::tls::http_client()
            .add_root_certificate(reqwest::Certificate::from_pem(&pem).expect("a certificate"))
            .local_address(IpAddr::V4(Ipv4Addr::new(127, 0, 0, n)))
            .timeout(Duration::from_secs(10))
            .build()
            .expect("a client");
        Client::at(http, self.url(""))
    }

    fn log(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.join(name)).unwrap_or_default()
    }
}

impl Drop for Topology {
    fn drop(&mut self) {
        let _ = std::process::Command::new("bash")
            .arg(SCRIPT)
            .arg("down")
            .arg(&self.dir)
            .status();
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// Ports free right now (the listeners are closed again before the script binds them).
fn free_ports(count: usize) -> Vec<u16> {
    let listeners: Vec<TcpListener> = (0..count)
        .map(|_| TcpListener::bind("127.0.0.1:0").expect("a free port"))
        .collect();
    listeners
        .iter()
        .map(|listener| listener.local_addr().expect("address").port())
        .collect()
}

/// WeChat's `jscode2session`: every code is a shopper whose openid is the code's.
struct Code2Session;

impl Respond for Code2Session {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let code = request
            .url
            .query_pairs()
            .find(|(name, _)| name == "js_code")
            .map(|(_, value)| value.into_owned())
            .unwrap_or_default();
        ResponseTemplate::new(200)
            .set_body_json(json!({"openid": format!("openid-{code}"), "session_key": "x"}))
    }
}

#[tokio::test]
async fn behind_nginx_over_https_shoppers_pay_are_limited_one_by_one_and_survive_a_lost_process() {
    let wechat = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/sns/jscode2session"))
        .respond_with(Code2Session)
        .mount(&wechat)
        .await;
    let pay = FakeWeChatPay::start().await;
    let keys_dir = std::env::temp_dir().join(format!("ordo-topology-keys-{}", Uuid::new_v4()));
    std::fs::create_dir_all(&keys_dir).expect("a key directory");
    let mut settings = pay.process_settings(&keys_dir);
    settings.extend(
        [
            ("ORDO_WECHAT_BASE_URL", wechat.uri()),
            (
                "ORDO_WECHAT_APP_ID",
                crate::support::wechat_pay::APP_ID.to_owned(),
            ),
            ("ORDO_WECHAT_APP_SECRET", "the app's secret".to_owned()),
            // Low enough for one client to reach in a moment.
            ("ORDO_RATE_LIMIT_IP", "20/40".to_owned()),
        ]
        .map(|(name, value)| (name.to_owned(), value)),
    );
    let topology = Topology::up(&settings);
    let _ = std::fs::remove_dir_all(&keys_dir);

    // The journey: a product, a WeChat login, an order, its payment, the notice.
    let admin = JwtKeys::new(&Secret::new(JWT_SECRET))
        .issue("ops", Role::Admin, Duration::from_secs(600))
        .expect("an operator's token");
    let operator = topology.client_from(10).with_token(&admin);
    let (status, body) = operator
        .post(
            "/api/v1/admin/products",
            &json!({"name": "Tea", "description": "", "category": "tea",
                          "price_cents": 1_200, "initial_stock": 100}),
        )
        .await
        .into_parts();
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let product = body["data"]["id"].as_str().expect("product id").to_owned();

    // A 1 MiB image through nginx (past its 256 KiB for other bodies), served by both
    // processes from their shared store.
    let mut image = include_bytes!("../fixtures/tea.png").to_vec();
    image.resize(1024 * 1024, 0);
    let (content_type, form) = crate::support::form(&[("file", "tea.png", &image)]);
    let (status, body) = operator
        .send(
            operator
                .request(
                    Method::POST,
                    &format!("/api/v1/admin/products/{product}/images"),
                )
                .header("content-type", content_type)
                .body(form),
        )
        .await
        .into_parts();
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let image_url = body["data"]["url"].as_str().expect("its url").to_owned();
    for _ in 0..4 {
        let response = operator
            .send_raw(operator.request(Method::GET, &image_url))
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(
            response.bytes().await.expect("bytes").as_ref(),
            image.as_slice()
        );
    }

    let mei = topology.client_from(2);
    let (status, body) = mei
        .post("/api/v1/auth/wechat-login", &json!({"code": "mei"}))
        .await
        .into_parts();
    assert_eq!(status, StatusCode::OK, "{body}");
    let mei = mei.with_token(body["data"]["access_token"].as_str().expect("token"));
    let (status, body) = mei
        .post(
            "/api/v1/orders",
            &json!({"lines": [{"product_id": product, "quantity": 2}],
                          "address": address(), "remark": ""}),
        )
        .await
        .into_parts();
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let order: Uuid = body["data"]["id"]
        .as_str()
        .and_then(|id| id.parse().ok())
        .expect("order id");
    let (status, body) = mei
        .send(mei.request(Method::POST, &format!("/api/v1/orders/{order}/pay")))
        .await
        .into_parts();
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body["data"]["package"].as_str().is_some(), "{body}");

    let (headers, notice) = pay.notice(order, &NoticeOptions::paying(2_400));
    let wechat_pay = topology.client_from(20);
    let mut request = wechat_pay
        .request(Method::POST, "/api/v1/payments/wechat/notify")
        .body(notice);
    for (name, value) in headers {
        request = request.header(name, value);
    }
    let (status, body) = wechat_pay.send(request).await.into_parts();
    assert_eq!(status, StatusCode::OK, "the notice through nginx: {body}");
    let poller = topology.client_from(11).with_token(mei.token());
    let paid = eventually("the order to show paid", || {
        let poller = &poller;
        async move {
            let (_, body) = poller
                .get(&format!("/api/v1/orders/{order}"))
                .await
                .into_parts();
            (body["data"]["status"] == "paid").then_some(body)
        }
    })
    .await;
    assert_eq!(paid["data"]["total_cents"], 2_400);
    assert!(
        topology
            .log("logs/ordo-1.log")
            .contains("client=\"127.0.0.2\"")
            || topology
                .log("logs/ordo-2.log")
                .contains("client=\"127.0.0.2\""),
        "ordo logs the shopper's address, not nginx's"
    );

    // Rate limits are per shopper address: one client flooding gets 429s, another
    // shopper does not, and a forged X-Forwarded-For does not make a new client.
    let flooder = topology.client_from(3);
    let mut limited = false;
    for _ in 0..400 {
        let (status, _) = flooder.get("/api/v1/products").await.into_parts();
        if status == StatusCode::TOO_MANY_REQUESTS {
            limited = true;
            break;
        }
    }
    assert!(limited, "the flooding client was never limited");
    let (status, _) = flooder
        .send(
            flooder
                .request(Method::GET, "/api/v1/products")
                .header("X-Forwarded-For", "198.51.100.7"),
        )
        .await
        .into_parts();
    assert_eq!(
        status,
        StatusCode::TOO_MANY_REQUESTS,
        "a forged address helped"
    );
    let (status, body) = topology
        .client_from(4)
        .get("/api/v1/products")
        .await
        .into_parts();
    assert_eq!(
        status,
        StatusCode::OK,
        "another shopper was limited: {body}"
    );

    // One process dies; nginx sends everything to the other.
    let pid = topology.setting("ORDO_1_PID").to_owned();
    let killed = std::process::Command::new("kill")
        .args(["-9", &pid])
        .status()
        .expect("kill");
    assert!(killed.success());
    let li = topology.client_from(5);
    let (status, body) = li
        .post("/api/v1/auth/wechat-login", &json!({"code": "li"}))
        .await
        .into_parts();
    assert_eq!(status, StatusCode::OK, "{body}");
    let li_shopper = li.with_token(body["data"]["access_token"].as_str().expect("token"));
    for n in 0..10 {
        let (status, body) = li.get("/api/v1/products").await.into_parts();
        assert_eq!(status, StatusCode::OK, "read {n} after the kill: {body}");
    }
    for n in 0..3 {
        let (status, body) = li_shopper
            .post(
                "/api/v1/orders",
                &json!({"lines": [{"product_id": product, "quantity": 1}],
                              "address": address(), "remark": format!("after the kill {n}")}),
            )
            .await
            .into_parts();
        assert_eq!(
            status,
            StatusCode::CREATED,
            "order {n} after the kill: {body}"
        );
    }
}
