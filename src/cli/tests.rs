//! The command line's parsing, as an operator types it.

use std::time::Duration;

use clap::CommandFactory;

use super::subcommands::{instant, operator_ttl};
use super::*;
use crate::retention::RetentionSettings;

/// Every `ORDO_*` name in the source, so a setting read anywhere is one the help shows.
fn variables_in_source() -> Vec<String> {
    let mut names = Vec::new();
    let mut dirs = vec![std::path::PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/src"
    ))];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("read src").flatten() {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
                continue;
            }
            let text = std::fs::read_to_string(&path).expect("read a source file");
            for (start, _) in text.match_indices("\"ORDO_") {
                let name: String = text[start + 1..]
                    .chars()
                    .take_while(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == '_')
                    .collect();
                names.push(name);
            }
        }
    }
    names.sort();
    names.dedup();
    names
}

#[test]
fn instants_are_read_in_the_forms_people_type() {
    let utc = |text: &str| {
        chrono::DateTime::parse_from_rfc3339(text)
            .expect("rfc 3339")
            .to_utc()
    };
    for (typed, meant) in [
        ("2026-11-25T01:12:45Z", "2026-11-25T01:12:45Z"),
        ("2026-11-25T09:12:45+08:00", "2026-11-25T01:12:45Z"),
        ("2026-11-25 01:12:45", "2026-11-25T01:12:45Z"),
        ("2026-11-25T01:12:45.5", "2026-11-25T01:12:45.5Z"),
        (" 2026-11-25 01:12 ", "2026-11-25T01:12:00Z"),
    ] {
        assert_eq!(instant(typed), Ok(utc(meant)), "{typed}");
    }
    let refused = instant("2026-11-25 25:00:00").expect_err("no such hour");
    assert!(refused.contains("RFC 3339"), "{refused}");
    assert!(instant("yesterday").is_err());
}

#[test]
fn a_token_lasting_too_long_is_refused_in_the_units_the_help_uses() {
    let refused = operator_ttl("25h").expect_err("too long");
    assert!(refused.starts_with("at most 24h"), "{refused}");
    assert_eq!(operator_ttl("24h"), Ok(Duration::from_secs(24 * 3600)));
}

#[test]
fn the_payment_timeouts_old_variable_is_read_with_a_warning_unless_the_new_one_is_given() {
    let parse = |args: &[&str], old: Option<&str>| {
        let mut command = Cli::command();
        let matches = command.try_get_matches_from_mut(args).expect("parses");
        let mut cli = Cli::from_arg_matches(&matches).expect("parses");
        let read = cli.read_old_names(&matches, old.map(str::to_owned));
        (cli, read)
    };
    let (cli, read) = parse(&["ordo"], Some("2s"));
    assert_eq!(
        (read, cli.serve.payment_timeout.0),
        (Ok(()), Duration::from_secs(2))
    );
    assert!(
        cli.warnings[0].contains("rename it ORDO_PAYMENT_TIMEOUT"),
        "{:?}",
        cli.warnings
    );

    let (cli, _) = parse(&["ordo", "serve"], Some("3m"));
    let Some(Command::Serve(serve)) = &cli.command else {
        panic!("serve");
    };
    assert_eq!(serve.payment_timeout.0, Duration::from_secs(180));

    let (cli, _) = parse(&["ordo", "--payment-timeout", "5s"], Some("2s"));
    assert_eq!(cli.serve.payment_timeout.0, Duration::from_secs(5));
    assert!(cli.warnings[0].contains("ignored"), "{:?}", cli.warnings);

    let (_, read) = parse(&["ordo"], Some("soon"));
    assert!(
        read.expect_err("refused")
            .starts_with("ORDER_PAYMENT_TIMEOUT: ")
    );

    let (cli, _) = parse(&["ordo"], None);
    assert!(cli.warnings.is_empty());
    assert_eq!(cli.serve.payment_timeout.to_string(), "15m");
}

#[test]
fn global_options_go_before_or_after_the_subcommand() {
    for args in [
        ["ordo", "--data-dir", "/srv/shop", "projections", "status"],
        ["ordo", "projections", "status", "--data-dir", "/srv/shop"],
    ] {
        let cli = Cli::try_parse_command_line(args).expect("parses");
        assert_eq!(cli.global.data_dir, PathBuf::from("/srv/shop"), "{args:?}");
        assert!(matches!(cli.command, Some(Command::Projections(_))));
    }
}

#[test]
fn a_serve_flag_before_another_command_is_refused_naming_it() {
    let refused = Cli::try_parse_command_line(["ordo", "--listen", "0.0.0.0:80", "migrate"])
        .expect_err("refused");
    assert!(
        refused
            .to_string()
            .contains("--listen is a flag of `serve`, not of `migrate`"),
        "{refused}"
    );
    let cli = Cli::try_parse_command_line(["ordo", "--listen", "127.0.0.1:9000"])
        .expect("a bare ordo takes serve's flags");
    assert!(cli.command.is_none());
}

#[test]
fn serve_help_lists_every_setting_with_its_variable() {
    let mut cli = Cli::command();
    // Global flags reach the subcommands when the command is built.
    cli.build();
    let help = cli
        .find_subcommand_mut("serve")
        .expect("serve")
        .render_long_help()
        .to_string();
    let variables = variables_in_source();
    assert!(variables.len() > 20, "found only {variables:?}");
    for name in variables {
        // The soak test's client setting is `ordo soak`'s, not the server's; the backup
        // key is `ordo backup`'s and `ordo restore`'s, kept out of the server's reach.
        if [
            "ORDO_SOAK_ADMIN_TOKEN",
            "ORDO_BACKUP_KEY",
            "ORDO_BACKUP_KEY_FILE",
        ]
        .contains(&name.as_str())
        {
            continue;
        }
        assert!(
            help.contains(&format!("[env: {name}")),
            "`ordo serve --help` does not list {name}"
        );
    }
    for shared in [
        "DATABASE_URL",
        "ORDER_PAYMENT_TIMEOUT",
        "ORDO_PAYMENT_TIMEOUT",
    ] {
        assert!(help.contains(shared), "{shared} missing");
    }
}

#[test]
fn the_retention_defaults_on_the_command_line_are_the_servers_defaults() {
    let cli = Cli::try_parse_from(["ordo"]).expect("no flags parse");

    let defaults = RetentionSettings::default();
    assert_eq!(
        (
            cli.serve.retention.session_retention.0,
            cli.serve.retention.payment_notice_retention.0,
            cli.serve.retention_interval.0,
        ),
        (
            defaults.session_retention,
            defaults.payment_notice_retention,
            defaults.interval,
        )
    );
}
