//! The order scenarios: orders/s, latency and conflicts of 64 concurrent placers, and
//! how far behind the order views run meanwhile.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use aggregates::order::Address;
use aggregates::product::{NewProduct, NewSku, Spec};
use std::sync::Mutex;
use uuid::Uuid;

use projections::Projector;
use tokio::task::JoinSet;

use super::histogram::Histogram;
use super::{peak_rss_kib, reset_peak_rss};
use crate::event_store::{EventMetadata, EventStore};
use crate::write::{LineRequest, PlaceOrder, WriteError, WriteModel};

/// One scenario: how the placers pick products, how much stock there is.
pub struct Scenario {
    pub name: &'static str,
    pub products: usize,
    /// SKUs of each product: 1 for products without specs, more for a size spec.
    pub skus_per_product: usize,
    pub stock_per_product: i64,
    /// Each product's purchase limit: the limits are decided on every order either way
    /// (the shopper's stream is written with each), a limit makes them refuse.
    pub limit_per_user: Option<i64>,
    pub attempts: usize,
}

/// The scenarios of the write path; (a), (a2) and (b) make `orders` attempts. (a) and
/// (a2) pick among 1,000 stocks alike: 1,000 products without specs, or 1,000 SKUs of
/// 200 products in 5 sizes.
pub fn scenarios(orders: usize) -> [Scenario; 4] {
    [
        Scenario {
            name: "(a) spread over 1,000 products",
            products: 1_000,
            skus_per_product: 1,
            stock_per_product: 1_000_000,
            limit_per_user: Some(1_000_000),
            attempts: orders,
        },
        Scenario {
            name: "(a2) spread over 1,000 SKUs of 200 products (5 sizes each)",
            products: 200,
            skus_per_product: 5,
            stock_per_product: 1_000_000,
            limit_per_user: Some(1_000_000),
            attempts: orders,
        },
        Scenario {
            name: "(b) one product, enough stock",
            products: 1,
            skus_per_product: 1,
            stock_per_product: 1_000_000_000,
            limit_per_user: None,
            attempts: orders,
        },
        Scenario {
            name: "(c) flash sale: 1,000 units, 10,000 attempts by 1,000 shoppers, limit 2 each",
            products: 1,
            skus_per_product: 1,
            stock_per_product: 1_000,
            limit_per_user: Some(2),
            attempts: 10_000,
        },
    ]
}

/// Runs `scenario` with a fresh write model (cold caches) and prints its figures.
pub async fn run(
    store: &EventStore,
    projector: &Arc<Projector>,
    scenario: &Scenario,
    concurrency: usize,
) -> anyhow::Result<()> {
    let write = Arc::new(WriteModel::new(store.clone(), super::write_settings()));
    let figures = run_scenario(&write, projector, scenario, concurrency).await?;
    report(scenario, &figures);
    Ok(())
}

/// What one scenario measured.
struct Figures {
    placed: u64,
    refused: u64,
    elapsed: Duration,
    /// Latencies of the attempts in each tenth of the run (by the order they started).
    tenths: Vec<Histogram>,
    /// The process's resident memory after each tenth of the attempts, in MiB.
    rss_by_tenth: Vec<u64>,
    /// The process's peak resident memory during the scenario, in MiB.
    peak_rss: u64,
    conflicts: u64,
    /// From an order's commit to the order views showing it, sampled.
    lags: Histogram,
}

/// Every this many orders, one is followed until the order views show it.
const LAG_SAMPLE_EVERY: u64 = 10;

async fn run_scenario(
    write: &Arc<WriteModel>,
    projector: &Arc<Projector>,
    scenario: &Scenario,
    concurrency: usize,
) -> anyhow::Result<Figures> {
    let lags = Arc::new(Mutex::new(Histogram::default()));
    let rss_by_tenth = Arc::new(Mutex::new(Vec::new()));
    let admin = EventMetadata::default();
    let mut products = Vec::with_capacity(scenario.products * scenario.skus_per_product);
    for i in 0..scenario.products {
        let new = bench_product(i, scenario);
        let stocks = vec![scenario.stock_per_product; scenario.skus_per_product];
        let created = write.create_product(new, &stocks, &admin).await?.value;
        // Lines name the SKU of a product with specs, and none of one without.
        let named = scenario.skus_per_product > 1;
        products.extend(created.skus.iter().map(|sku| LineRequest {
            product_id: created.id,
            sku_id: named.then_some(sku.id),
            quantity: 1,
        }));
    }
    let products = Arc::new(products);
    let next = Arc::new(AtomicU64::new(0));
    let conflicts_before = write.stats.conflicts();
    reset_peak_rss();
    let started = Instant::now();
    let mut placers = JoinSet::new();
    for _ in 0..concurrency {
        let (write, products, next) = (write.clone(), products.clone(), next.clone());
        let (projector, lags) = (projector.clone(), lags.clone());
        let rss_by_tenth = rss_by_tenth.clone();
        let attempts = scenario.attempts as u64;
        placers.spawn(async move {
            let mut tenths = vec![Histogram::default(); 10];
            let (mut placed, mut refused) = (0u64, 0u64);
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= attempts {
                    break;
                }
                let line = products[usize::try_from(n).unwrap_or_default() * 7919 % products.len()];
                let request = PlaceOrder {
                    user_id: format!("bench-{}", n % 1_000),
                    lines: vec![line],
                    address: bench_address(),
                    remark: String::new(),
                };
                let begun = Instant::now();
                match write.place_order(request, &EventMetadata::default()).await {
                    Ok(written) => {
                        placed += 1;
                        if n % LAG_SAMPLE_EVERY == 0 {
                            let (projector, lags) = (projector.clone(), lags.clone());
                            let committed = Instant::now();
                            tokio::spawn(async move {
                                let timeout = Duration::from_secs(30);
                                if projector
                                    .wait_for("orders", written.position, timeout)
                                    .await
                                {
                                    let lag = committed.elapsed();
                                    lags.lock().unwrap_or_else(|p| p.into_inner()).record(lag);
                                }
                            });
                        }
                    }
                    Err(WriteError::InsufficientStock(_) | WriteError::LimitExceeded(_)) => {
                        refused += 1;
                    }
                    Err(err) => return Err(anyhow::anyhow!("order failed: {err}")),
                }
                tenths[usize::try_from(n * 10 / attempts).unwrap_or(9)].record(begun.elapsed());
                if attempts >= 10 && (n + 1) % (attempts / 10) == 0 {
                    rss_by_tenth
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .push(super::current_rss_kib() / 1024);
                }
            }
            Ok::<_, anyhow::Error>((placed, refused, tenths))
        });
    }
    let mut figures = Figures {
        placed: 0,
        refused: 0,
        elapsed: Duration::ZERO,
        tenths: vec![Histogram::default(); 10],
        rss_by_tenth: Vec::new(),
        peak_rss: 0,
        conflicts: 0,
        lags: Histogram::default(),
    };
    while let Some(result) = placers.join_next().await {
        let (placed, refused, tenths) = result??;
        figures.placed += placed;
        figures.refused += refused;
        for (all, placer) in figures.tenths.iter_mut().zip(&tenths) {
            all.merge(placer);
        }
    }
    figures.elapsed = started.elapsed();
    figures.peak_rss = peak_rss_kib() / 1024;
    figures.conflicts = write.stats.conflicts() - conflicts_before;
    // Let the sampled lags land (the projector catches up within seconds).
    let deadline = Instant::now() + Duration::from_secs(30);
    let expected = figures.placed / LAG_SAMPLE_EVERY / 2;
    while lags.lock().unwrap_or_else(|p| p.into_inner()).len() < expected
        && Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    figures.lags = std::mem::take(&mut *lags.lock().unwrap_or_else(|p| p.into_inner()));
    figures.rss_by_tenth =
        std::mem::take(&mut *rss_by_tenth.lock().unwrap_or_else(|p| p.into_inner()));
    Ok(figures)
}

fn report(scenario: &Scenario, figures: &Figures) {
    let seconds = figures.elapsed.as_secs_f64();
    let mut all = Histogram::default();
    for tenth in &figures.tenths {
        all.merge(tenth);
    }
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
        all.percentile_ms(0.50),
        all.percentile_ms(0.99),
        figures.conflicts,
        figures.conflicts as f64 / decisions.max(1) as f64
    );
    println!(
        "  order views lag (commit → visible, {} samples): p50 {:.2} ms, p99 {:.2} ms",
        figures.lags.len(),
        figures.lags.percentile_ms(0.50),
        figures.lags.percentile_ms(0.99)
    );
    // Does a decision cost more as history grows? The same figures for each tenth.
    let line = |p: f64| {
        figures
            .tenths
            .iter()
            .map(|tenth| format!("{:.1}", tenth.percentile_ms(p)))
            .collect::<Vec<_>>()
            .join(" ")
    };
    println!("  by tenth of the attempts, p50 ms: {}", line(0.50));
    println!("  by tenth of the attempts, p99 ms: {}", line(0.99));
    let rss: Vec<String> = figures.rss_by_tenth.iter().map(u64::to_string).collect();
    println!(
        "  RSS MiB after each tenth: {}; peak during the scenario {}",
        rss.join(" "),
        figures.peak_rss
    );
}

/// Product `i` of the scenario: without specs, or with one SKU per size.
fn bench_product(i: usize, scenario: &Scenario) -> NewProduct {
    let price_cents = 100 + i64::try_from(i).unwrap_or_default();
    let sizes: Vec<String> = (0..scenario.skus_per_product)
        .map(|n| format!("size {n}"))
        .collect();
    let (specs, skus) = if scenario.skus_per_product > 1 {
        let skus = sizes
            .iter()
            .map(|size| NewSku {
                id: Uuid::now_v7(),
                spec: [("size".to_owned(), size.clone())].into(),
                price_cents,
                code: String::new(),
                image: None,
            })
            .collect();
        let specs = vec![Spec {
            name: "size".into(),
            values: sizes,
        }];
        (specs, skus)
    } else {
        (Vec::new(), Vec::new())
    };
    NewProduct {
        name: format!("bench product {i}"),
        description: String::new(),
        category: "bench".into(),
        price_cents,
        limit_per_user: scenario.limit_per_user,
        specs,
        skus,
    }
}

pub fn bench_address() -> Address {
    Address {
        name: "Bench".into(),
        phone: "13800000000".into(),
        province: "Zhejiang".into(),
        city: "Hangzhou".into(),
        district: "Xihu".into(),
        detail: "1 Lake Road".into(),
    }
}
