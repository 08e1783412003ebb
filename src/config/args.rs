//! Every setting, declared once: a flag and an `ORDO_*` (or `DATABASE_URL`) variable
//! with its default, so `ordo serve --help` lists them all. Nothing else reads the
//! environment for settings.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use clap::{Args, FromArgMatches, ValueEnum};
use ipnet::IpNet;

use super::duration::{self, SettingDuration};
use super::payment_args::PaymentCheckArgs;
use super::rate_setting::{LoginRateSetting, RateSetting};
use super::replica_args::ReplicaArgs;
pub use super::wechat_args::{WeChatArgs, WeChatPayArgs};
use crate::client_deadlines::ClientDeadlines;
use crate::rate_limit::RateLimits;
use crate::retention::RetentionSettings;
use crate::wechat_pay;
use crate::write::WriteSettings;

/// The payment timeout's variable, and the name it had before settings took the `ORDO_`
/// prefix (read for one more release, with a deprecation warning).
pub const PAYMENT_TIMEOUT_ENV: &str = "ORDO_PAYMENT_TIMEOUT";
pub const PAYMENT_TIMEOUT_OLD_ENV: &str = "ORDER_PAYMENT_TIMEOUT";

/// Settings every command shares.
#[derive(Debug, Clone, Args)]
pub struct GlobalArgs {
    /// Where ordo keeps its embedded PostgreSQL and its generated secrets.
    #[arg(long, env = "ORDO_DATA_DIR", default_value = "./.ordo", global = true)]
    pub data_dir: PathBuf,

    /// Use this PostgreSQL database instead of the embedded one
    /// (postgres://user:password@host:port/database).
    #[arg(long, env = "DATABASE_URL", hide_env_values = true, global = true)]
    pub database_url: Option<String>,

    /// A file holding DATABASE_URL (as container platforms provide secrets).
    #[arg(
        long,
        env = "DATABASE_URL_FILE",
        global = true,
        conflicts_with = "database_url"
    )]
    pub database_url_file: Option<PathBuf>,

    /// The secret that signs access tokens, at least 32 bytes (e.g. `openssl rand -hex
    /// 32`); required outside dev mode. In dev mode, without it, one is generated once
    /// into the data directory. Prefer the variable: a command line is visible to others.
    #[arg(long, env = "ORDO_JWT_SECRET", hide_env_values = true, global = true)]
    pub jwt_secret: Option<String>,

    /// A file holding ORDO_JWT_SECRET.
    #[arg(
        long,
        env = "ORDO_JWT_SECRET_FILE",
        global = true,
        conflicts_with = "jwt_secret"
    )]
    pub jwt_secret_file: Option<PathBuf>,

    /// The directory holding PostgreSQL's initdb and pg_ctl, for the embedded database.
    /// Default: the newest /usr/lib/postgresql/<major>/bin, then PATH.
    #[arg(long, env = "ORDO_PG_BIN_DIR", global = true)]
    pub pg_bin_dir: Option<PathBuf>,

    /// How log lines are written: `text` for people, `json` (one object per line, with
    /// the request's method, path and id) for log collectors.
    #[arg(long, env = "ORDO_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text, global = true)]
    pub log_format: LogFormat,

    /// Log what the command does (info), not only warnings; `-vv` for debug.
    /// `serve` logs info by default. RUST_LOG overrides both.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
}

/// The key that authenticates backups (`ordo backup`, `ordo restore`).
#[derive(Debug, Clone, Default, Args)]
pub struct BackupKeyArgs {
    /// The operator's backup key, at least 32 bytes (e.g. `openssl rand -hex 32`):
    /// `backup` signs its manifest with it (HMAC-SHA256), `restore` refuses a backup it
    /// does not authenticate. Keep it apart from the backups. Required outside dev mode;
    /// in dev mode, without it, one is generated once into the data directory
    /// (`backup-key`).
    #[arg(long, env = "ORDO_BACKUP_KEY", hide_env_values = true)]
    pub backup_key: Option<String>,

    /// A file holding ORDO_BACKUP_KEY.
    #[arg(long, env = "ORDO_BACKUP_KEY_FILE", conflicts_with = "backup_key")]
    pub backup_key_file: Option<PathBuf>,
}

impl BackupKeyArgs {
    /// Reads the key given as a file (see [`read_secret_file`]).
    pub fn read_secret_files(&mut self) -> Result<(), String> {
        read_secret_file(
            &mut self.backup_key,
            &self.backup_key_file,
            "ORDO_BACKUP_KEY",
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// The server's settings.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Dev mode: dev logins and simulated payments. Default: on with the embedded
    /// database on a loopback address; off with DATABASE_URL or on any other address,
    /// where production mode refuses to start without its settings.
    #[arg(long, env = "ORDO_DEV", value_name = "BOOL")]
    pub dev: Option<bool>,

    /// Address the HTTP server listens on.
    #[arg(long, env = "ORDO_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,

    /// How long an order may wait for payment before it is cancelled, e.g. `15m`, `2s`.
    /// The variable's old name, ORDER_PAYMENT_TIMEOUT, is still read, with a warning.
    #[arg(long, env = PAYMENT_TIMEOUT_ENV, value_name = "DURATION",
          default_value_t = WriteSettings::default().payment_timeout.into(), value_parser = duration::positive)]
    pub payment_timeout: SettingDuration,

    /// Most orders one shopper may have awaiting payment at a time; the next is refused
    /// (409, code 40905) until one is paid, cancelled or expires.
    #[arg(long, env = "ORDO_MAX_UNPAID_ORDERS", default_value_t = WriteSettings::default().max_unpaid_orders, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_unpaid_orders: u32,

    /// How long after shipping a shopper may ask to return goods (after-sales), e.g.
    /// `15d`.
    #[arg(long, env = "ORDO_RETURN_WINDOW", value_name = "DURATION",
          default_value_t = WriteSettings::default().return_window.into(), value_parser = duration::positive)]
    pub return_window: SettingDuration,

    /// How long a refund waits for WeChat Pay's notice before ordo asks WeChat Pay
    /// about it (and sends it again if WeChat Pay never got it), e.g. `1m`.
    #[arg(long, env = "ORDO_REFUND_FOLLOW_UP", value_name = "DURATION",
          default_value_t = wechat_pay::DEFAULT_REFUND_FOLLOW_UP.into(), value_parser = duration::positive)]
    pub refund_follow_up: SettingDuration,

    #[command(flatten)]
    pub payment_checks: PaymentCheckArgs,

    #[command(flatten)]
    pub read_replica: ReplicaArgs,

    #[command(flatten)]
    pub retention: RetentionArgs,

    /// How often the server deletes the rows past their retention, e.g. `10m`.
    #[arg(long, env = "ORDO_RETENTION_INTERVAL", value_name = "DURATION",
          default_value_t = RetentionSettings::default().interval.into(), value_parser = duration::positive)]
    pub retention_interval: SettingDuration,

    /// Accept `dev:<name>` login codes without the rest of dev mode (a staging server
    /// with real payments).
    #[arg(long, env = "ORDO_DEV_LOGIN")]
    pub dev_login: bool,

    /// Requests per second per client address: `N` (burst 2N), `N/B`, or `off`.
    /// Generous: mobile carriers put many shoppers behind one address.
    #[arg(long, env = "ORDO_RATE_LIMIT_IP", default_value_t = RateSetting::default_per_ip())]
    pub rate_limit_ip: RateSetting,

    /// Requests per second per signed-in user: `N` (burst 2N), `N/B`, or `off`.
    #[arg(long, env = "ORDO_RATE_LIMIT_USER", default_value_t = RateSetting::default_per_user())]
    pub rate_limit_user: RateSetting,

    /// Logins with a WeChat code per minute per client address (each spends a call of
    /// the mini program's WeChat quota): `N` (burst 2N), `N/B`, or `off`.
    #[arg(long, env = "ORDO_RATE_LIMIT_LOGIN", default_value_t = LoginRateSetting::default_per_ip())]
    pub rate_limit_login: LoginRateSetting,

    /// Browser origins allowed to call the API, comma-separated, or `*` (an operator's
    /// web console; mini programs need none).
    #[arg(long, env = "ORDO_CORS_ORIGINS", value_delimiter = ',')]
    pub cors_origins: Vec<String>,

    /// Reverse proxies (addresses or CIDR blocks, comma-separated) whose
    /// `X-Forwarded-For` is believed: behind them, rate limits, logs and events' metadata
    /// use the shopper's address. Default: none (the TCP peer is the client).
    #[arg(long, env = "ORDO_TRUSTED_PROXIES", value_delimiter = ',', value_parser = parse_proxy)]
    pub trusted_proxies: Vec<IpNet>,

    /// When set, `/metrics` needs `Authorization: Bearer <this token>`.
    #[arg(long, env = "ORDO_METRICS_TOKEN", hide_env_values = true)]
    pub metrics_token: Option<String>,

    /// A file holding ORDO_METRICS_TOKEN.
    #[arg(
        long,
        env = "ORDO_METRICS_TOKEN_FILE",
        conflicts_with = "metrics_token"
    )]
    pub metrics_token_file: Option<PathBuf>,

    /// How long a client may take to send a request's line and headers (also how long
    /// an idle kept-alive connection stays open), e.g. `10s`; past it the connection is
    /// closed.
    #[arg(long, env = "ORDO_HEADER_READ_TIMEOUT", value_name = "DURATION",
          default_value_t = ClientDeadlines::default().headers.into(), value_parser = duration::positive)]
    pub header_read_timeout: SettingDuration,

    /// How long a client may take to send a request's body once its headers are in,
    /// e.g. `30s`; past it the request is answered 408 and the connection closed.
    #[arg(long, env = "ORDO_BODY_READ_TIMEOUT", value_name = "DURATION",
          default_value_t = ClientDeadlines::default().body.into(), value_parser = duration::positive)]
    pub body_read_timeout: SettingDuration,

    #[command(flatten)]
    pub wechat: WeChatArgs,

    #[command(flatten)]
    pub wechat_pay: WeChatPayArgs,

    #[command(flatten)]
    pub media: MediaArgs,
}

impl ServeArgs {
    /// `serve`'s settings when no flag and no variable gives one: each its default.
    pub fn defaults() -> Self {
        let command = Self::augment_args(clap::Command::new("serve").no_binary_name(true))
            .mut_args(|arg| arg.env(None));
        let matches = command
            .try_get_matches_from(std::iter::empty::<String>())
            .expect("every setting of serve has a default or is optional");
        Self::from_arg_matches(&matches).expect("the defaults read back")
    }

    pub fn rate_limits(&self) -> RateLimits {
        RateLimits {
            per_ip: self.rate_limit_ip.0,
            per_user: self.rate_limit_user.0,
            login_per_ip: self.rate_limit_login.0,
        }
    }

    pub fn client_deadlines(&self) -> ClientDeadlines {
        ClientDeadlines {
            headers: self.header_read_timeout.into(),
            body: self.body_read_timeout.into(),
        }
    }

    /// The origins given, blanks dropped.
    pub fn cors_origins(&self) -> Vec<String> {
        self.cors_origins
            .iter()
            .map(|origin| origin.trim().to_owned())
            .filter(|origin| !origin.is_empty())
            .collect()
    }
}

/// Where product images are kept and served from.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Product images")]
pub struct MediaArgs {
    /// Where images are stored: a directory, or `s3://bucket/prefix` (credentials,
    /// region and endpoint from the usual AWS_* variables, e.g. AWS_ACCESS_KEY_ID,
    /// AWS_SECRET_ACCESS_KEY, AWS_REGION, AWS_ENDPOINT_URL, AWS_ALLOW_HTTP). Blank:
    /// `<data dir>/media`.
    #[arg(long, env = "ORDO_MEDIA_STORE", default_value = "")]
    pub media_store: String,

    /// The public base URL of images when a CDN serves them (`https://cdn.example.com/shop`,
    /// mapping to the store's prefix). Blank: ordo's own `/media`.
    #[arg(long, env = "ORDO_MEDIA_BASE_URL")]
    pub media_base_url: Option<String>,
}

/// How long the tables beside the event log keep their rows (the log keeps everything).
#[derive(Debug, Clone, Args)]
pub struct RetentionArgs {
    /// How long a login session is kept after it expired or was revoked, so operators
    /// still see recent revocations, e.g. `7d`.
    #[arg(long, env = "ORDO_SESSION_RETENTION", value_name = "DURATION",
          default_value_t = RetentionSettings::default().session_retention.into())]
    pub session_retention: SettingDuration,

    /// How long a payment notice (accepted, duplicate, refund required or refused) is
    /// kept after it arrived, e.g. `90d`.
    #[arg(long, env = "ORDO_PAYMENT_NOTICE_RETENTION", value_name = "DURATION",
          default_value_t = RetentionSettings::default().payment_notice_retention.into())]
    pub payment_notice_retention: SettingDuration,
}

impl RetentionArgs {
    /// The retention periods given (the purge interval is the server's own setting).
    pub fn settings(&self) -> RetentionSettings {
        RetentionSettings {
            session_retention: self.session_retention.into(),
            payment_notice_retention: self.payment_notice_retention.into(),
            ..RetentionSettings::default()
        }
    }
}

/// A trusted proxy as the setting names it: an address or a CIDR block.
pub fn parse_proxy(value: &str) -> Result<IpNet, String> {
    let value = value.trim();
    value
        .parse::<IpNet>()
        .or_else(|_| value.parse::<IpAddr>().map(IpNet::from))
        .map_err(|_| format!("`{value}` is neither an address nor a CIDR block (10.0.0.0/8)"))
}

/// Secrets may come from files (`*_FILE`), as container platforms provide them: read
/// once, after parsing, into the setting itself, so the rest of ordo sees one value.
/// A final line break (as editors and `echo` leave) is not part of the secret.
fn read_secret_file(
    value: &mut Option<String>,
    file: &Option<PathBuf>,
    name: &str,
) -> Result<(), String> {
    if let Some(path) = file {
        let text = std::fs::read_to_string(path)
            .map_err(|err| format!("{name}_FILE ({}): {err}", path.display()))?;
        *value = Some(text.trim_end_matches(['\n', '\r']).to_owned());
    }
    Ok(())
}

impl GlobalArgs {
    /// Reads the secrets given as files (see [`read_secret_file`]).
    pub fn read_secret_files(&mut self) -> Result<(), String> {
        read_secret_file(
            &mut self.database_url,
            &self.database_url_file,
            "DATABASE_URL",
        )?;
        read_secret_file(
            &mut self.jwt_secret,
            &self.jwt_secret_file,
            "ORDO_JWT_SECRET",
        )
    }
}

impl ServeArgs {
    /// Reads the secrets given as files (see [`read_secret_file`]).
    pub fn read_secret_files(&mut self) -> Result<(), String> {
        read_secret_file(
            &mut self.metrics_token,
            &self.metrics_token_file,
            "ORDO_METRICS_TOKEN",
        )?;
        read_secret_file(
            &mut self.wechat.wechat_app_secret,
            &self.wechat.wechat_app_secret_file,
            "ORDO_WECHAT_APP_SECRET",
        )?;
        read_secret_file(
            &mut self.wechat_pay.wechatpay_apiv3_key,
            &self.wechat_pay.wechatpay_apiv3_key_file,
            "ORDO_WECHATPAY_APIV3_KEY",
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxies_are_addresses_or_cidr_blocks() {
        assert!(parse_proxy("127.0.0.1").is_ok());
        assert!(parse_proxy("::1").is_ok());
        assert!(parse_proxy("fd00::/8").is_ok());
        assert!(parse_proxy("10.0.0.0/33").is_err());
        assert!(parse_proxy("proxy.local").is_err());
    }

    #[test]
    fn a_secret_file_gives_the_setting_without_its_final_line_break() {
        let path = std::env::temp_dir().join(format!("ordo-secret-{}", std::process::id()));
        std::fs::write(&path, "s3cret value\n").expect("write");
        let mut value = None;
        read_secret_file(&mut value, &Some(path.clone()), "A_SECRET").expect("read");
        let _ = std::fs::remove_file(&path);
        assert_eq!(value.as_deref(), Some("s3cret value"));
        let missing = read_secret_file(&mut value, &Some(path), "A_SECRET").expect_err("gone");
        assert!(missing.starts_with("A_SECRET_FILE"), "{missing}");
    }
}
