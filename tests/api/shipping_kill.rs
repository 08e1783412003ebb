//! A real `ordo serve` process killed (SIGKILL) after an order shipped and before its
//! shipping info reached WeChat: the upload is made by the next process, once.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use ordo::auth::{JwtKeys, Role};
use ordo::secret::Secret;
use reqwest::StatusCode;
use serde_json::json;
use uuid::Uuid;
use wiremock::ResponseTemplate;

use crate::support::wechat::{APP_ID, FakeWeChat};
use crate::support::{Client, database_url, eventually, free_port, fresh_database};

const JWT_SECRET: &str = "a secret for the shipping kill test, 32+ bytes";

/// `ordo serve` in dev mode on the test's database, its WeChat the fake.
fn serve(database: &str, wechat: &FakeWeChat, port: u16, dir: &std::path::Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_ordo"))
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .arg("--data-dir")
        .arg(dir)
        .env("DATABASE_URL", database_url(database))
        .env("ORDO_DEV", "true")
        .env("ORDO_JWT_SECRET", JWT_SECRET)
        .env("ORDO_WECHAT_BASE_URL", wechat.server.uri())
        .env("ORDO_WECHAT_APP_ID", APP_ID)
        .env("ORDO_WECHAT_APP_SECRET", "the-app-secret")
        .env("ORDO_RATE_LIMIT_IP", "off")
        .env("ORDO_RATE_LIMIT_USER", "off")
        .env_remove("ORDO_DATABASE_URL")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn ordo")
}

/// Until the process on `port` answers `/healthz`.
async fn healthy(port: u16) {
    let http = reqwest::Client::new();
    eventually("ordo answers", || async {
        let answer = http
            .get(format!("http://127.0.0.1:{port}/healthz"))
            .send()
            .await;
        answer
            .is_ok_and(|answer| answer.status() == StatusCode::OK)
            .then_some(())
    })
    .await;
}

#[tokio::test]
async fn an_order_shipped_before_a_kill_is_uploaded_by_the_next_process_once() {
    let wechat = FakeWeChat::start().await;
    // WeChat is away while the order ships: the upload waits in the outbox.
    wechat
        .answer_uploads(json!({"errcode": -1, "errmsg": "system busy"}))
        .await;
    let (pool, options) = fresh_database().await;
    let database = options.get_database().expect("a database name").to_owned();
    let dir = tempfile::tempdir().expect("a data directory");

    let port = free_port();
    let mut first = serve(&database, &wechat, port, dir.path());
    let http = ordo::tls::http_client().build().expect("a client");
    let anon = Client::at(http, format!("http://127.0.0.1:{port}"));
    healthy(port).await;
    let admin_token = JwtKeys::new(&Secret::new(JWT_SECRET))
        .issue("ops", Role::Admin, Duration::from_secs(600))
        .expect("an operator's token");
    let admin = anon.with_token(&admin_token);
    let tea = admin.create_product("Oolong", 4_800, 5).await;
    let login = anon
        .post("/api/v1/auth/wechat-login", &json!({"code": "dev:mei"}))
        .await;
    assert_eq!(login.status, StatusCode::OK, "{}", login.body);
    let mei = anon.with_token(
        login.body["data"]["access_token"]
            .as_str()
            .expect("a token"),
    );
    let (status, placed) = mei.place_order(&[(tea, 1)]).await.into_parts();
    assert_eq!(status, StatusCode::CREATED, "{placed}");
    let order: Uuid = placed["data"]["id"]
        .as_str()
        .and_then(|id| id.parse().ok())
        .expect("an id");
    let (status, paid) = mei
        .post(
            &format!("/api/v1/dev/orders/{order}/simulate-payment"),
            &json!({}),
        )
        .await
        .into_parts();
    assert_eq!(status, StatusCode::OK, "{paid}");
    let (status, shipped) = admin
        .post(
            &format!("/api/v1/admin/orders/{order}/ship"),
            &json!({"express_company": "ZTO", "tracking_no": "ZT-KILL"}),
        )
        .await
        .into_parts();
    assert_eq!(status, StatusCode::OK, "{shipped}");
    eventually("WeChat refused the first attempt", || async {
        let tried: Option<i32> = sqlx::query_scalar(
            "SELECT attempts FROM platform_calls WHERE order_id = $1 AND last_error IS NOT NULL",
        )
        .bind(order)
        .fetch_optional(&pool)
        .await
        .expect("the call");
        tried.filter(|attempts| *attempts >= 1)
    })
    .await;

    kill(
        Pid::from_raw(i32::try_from(first.id()).expect("pid")),
        Signal::SIGKILL,
    )
    .expect("SIGKILL");
    first.wait().expect("the killed process");
    wechat
        .answer_next_upload(
            ResponseTemplate::new(200).set_body_json(json!({"errcode": 0, "errmsg": "ok"})),
        )
        .await;

    let port = free_port();
    let mut second = serve(&database, &wechat, port, dir.path());
    eventually("the next process uploads it", || async {
        let state: Option<String> =
            sqlx::query_scalar("SELECT state FROM platform_calls WHERE order_id = $1")
                .bind(order)
                .fetch_optional(&pool)
                .await
                .expect("the call");
        (state.as_deref() == Some("done")).then_some(())
    })
    .await;
    // Refused before the kill (at least once), made once after it, and never again.
    let made = wechat.uploads().await.len();
    assert!(made >= 2, "{made} uploads");
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    assert_eq!(
        wechat.uploads().await.len(),
        made,
        "nothing sent after it was made"
    );
    assert!(
        wechat
            .uploads()
            .await
            .iter()
            .all(|(_, body)| body["shipping_list"][0]["tracking_no"] == "ZT-KILL")
    );
    kill(
        Pid::from_raw(i32::try_from(second.id()).expect("pid")),
        Signal::SIGTERM,
    )
    .expect("SIGTERM");
    second.wait().expect("the second process");
}
