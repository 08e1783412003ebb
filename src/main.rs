//! The `ordo` binary: parse the command line, set up logging, run the command.

use clap::Parser;
use ordo::cli::{Cli, Command};
use ordo::commands;
use tracing_subscriber::EnvFilter;

// glibc's malloc showed up first in the request path's profile; mimalloc cut it down.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    // ORDO_LOG_FORMAT=json: one JSON object per line (with the request's span: method,
    // path, request id), for log collectors.
    if std::env::var("ORDO_LOG_FORMAT").is_ok_and(|format| format == "json") {
        logs.json().with_current_span(true).init();
    } else {
        logs.init();
    }
    let result = match &cli.command {
        Some(Command::Token(args)) if args.action.is_none() => commands::token(&cli.global, args),
        _ => run_async(&cli),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// The commands that need the database run on a Tokio runtime.
fn run_async(cli: &Cli) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        match &cli.command {
            Some(Command::Migrate) => commands::migrate(&cli.global).await,
            Some(Command::Serve(args)) => commands::serve(&cli.global, args).await,
            Some(Command::Token(args)) => commands::token_action(&cli.global, args).await,
            Some(Command::Bench(args)) => ordo::bench::run(args).await,
            Some(Command::Soak(args)) => ordo::bench::soak::run(args).await,
            Some(Command::Projections(command)) => {
                commands::projections(&cli.global, command).await
            }
            Some(Command::Audit(command)) => commands::audit(&cli.global, command).await,
            Some(Command::Purge(args)) => commands::purge(&cli.global, args).await,
            None => commands::serve(&cli.global, &cli.serve).await,
        }
    })
}
