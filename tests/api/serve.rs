//! `ordo serve` as a user runs it: the real binary, its embedded PostgreSQL, signals.

use std::net::TcpListener;
use std::path::Path;
use std::process::Command;

use ordo::event_store::{
    EventData, EventMetadata, EventStore, FeedPosition, StreamAppend, StreamId,
};
use sqlx::postgres::PgConnectOptions;

use crate::support::{free_port, start_ordo, stop_ordo, wait_until_healthy};

/// Connection options for the embedded cluster of a running ordo: its port is in the
/// settings ordo writes, its password in the data directory.
fn embedded_options(data_dir: &Path) -> PgConnectOptions {
    let conf =
        std::fs::read_to_string(data_dir.join("postgres/data/ordo.conf")).expect("ordo.conf");
    let port = conf
        .lines()
        .find_map(|line| line.strip_prefix("port = "))
        .and_then(|port| port.trim().parse().ok())
        .expect("port in ordo.conf");
    let password = std::fs::read_to_string(data_dir.join("postgres-password")).expect("password");
    PgConnectOptions::new()
        .host("127.0.0.1")
        .port(port)
        .username("ordo")
        .password(password.trim())
        .database("ordo")
}

fn marker() -> StreamAppend {
    StreamAppend {
        stream: StreamId::new("Marker", "restart"),
        expected_sequence: 0,
        events: vec![EventData {
            event_type: "MarkerSet".into(),
            event_version: "1".into(),
            payload: serde_json::json!({"kept": true}),
            metadata: None,
        }],
    }
}

#[tokio::test]
async fn ordo_serve_in_an_empty_directory_starts_stops_cleanly_and_keeps_its_data() {
    // Under the temp dir and open to others: the `postgres` system user must be able to
    // enter it when the tests run as root. Removed when dropped, a failed run's too.
    let dir = tempfile::Builder::new()
        .prefix("ordo-serve-test-")
        .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .tempdir()
        .expect("create the directory");
    let data_dir = dir.path().join("data");

    let port = free_port();
    let mut first = start_ordo(&data_dir, port);
    wait_until_healthy(port, &mut first).await;
    let store = EventStore::new(
        sqlx::PgPool::connect_with(embedded_options(&data_dir))
            .await
            .expect("connect"),
    );
    store
        .append(&[marker()], &EventMetadata::default())
        .await
        .expect("write a marker event");
    store.pool().close().await;
    stop_ordo(first);
    assert!(
        !data_dir.join("postgres/data/postmaster.pid").exists(),
        "the embedded PostgreSQL was stopped"
    );

    let port = free_port();
    let mut second = start_ordo(&data_dir, port);
    wait_until_healthy(port, &mut second).await;
    let store = EventStore::new(
        sqlx::PgPool::connect_with(embedded_options(&data_dir))
            .await
            .expect("connect"),
    );
    let events = store
        .read_feed(FeedPosition::START, 10)
        .await
        .expect("read the feed");
    store.pool().close().await;
    stop_ordo(second);

    assert_eq!(
        events.len(),
        1,
        "the event written before the restart is still there"
    );
    let payload: serde_json::Value =
        serde_json::from_str(&events[0].payload).expect("the payload is JSON");
    assert_eq!(payload, serde_json::json!({"kept": true}));
}

/// `ordo serve` on `listen` with the embedded database in `data_dir`, no dev mode or
/// secret from the environment, run until it exits (these tests expect a refusal).
fn serve_until_it_stops(listen: &str, data_dir: &Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_ordo"))
        .args(["serve", "--listen", listen])
        .arg("--data-dir")
        .arg(data_dir)
        .env_remove("DATABASE_URL")
        .env_remove("ORDO_DEV")
        .env_remove("ORDO_JWT_SECRET")
        .output()
        .expect("run ordo")
}

#[test]
fn ordo_serve_on_a_busy_port_says_so_at_once_and_creates_nothing() {
    let taken = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().expect("addr").port();
    let data_dir = std::env::temp_dir().join(format!("ordo-busy-{}", uuid::Uuid::new_v4()));

    let output = serve_until_it_stops(&format!("127.0.0.1:{port}"), &data_dir);

    let said = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(
        said.contains(&format!("cannot listen on 127.0.0.1:{port}"))
            && said.contains("--listen or ORDO_LISTEN"),
        "{said}"
    );
    assert!(
        !data_dir.exists(),
        "the data dir was created before the port was checked"
    );
}

#[test]
fn a_data_dir_postgres_cannot_reach_is_named_and_nothing_is_left_behind() {
    // Only root runs PostgreSQL as another user (`postgres`), who may not enter root's
    // home; as an ordinary user the server runs as that user and this cannot happen.
    if !nix::unistd::geteuid().is_root() {
        return;
    }
    let parent = std::env::temp_dir().join(format!("ordo-closed-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir(&parent).expect("make a closed directory");
    std::fs::set_permissions(&parent, std::os::unix::fs::PermissionsExt::from_mode(0o700))
        .expect("close it");
    let data_dir = parent.join("data");

    let output = serve_until_it_stops(&format!("127.0.0.1:{}", free_port()), &data_dir);

    let said = String::from_utf8_lossy(&output.stderr);
    let left: Vec<_> = std::fs::read_dir(&parent)
        .expect("list")
        .flatten()
        .collect();
    let _ = std::fs::remove_dir_all(&parent);
    assert!(!output.status.success());
    assert!(
        said.contains(&format!("cannot enter {}", parent.display())),
        "{said}"
    );
    assert!(left.is_empty(), "left behind: {left:?}");
}

#[test]
fn a_public_address_without_production_settings_is_refused_naming_them() {
    let data_dir = std::env::temp_dir().join(format!("ordo-public-{}", uuid::Uuid::new_v4()));

    let output = serve_until_it_stops(&format!("0.0.0.0:{}", free_port()), &data_dir);

    let said = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(said.contains("production mode"), "{said}");
    for name in [
        "ORDO_JWT_SECRET",
        "ORDO_WECHAT_APP_ID",
        "ORDO_WECHATPAY_MCH_ID",
    ] {
        assert!(said.contains(name), "{name} not named: {said}");
    }
    assert!(
        !data_dir.exists(),
        "nothing is made for a server that does not start"
    );
}
