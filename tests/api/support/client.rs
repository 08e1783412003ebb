//! Callers of the API by role: anonymous, a shopper (logged in as a real session), an
//! operator. Each request answers status, JSON body and headers, so a test reads like
//! what a client sees.

use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};

use super::TestApp;

/// One caller of one app.
pub struct Client<'a> {
    app: &'a TestApp,
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

impl TestApp {
    /// A caller without a token.
    pub fn anon(&self) -> Client<'_> {
        Client {
            app: self,
            token: None,
            user_id: None,
        }
    }

    /// An operator (role `admin`).
    pub fn admin(&self) -> Client<'_> {
        Client {
            app: self,
            token: Some(self.admin_token()),
            user_id: None,
        }
    }

    /// A caller with this token (a revoked, expired or forged one, say).
    pub fn with_token(&self, token: &str) -> Client<'_> {
        Client {
            app: self,
            token: Some(token.to_owned()),
            user_id: None,
        }
    }

    /// A shopper logged in with the dev code `dev:<name>` (the app is in dev mode).
    pub async fn shopper(&self, name: &str) -> Client<'_> {
        let answer = self
            .anon()
            .post(
                "/api/v1/auth/wechat-login",
                &json!({"code": format!("dev:{name}")}),
            )
            .await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        let data = &answer.body["data"];
        Client {
            app: self,
            token: data["access_token"].as_str().map(str::to_owned),
            user_id: data["user"]["id"].as_str().map(str::to_owned),
        }
    }
}

impl Client<'_> {
    pub async fn get(&self, path: &str) -> Answer {
        self.send(self.request(reqwest::Method::GET, path)).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> Answer {
        self.send(self.request(reqwest::Method::POST, path).json(body))
            .await
    }

    /// A POST with an `Idempotency-Key`.
    pub async fn post_keyed(&self, path: &str, key: &str, body: &Value) -> Answer {
        self.send(
            self.request(reqwest::Method::POST, path)
                .header("Idempotency-Key", key)
                .json(body),
        )
        .await
    }

    pub async fn put(&self, path: &str, body: &Value) -> Answer {
        self.send(self.request(reqwest::Method::PUT, path).json(body))
            .await
    }

    pub async fn delete(&self, path: &str) -> Answer {
        self.send(self.request(reqwest::Method::DELETE, path)).await
    }

    /// A `multipart/form-data` POST of `parts` (field name, file name, bytes).
    pub async fn upload(&self, path: &str, parts: &[(&str, &str, &[u8])]) -> Answer {
        let (content_type, body) = form(parts);
        self.send(
            self.request(reqwest::Method::POST, path)
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
        let mut request = self.request(reqwest::Method::GET, path);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await.expect("the request reaches the app");
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.expect("the body").to_vec();
        (status, headers, bytes)
    }

    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let request = self
            .app
            .client
            .request(method, format!("{}{path}", self.app.address));
        match &self.token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> Answer {
        let response = request.send().await.expect("the request reaches the app");
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.json().await.unwrap_or(Value::Null);
        Answer {
            status,
            body,
            headers,
        }
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
