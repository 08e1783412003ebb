//! Safe defaults: a server reachable from other machines runs in production mode unless
//! told otherwise, and refuses to start without what production needs, rather than
//! starting with dev logins, free simulated payments or a generated secret.

use super::{GlobalArgs, ServeArgs};

/// Dev mode for `serve`: as set (`--dev`/`ORDO_DEV`); otherwise off on a non-loopback
/// address, and on a loopback one left to the database (on with the embedded one).
pub fn dev_mode_for(args: &ServeArgs) -> Option<bool> {
    args.dev
        .or_else(|| (!args.listen.ip().is_loopback()).then_some(false))
}

/// What a production server on a non-loopback address still lacks, by setting name.
pub fn missing_for_production(global: &GlobalArgs, args: &ServeArgs) -> Vec<&'static str> {
    let set = |value: &Option<String>| value.as_deref().is_some_and(|v| !v.trim().is_empty());
    let mut missing = Vec::new();
    if !set(&global.jwt_secret) {
        missing.push("ORDO_JWT_SECRET");
    }
    if !set(&args.wechat.wechat_app_id) {
        missing.push("ORDO_WECHAT_APP_ID");
    }
    if !set(&args.wechat.wechat_app_secret) {
        missing.push("ORDO_WECHAT_APP_SECRET");
    }
    if !set(&args.wechat_pay.wechatpay_mch_id) {
        missing.push("ORDO_WECHATPAY_MCH_ID");
    }
    missing
}

/// Refuses a production server on a non-loopback address that lacks a setting, naming
/// every one.
pub fn check(global: &GlobalArgs, args: &ServeArgs, dev_mode: bool) -> anyhow::Result<()> {
    if dev_mode || args.listen.ip().is_loopback() {
        return Ok(());
    }
    let missing = missing_for_production(global, args);
    if missing.is_empty() {
        return Ok(());
    }
    anyhow::bail!(
        "ordo listens on {} (not loopback) without ORDO_DEV=true, so it runs in production \
         mode, which needs {} (and with ORDO_WECHATPAY_MCH_ID, the other ORDO_WECHATPAY_* \
         settings). Set them, or ORDO_DEV=true for a dev server on this address.",
        args.listen,
        missing.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    /// `ordo serve`'s settings, as its command line reads them.
    #[derive(Parser)]
    struct Serve {
        #[command(flatten)]
        global: GlobalArgs,
        #[command(flatten)]
        serve: ServeArgs,
    }

    fn serve(argv: &[&str]) -> (GlobalArgs, ServeArgs) {
        let parsed = Serve::try_parse_from(argv).expect("arguments parse");
        (parsed.global, parsed.serve)
    }

    #[test]
    fn dev_mode_is_a_default_on_loopback_only() {
        let (_, local) = serve(&["ordo", "--listen", "127.0.0.1:8080"]);
        assert_eq!(dev_mode_for(&local), None, "left to the database");
        let (_, public) = serve(&["ordo", "--listen", "0.0.0.0:8080"]);
        assert_eq!(dev_mode_for(&public), Some(false));
        let (_, asked) = serve(&["ordo", "--listen", "0.0.0.0:8080", "--dev", "true"]);
        assert_eq!(dev_mode_for(&asked), Some(true));
    }

    #[test]
    fn dev_mode_is_by_default_only_when_nothing_asked_for_it() {
        let by_default = |argv: &[&str]| {
            let (global, args) = serve(argv);
            let config = super::super::Config::resolve(&global, dev_mode_for(&args))
                .expect("settings resolve");
            (config.dev_mode, config.dev_mode_by_default)
        };
        assert_eq!(by_default(&["ordo"]), (true, true), "embedded, loopback");
        assert_eq!(
            by_default(&["ordo", "--dev", "true"]),
            (true, false),
            "asked for"
        );
        assert_eq!(by_default(&["ordo", "--dev", "false"]), (false, false));
        let external = ["ordo", "--database-url", "postgres://u@localhost/ordo"];
        assert_eq!(by_default(&external), (false, false));
    }

    #[test]
    fn a_public_production_server_names_every_missing_setting() {
        let (global, public) = serve(&["ordo", "--listen", "[::]:8080"]);
        let refused = check(&global, &public, false)
            .expect_err("refused")
            .to_string();
        for name in [
            "ORDO_JWT_SECRET",
            "ORDO_WECHAT_APP_ID",
            "ORDO_WECHAT_APP_SECRET",
            "ORDO_WECHATPAY_MCH_ID",
        ] {
            assert!(refused.contains(name), "{refused}");
        }
        assert!(check(&global, &public, true).is_ok(), "dev mode asked for");
        let (global, local) = serve(&["ordo", "--listen", "127.0.0.1:8080"]);
        assert!(check(&global, &local, false).is_ok(), "loopback");
    }
}
