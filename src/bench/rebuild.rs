//! Rebuild throughput: generates a large event log (`event_store::synthetic`), then
//! rebuilds every projection from position zero and times it.

use std::time::Instant;

use projections::Projector;
use projections::rebuild::rebuild;
use sqlx::PgPool;

use crate::event_store::synthetic;

/// Products in the generated log.
const PRODUCTS: i64 = 1_000;

pub async fn run(pool: &PgPool, events: u64) -> anyhow::Result<()> {
    let orders = (i64::try_from(events).unwrap_or(i64::MAX) - 2 * PRODUCTS).max(0) / 2;
    let started = Instant::now();
    synthetic::write_history(pool, PRODUCTS, orders).await?;
    let total = synthetic::count(pool).await?;
    println!(
        "rebuild: generated {total} events ({PRODUCTS} products, {orders} orders) in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    // A log written in a few statements has not been vacuumed or analysed yet; a shop's
    // has (autovacuum keeps up with its writes). Left to autovacuum, the vacuum of the
    // fresh log runs beside whichever rebuilds come first and skews them.
    let vacuumed = Instant::now();
    sqlx::query("VACUUM (ANALYZE) events").execute(pool).await?;
    println!(
        "  (the log vacuumed and analysed first, as autovacuum keeps a shop's: {:.1} s)",
        vacuumed.elapsed().as_secs_f64()
    );

    let projector = Projector::new(pool.clone(), projections::all());
    projector.register().await?;
    for projection in projector.projections() {
        let name = projection.name();
        let started = Instant::now();
        let applied = rebuild(&projector, name, |_| {}).await?;
        let seconds = started.elapsed().as_secs_f64();
        println!(
            "  {name:<12} {applied} events in {seconds:.1} s: {:.0} events/s",
            applied as f64 / seconds
        );
    }
    Ok(())
}
