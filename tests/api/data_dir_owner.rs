//! One data dir, one owner: a second `ordo serve` on the data dir of a running one
//! refuses to start, naming it, and leaves its PostgreSQL alone; the PostgreSQL of an
//! ordo that was killed is stopped and started again by the next one.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::support::{free_port, start_ordo, stop_ordo, wait_until_healthy};

/// A data dir of the test's own, under the temp dir (the `postgres` system user must be
/// able to enter it when the tests run as root).
fn data_dir(name: &str) -> (PathBuf, PathBuf) {
    let dir = std::env::temp_dir().join(format!("ordo-{name}-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).expect("create the directory");
    let data = dir.join("data");
    (dir, data)
}

/// `ordo serve` on `data_dir` run until it exits: its status and what it said. One still
/// serving after 60 s fails the test (it is killed first).
fn serve_until_it_exits(data_dir: &Path, port: u16) -> (ExitStatus, String) {
    let mut child = crate::support::serve_command(data_dir, port)
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn ordo");
    let mut stderr = child.stderr.take().expect("stderr");
    let said = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().expect("poll") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "the second ordo kept running: {}",
                said.join().unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    (status, said.join().expect("stderr reader"))
}

async fn readyz(port: u16) -> reqwest::StatusCode {
    reqwest::get(format!("http://127.0.0.1:{port}/readyz"))
        .await
        .expect("readyz")
        .status()
}

/// The pid of the PostgreSQL running on `data_dir` (the first line of its pid file).
fn postmaster_pid(data_dir: &Path) -> String {
    std::fs::read_to_string(data_dir.join("postgres/data/postmaster.pid"))
        .expect("postmaster.pid")
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn a_second_server_on_a_live_data_dir_refuses_naming_the_first_which_keeps_serving() {
    let (dir, data) = data_dir("owner");
    let port = free_port();
    let mut first = start_ordo(&data, port);
    wait_until_healthy(port, &mut first).await;
    let database = postmaster_pid(&data);

    let data_for_second = data.clone();
    let (status, said) =
        tokio::task::spawn_blocking(move || serve_until_it_exits(&data_for_second, free_port()))
            .await
            .expect("task");

    let first_pid = first.id();
    assert_eq!(readyz(port).await, reqwest::StatusCode::OK, "{said}");
    assert_eq!(postmaster_pid(&data), database, "the same PostgreSQL runs");
    stop_ordo(first);
    let _ = std::fs::remove_dir_all(&dir);
    assert!(!status.success(), "{said}");
    assert!(
        said.contains(&format!("pid {first_pid}"))
            && said.contains(&format!("ordo serve on 127.0.0.1:{port}")),
        "the first server is not named: {said}"
    );
    assert!(
        !said.contains("stopping a PostgreSQL left running"),
        "{said}"
    );
}

#[tokio::test]
async fn the_postgresql_of_a_killed_ordo_is_stopped_and_started_again_by_the_next() {
    let (dir, data) = data_dir("killed");
    let port = free_port();
    let mut first = start_ordo(&data, port);
    wait_until_healthy(port, &mut first).await;
    let left_running = postmaster_pid(&data);
    kill(
        Pid::from_raw(i32::try_from(first.id()).expect("pid")),
        Signal::SIGKILL,
    )
    .expect("SIGKILL");
    first.wait().expect("reap the killed ordo");
    assert_eq!(
        postmaster_pid(&data),
        left_running,
        "its PostgreSQL runs on"
    );

    let port = free_port();
    let mut second = start_ordo(&data, port);
    wait_until_healthy(port, &mut second).await;

    let ready = readyz(port).await;
    let now_running = postmaster_pid(&data);
    stop_ordo(second);
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(ready, reqwest::StatusCode::OK);
    assert_ne!(
        now_running, left_running,
        "the leftover PostgreSQL was replaced by one the second ordo started"
    );
}

#[tokio::test]
async fn a_command_beside_a_running_server_uses_its_postgresql_and_sees_it_running() {
    let (dir, data) = data_dir("beside");
    let port = free_port();
    let mut server = start_ordo(&data, port);
    wait_until_healthy(port, &mut server).await;
    let database = postmaster_pid(&data);

    // The server's projector takes its running lock as it starts listening, a moment
    // after the server answers: asked before, the command says "stopped" (truly).
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        let data_for_command = data.clone();
        let status = tokio::task::spawn_blocking(move || {
            Command::new(env!("CARGO_BIN_EXE_ordo"))
                .args(["projections", "status", "--data-dir"])
                .arg(&data_for_command)
                .env_remove("DATABASE_URL")
                .output()
                .expect("run ordo projections status")
        })
        .await
        .expect("task");
        let said = String::from_utf8_lossy(&status.stdout);
        if !status.status.success() || !said.contains(" stopped ") || Instant::now() > deadline {
            break status;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };

    let ready = readyz(port).await;
    let still_running = postmaster_pid(&data);
    stop_ordo(server);
    let _ = std::fs::remove_dir_all(&dir);
    let said = String::from_utf8_lossy(&status.stdout);
    assert!(
        status.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&status.stderr)
    );
    let rows: Vec<&str> = said
        .lines()
        .skip(1)
        .filter(|line| !line.starts_with(' '))
        .collect();
    assert!(!rows.is_empty(), "{said}");
    assert!(
        rows.iter()
            .all(|row| row.split_whitespace().nth(2) == Some("running")),
        "{said}"
    );
    assert_eq!(ready, reqwest::StatusCode::OK);
    assert_eq!(still_running, database, "the server's PostgreSQL runs on");
}
