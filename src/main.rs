//! The `ordo` binary: parse the command line, set up logging, run the command.

use clap::Parser;
use ordo::cli::{Cli, Command};
use ordo::commands;
use tracing_subscriber::EnvFilter;

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let result = match &cli.command {
        Some(Command::Token(args)) => commands::token(&cli.global, args),
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
            Some(Command::Token(args)) => commands::token(&cli.global, args),
            Some(Command::Bench(args)) => ordo::bench::run(args).await,
            Some(Command::Projections(command)) => {
                commands::projections(&cli.global, command).await
            }
            None => commands::serve(&cli.global, &cli.serve).await,
        }
    })
}
