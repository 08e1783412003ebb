//! `ordo bench`: measures the write path (orders/s, latency, conflicts) against a
//! PostgreSQL with durable settings. It prints figures; it asserts nothing.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use aggregates::order::Address;
use aggregates::product::NewProduct;
use anyhow::Context;
use tokio::task::JoinSet;

use crate::cli::BenchArgs;
use crate::database;
use crate::embedded_postgres::{Durability, EmbeddedPostgres};
use crate::event_store::{EventMetadata, EventStore};
use crate::secret::Secret;
use crate::write::{PlaceOrder, WriteError, WriteModel, WriteSettings};

/// One scenario: how the placers pick products, how much stock there is.
struct Scenario {
    name: &'static str,
    products: usize,
    stock_per_product: i64,
    attempts: usize,
}

/// What one scenario measured.
struct Figures {
    placed: u64,
    refused: u64,
    elapsed: Duration,
    latencies: Vec<Duration>,
    conflicts: u64,
}

pub async fn run(args: &BenchArgs) -> anyhow::Result<()> {
    let (pool, server) = match &args.database_url {
        Some(url) => (
            database::connect(url.parse().context("--database-url")?, 80).await?,
            None,
        ),
        None => {
            let dir = std::env::temp_dir().join(format!("ordo-bench-{}", std::process::id()));
            let cluster_dir = dir.clone();
            let server = tokio::task::spawn_blocking(move || {
                EmbeddedPostgres::start(&cluster_dir, Secret::generate(), Durability::Durable)
            })
            .await??;
            let pool = database::connect(server.connect_options("postgres"), 80).await?;
            (pool, Some((server, dir)))
        }
    };
    database::migrate(&pool).await?;
    println!(
        "ordo bench: {} concurrent placers, durable PostgreSQL{}",
        args.concurrency,
        if server.is_some() {
            " (embedded, fsync on)"
        } else {
            ""
        }
    );
    let scenarios = [
        Scenario {
            name: "(a) spread over 1,000 products",
            products: 1_000,
            stock_per_product: 1_000_000,
            attempts: args.orders,
        },
        Scenario {
            name: "(b) one product, enough stock",
            products: 1,
            stock_per_product: 1_000_000_000,
            attempts: args.orders,
        },
        Scenario {
            name: "(c) flash sale: 1,000 units, 10,000 attempts",
            products: 1,
            stock_per_product: 1_000,
            attempts: 10_000,
        },
    ];
    for scenario in &scenarios {
        let write = Arc::new(WriteModel::new(
            EventStore::new(pool.clone()),
            WriteSettings::default(),
        ));
        let figures = run_scenario(&write, scenario, args.concurrency).await?;
        report(scenario, &figures);
    }
    pool.close().await;
    if let Some((mut server, dir)) = server {
        tokio::task::spawn_blocking(move || server.stop()).await??;
        let _ = std::fs::remove_dir_all(dir);
    }
    Ok(())
}

async fn run_scenario(
    write: &Arc<WriteModel>,
    scenario: &Scenario,
    concurrency: usize,
) -> anyhow::Result<Figures> {
    let admin = EventMetadata::default();
    let mut products = Vec::with_capacity(scenario.products);
    for i in 0..scenario.products {
        let new = NewProduct {
            name: format!("bench product {i}"),
            description: String::new(),
            category: "bench".into(),
            price_cents: 100 + i64::try_from(i).unwrap_or_default(),
        };
        products.push(
            write
                .create_product(new, scenario.stock_per_product, &admin)
                .await?
                .value
                .id,
        );
    }
    let products = Arc::new(products);
    let next = Arc::new(AtomicU64::new(0));
    let conflicts_before = write.stats.conflicts();
    let started = Instant::now();
    let mut placers = JoinSet::new();
    for _ in 0..concurrency {
        let (write, products, next) = (write.clone(), products.clone(), next.clone());
        let attempts = scenario.attempts as u64;
        placers.spawn(async move {
            let mut latencies = Vec::new();
            let (mut placed, mut refused) = (0u64, 0u64);
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= attempts {
                    break;
                }
                let product =
                    products[usize::try_from(n).unwrap_or_default() * 7919 % products.len()];
                let request = PlaceOrder {
                    user_id: format!("bench-{}", n % 1_000),
                    lines: vec![(product, 1)],
                    address: bench_address(),
                    remark: String::new(),
                };
                let begun = Instant::now();
                match write.place_order(request, &EventMetadata::default()).await {
                    Ok(_) => placed += 1,
                    Err(WriteError::InsufficientStock(_)) => refused += 1,
                    Err(err) => return Err(anyhow::anyhow!("order failed: {err}")),
                }
                latencies.push(begun.elapsed());
            }
            Ok::<_, anyhow::Error>((placed, refused, latencies))
        });
    }
    let mut figures = Figures {
        placed: 0,
        refused: 0,
        elapsed: Duration::ZERO,
        latencies: Vec::new(),
        conflicts: 0,
    };
    while let Some(result) = placers.join_next().await {
        let (placed, refused, latencies) = result??;
        figures.placed += placed;
        figures.refused += refused;
        figures.latencies.extend(latencies);
    }
    figures.elapsed = started.elapsed();
    figures.conflicts = write.stats.conflicts() - conflicts_before;
    Ok(figures)
}

fn report(scenario: &Scenario, figures: &Figures) {
    let mut latencies = figures.latencies.clone();
    latencies.sort_unstable();
    let percentile = |p: f64| {
        let index = ((latencies.len() as f64 - 1.0) * p).round() as usize;
        latencies
            .get(index)
            .map_or(0.0, |d| d.as_secs_f64() * 1_000.0)
    };
    let seconds = figures.elapsed.as_secs_f64();
    let decisions = figures.placed + figures.refused;
    println!("{}", scenario.name);
    println!(
        "  placed {} refused {} in {:.2} s: {:.0} orders/s, {:.0} decisions/s",
        figures.placed,
        figures.refused,
        seconds,
        figures.placed as f64 / seconds,
        decisions as f64 / seconds
    );
    println!(
        "  latency p50 {:.2} ms, p99 {:.2} ms; conflicts {} ({:.4} per order)",
        percentile(0.50),
        percentile(0.99),
        figures.conflicts,
        figures.conflicts as f64 / decisions.max(1) as f64
    );
}

fn bench_address() -> Address {
    Address {
        name: "Bench".into(),
        phone: "13800000000".into(),
        province: "Zhejiang".into(),
        city: "Hangzhou".into(),
        district: "Xihu".into(),
        detail: "1 Lake Road".into(),
    }
}
