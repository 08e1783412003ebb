//! Shipping uploads after ship: paid orders (generated), shipped through the real write
//! path at a steady rate, each upload made from the event feed (the subscriber, the
//! outbox, the deliverer) to dev mode's simulated WeChat platform over HTTP on
//! 127.0.0.1; how long each upload took after its `OrderShipped` was written.

use std::sync::Arc;
use std::time::{Duration, Instant};

use aggregates::order::{LogisticsType, ShipmentDetails};
use anyhow::Context;
use chrono::Utc;
use tokio::sync::watch;

use crate::auth::JwtKeys;
use crate::event_store::{EventMetadata, synthetic};
use crate::secret::Secret;
use crate::state::{AppSettings, AppState};

/// Products the generated orders buy.
const PRODUCTS: i64 = 200;

pub async fn run(pool: &sqlx::PgPool, orders: i64, per_second: u32) -> anyhow::Result<()> {
    let started = Instant::now();
    synthetic::write_products(pool, PRODUCTS).await?;
    synthetic::write_shoppers(pool).await?;
    let start = Utc::now() - chrono::Duration::hours(1);
    synthetic::write_orders(pool, PRODUCTS, 0..orders, start, 0.01).await?;
    synthetic::write_payments(pool, PRODUCTS, 0..orders, start, 0.01).await?;
    println!(
        "shipping uploads: {orders} paid orders written in {:.1} s; shipping {per_second}/s",
        started.elapsed().as_secs_f64()
    );

    let settings = AppSettings {
        dev_mode: true,
        ..AppSettings::default()
    };
    let state = AppState::new(pool.clone(), JwtKeys::new(&Secret::generate()), settings);
    state.platform.as_ref().context("the simulated platform")?;
    let router = axum::Router::new().nest(
        crate::wechat::SIMULATOR_PATH,
        crate::wechat_simulator::router(pool.clone()),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let _ = state.local_addr.set(listener.local_addr()?);
    let simulator = tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    state.projector.register().await?;
    let (stop, stopped) = watch::channel(false);
    let projecting = tokio::spawn(state.projector.clone().run(stopped.clone()));
    let deliverer = crate::server::deliverer(&state);
    let delivering = tokio::spawn(deliverer.run(stopped));

    let ids: Vec<uuid::Uuid> = (0..orders).map(synthetic::order_id).collect();
    let write = Arc::clone(&state.write);
    let mut every = tokio::time::interval(Duration::from_secs(1) / per_second.max(1));
    let shipping = Instant::now();
    let mut ships = Vec::with_capacity(ids.len());
    for (n, id) in ids.into_iter().enumerate() {
        every.tick().await;
        let write = Arc::clone(&write);
        ships.push(tokio::spawn(async move {
            let details = ShipmentDetails {
                carrier: "中通快递".to_owned(),
                tracking_no: format!("ZT{n:010}"),
                express_company: Some("ZTO".to_owned()),
                logistics_type: LogisticsType::Express,
            };
            write
                .ship_order(id, details, &EventMetadata::default())
                .await
        }));
    }
    let mut failed = 0;
    for ship in ships {
        if !matches!(ship.await, Ok(Ok(_))) {
            failed += 1;
        }
    }
    let shipped_in = shipping.elapsed().as_secs_f64();
    // Until every upload is made (or a minute passes).
    let waited = Instant::now();
    loop {
        let pending: i64 =
            sqlx::query_scalar("SELECT count(*) FROM platform_calls WHERE state <> 'done'")
                .fetch_one(pool)
                .await?;
        if pending == 0 || waited.elapsed() > Duration::from_secs(60) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (done, p50, p99, max): (i64, Option<f64>, Option<f64>, Option<f64>) = sqlx::query_as(
        "SELECT count(*),
                percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM done_at - event_at)),
                percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM done_at - event_at)),
                max(extract(epoch FROM done_at - event_at))::float8
           FROM platform_calls WHERE state = 'done'",
    )
    .fetch_one(pool)
    .await?;
    // Where the time goes: the subscriber's lag (event → outbox), then the delivery.
    let (queued_p50, delivered_p50): (Option<f64>, Option<f64>) = sqlx::query_as(
        "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM created_at - event_at)),
                percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM done_at - created_at))
           FROM platform_calls WHERE state = 'done'",
    )
    .fetch_one(pool)
    .await?;
    let ms = |seconds: Option<f64>| seconds.unwrap_or(0.0) * 1_000.0;
    let states: Vec<(String, i64)> =
        sqlx::query_as("SELECT state, count(*) FROM platform_calls GROUP BY state ORDER BY state")
            .fetch_all(pool)
            .await?;
    println!("  calls by state: {states:?}");
    println!(
        "  event → outbox p50 {:.0} ms; outbox → uploaded p50 {:.0} ms",
        ms(queued_p50),
        ms(delivered_p50)
    );
    println!(
        "  shipped {} orders in {shipped_in:.1} s ({:.0}/s, {failed} refused); {done} uploaded: \
         after ship p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
        orders - failed,
        (orders - failed) as f64 / shipped_in,
        ms(p50),
        ms(p99),
        ms(max),
    );
    let _ = stop.send(true);
    let _ = projecting.await;
    let _ = delivering.await;
    simulator.abort();
    Ok(())
}
