//! Callers of the API by role: anonymous, a shopper (logged in as a real session, or
//! known only by an id), an operator. Each request answers status, JSON body and
//! headers, so a test reads like what a client sees. Every test calls the API through
//! these: a test that needs an odd request (a header of its own, a raw body, a
//! timeout, a streamed answer) shapes it with [`Client::request`], which still carries
//! the caller's token.

use std::time::Duration;

use ordo::auth::Role;
use reqwest::header::HeaderMap;
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

use super::{TestApp, address};

/// One caller of one app. Owns what it needs (a clone of the app's HTTP client, the
/// address, the token), so it moves into spawned tasks.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    address: String,
    token: Option<String>,
    /// The shopper's user id, when a shopper.
    pub user_id: Option<String>,
}

/// What came back.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    /// JSON, or Null when the body was not JSON.
    pub body: Value,
    pub headers: HeaderMap,
}

impl Answer {
    /// The status and the body, for a test that names them.
    pub fn into_parts(self) -> (StatusCode, Value) {
        (self.status, self.body)
    }
}

impl TestApp {
    fn caller(&self, token: Option<String>, user_id: Option<String>) -> Client {
        Client {
            http: self.client.clone(),
            address: self.address.clone(),
            token,
            user_id,
        }
    }

    /// A token this app accepts, signed for `subject` (ten minutes).
    fn issue(&self, subject: &str, role: Role) -> String {
        self.state
            .jwt
            .issue(subject, role, Duration::from_secs(600))
            .expect("sign")
    }

    /// A caller without a token.
    pub fn anon(&self) -> Client {
        self.caller(None, None)
    }

    /// An operator (role `admin`).
    pub fn admin(&self) -> Client {
        self.caller(Some(self.issue("ops", Role::Admin)), None)
    }

    /// A caller with this token (a revoked, expired or forged one, say).
    pub fn with_token(&self, token: &str) -> Client {
        self.caller(Some(token.to_owned()), None)
    }

    /// A shopper known only by the id `user_id`: a token signed for it, no login, so
    /// the user need not exist (and no `UserRegistered` event is written).
    pub fn user(&self, user_id: &str) -> Client {
        self.caller(
            Some(self.issue(user_id, Role::User)),
            Some(user_id.to_owned()),
        )
    }

    /// A shopper logged in with the dev code `dev:<name>` (the app is in dev mode).
    pub async fn shopper(&self, name: &str) -> Client {
        let answer = self
            .anon()
            .post(
                "/api/v1/auth/wechat-login",
                &json!({"code": format!("dev:{name}")}),
            )
            .await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        let data = &answer.body["data"];
        self.caller(
            data["access_token"].as_str().map(str::to_owned),
            data["user"]["id"].as_str().map(str::to_owned),
        )
    }
}

impl Client {
    /// An anonymous caller of an ordo that is not a [`TestApp`] (processes behind nginx,
    /// say): `http` connects as this caller does, `base` is the URL paths are under.
    pub fn at(http: reqwest::Client, base: impl Into<String>) -> Client {
        Client {
            http,
            address: base.into(),
            token: None,
            user_id: None,
        }
    }

    /// The same caller (same connection) holding `token`.
    pub fn with_token(&self, token: &str) -> Client {
        Client {
            token: Some(token.to_owned()),
            ..self.clone()
        }
    }

    /// The same caller (same token) on another app instance: they share a secret.
    pub fn on(&self, app: &TestApp) -> Client {
        Client {
            http: app.client.clone(),
            address: app.address.clone(),
            ..self.clone()
        }
    }

    /// The bearer token, for what calls the API from outside this client (a fuzzer, a
    /// browser, a login link).
    pub fn token(&self) -> &str {
        self.token.as_deref().expect("a caller with a token")
    }

    /// The shopper's user id.
    pub fn id(&self) -> &str {
        self.user_id.as_deref().expect("a shopper")
    }

    /// The full URL of `path` on this caller's app.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub async fn get(&self, path: &str) -> Answer {
        self.send(self.request(Method::GET, path)).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> Answer {
        self.send(self.request(Method::POST, path).json(body)).await
    }

    /// A POST with an `Idempotency-Key`.
    pub async fn post_keyed(&self, path: &str, key: &str, body: &Value) -> Answer {
        self.send(
            self.request(Method::POST, path)
                .header("Idempotency-Key", key)
                .json(body),
        )
        .await
    }

    pub async fn put(&self, path: &str, body: &Value) -> Answer {
        self.send(self.request(Method::PUT, path).json(body)).await
    }

    pub async fn delete(&self, path: &str) -> Answer {
        self.send(self.request(Method::DELETE, path)).await
    }

    /// A `multipart/form-data` POST of `parts` (field name, file name, bytes).
    pub async fn upload(&self, path: &str, parts: &[(&str, &str, &[u8])]) -> Answer {
        let (content_type, body) = form(parts);
        self.send(
            self.request(Method::POST, path)
                .header("content-type", content_type)
                .body(body),
        )
        .await
    }

    /// A GET of something that is not JSON: status, headers and the bytes.
    pub async fn fetch(
        &self,
        path: &str,
        headers: &[(&str, &str)],
    ) -> (StatusCode, HeaderMap, Vec<u8>) {
        let mut request = self.request(Method::GET, path);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = self.send_raw(request).await;
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.expect("the body").to_vec();
        (status, headers, bytes)
    }

    /// A request to `path` carrying this caller's token, to shape before sending with
    /// [`Client::send`] (or [`Client::send_raw`] for the response itself).
    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        let request = self.http.request(method, self.url(path));
        match &self.token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    }

    /// Sends `request`: what came back, the body read as JSON.
    pub async fn send(&self, request: RequestBuilder) -> Answer {
        let response = self.send_raw(request).await;
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.json().await.unwrap_or(Value::Null);
        Answer {
            status,
            body,
            headers,
        }
    }

    /// Sends `request`: the response, its body unread (text, a stream).
    pub async fn send_raw(&self, request: RequestBuilder) -> Response {
        request.send().await.expect("the request reaches the app")
    }

    /// Places an order with these (product, quantity) lines, delivered to [`address`].
    pub async fn place_order(&self, lines: &[(Uuid, i64)]) -> Answer {
        let lines: Vec<Value> = lines
            .iter()
            .map(|(id, quantity)| json!({"product_id": id, "quantity": quantity}))
            .collect();
        self.post(
            "/api/v1/orders",
            &json!({"lines": lines, "address": address(), "remark": ""}),
        )
        .await
    }

    /// Cancels `order` (as its shopper, or as an operator).
    pub async fn cancel_order(&self, order: impl std::fmt::Display) -> Answer {
        self.post(&format!("/api/v1/orders/{order}/cancel"), &json!({}))
            .await
    }

    /// Creates a product (as an operator); its id.
    pub async fn create_product(&self, name: &str, price_cents: i64, initial_stock: i64) -> Uuid {
        let answer = self
            .post(
                "/api/v1/admin/products",
                &json!({"name": name, "description": "", "category": "test",
                        "price_cents": price_cents, "initial_stock": initial_stock}),
            )
            .await;
        assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.body);
        answer.body["data"]["id"]
            .as_str()
            .and_then(|id| id.parse().ok())
            .expect("product id")
    }
}

/// A `multipart/form-data` body of `parts` (field name, file name, bytes) and its
/// `Content-Type`, encoded by hand so a test can send any form, a hostile one included.
pub fn form(parts: &[(&str, &str, &[u8])]) -> (String, Vec<u8>) {
    const BOUNDARY: &str = "ordo-test-boundary-7d1f3a";
    let mut body = Vec::new();
    for (name, file_name, bytes) in parts {
        body.extend_from_slice(
            format!(
                "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"; \
                 filename=\"{file_name}\"\r\nContent-Type: image/png\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={BOUNDARY}"), body)
}
