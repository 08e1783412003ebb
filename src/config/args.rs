//! Every setting, declared once: a flag and an `ORDO_*` (or `DATABASE_URL`) variable
//! with its default, so `ordo serve --help` lists them all. Nothing else reads the
//! environment for settings.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::str::FromStr;

use clap::{Args, FromArgMatches, ValueEnum};
use ipnet::IpNet;

use super::duration::{self, SettingDuration};
use crate::client_deadlines::ClientDeadlines;
use crate::rate_limit::{LoginRate, Rate, RateLimits};
use crate::retention::RetentionSettings;
use crate::write::WriteSettings;
use crate::{wechat, wechat_pay};

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

    /// How long a refund waits for WeChat Pay's notice before ordo asks WeChat Pay
    /// about it (and sends it again if WeChat Pay never got it), e.g. `1m`.
    #[arg(long, env = "ORDO_REFUND_FOLLOW_UP", value_name = "DURATION",
          default_value_t = wechat_pay::DEFAULT_REFUND_FOLLOW_UP.into(), value_parser = duration::positive)]
    pub refund_follow_up: SettingDuration,

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
          default_value_t = RetentionSettings::default().session_retention.into(), value_parser = duration::positive)]
    pub session_retention: SettingDuration,

    /// How long a payment notice (accepted, duplicate, refund required or refused) is
    /// kept after it arrived, e.g. `90d`.
    #[arg(long, env = "ORDO_PAYMENT_NOTICE_RETENTION", value_name = "DURATION",
          default_value_t = RetentionSettings::default().payment_notice_retention.into(), value_parser = duration::positive)]
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

/// The mini program's WeChat account, for logins (`wx.login()` codes).
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "WeChat login")]
pub struct WeChatArgs {
    /// The mini program's AppID.
    #[arg(long, env = "ORDO_WECHAT_APP_ID")]
    pub wechat_app_id: Option<String>,

    /// The mini program's AppSecret.
    #[arg(long, env = "ORDO_WECHAT_APP_SECRET", hide_env_values = true)]
    pub wechat_app_secret: Option<String>,

    /// A file holding ORDO_WECHAT_APP_SECRET.
    #[arg(
        long,
        env = "ORDO_WECHAT_APP_SECRET_FILE",
        conflicts_with = "wechat_app_secret"
    )]
    pub wechat_app_secret_file: Option<PathBuf>,

    /// WeChat's API (a test double's in tests).
    #[arg(long, env = "ORDO_WECHAT_BASE_URL", default_value = wechat::DEFAULT_BASE_URL)]
    pub wechat_base_url: String,

    /// Most logins waiting for WeChat at once, per process; past it a login is answered
    /// 429 at once instead of queueing calls that spend the quota.
    #[arg(long, env = "ORDO_WECHAT_MAX_IN_FLIGHT", default_value_t = wechat::WeChatConfig::default().max_in_flight,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub wechat_max_in_flight: u32,
}

/// The merchant account for WeChat Pay v3. Setting the merchant id requires the rest;
/// without it, dev mode simulates payments and production answers payments with 503.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "WeChat Pay")]
pub struct WeChatPayArgs {
    /// The merchant id (商户号).
    #[arg(long, env = "ORDO_WECHATPAY_MCH_ID")]
    pub wechatpay_mch_id: Option<String>,

    /// The serial number of the merchant's API certificate.
    #[arg(long, env = "ORDO_WECHATPAY_MCH_SERIAL_NO")]
    pub wechatpay_mch_serial_no: Option<String>,

    /// The merchant's API private key (PEM file).
    #[arg(long, env = "ORDO_WECHATPAY_MCH_PRIVATE_KEY_FILE")]
    pub wechatpay_mch_private_key_file: Option<PathBuf>,

    /// WeChat Pay's public key (PEM file), to verify its answers and notices.
    #[arg(long, env = "ORDO_WECHATPAY_PUBLIC_KEY_FILE")]
    pub wechatpay_public_key_file: Option<PathBuf>,

    /// The id of WeChat Pay's public key (`Wechatpay-Serial` of what it signs).
    #[arg(long, env = "ORDO_WECHATPAY_PUBLIC_KEY_ID")]
    pub wechatpay_public_key_id: Option<String>,

    /// The APIv3 key (32 bytes) that decrypts notices.
    #[arg(long, env = "ORDO_WECHATPAY_APIV3_KEY", hide_env_values = true)]
    pub wechatpay_apiv3_key: Option<String>,

    /// A file holding ORDO_WECHATPAY_APIV3_KEY.
    #[arg(
        long,
        env = "ORDO_WECHATPAY_APIV3_KEY_FILE",
        conflicts_with = "wechatpay_apiv3_key"
    )]
    pub wechatpay_apiv3_key_file: Option<PathBuf>,

    /// The public HTTPS URL of `/api/v1/payments/wechat/notify` on this shop.
    #[arg(long, env = "ORDO_WECHATPAY_NOTIFY_URL")]
    pub wechatpay_notify_url: Option<String>,

    /// WeChat Pay's API (a test double's in tests).
    #[arg(long, env = "ORDO_WECHATPAY_BASE_URL", default_value = wechat_pay::DEFAULT_BASE_URL)]
    pub wechatpay_base_url: String,
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

/// A rate limit setting: `off`, `N` (burst 2N) or `N/B`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateSetting(pub Option<Rate>);

impl RateSetting {
    fn default_per_ip() -> Self {
        Self(RateLimits::default().per_ip)
    }

    fn default_per_user() -> Self {
        Self(RateLimits::default().per_user)
    }
}

/// An allowance as the settings write it: `off` (`Some(None)`), `N` (burst 2N) or `N/B`
/// (`Some(Some((N, B)))`); `None` when it is neither.
fn parse_allowance(value: &str) -> Option<Option<(u32, u32)>> {
    let value = value.trim();
    if value == "off" {
        return Some(None);
    }
    let (rate, burst) = match value.split_once('/') {
        Some((rate, burst)) => (rate.parse().ok()?, burst.parse().ok()?),
        None => {
            let rate: u32 = value.parse().ok()?;
            (rate, rate.saturating_mul(2))
        }
    };
    (rate > 0 && burst > 0).then_some(Some((rate, burst)))
}

impl FromStr for RateSetting {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, String> {
        let allowance = parse_allowance(value).ok_or_else(|| {
            "`off` or requests per second with an optional burst, e.g. `20` or `20/40`".to_owned()
        })?;
        Ok(Self(
            allowance.map(|(per_second, burst)| Rate { per_second, burst }),
        ))
    }
}

/// The login allowance setting: `off`, `N` (burst 2N) or `N/B`, per minute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginRateSetting(pub Option<LoginRate>);

impl LoginRateSetting {
    fn default_per_ip() -> Self {
        Self(RateLimits::default().login_per_ip)
    }
}

impl FromStr for LoginRateSetting {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, String> {
        let allowance = parse_allowance(value).ok_or_else(|| {
            "`off` or logins per minute with an optional burst, e.g. `10` or `10/20`".to_owned()
        })?;
        Ok(Self(allowance.map(|(per_minute, burst)| LoginRate {
            per_minute,
            burst,
        })))
    }
}

impl fmt::Display for LoginRateSetting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            None => f.write_str("off"),
            Some(rate) => write!(f, "{}/{}", rate.per_minute, rate.burst),
        }
    }
}

impl fmt::Display for RateSetting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            None => f.write_str("off"),
            Some(rate) => write!(f, "{}/{}", rate.per_second, rate.burst),
        }
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

    #[test]
    fn rates_read_as_documented() {
        let rate = |per_second, burst| RateSetting(Some(Rate { per_second, burst }));
        assert_eq!("20".parse(), Ok(rate(20, 40)));
        assert_eq!(" 20/25 ".parse(), Ok(rate(20, 25)));
        assert_eq!("off".parse(), Ok(RateSetting(None)));
        for bad in ["", "0", "-1", "20/0", "fast", "20/x"] {
            assert!(bad.parse::<RateSetting>().is_err(), "{bad:?} was accepted");
        }
        assert_eq!(rate(500, 1000).to_string(), "500/1000");
        let login = |per_minute, burst| LoginRateSetting(Some(LoginRate { per_minute, burst }));
        assert_eq!("10/20".parse(), Ok(login(10, 20)));
        assert_eq!("3".parse(), Ok(login(3, 6)));
        assert_eq!("off".parse(), Ok(LoginRateSetting(None)));
        assert!("0/5".parse::<LoginRateSetting>().is_err());
        assert_eq!(LoginRateSetting::default_per_ip().to_string(), "10/20");
    }
}
