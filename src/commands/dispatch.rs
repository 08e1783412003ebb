//! Running the command the command line names.
//!
//! In the library rather than in `main.rs` for the build's sake: the async state
//! machines of every command are instantiated where they are first awaited, and in a
//! release build the binary crate would compile them all a second time (41 s of a
//! fresh release build on 2 cores).

use crate::cli::{Cli, Command};

/// Runs the command `cli` names (serving when it names none).
pub fn run(cli: &Cli) -> anyhow::Result<()> {
    match &cli.command {
        Some(Command::Token(args)) if args.action.is_none() => super::token(&cli.global, args),
        Some(Command::ConsoleUrl(args)) => super::console_url(&cli.global, args),
        _ => run_async(cli),
    }
}

/// The commands that need the database run on a Tokio runtime.
fn run_async(cli: &Cli) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Runtime::new()?;
    let result = runtime.block_on(async {
        match &cli.command {
            Some(Command::Migrate) => super::migrate(&cli.global).await,
            Some(Command::Serve(args)) => super::serve(&cli.global, args).await,
            Some(Command::Token(args)) => super::token_action(&cli.global, args).await,
            Some(Command::ConsoleUrl(args)) => super::console_url(&cli.global, args),
            Some(Command::Bench(args)) => {
                crate::bench::run(args, cli.global.pg_bin_dir.as_deref()).await
            }
            Some(Command::Soak(args)) => crate::bench::soak::run(args).await,
            Some(Command::Projections(command)) => super::projections(&cli.global, command).await,
            Some(Command::Audit(command)) => super::audit(&cli.global, command).await,
            Some(Command::Purge(args)) => super::purge(&cli.global, args).await,
            Some(Command::Reconcile { date }) => super::reconcile(&cli.global, *date).await,
            Some(Command::Backup { dir, key }) => super::backup(&cli.global, key, dir).await,
            Some(Command::Restore { dir, key }) => super::restore(&cli.global, key, dir).await,
            None => super::serve(&cli.global, &cli.serve).await,
        }
    });
    // Everything that matters was awaited (the database closed, the server stopped):
    // exit now rather than wait for idle tasks and blocking threads to wind down.
    runtime.shutdown_background();
    result
}
