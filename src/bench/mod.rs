//! `ordo bench`: measures the write path (orders/s, latency, conflicts), the read side's
//! lag behind it, rebuild and audit throughput, and the read side's lag while an audit
//! verification runs, against a PostgreSQL with durable settings.
//! It prints figures; it asserts nothing.

mod audit;
mod histogram;
mod merchant;
mod orders;
mod rebuild;
mod reconcile;
mod shipping;
pub mod soak;
mod verify_lag;

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use projections::Projector;
use tokio::sync::watch;

use crate::cli::BenchArgs;
use crate::database;
use crate::embedded_postgres::{Durability, EmbeddedPostgres};
use crate::event_store::EventStore;
use crate::secret::Secret;
use crate::write::WriteSettings;

/// `pg_bin_dir`: where PostgreSQL's binaries are, for the fresh cluster (see
/// `ServerBinaries::locate`).
pub async fn run(args: &BenchArgs, pg_bin_dir: Option<&std::path::Path>) -> anyhow::Result<()> {
    let mut server = None;
    let admin = match &args.database_url {
        Some(url) => url.parse().context("--bench-database-url")?,
        None => {
            let dir = std::env::temp_dir().join(format!("ordo-bench-{}", std::process::id()));
            let cluster_dir = dir.clone();
            let bin_dir = pg_bin_dir.map(std::path::Path::to_path_buf);
            let started = tokio::task::spawn_blocking(move || {
                EmbeddedPostgres::start(
                    &cluster_dir,
                    Secret::generate(),
                    Durability::Durable,
                    bin_dir.as_deref(),
                )
            })
            .await??;
            let options = started.connect_options("postgres");
            server = Some((started, dir));
            options
        }
    };
    println!(
        "ordo bench: {} concurrent placers, durable PostgreSQL{}",
        args.concurrency,
        if server.is_some() {
            " (embedded, fsync on)"
        } else {
            ""
        }
    );

    if args.orders > 0 {
        let pool = fresh_database(&admin, "ordo_bench_orders").await?;
        let projector = Arc::new(Projector::new(pool.clone(), projections::all()));
        projector.register().await?;
        let (stop_projector, stopped) = watch::channel(false);
        let projecting = tokio::spawn(projector.clone().run(stopped));
        let store = EventStore::new(pool.clone());
        for scenario in &orders::scenarios(args.orders) {
            orders::run(&store, &projector, scenario, args.concurrency).await?;
        }
        let _ = stop_projector.send(true);
        let _ = projecting.await;
        pool.close().await;
    }

    if args.reconcile_payments > 0 {
        let pool = fresh_database(&admin, "ordo_bench_reconcile").await?;
        reconcile::run(&pool, args.reconcile_payments).await?;
        pool.close().await;
    }

    if args.shipping_orders > 0 {
        let pool = fresh_database(&admin, "ordo_bench_shipping").await?;
        shipping::run(&pool, args.shipping_orders, args.ship_rate).await?;
        pool.close().await;
    }

    if args.merchant_orders > 0 {
        let pool = fresh_database(&admin, "ordo_bench_merchant").await?;
        merchant::run(&pool, args.merchant_orders).await?;
        pool.close().await;
    }

    if args.rebuild_events > 0 {
        let pool = fresh_database(&admin, "ordo_bench_rebuild").await?;
        rebuild::run(&pool, args.rebuild_events).await?;
        audit::run(&pool).await?;
        verify_lag::run(&pool).await?;
        pool.close().await;
    }
    println!("peak RSS of this process: {} MiB", peak_rss_kib() / 1024);

    if let Some((mut server, dir)) = server {
        tokio::task::spawn_blocking(move || server.stop()).await??;
        let _ = std::fs::remove_dir_all(dir);
    }
    Ok(())
}

/// A new, migrated database `name` on the bench's server (dropped first if left over).
async fn fresh_database(
    admin: &sqlx::postgres::PgConnectOptions,
    name: &str,
) -> anyhow::Result<sqlx::PgPool> {
    let admin_pool = database::connect(admin.clone(), 1).await?;
    sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .execute(&admin_pool)
        .await?;
    admin_pool.close().await;
    database::ensure_database(admin, name).await?;
    let pool = database::connect(admin.clone().database(name), 80).await?;
    database::migrate(&pool).await?;
    Ok(pool)
}

/// The `p` quantile of `samples`, in milliseconds.
fn percentile_ms(samples: &[Duration], p: f64) -> f64 {
    let mut sorted = samples.to_vec();
    sorted.sort_unstable();
    let index = ((sorted.len() as f64 - 1.0) * p).round().max(0.0) as usize;
    sorted.get(index).map_or(0.0, |d| d.as_secs_f64() * 1_000.0)
}

/// The process's peak resident memory (VmHWM), in KiB.
pub fn peak_rss_kib() -> u64 {
    status_kib("VmHWM:")
}

/// The process's resident memory now (VmRSS), in KiB.
pub fn current_rss_kib() -> u64 {
    status_kib("VmRSS:")
}

/// A memory figure of /proc/self/status, in KiB (0 where there is none).
fn status_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix(field))
                .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

/// Starts a new peak for [`peak_rss_kib`] (Linux: writing 5 to `clear_refs` resets VmHWM
/// to the current RSS), so that one phase's peak can be measured on its own.
pub fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// The write model's settings for the benches: their shoppers never pay, so the
/// open-order cap is lifted (the cap is still decided, with each order).
fn write_settings() -> WriteSettings {
    WriteSettings {
        max_unpaid_orders: u32::MAX,
        ..WriteSettings::default()
    }
}
