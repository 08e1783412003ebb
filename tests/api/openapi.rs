//! The OpenAPI document describes every route of API.md, and /docs renders it offline.

use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::support::spawn_app;

/// Every operation of ../shared/API.md.
const CONTRACT: &[(&str, &str)] = &[
    ("post", "/api/v1/auth/wechat-login"),
    ("post", "/api/v1/auth/refresh"),
    ("post", "/api/v1/auth/logout"),
    ("get", "/api/v1/me"),
    ("put", "/api/v1/me"),
    ("get", "/api/v1/products"),
    ("get", "/api/v1/products/{id}"),
    ("post", "/api/v1/admin/products"),
    ("put", "/api/v1/admin/products/{id}"),
    ("post", "/api/v1/admin/products/{id}/stock"),
    ("post", "/api/v1/orders"),
    ("get", "/api/v1/orders"),
    ("get", "/api/v1/orders/{id}"),
    ("post", "/api/v1/orders/{id}/cancel"),
    ("post", "/api/v1/orders/{id}/confirm-receipt"),
    ("post", "/api/v1/admin/orders/{id}/ship"),
    ("post", "/api/v1/orders/{id}/pay"),
    ("post", "/api/v1/orders/{id}/payment-status"),
    ("get", "/api/v1/admin/reconciliations"),
    ("post", "/api/v1/admin/reconciliations"),
    ("get", "/api/v1/admin/reconciliations/days"),
    ("get", "/api/v1/admin/orders/{id}"),
    ("post", "/api/v1/admin/orders/{id}/shipping-upload/retry"),
    ("get", "/api/v1/admin/shipping-uploads"),
    ("get", "/api/v1/admin/delivery-companies"),
    ("get", "/api/v1/dev/wechat-calls"),
    ("post", "/api/v1/payments/wechat/notify"),
    ("post", "/api/v1/dev/orders/{id}/simulate-payment"),
    ("get", "/api/v1/admin/orders/{id}/history"),
    ("get", "/api/v1/admin/orders/{id}/state"),
    ("get", "/api/v1/admin/audit/export"),
    ("get", "/api/v1/admin/audit/verify"),
    ("get", "/api/v1/admin/projections"),
    ("post", "/api/v1/admin/projections/{name}/rebuild"),
    ("post", "/api/v1/admin/products/{id}/images"),
    ("delete", "/api/v1/admin/products/{id}/images"),
    ("get", "/media/{key}"),
];

async fn document() -> Value {
    let app = spawn_app().await;
    let (status, document) = app.anon().get("/openapi.json").await.into_parts();
    assert_eq!(status, StatusCode::OK);
    document
}

#[tokio::test]
async fn every_path_of_the_contract_is_documented() {
    let document = document().await;
    for (method, path) in CONTRACT {
        assert!(
            document["paths"][path][method].is_object(),
            "{method} {path} missing from /openapi.json"
        );
    }
}

#[tokio::test]
async fn every_operation_documents_its_errors_in_the_envelope() {
    let document = document().await;
    let paths = document["paths"].as_object().expect("paths");
    let error_ref = "#/components/schemas/ErrorBody";
    for (path, item) in paths {
        for (method, operation) in item.as_object().expect("path item") {
            let responses = operation["responses"].as_object().expect("responses");
            let success = responses.keys().filter(|s| s.starts_with('2')).count();
            assert_eq!(success, 1, "{method} {path}: one success answer");
            for status in ["429", "500", "503"] {
                assert!(responses.contains_key(status), "{method} {path}: {status}");
            }
            // Errors (4xx, 5xx): a 304 has no body.
            let errors = responses.iter().filter(|(s, _)| !s.starts_with(['2', '3']));
            for (status, response) in errors {
                let schema = &response["content"]["application/json"]["schema"];
                // WeChat Pay's notices are answered in WeChat Pay's own format.
                let notice_answer = path.ends_with("notify")
                    && schema["$ref"] == "#/components/schemas/NoticeAnswer";
                assert!(
                    schema["$ref"] == error_ref || notice_answer,
                    "{method} {path} {status} answers the error envelope"
                );
            }
            let authenticated = operation["security"].is_array();
            if authenticated {
                assert!(responses.contains_key("401"), "{method} {path}: 401");
            }
            if operation["requestBody"].is_object() {
                for status in ["400", "413", "422"] {
                    assert!(responses.contains_key(status), "{method} {path}: {status}");
                }
            }
            if method == "post" && authenticated {
                // Ignored where answers hold tokens (logins, the console's sign-in), and by
                // image uploads (idempotent by content): documented exactly where it works.
                let ignored = path.starts_with("/api/v1/auth/")
                    || path.starts_with("/api/v1/admin/console/")
                    || path.ends_with("/images");
                let documented = operation["parameters"]
                    .as_array()
                    .is_some_and(|p| p.iter().any(|p| p["name"] == "Idempotency-Key"));
                assert_eq!(documented, !ignored, "{method} {path}: Idempotency-Key");
            }
        }
    }
    assert_eq!(
        document["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    let description = document["info"]["description"].as_str().unwrap_or("");
    for code in ["40000", "40901", "40903", "42200", "50300"] {
        assert!(description.contains(code), "error code {code} documented");
    }
}

#[tokio::test]
async fn the_swagger_ui_is_served_from_ordo_itself() {
    let app = spawn_app().await;
    let page = app
        .anon()
        .request(Method::GET, "/docs/")
        .send()
        .await
        .expect("docs");
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.expect("html");
    assert!(html.contains("swagger-ui"), "{html}");
    // Its script and styles come from ordo, not a CDN: the page works offline.
    assert!(!html.contains("https://"), "no outside resources: {html}");
    for asset in [
        "swagger-ui.css",
        "swagger-ui-bundle.js",
        "swagger-initializer.js",
    ] {
        let response = app
            .anon()
            .request(Method::GET, &format!("/docs/{asset}"))
            .send()
            .await
            .expect("asset");
        assert_eq!(response.status(), StatusCode::OK, "{asset}");
        let body = response.text().await.expect("asset body");
        if asset == "swagger-initializer.js" {
            assert!(body.contains("/openapi.json"), "{body}");
        }
    }
}

/// The domain's value types are described by mirror schemas in the HTTP layer: their
/// properties must be exactly the fields the API sends.
#[tokio::test]
async fn the_domain_value_schemas_match_the_json_sent() {
    use aggregates::order::{Address, Refund, RefundKind, RefundStatus};
    let document = document().await;
    let refund = Refund {
        refund_no: String::new(),
        payment_id: String::new(),
        amount_cents: 1,
        payment_cents: 1,
        kind: RefundKind::Order,
        lines: Vec::new(),
        reason: String::new(),
        status: RefundStatus::Requested,
        requested_at: chrono::Utc::now(),
        settled_at: None,
        provider_refund_id: None,
        failure: None,
        // Sent only while a refund is stuck: set, so that it is compared.
        abnormal: Some(String::new()),
    };
    for (name, sent) in [
        ("Address", serde_json::to_value(Address::default())),
        ("Refund", serde_json::to_value(refund)),
    ] {
        let sent = sent.expect("json");
        let mut documented: Vec<&String> = document["components"]["schemas"][name]["properties"]
            .as_object()
            .unwrap_or_else(|| panic!("{name} has a schema"))
            .keys()
            .collect();
        let mut fields: Vec<&String> = sent.as_object().expect("an object").keys().collect();
        documented.sort();
        fields.sort();
        assert_eq!(documented, fields, "{name}");
    }
}
