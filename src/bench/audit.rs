//! Audit throughput over the generated log: sealing, verification (hash chains, seals,
//! invariants; then the read models against a replay) and NDJSON export, in events/s.

use std::time::Instant;

use futures::StreamExt;
use projections::Projector;
use projections::cancellation::Cancellation;
use sqlx::PgPool;

use super::{peak_rss_kib, reset_peak_rss};
use crate::audit::export::{self, ExportRange};
use crate::audit::sealer::seal;
use crate::audit::verify::verify;

pub async fn run(pool: &PgPool) -> anyhow::Result<()> {
    let started = Instant::now();
    let mut sealed = 0;
    while let Some(seal) = seal(pool).await? {
        sealed = seal.event_count;
    }
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "audit: sealed {sealed} events in {seconds:.1} s: {:.0} events/s",
        sealed as f64 / seconds
    );

    reset_peak_rss();
    let started = Instant::now();
    let report = verify(pool, None, &Cancellation::default(), |_| {}).await?;
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "  verify (chains, seals, invariants) {} events in {seconds:.1} s: {:.0} events/s, ok: {}, peak RSS meanwhile {} MiB",
        report.events,
        report.events as f64 / seconds,
        report.ok,
        peak_rss_kib() / 1024
    );

    let projector = Projector::new(pool.clone(), projections::all());
    projector.register().await?;
    projector.catch_up().await?;
    let started = Instant::now();
    let report = verify(pool, Some(&projector), &Cancellation::default(), |_| {}).await?;
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "  verify with the read models vs a replay: {seconds:.1} s: {:.0} events/s, ok: {}",
        report.events as f64 / seconds,
        report.ok
    );

    reset_peak_rss();
    let started = Instant::now();
    let (mut events, mut bytes) = (0u64, 0u64);
    let mut chunks = std::pin::pin!(export::stream(pool.clone(), ExportRange::default()));
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk?;
        bytes += chunk.len() as u64;
        events += chunk.bytes().filter(|b| *b == b'\n').count() as u64;
    }
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "  export {events} events ({} MiB NDJSON) in {seconds:.1} s: {:.0} events/s, peak RSS meanwhile {} MiB",
        bytes / (1024 * 1024),
        events as f64 / seconds,
        peak_rss_kib() / 1024
    );
    Ok(())
}
