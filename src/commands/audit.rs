//! `ordo audit ...`: what auditors run.

use projections::cancellation::Cancellation;
use std::io::Write;

use aggregates::order::Order;
use aggregates::stock::Stock;
use anyhow::Context;
use futures::StreamExt;
use indicatif::{ProgressBar, ProgressStyle};
use projections::Projector;
use sqlx::PgPool;

use crate::audit::export::{self, ExportRange};
use crate::audit::history::{order_as_of, order_history, state_as_of};
use crate::audit::verify::{Report, verify};
use crate::audit::{import, sealer};
use crate::cli::{AuditCommand, GlobalArgs};
use crate::config::Config;
use crate::database::Database;

use super::throughput;

pub async fn audit(global: &GlobalArgs, command: &AuditCommand) -> anyhow::Result<()> {
    let config = Config::resolve(global, None)?;
    let database = Database::open_beside_server(&config).await?;
    let result = run(&database.pool, command).await;
    database.close().await?;
    let failed = result?;
    if failed {
        std::process::exit(1);
    }
    Ok(())
}

/// Runs `command`; whether a verification failed.
async fn run(pool: &PgPool, command: &AuditCommand) -> anyhow::Result<bool> {
    match command {
        AuditCommand::Order { id, as_of: None } => print_history(pool, *id).await?,
        AuditCommand::Order {
            id,
            as_of: Some(as_of),
        } => {
            let (order, stocks) = order_as_of(pool, *id, *as_of).await?;
            print_order(*id, &order.state, order.version, *as_of);
            for (_, sku, stock) in stocks {
                print_stock(sku, &stock.state, stock.version);
            }
        }
        AuditCommand::Stock { product, as_of } => {
            let stock = state_as_of::<Stock>(pool, &product.to_string(), *as_of).await?;
            println!("as of {as_of}:");
            print_stock(*product, &stock.state, stock.version);
        }
        AuditCommand::Export {
            from,
            to,
            after_position,
            output,
        } => {
            let range = ExportRange {
                from: *from,
                to: *to,
                after_position: *after_position,
            };
            let mut out: Box<dyn Write> = match output {
                Some(path) => Box::new(std::io::BufWriter::new(
                    std::fs::File::create(path)
                        .with_context(|| format!("creating {}", path.display()))?,
                )),
                None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
            };
            let mut chunks = std::pin::pin!(export::stream(pool.clone(), range));
            let mut events = 0;
            while let Some(chunk) = chunks.next().await {
                let chunk = chunk?;
                events += chunk.matches('\n').count();
                out.write_all(chunk.as_bytes())?;
            }
            out.flush()?;
            if let Some(path) = output {
                println!("exported {events} events to {}", path.display());
            }
        }
        AuditCommand::Import { file } => {
            let reader = tokio::io::BufReader::new(
                tokio::fs::File::open(file)
                    .await
                    .with_context(|| format!("opening {}", file.display()))?,
            );
            let imported = import::import(pool, reader).await?;
            println!("imported {imported} events; every hash recomputed equal");
        }
        AuditCommand::Seal => match sealer::seal(pool).await? {
            Some(seal) => println!(
                "sealed {} events up to position {}: {}",
                seal.event_count, seal.global_position, seal.cumulative_hash
            ),
            None => println!("nothing new to seal"),
        },
        AuditCommand::Verify {
            no_read_models,
            json,
        } => return verify_and_report(pool, !no_read_models, *json).await,
    }
    Ok(false)
}

/// Runs `ordo audit verify` with a progress bar and prints its report; whether it failed.
pub(super) async fn verify_and_report(
    pool: &PgPool,
    read_models: bool,
    json: bool,
) -> anyhow::Result<bool> {
    let projector = Projector::new(pool.clone(), projections::all());
    projector.register().await?;
    let bar = ProgressBar::new(0).with_style(
        ProgressStyle::with_template(
            "verifying {msg:11} [{bar:40}] {pos}/{len}  {per_sec}  ETA {eta}",
        )?
        .progress_chars("=> "),
    );
    let mut pass = None;
    let report = verify(
        pool,
        read_models.then_some(&projector),
        &Cancellation::default(),
        |progress| {
            if pass != Some(progress.pass) {
                pass = Some(progress.pass);
                bar.set_message(progress.pass.label());
                bar.reset();
            }
            bar.set_length(progress.total);
            bar.set_position(progress.done);
        },
    )
    .await?;
    bar.finish_and_clear();
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_report(&report);
    }
    Ok(!report.ok)
}

async fn print_history(pool: &PgPool, id: uuid::Uuid) -> anyhow::Result<()> {
    let history = order_history(pool, id).await?;
    if history.is_empty() {
        anyhow::bail!("no order {id}");
    }
    let actor = |entry: &crate::audit::history::HistoryEntry| {
        format!(
            "{} ({})",
            entry.actor["id"].as_str().unwrap_or("-"),
            entry.actor["role"].as_str().unwrap_or("-")
        )
    };
    // As wide as the widest actor (a user id and its role is 43 characters).
    let width = history
        .iter()
        .map(|entry| actor(entry).chars().count())
        .max()
        .unwrap_or(0)
        .max("ACTOR".len());
    // Written, not printed: a reader that goes away (`| head`) is an error to stop on.
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "{:>9}  {:<27}  {:<6} {:>3}  {:<16} {:<width$}  REQUEST",
        "POSITION", "RECORDED AT", "STREAM", "V", "EVENT", "ACTOR"
    )?;
    for entry in history {
        let actor = actor(&entry);
        writeln!(
            out,
            "{:>9}  {:<27}  {:<6} {:>3}  {:<16} {:<width$}  {}",
            entry.position,
            entry
                .recorded_at
                .to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            entry.aggregate_type,
            entry.version,
            entry.event_type,
            actor,
            entry.request_id.as_deref().unwrap_or("-")
        )?;
        writeln!(out, "{:>11}{}", "", entry.payload)?;
    }
    Ok(())
}

fn print_order(id: uuid::Uuid, order: &Order, version: i64, as_of: chrono::DateTime<chrono::Utc>) {
    println!("order {id} as of {as_of} (version {version}):");
    match order.status {
        None => println!("  did not exist yet"),
        Some(status) => {
            println!(
                "  status {status}, total {} cents, user {}",
                order.total_cents, order.user_id
            );
            for line in &order.lines {
                println!(
                    "  {} × {} ({}) at {} cents",
                    line.quantity, line.name, line.product_id, line.unit_price_cents
                );
            }
        }
    }
}

fn print_stock(sku: uuid::Uuid, stock: &Stock, version: i64) {
    println!(
        "  stock of {sku} (version {version}): on hand {}, reserved {}, available {}",
        stock.on_hand(),
        stock.reserved(),
        stock.available()
    );
}

fn print_report(report: &Report) {
    println!(
        "{} events in {} streams, {} seals checked in {:.1} s{}",
        report.events,
        report.streams,
        report.seals,
        report.seconds,
        throughput::in_brackets(report.events, report.seconds, "events")
    );
    for comparison in &report.read_models {
        println!(
            "read model {:<12} {} (at position {})",
            comparison.projection,
            if comparison.matches() {
                "equals a replay".to_owned()
            } else {
                format!(
                    "{} rows missing, {} extra",
                    comparison.missing_rows, comparison.extra_rows
                )
            },
            comparison.position
        );
    }
    if report.ok {
        println!("OK: every hash chain and seal holds, every invariant holds");
        return;
    }
    println!(
        "FAILED: {} problem(s); first offending position: {}",
        report.failure_count,
        report
            .first_failure_position
            .map_or("-".to_owned(), |p| p.to_string())
    );
    for failure in &report.failures {
        println!(
            "  [{}] position {} {}: {}",
            failure.kind,
            failure.position.map_or("-".to_owned(), |p| p.to_string()),
            failure.stream.as_deref().unwrap_or(""),
            failure.message
        );
    }
}
