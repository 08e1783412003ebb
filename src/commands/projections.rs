//! `ordo projections`: status, blue/green rebuilds, and parked events.

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use projections::rebuild::rebuild;
use projections::{Projector, parking};

use crate::cli::{GlobalArgs, ProjectionsCommand};
use crate::config::Config;
use crate::database::Database;

use super::throughput;

/// `ordo projections status|rebuild|parked|retry-parked`.
pub async fn projections(global: &GlobalArgs, command: &ProjectionsCommand) -> anyhow::Result<()> {
    let config = Config::resolve(global, None)?;
    let database = Database::open_beside_server(&config).await?;
    let projector = Projector::new(
        database.pool.clone(),
        crate::platform::projector_runs(&Default::default()),
    );
    projector.register().await?;
    let result = match command {
        ProjectionsCommand::Status => print_status(&projector).await,
        ProjectionsCommand::Rebuild { name, all } => {
            let names: Vec<String> = if *all {
                // Read models: a subscriber calling WeChat is never rebuilt.
                projector
                    .projections()
                    .iter()
                    .filter(|p| p.replayable())
                    .map(|p| p.name().to_owned())
                    .collect()
            } else {
                name.iter().cloned().collect()
            };
            rebuild_with_progress(&projector, &names).await
        }
        ProjectionsCommand::Parked { name, limit } => {
            print_parked(&projector, name.as_deref(), *limit).await
        }
        ProjectionsCommand::RetryParked { name } => retry_parked(&projector, name).await,
    };
    database.close().await?;
    result
}

async fn print_status(projector: &Projector) -> anyhow::Result<()> {
    println!(
        "{:<16} {:>7} {:<11} {:>10} {:>10} {:>9} {:>7}",
        "PROJECTION", "VERSION", "STATE", "POSITION", "LAG", "LAG (s)", "PARKED"
    );
    for status in projections::status::all(projector).await? {
        println!(
            "{:<16} {:>7} {:<11} {:>10} {:>10} {:>9.1} {:>7}",
            status.name,
            status.version,
            status.state,
            status.position,
            status.lag_events,
            status.lag_seconds,
            status.parked
        );
        if let Some(backlog) = status.backlog {
            println!(
                "  calls to WeChat: {} waiting (the oldest {:.0} s), {} failed, {} made",
                backlog.pending,
                backlog.oldest_pending_seconds,
                backlog.failed,
                backlog.done_last_hour
            );
        }
        if let Some(error) = status.error {
            println!("  error: {error}");
        }
        if let Some(position) = status.rebuild_position {
            println!("  rebuild at {position} of {}", status.head);
        }
        if let Some(error) = status.rebuild_error {
            println!("  last rebuild stopped: {}", error.escape_debug());
        }
    }
    // What holds the read side back, or would without the horizon's watcher.
    let horizon = crate::feed_horizon::look(projector.pool()).await?;
    for holder in &horizon.long_running {
        let age = holder.age_seconds(chrono::Utc::now());
        println!("long transaction ({age:.0} s): {holder}");
    }
    Ok(())
}

pub(super) async fn rebuild_with_progress(
    projector: &Projector,
    names: &[String],
) -> anyhow::Result<()> {
    for name in names {
        let bar = ProgressBar::new(0).with_style(
            ProgressStyle::with_template(
                "{prefix:>12} [{bar:40}] feed position {pos}/{len}  {msg}  ETA {eta}",
            )?
            .progress_chars("=> "),
        );
        bar.set_prefix(name.clone());
        let started = std::time::Instant::now();
        // The bar moves along the feed's positions (what is left to read); the message
        // counts the events applied, as the summary does (a projection skips the events
        // it does not read).
        let applied = rebuild(projector, name, |progress| {
            bar.set_length(u64::try_from(progress.head).unwrap_or_default());
            bar.set_position(u64::try_from(progress.position).unwrap_or_default());
            let seconds = started.elapsed().as_secs_f64();
            bar.set_message(
                match throughput::per_second(progress.applied, seconds, "events") {
                    Some(rate) => format!("{} events applied, {rate}", progress.applied),
                    None => format!("{} events applied", progress.applied),
                },
            );
        })
        .await
        .with_context(|| format!("rebuilding {name}"))?;
        bar.finish_and_clear();
        let seconds = started.elapsed().as_secs_f64();
        println!(
            "{name}: rebuilt from {applied} events in {seconds:.1} s{} and swapped in",
            throughput::in_brackets(applied, seconds, "events")
        );
    }
    Ok(())
}

async fn print_parked(projector: &Projector, name: Option<&str>, limit: i64) -> anyhow::Result<()> {
    let parked = parking::list(projector.pool(), name, limit, 0).await?;
    if parked.is_empty() {
        println!("no parked events");
        return Ok(());
    }
    println!(
        "{:<14} {:>10} {:<24} {:<44} {:>8}  ERROR",
        "PROJECTION", "POSITION", "TYPE", "STREAM", "ATTEMPTS"
    );
    for event in parked {
        println!(
            "{:<14} {:>10} {:<24} {:<44} {:>8}  {}",
            event.projection,
            event.position,
            event.event_type,
            format!(
                "{}/{}#{}",
                event.aggregate_type, event.aggregate_id, event.sequence
            ),
            event.attempts,
            event.error.escape_debug()
        );
    }
    Ok(())
}

async fn retry_parked(projector: &Projector, name: &str) -> anyhow::Result<()> {
    if projector.projection(name).is_none() {
        anyhow::bail!("no projection is called {name}");
    }
    let retried = projector
        .retry_parked(name)
        .await
        .with_context(|| format!("retrying {name}'s parked events"))?;
    println!(
        "{name}: {} applied, {} still parked{}",
        retried.applied,
        retried.still_parked,
        if retried.resumed { "; resumed" } else { "" }
    );
    if retried.still_parked > 0 {
        anyhow::bail!("{} events of {name} are still parked", retried.still_parked);
    }
    Ok(())
}
