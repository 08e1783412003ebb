//! The `ordo` binary: parse the command line, set up logging, run the command.

use std::io::IsTerminal;

use ordo::cli::{Cli, Command};
use ordo::commands;
use ordo::config::LogFormat;
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

// glibc's malloc showed up first in the request path's profile; mimalloc cut it down.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    let mut cli = Cli::parse_command_line();
    if let Err(err) = cli.read_secret_files() {
        eprintln!("error: {err}");
        return std::process::ExitCode::FAILURE;
    }
    init_logs(&cli);
    for warning in &cli.warnings {
        tracing::warn!("{warning}");
    }
    match commands::run(&cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        // `ordo audit order … | head`: the reader went away; stop as other tools do.
        Err(err) if is_closed_pipe(&err) => std::process::ExitCode::from(141),
        Err(err) => {
            eprintln!("error: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn is_closed_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// Logs go to stderr: info for the server, warnings only for the other commands (their
/// output is for people and scripts) unless `-v`; RUST_LOG (`warn`, `ordo=debug,sqlx=warn`)
/// overrides. Colour only on a terminal. (`Targets` rather than `EnvFilter`, which
/// compiles a regex engine into the binary for span filters nobody here uses.)
fn init_logs(cli: &Cli) {
    let serving = matches!(cli.command, None | Some(Command::Serve(_)));
    let level = match (serving, cli.global.verbose) {
        (_, 2..) => LevelFilter::DEBUG,
        (true, _) | (false, 1) => LevelFilter::INFO,
        (false, 0) => LevelFilter::WARN,
    };
    let filter = std::env::var("RUST_LOG")
        .ok()
        .and_then(|spec| spec.parse::<Targets>().ok())
        .unwrap_or_else(|| Targets::new().with_default(level));
    let logs = tracing_subscriber::fmt::layer()
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    let registry = tracing_subscriber::registry().with(filter);
    match cli.global.log_format {
        // One JSON object per line, with the request's span (method, path, request id).
        LogFormat::Json => registry.with(logs.json().with_current_span(true)).init(),
        LogFormat::Text => registry.with(logs).init(),
    }
}
