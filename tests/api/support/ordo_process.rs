//! The `ordo` binary run as a user runs it: `ordo serve` on a data directory, waited
//! for, stopped with a signal.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// A port free now, for a server to bind a moment later.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// The command running `ordo serve` on `127.0.0.1:port` with the embedded database in
/// `data_dir`, no dev mode or secret from the environment.
pub fn serve_command(data_dir: &Path, port: u16) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_ordo"));
    command
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .arg("--data-dir")
        .arg(data_dir)
        .env_remove("DATABASE_URL")
        .env_remove("ORDO_DEV")
        .env_remove("ORDO_JWT_SECRET")
        .stdin(Stdio::null())
        .stdout(Stdio::null());
    command
}

/// `ordo serve` (see [`serve_command`]), its log in the test's captured output: shown
/// when the test fails, not in every `cargo test` run (an inherited stderr would bypass
/// the test harness's capture).
pub fn start_ordo(data_dir: &Path, port: u16) -> Child {
    let mut child = serve_command(data_dir, port)
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn ordo");
    let log = child.stderr.take().expect("the server's stderr");
    // A thread the test spawns writes into that test's captured output.
    std::thread::spawn(move || {
        for line in BufReader::new(log).lines().map_while(Result::ok) {
            eprintln!("{line}");
        }
    });
    child
}

/// Waits until the server answers `/healthz` (panics if it exits first).
pub async fn wait_until_healthy(port: u16, child: &mut Child) {
    let deadline = Instant::now() + Duration::from_secs(120);
    let client = super::test_app::client();
    loop {
        if let Ok(response) = client
            .get(format!("http://127.0.0.1:{port}/healthz"))
            .send()
            .await
        {
            assert_eq!(response.status(), 200);
            return;
        }
        assert!(
            child.try_wait().expect("poll").is_none(),
            "ordo exited before serving"
        );
        assert!(
            Instant::now() < deadline,
            "ordo did not answer /healthz in time"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// SIGTERM, then waits (at most 60 s) for a clean exit.
pub fn stop_ordo(mut child: Child) {
    kill(
        Pid::from_raw(i32::try_from(child.id()).expect("pid")),
        Signal::SIGTERM,
    )
    .expect("SIGTERM");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(status) = child.try_wait().expect("poll") {
            assert!(status.success(), "ordo exited with {status}");
            return;
        }
        assert!(Instant::now() < deadline, "ordo did not stop after SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    }
}
