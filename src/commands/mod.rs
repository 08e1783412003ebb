//! What each CLI command does.

mod audit;
mod backup;
mod dispatch;
mod projections;
mod throughput;

pub use audit::audit;
pub use backup::{backup, restore};
pub use dispatch::run;
pub use projections::projections;

use anyhow::Context;

use crate::auth::{JwtKeys, Role, revocations};
use crate::cli::{ConsoleUrlArgs, GlobalArgs, RetentionArgs, ServeArgs, TokenAction, TokenArgs};
use crate::config::{Config, production};
use crate::database::{self, Database};
use crate::media::{MediaStore, MediaStoreSetting, MediaUrls};
use crate::retention;
use crate::server::Application;
use crate::state::{AppSettings, AppState};

/// `ordo serve`: run the server until Ctrl-C or SIGTERM, then stop cleanly.
pub async fn serve(global: &GlobalArgs, args: &ServeArgs) -> anyhow::Result<()> {
    let config = Config::resolve(global, production::dev_mode_for(args))?;
    production::check(global, args, config.dev_mode)?;
    // The port first: a busy one is reported before anything is created or started.
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| {
            format!(
                "cannot listen on {} (--listen or ORDO_LISTEN): is another server there?",
                args.listen
            )
        })?;
    database::check_reachable(&config)?;
    let media = media_store(&config, args)?;
    let media_urls = MediaUrls::from_setting(args.media.media_base_url.as_deref())
        .map_err(|err| anyhow::anyhow!("ORDO_MEDIA_BASE_URL: {err}"))?;
    if config.dev_mode_by_default {
        tracing::warn!(
            "dev mode is on because nothing said otherwise (embedded database, loopback \
             address, no ORDO_DEV): dev logins and simulated payments answer requests made \
             on this machine and refuse those through a proxy. Set ORDO_DEV=false for \
             production, or ORDO_DEV=true for dev mode through a proxy"
        );
    }
    let jwt_secret = config.jwt_secret()?;
    let database = Database::open(
        &config,
        &format!("ordo serve on {}", listener.local_addr()?),
    )
    .await?;
    let state = AppState::new(
        database.pool.clone(),
        JwtKeys::new(&jwt_secret),
        AppSettings {
            dev_mode: config.dev_mode,
            dev_mode_by_default: config.dev_mode_by_default,
            wechat_pay: config.wechat_pay(args)?,
            media: Some(media),
            media_urls,
            ..AppSettings::from_serve_args(args)
        },
    );
    let served = match Application::on(state, listener).await {
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

/// The image store `ORDO_MEDIA_STORE` names, opened (a local directory is created).
fn media_store(config: &Config, args: &ServeArgs) -> anyhow::Result<MediaStore> {
    let setting = MediaStoreSetting::parse(&args.media.media_store, &config.data_dir)?;
    let store = MediaStore::open(&setting, &[])?;
    tracing::info!(store = store.description(), "product images");
    Ok(store)
}

/// `ordo migrate`: apply pending migrations and exit.
pub async fn migrate(global: &GlobalArgs) -> anyhow::Result<()> {
    let config = Config::resolve(global, None)?;
    let database = Database::open_beside_server(&config).await?;
    println!("migrations applied");
    database.close().await
}

/// `ordo purge`: delete the rows past their retention once, and say how many.
pub async fn purge(global: &GlobalArgs, args: &RetentionArgs) -> anyhow::Result<()> {
    let config = Config::resolve(global, None)?;
    let database = Database::open_beside_server(&config).await?;
    let purged = retention::purge(&database.pool, &args.settings()).await;
    let closed = database.close().await;
    let report = purged.context("purging")?;
    closed?;
    if report.busy {
        println!("another server is purging right now; nothing done");
    } else {
        println!(
            "purged {} idempotency keys, {} sessions, {} payment notices, {} settled payment \
             questions, {} calls made to WeChat, {} revoked token ids",
            report.idempotency_keys,
            report.sessions,
            report.payment_notices,
            report.payment_prepays,
            report.platform_calls,
            report.revoked_tokens
        );
    }
    Ok(())
}

/// `ordo reconcile --date D`: queue the day for the running server's reconciliation,
/// wait for its report (at most 5 minutes) and print it; exit non-zero when it failed.
pub async fn reconcile(global: &GlobalArgs, date: chrono::NaiveDate) -> anyhow::Result<()> {
    let config = Config::resolve(global, None)?;
    let database = Database::open_beside_server(&config).await?;
    let reports = crate::payments::reconcile::Reports::new(database.pool.clone());
    reports.queue(date).await?;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(300);
    let report = loop {
        match reports.of(date).await? {
            Some(report) if report.state != "queued" => break report,
            _ if std::time::Instant::now() >= deadline => {
                database.close().await?;
                anyhow::bail!(
                    "no server reconciled {date} within 5 minutes: is `ordo serve` running? \
                     (the day stays queued for it)"
                );
            }
            _ => tokio::time::sleep(std::time::Duration::from_millis(500)).await,
        }
    };
    database.close().await?;
    println!(
        "{date}: {} — WeChat Pay {} payments {} fen, {} refunds {} fen; ordo {} payments {} fen, {} refunds {} fen; {} matched",
        report.state,
        report.wechat["payments"],
        report.wechat["total_cents"],
        report.wechat["refunds"],
        report.wechat["refunded_cents"],
        report.ordo["payments"],
        report.ordo["total_cents"],
        report.ordo["refunds"],
        report.ordo["refunded_cents"],
        report.matched
    );
    for difference in &report.differences {
        println!(
            "  {} {} (order {}): WeChat Pay {}, ordo {} — {}",
            difference.kind,
            difference.out_trade_no,
            difference
                .order_id
                .map_or_else(|| "?".to_owned(), |id| id.to_string()),
            difference
                .wechat_cents
                .map_or_else(|| "-".to_owned(), |c| c.to_string()),
            difference
                .ordo_cents
                .map_or_else(|| "-".to_owned(), |c| c.to_string()),
            difference.detail
        );
    }
    match report.error {
        Some(error) => anyhow::bail!("the reconciliation of {date} failed: {error}"),
        None => Ok(()),
    }
}

/// `ordo token`: print a token signed with the secret the server uses (its id on
/// stderr, so that scripts taking the token from stdout get the token alone).
pub fn token(global: &GlobalArgs, args: &TokenArgs) -> anyhow::Result<()> {
    let config = Config::resolve(global, args.dev)?;
    let role = if args.admin { Role::Admin } else { Role::User };
    let sub = args.sub.as_deref().context("--sub is required")?;
    let (token, id) = JwtKeys::new(&config.jwt_secret()?).issue_with_id(sub, role, args.ttl)?;
    eprintln!(
        "token id {id}, valid for {}; `ordo token revoke {id}` makes it unusable sooner",
        humantime::format_duration(args.ttl)
    );
    println!("{token}");
    Ok(())
}

/// `ordo console-url`: the console's address, signed in by the fragment (which browsers
/// never send to a server, so no log holds the token).
pub fn console_url(global: &GlobalArgs, args: &ConsoleUrlArgs) -> anyhow::Result<()> {
    let config = Config::resolve(global, args.dev)?;
    let (token, id) =
        JwtKeys::new(&config.jwt_secret()?).issue_with_id(&args.sub, Role::Admin, args.ttl)?;
    eprintln!(
        "signs in as {} for {}, once: the console trades the link for a token of its own; \
         `ordo token revoke {id}` ends that sooner",
        args.sub,
        humantime::format_duration(args.ttl)
    );
    let base = args.url.clone().unwrap_or_else(|| {
        let mut address = args.listen;
        if address.ip().is_unspecified() {
            address.set_ip(match address.ip() {
                std::net::IpAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
                std::net::IpAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
            });
        }
        format!("http://{address}")
    });
    println!("{base}{}#token={token}", crate::console::PATH);
    Ok(())
}

/// `ordo token revoke <id>`.
pub async fn token_action(global: &GlobalArgs, args: &TokenArgs) -> anyhow::Result<()> {
    let Some(TokenAction::Revoke { id, reason }) = &args.action else {
        return token(global, args);
    };
    let config = Config::resolve(global, None)?;
    let database = Database::open_beside_server(&config).await?;
    let id = id.to_string();
    let revoked = revocations::revoke(&database.pool, &id, reason).await?;
    // The console session a sign-in link was traded for ends with the link.
    let console = revocations::console_session_id(&id);
    if revocations::revoke(&database.pool, &console, reason).await? | revoked {
        println!("token {id} revoked: every server refuses it from its next request");
    } else {
        println!("token {id} was already revoked");
    }
    database.close().await
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
