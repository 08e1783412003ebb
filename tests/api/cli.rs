//! The CLI beside the server, as an operator meets it: what it says is true, and it says
//! it once.

use crate::support::{TestApp, eventually, fresh_database, spawn_app_on};

fn status(options: &sqlx::postgres::PgConnectOptions) -> String {
    let output = TestApp::cli(options, &["projections", "status"]);
    assert!(output.status.success(), "{output:?}");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[tokio::test]
async fn projections_status_says_running_only_while_a_server_runs_them() {
    let (pool, options) = fresh_database().await;
    let app = spawn_app_on(pool).await;
    let running = eventually("the projector marks itself running", || async {
        let printed = status(&options);
        printed.contains("running").then_some(printed)
    })
    .await;
    assert!(!running.contains("stopped"), "{running}");

    drop(app);
    let stopped = eventually("the status notices the server stopped", || async {
        let printed = status(&options);
        printed.contains("stopped").then_some(printed)
    })
    .await;
    for name in ["catalog", "daily_sales", "orders"] {
        let line = stopped
            .lines()
            .find(|line| line.starts_with(name))
            .unwrap_or_else(|| panic!("{name} missing: {stopped}"));
        assert!(line.contains("stopped"), "{line}");
    }
}

#[tokio::test]
async fn commands_print_their_answer_without_log_noise_and_an_export_says_what_it_wrote() {
    let (pool, options) = fresh_database().await;
    let app = spawn_app_on(pool).await;
    let product = app.admin().create_product("tea", 100, 5).await;
    let (status, _) = app
        .user("mei")
        .place_order(&[(product, 1)])
        .await
        .into_parts();
    assert!(status.is_success());
    let file = std::env::temp_dir().join(format!("ordo-export-{}.ndjson", uuid::Uuid::new_v4()));

    let output = TestApp::cli(
        &options,
        &["audit", "export", "-o", file.to_str().expect("a path")],
    );

    let printed = String::from_utf8_lossy(&output.stdout);
    let logged = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{printed}{logged}");
    let lines = std::fs::read_to_string(&file)
        .expect("the export")
        .lines()
        .count();
    let _ = std::fs::remove_file(&file);
    assert!(lines >= 3, "{lines} events exported");
    assert_eq!(
        printed.trim(),
        format!("exported {lines} events to {}", file.display())
    );
    assert!(!logged.contains("INFO"), "info logs without -v: {logged}");
    assert!(
        !logged.contains('\u{1b}'),
        "colour codes when not a terminal: {logged}"
    );
}

#[tokio::test]
async fn a_secret_can_come_from_a_file_as_container_platforms_provide_it() {
    let app = spawn_app_on(fresh_database().await.0).await;
    let file = std::env::temp_dir().join(format!("ordo-jwt-{}", uuid::Uuid::new_v4()));
    std::fs::write(&file, format!("{}\n", TestApp::secret())).expect("write the secret");

    let output = std::process::Command::new(env!("CARGO_BIN_EXE_ordo"))
        .args(["token", "--admin", "--sub", "ops"])
        .env_remove("ORDO_JWT_SECRET")
        .env("ORDO_JWT_SECRET_FILE", &file)
        .output()
        .expect("run ordo");
    let _ = std::fs::remove_file(&file);
    assert!(output.status.success(), "{output:?}");
    let token = String::from_utf8_lossy(&output.stdout).trim().to_owned();

    let answer = app
        .with_token(&token)
        .get("/api/v1/admin/projections")
        .await;
    assert_eq!(answer.status, reqwest::StatusCode::OK, "{}", answer.body);
}
