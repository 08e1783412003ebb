//! The read side's lag while an auditor verifies: a steady trickle of orders over the
//! generated log, each followed until the order views show it (commit → visible), first
//! for a while with nothing else running, then for as long as `audit verify` (with the
//! read models compared against a replay) runs beside it.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use projections::Projector;
use projections::cancellation::Cancellation;
use sqlx::PgPool;
use tokio::sync::{Semaphore, watch};
use uuid::Uuid;

use super::percentile_ms;
use crate::audit::verify::verify;
use crate::event_store::{EventMetadata, EventStore};
use crate::write::{LineRequest, PlaceOrder, WriteModel};

/// Orders placed per second during both phases.
const ORDERS_PER_SECOND: u64 = 100;
/// How long the quiet phase lasts.
const QUIET: Duration = Duration::from_secs(15);

pub async fn run(pool: &PgPool) -> anyhow::Result<()> {
    let projector = Arc::new(Projector::new(pool.clone(), projections::all()));
    projector.register().await?;
    projector.catch_up().await?;
    let (stop_projector, stopped) = watch::channel(false);
    let projecting = tokio::spawn(projector.clone().run(stopped));
    let write = Arc::new(WriteModel::new(
        EventStore::new(pool.clone()),
        super::write_settings(),
    ));
    let products: Vec<Uuid> =
        sqlx::query_scalar("SELECT product_id FROM product_catalog ORDER BY product_id LIMIT 100")
            .fetch_all(pool)
            .await?;
    anyhow::ensure!(!products.is_empty(), "the generated log has no products");

    let quiet = trickle(&write, &projector, &products, async {
        tokio::time::sleep(QUIET).await;
        Ok(())
    })
    .await?;
    report("without verify", &quiet.0, QUIET);

    let started = Instant::now();
    let verifying =
        async { Ok(verify(pool, Some(&projector), &Cancellation::default(), |_| {}).await?) };
    let (lags, report_of_verify) = trickle(&write, &projector, &products, verifying).await?;
    let seconds = started.elapsed();
    report("while audit verify runs", &lags, seconds);
    println!(
        "  (verify of {} events with the read models: {:.1} s, ok: {})",
        report_of_verify.events,
        seconds.as_secs_f64(),
        report_of_verify.ok
    );
    let _ = stop_projector.send(true);
    let _ = projecting.await;
    Ok(())
}

/// Places [`ORDERS_PER_SECOND`] orders until `meanwhile` ends; each order's lag.
async fn trickle<T>(
    write: &Arc<WriteModel>,
    projector: &Arc<Projector>,
    products: &[Uuid],
    meanwhile: impl Future<Output = anyhow::Result<T>>,
) -> anyhow::Result<(Vec<Duration>, T)> {
    let lags = Arc::new(Mutex::new(Vec::new()));
    let in_flight = Arc::new(Semaphore::new(32));
    let mut ticks = tokio::time::interval(Duration::from_micros(1_000_000 / ORDERS_PER_SECOND));
    let mut meanwhile = std::pin::pin!(meanwhile);
    let mut n = 0usize;
    let answer = loop {
        tokio::select! {
            answer = &mut meanwhile => break answer?,
            _ = ticks.tick() => {}
        }
        let Ok(permit) = in_flight.clone().try_acquire_owned() else {
            continue;
        };
        n += 1;
        let (write, projector, lags) = (write.clone(), projector.clone(), lags.clone());
        let request = PlaceOrder {
            user_id: format!("lag-{}", n % 100),
            lines: vec![LineRequest {
                product_id: products[n % products.len()],
                sku_id: None,
                quantity: 1,
            }],
            address: super::orders::bench_address(),
            remark: String::new(),
        };
        tokio::spawn(async move {
            let _permit = permit;
            if let Ok(written) = write.place_order(request, &EventMetadata::default()).await {
                let committed = Instant::now();
                if projector
                    .wait_for("orders", written.position, Duration::from_secs(60))
                    .await
                {
                    lags.lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .push(committed.elapsed());
                }
            }
        });
    };
    // The last orders' lags land within the wait above.
    let _ = in_flight.acquire_many(32).await;
    let lags = std::mem::take(&mut *lags.lock().unwrap_or_else(|p| p.into_inner()));
    Ok((lags, answer))
}

fn report(phase: &str, lags: &[Duration], over: Duration) {
    println!(
        "  order views lag {phase} ({} orders over {:.0} s, {ORDERS_PER_SECOND}/s offered): p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        lags.len(),
        over.as_secs_f64(),
        percentile_ms(lags, 0.50),
        percentile_ms(lags, 0.99),
        percentile_ms(lags, 1.0)
    );
}
