//! The merchant's list over a big shop: `orders` order views written in SQL, then page 1
//! of the whole shop and of a status, a page after a cursor deep in the history, a
//! search, the tabs' counts, each timed (p50/p99); and the export of every order as CSV:
//! rows/s and the process's memory while it streams.

use std::time::{Duration, Instant};

use futures::StreamExt;
use projections::orders::shop::{Cursor, ShopFilter};
use projections::orders::synthetic;

use super::histogram::Histogram;
use super::{current_rss_kib, peak_rss_kib, reset_peak_rss};
use crate::order_export::rows_of;
use crate::reads::ReadModels;

/// Times each query is asked.
const ROUNDS: usize = 200;

pub async fn run(pool: &sqlx::PgPool, orders: i64) -> anyhow::Result<()> {
    let started = Instant::now();
    synthetic::write(pool, orders).await?;
    println!(
        "merchant's list: {orders} order views written in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let reads = ReadModels::new(pool.clone());
    let all = ShopFilter::default();
    let paid = ShopFilter {
        status: Some("paid".into()),
        ..ShopFilter::default()
    };
    // The 990,000th newest order (or the last tenth's start of a smaller shop).
    let deep = pool_cursor(&reads, orders * 99 / 100).await?;

    time("page 1, whole shop (20)", ROUNDS, || async {
        reads.shop_orders(&all, None, 20).await.map(drop)
    })
    .await?;
    time("page 1, status paid (20)", ROUNDS, || async {
        reads.shop_orders(&paid, None, 20).await.map(drop)
    })
    .await?;
    time("a page after a cursor 99 % deep (20)", ROUNDS, || async {
        reads.shop_orders(&all, deep, 20).await.map(drop)
    })
    .await?;
    time("status paid after that cursor (20)", ROUNDS, || async {
        reads.shop_orders(&paid, deep, 20).await.map(drop)
    })
    .await?;
    let receiver = ShopFilter {
        q: Some(format!("receiver {}", orders / 2)),
        ..ShopFilter::default()
    };
    time("search a receiver's name (20)", ROUNDS / 4, || async {
        reads.shop_orders(&receiver, None, 20).await.map(drop)
    })
    .await?;
    time("the tabs' counts, whole shop", ROUNDS, || async {
        reads.shop_order_counts(&all).await.map(drop)
    })
    .await?;

    let before = current_rss_kib() / 1024;
    reset_peak_rss();
    let started = Instant::now();
    let (mut rows, mut bytes) = (0usize, 0usize);
    let mut pages = std::pin::pin!(reads.shop_order_pages(all, 500));
    while let Some(page) = pages.next().await {
        for order in page? {
            let text = rows_of(&order);
            rows += text.matches("\r\n").count();
            bytes += text.len();
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "  export: {rows} rows ({:.0} MiB) in {seconds:.1} s: {:.0} rows/s; RSS {before} MiB before, peak {} MiB",
        bytes as f64 / 1_048_576.0,
        rows as f64 / seconds,
        peak_rss_kib() / 1024
    );
    Ok(())
}

/// The cursor that starts after the `skip`th newest order.
async fn pool_cursor(reads: &ReadModels, skip: i64) -> anyhow::Result<Option<Cursor>> {
    // Walked with the list's own pages of 100: what a merchant's client would do, fast
    // because each page starts where the last ended.
    let mut cursor = None;
    let mut walked = 0;
    while walked < skip {
        let size = (skip - walked).min(100);
        let (rows, next) = reads
            .shop_orders(&ShopFilter::default(), cursor, size)
            .await?;
        walked += i64::try_from(rows.len()).unwrap_or(0);
        cursor = next;
        if cursor.is_none() {
            break;
        }
    }
    Ok(cursor)
}

async fn time<F, Fut, E>(what: &str, rounds: usize, mut ask: F) -> anyhow::Result<()>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), E>>,
    E: std::error::Error + Send + Sync + 'static,
{
    let mut latencies = Histogram::default();
    let started = Instant::now();
    for _ in 0..rounds {
        let asked = Instant::now();
        ask().await?;
        latencies.record(asked.elapsed());
    }
    let elapsed: Duration = started.elapsed();
    println!(
        "  {what}: p50 {:.2} ms, p99 {:.2} ms ({rounds} in {:.1} s)",
        latencies.percentile_ms(0.50),
        latencies.percentile_ms(0.99),
        elapsed.as_secs_f64()
    );
    Ok(())
}
