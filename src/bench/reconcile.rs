//! Reconciliation throughput: a day of generated payments in the log (`synthetic`), the
//! same day at dev mode's simulated WeChat Pay (served over HTTP on 127.0.0.1, signed
//! as WeChat Pay signs), with a few planted differences of each kind; then one
//! reconciliation of that day through ordo's real path (download, digest, parse,
//! compare, record what the log lacks, keep the report), timed, with its peak memory.

use crate::beijing::BEIJING;
use std::time::Instant;

use anyhow::Context;
use chrono::{NaiveDate, TimeZone, Utc};
use projections::Projector;
use sqlx::PgPool;

use super::{current_rss_kib, peak_rss_kib, reset_peak_rss};
use crate::auth::JwtKeys;
use crate::event_store::synthetic::{self, TRANSACTION_ID};
use crate::secret::Secret;
use crate::state::{AppSettings, AppState};
use crate::wechat_pay::{DevKeys, NOTIFY_PATH};

/// Products the generated orders buy.
const PRODUCTS: i64 = 200;
/// One payment in this many is planted as a difference of each kind.
const PLANT_EVERY: i64 = 1_000;

pub async fn run(pool: &PgPool, payments: i64) -> anyhow::Result<()> {
    let day = NaiveDate::from_ymd_opt(2026, 11, 30).context("the bench's day")?;
    let start = BEIJING
        .from_local_datetime(&day.and_hms_opt(0, 0, 30).context("midnight")?)
        .single()
        .context("the day's start")?
        .with_timezone(&Utc);
    // Lost notices: orders only WeChat Pay knows were paid.
    let lost = (payments / PLANT_EVERY).max(1);
    let orders = payments + lost;
    // Placed through the day, each paid a minute later, all before its end.
    let every = (86_400.0 - 600.0) / orders as f64;

    let started = Instant::now();
    synthetic::write_products(pool, PRODUCTS).await?;
    synthetic::write_orders(pool, PRODUCTS, 0..orders, start, every).await?;
    synthetic::write_payments(pool, PRODUCTS, 0..payments, start, every).await?;
    let planted = plant_the_bill(pool, payments, orders, start, every).await?;
    println!(
        "reconcile: {payments} payments on {day} in the log, {} at WeChat Pay (simulated), \
         written in {:.1} s",
        payments - planted + lost,
        started.elapsed().as_secs_f64()
    );

    let started = Instant::now();
    let ledger = Projector::new(
        pool.clone(),
        projections::all()
            .into_iter()
            .filter(|projection| projection.name() == "payments")
            .collect(),
    );
    ledger.register().await?;
    ledger.catch_up().await?;
    println!(
        "  payments read model caught up in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let keys = DevKeys::generate()?;
    let settings = AppSettings {
        dev_mode: true,
        wechat_pay: Some(keys.config("wx_bench", NOTIFY_PATH.to_owned())?),
        ..AppSettings::default()
    };
    let state = AppState::new(pool.clone(), JwtKeys::new(&Secret::generate()), settings);
    let simulator = serve_the_simulator(&state).await?;

    let before = current_rss_kib();
    reset_peak_rss();
    let started = Instant::now();
    let report = state.payments.reconcile(day).await?;
    let seconds = started.elapsed().as_secs_f64();
    let peak = peak_rss_kib();
    simulator.abort();

    let count = |kind: &str| {
        report
            .differences
            .iter()
            .filter(|difference| difference.kind == kind)
            .count()
    };
    println!(
        "  reconciled in {seconds:.1} s ({:.0} bill lines/s): {} matched, {} missing_in_ordo \
         (recorded now: {}), {} missing_at_wechat, {} amount_mismatch",
        (payments - planted + lost) as f64 / seconds,
        report.matched,
        count("missing_in_ordo"),
        report
            .differences
            .iter()
            .filter(|difference| difference
                .detail
                .ends_with("recorded now by the reconciliation"))
            .count(),
        count("missing_at_wechat"),
        count("amount_mismatch"),
    );
    println!(
        "  memory: {} MiB resident before, peak {} MiB during the run (+{} MiB)",
        before / 1024,
        peak / 1024,
        peak.saturating_sub(before) / 1024
    );
    Ok(())
}

/// The simulated WeChat Pay's records of the day: every payment the log has, except one
/// in [`PLANT_EVERY`] it never took and one whose amount differs by a cent, plus the
/// payments of orders `payments..orders`, whose notices were lost. The number of the
/// log's payments the bill lacks.
async fn plant_the_bill(
    pool: &PgPool,
    payments: i64,
    orders: i64,
    start: chrono::DateTime<Utc>,
    every: f64,
) -> anyhow::Result<i64> {
    let columns = synthetic::order_columns(PRODUCTS);
    sqlx::query(&format!(
        "INSERT INTO dev_wechat_pay_trades
                (out_trade_no, openid, description, total_cents, trade_state, transaction_id,
                 created_at, success_time)
         SELECT replace(order_id, '-', ''), 'openid-' || (k % 5000), 'bench',
                100 + p + CASE WHEN k < $5 AND k % {PLANT_EVERY} = 2 THEN 1 ELSE 0 END,
                'SUCCESS', {TRANSACTION_ID}, placed_at, placed_at + interval '1 minute'
           FROM (SELECT {columns} FROM generate_series($1::bigint, $2::bigint - 1) k) o
          WHERE k >= $5 OR k % {PLANT_EVERY} <> 1"
    ))
    .bind(0_i64)
    .bind(orders)
    .bind(start)
    .bind(every)
    .bind(payments)
    .execute(pool)
    .await?;
    Ok((0..payments).filter(|k| k % PLANT_EVERY == 1).count() as i64)
}

/// Dev mode's WeChat Pay on 127.0.0.1, where `state`'s client calls it.
async fn serve_the_simulator(state: &AppState) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    let config = state.wechat_pay.config().context("dev WeChat Pay")?;
    let simulator = crate::wechat_pay_simulator::router(state.pool.clone(), config)
        .context("the simulator's keys")?;
    let router = axum::Router::new().nest(crate::wechat_pay_simulator::PATH, simulator);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let _ = state.local_addr.set(listener.local_addr()?);
    Ok(tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    }))
}
