//! The contract, tried by a property-based fuzzer: schemathesis reads `/openapi.json` and
//! sends every operation requests the document calls valid and requests it calls
//! invalid, with all its checks. Any disagreement fails the test: a valid request
//! refused, an invalid one accepted, an undocumented status, an answer that does not
//! match its schema, a server error. It runs as a shopper and as an operator.
//!
//! Settings and hooks: `tests/fuzz/`. Needs `schemathesis` on the PATH (`.ci/run`
//! installs it).

use std::path::Path;
use std::process::Output;
use std::time::Duration;

use ordo::media::MediaStore;
use ordo::rate_limit::RateLimits;
use ordo::secret::Secret;
use ordo::state::AppSettings;
use ordo::wechat::WeChatConfig;
use reqwest::StatusCode;
use serde_json::json;
use uuid::Uuid;
use wiremock::matchers::{any, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::{Client, FakeWeChatPay, TestApp, address, spawn_app_with};

/// The version `.ci/run` installs; the one this test was written against.
const SCHEMATHESIS: &str = "schemathesis==4.32.5";
/// Examples per operation and phase unless `ORDO_FUZZ_EXAMPLES` sets more: about half a
/// minute per role on a debug build.
const MAX_EXAMPLES: u32 = 40;
/// The seed unless `ORDO_FUZZ_SEED` sets another: a CI failure can be replayed exactly.
const DEFAULT_SEED: u64 = 20261125;
/// One product per line an order may hold, so the fuzzer's orders name real products.
const PRODUCTS: usize = aggregates::order::MAX_LINES;

/// A dev-mode app whose WeChat (wiremock) hands out access tokens and refuses every
/// code (login or phone), as WeChat refuses codes it never issued, and whose WeChat Pay is
/// the fake the payment tests use, with rate limits off: the fuzzer sends thousands of
/// requests. Images go to files in `media`.
async fn app_under_fuzz(
    wechat: &MockServer,
    pay: &FakeWeChatPay,
    media: &std::path::Path,
) -> TestApp {
    Mock::given(path("/cgi-bin/stable_token"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"access_token": "fuzz-token", "expires_in": 7200})),
        )
        .with_priority(1)
        .mount(wechat)
        .await;
    Mock::given(any())
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"errcode": 40029, "errmsg": "invalid code"})),
        )
        .mount(wechat)
        .await;
    spawn_app_with(AppSettings {
        dev_mode: true,
        wechat: WeChatConfig {
            base_url: wechat.uri(),
            app_id: Some("wx-fuzz".into()),
            app_secret: Some(Secret::new("fuzz-secret")),
            timeout: Duration::from_secs(2),
            ..WeChatConfig::default()
        },
        wechat_pay: Some(pay.config()),
        media: Some(MediaStore::local(media).expect("a media directory")),
        rate_limits: RateLimits {
            per_ip: None,
            per_user: None,
            login_per_ip: None,
        },
        ..AppSettings::default()
    })
    .await
}

/// Runs schemathesis against `app` as `caller`, in `workdir`; its output.
async fn schemathesis(
    app: &TestApp,
    workdir: &Path,
    config: &Path,
    caller: &Client,
    products: &str,
) -> Output {
    tokio::process::Command::new("schemathesis")
        .arg("--config-file")
        .arg(config)
        .args(["run", &format!("{}/openapi.json", app.address)])
        .args(["--checks", "all", "--no-color"])
        // Logging out, or trading the token for a console's, ends the token the rest of the
        // run uses; tests/api/auth.rs and operator_tokens.rs have them.
        .args(["--exclude-path", "/api/v1/auth/logout"])
        .args(["--exclude-path", "/api/v1/admin/console/sign-in"])
        .env("ORDO_FUZZ_TOKEN", caller.token())
        .env("ORDO_FUZZ_PRODUCTS", products)
        // Hypothesis keeps its example database (`.hypothesis/`) where it runs: in the
        // test's own temporary directory, removed with it.
        .current_dir(workdir)
        .kill_on_drop(true)
        .output()
        .await
        .unwrap_or_else(|err| {
            panic!(
                "cannot run schemathesis ({err}); install it: python3 -m pip install {SCHEMATHESIS}"
            )
        })
}

#[tokio::test]
async fn a_fuzzer_finds_no_disagreement_between_the_document_and_the_server() {
    let wechat = MockServer::start().await;
    let pay = FakeWeChatPay::start().await;
    let media = tempfile::tempdir().expect("a media directory");
    let app = app_under_fuzz(&wechat, &pay, media.path()).await;
    let mut products = Vec::with_capacity(PRODUCTS);
    for i in 0..PRODUCTS {
        products.push(
            app.admin()
                .create_product(&format!("fuzz {i}"), 100, 1_000_000)
                .await,
        );
    }
    let shopper = app.shopper("fuzz").await;
    let (status, order) = shopper
        .post(
            "/api/v1/orders",
            &json!({"lines": [{"product_id": products[0], "quantity": 1}],
                    "address": address(), "remark": ""}),
        )
        .await
        .into_parts();
    assert_eq!(status, StatusCode::CREATED, "{order}");

    let seed = std::env::var("ORDO_FUZZ_SEED").unwrap_or_else(|_| DEFAULT_SEED.to_string());
    let examples = std::env::var("ORDO_FUZZ_EXAMPLES").unwrap_or_else(|_| MAX_EXAMPLES.to_string());
    let template = include_str!("../fuzz/schemathesis.toml");
    let config = template
        .replace(
            "{hooks}",
            concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fuzz/hooks.py"),
        )
        .replace("{seed}", &seed)
        .replace("{max_examples}", &examples)
        .replace("{product}", &products[0].to_string())
        .replace("{order}", order["data"]["id"].as_str().expect("order id"));
    let workdir = tempfile::tempdir().expect("a directory for the fuzzer");
    let config_path = workdir.path().join("schemathesis.toml");
    std::fs::write(&config_path, config).expect("write the fuzzer's settings");
    let products = products
        .iter()
        .map(Uuid::to_string)
        .collect::<Vec<_>>()
        .join(",");

    let mut failures = Vec::new();
    for (role, caller) in [("shopper", shopper), ("operator", app.admin())] {
        let output = schemathesis(&app, workdir.path(), &config_path, &caller, &products).await;
        if !output.status.success() {
            failures.push(format!(
                "as {role} (seed {seed}):\n{}\n{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "schemathesis found disagreements between /openapi.json and the server:\n{}",
        failures.join("\n\n")
    );
}
