//! What each CLI command does.

mod audit;

pub use audit::audit;

use anyhow::Context;

use crate::app::{AppSettings, AppState, Application};
use crate::auth::{JwtKeys, Role};
use indicatif::{ProgressBar, ProgressStyle};
use projections::Projector;
use projections::rebuild::rebuild;

use crate::cli::{GlobalArgs, ProjectionsCommand, ServeArgs, TokenArgs};
use crate::config::Config;
use crate::database::Database;
use crate::write::WriteSettings;

/// `ordo serve`: run the server until Ctrl-C or SIGTERM, then stop cleanly.
pub async fn serve(global: &GlobalArgs, args: &ServeArgs) -> anyhow::Result<()> {
    let config = Config::resolve(global)?;
    let database = Database::open(&config).await?;
    let state = AppState::new(
        database.pool.clone(),
        JwtKeys::new(&config.jwt_secret),
        AppSettings {
            dev_mode: config.dev_mode,
            dev_login: config.dev_login,
            write: WriteSettings {
                payment_timeout: args.payment_timeout,
                ..WriteSettings::default()
            },
            wechat: config.wechat.clone(),
            wechat_pay: config.wechat_pay()?,
            rate_limits: config.rate_limits,
            cors_origins: config.cors_origins.clone(),
        },
    );
    let served = match Application::build(state, args.listen).await {
        Ok(app) => {
            let addr = app.local_addr()?;
            tracing::info!(%addr, dev_mode = config.dev_mode, "ordo is listening on http://{addr}");
            app.run_until_stopped(shutdown_signal()).await
        }
        Err(err) => Err(err),
    };
    // Stop the embedded database whatever happened to the server.
    let closed = database.close().await;
    served.with_context(|| format!("serving on {}", args.listen))?;
    closed?;
    tracing::info!("ordo stopped");
    Ok(())
}

/// `ordo migrate`: apply pending migrations and exit.
pub async fn migrate(global: &GlobalArgs) -> anyhow::Result<()> {
    let config = Config::resolve(global)?;
    let database = Database::open_beside_server(&config).await?;
    println!("migrations applied");
    database.close().await
}

/// `ordo projections status|rebuild`.
pub async fn projections(global: &GlobalArgs, command: &ProjectionsCommand) -> anyhow::Result<()> {
    let config = Config::resolve(global)?;
    let database = Database::open_beside_server(&config).await?;
    let projector = Projector::new(database.pool.clone(), projections::all());
    projector.register().await?;
    let result = match command {
        ProjectionsCommand::Status => print_status(&projector).await,
        ProjectionsCommand::Rebuild { name, all } => {
            let names: Vec<String> = if *all {
                projector
                    .projections()
                    .iter()
                    .map(|p| p.name().to_owned())
                    .collect()
            } else {
                name.iter().cloned().collect()
            };
            rebuild_with_progress(&projector, &names).await
        }
    };
    database.close().await?;
    result
}

async fn print_status(projector: &Projector) -> anyhow::Result<()> {
    println!(
        "{:<14} {:>7} {:<11} {:>10} {:>10} {:>9}",
        "PROJECTION", "VERSION", "STATE", "POSITION", "LAG", "LAG (s)"
    );
    for status in projections::status::all(projector).await? {
        println!(
            "{:<14} {:>7} {:<11} {:>10} {:>10} {:>9.1}",
            status.name,
            status.version,
            status.state,
            status.position,
            status.lag_events,
            status.lag_seconds
        );
        if let Some(error) = status.error {
            println!("  error: {error}");
        }
        if let Some(position) = status.rebuild_position {
            println!("  rebuild at {position} of {}", status.head);
        }
    }
    Ok(())
}

async fn rebuild_with_progress(projector: &Projector, names: &[String]) -> anyhow::Result<()> {
    for name in names {
        let bar = ProgressBar::new(0).with_style(
            ProgressStyle::with_template(
                "{prefix:>12} [{bar:40}] {pos}/{len} positions  {per_sec}  ETA {eta}",
            )?
            .progress_chars("=> "),
        );
        bar.set_prefix(name.clone());
        let started = std::time::Instant::now();
        let applied = rebuild(projector, name, |progress| {
            bar.set_length(u64::try_from(progress.head).unwrap_or_default());
            bar.set_position(u64::try_from(progress.position).unwrap_or_default());
        })
        .await
        .with_context(|| format!("rebuilding {name}"))?;
        bar.finish_and_clear();
        let seconds = started.elapsed().as_secs_f64();
        println!(
            "{name}: rebuilt from {applied} events in {seconds:.1} s ({:.0} events/s) and swapped in",
            applied as f64 / seconds.max(f64::EPSILON)
        );
    }
    Ok(())
}

/// `ordo token`: print a token signed with the secret the server uses.
pub fn token(global: &GlobalArgs, args: &TokenArgs) -> anyhow::Result<()> {
    let config = Config::resolve(global)?;
    let role = if args.admin { Role::Admin } else { Role::User };
    let token = JwtKeys::new(&config.jwt_secret).issue(&args.sub, role, args.ttl)?;
    println!("{token}");
    Ok(())
}

/// Completes on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(err) = tokio::signal::ctrl_c().await {
            tracing::error!(%err, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(err) => {
                tracing::error!(%err, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}
