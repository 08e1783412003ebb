//! The settings, resolved once: the flags and variables ([`args`]) checked and turned
//! into what the rest of ordo uses.

pub mod args;
pub mod duration;
mod payment_args;
pub mod production;
mod rate_setting;
mod replica_args;
mod wechat_args;
mod wechat_pay;

use std::path::{Path, PathBuf};
use std::str::FromStr;

use sqlx::postgres::PgConnectOptions;

pub use args::{GlobalArgs, LogFormat, RetentionArgs, ServeArgs};

use crate::secret::{self, Secret};
use crate::wechat::WeChatConfig;
use crate::wechat::messages::{MessageSettings, Template, TemplateFields};

/// Environment variable holding the JWT secret.
pub const JWT_SECRET_ENV: &str = "ORDO_JWT_SECRET";

/// The shortest JWT secret accepted outside dev mode (HS256 wants at least 256 bits).
pub const MIN_JWT_SECRET_BYTES: usize = 32;

/// The database ordo uses inside the embedded cluster.
pub const EMBEDDED_DATABASE: &str = "ordo";

/// Where the data lives.
#[derive(Debug, Clone)]
pub enum DatabaseSource {
    /// ordo's own PostgreSQL in `<data dir>/postgres`.
    Embedded,
    /// A database given by `DATABASE_URL`.
    External(Box<PgConnectOptions>),
}

#[derive(Debug, Clone)]
pub struct Config {
    pub data_dir: PathBuf,
    pub database: DatabaseSource,
    pub dev_mode: bool,
    /// Dev mode is on only because nothing said otherwise (no `ORDO_DEV`, embedded
    /// database, loopback): the server warns, and dev-only paths refuse proxied requests.
    pub dev_mode_by_default: bool,
    /// `ORDO_JWT_SECRET` as given; [`Config::jwt_secret`] checks it or makes one.
    given_jwt_secret: Option<String>,
    /// Where the embedded PostgreSQL's binaries are, if not found by the usual search.
    pub pg_bin_dir: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("DATABASE_URL is not a valid PostgreSQL URL: {0}")]
    DatabaseUrl(sqlx::Error),
    #[error(
        "{JWT_SECRET_ENV} must be set to a secret of at least {MIN_JWT_SECRET_BYTES} bytes \
         outside dev mode (for example: openssl rand -hex 32)"
    )]
    JwtSecretRequired,
    #[error("{JWT_SECRET_ENV} is too short: at least {MIN_JWT_SECRET_BYTES} bytes are required")]
    JwtSecretTooShort,
    #[error("WeChat Pay: {0}")]
    WeChatPay(String),
    #[error("could not read or create the JWT secret in {path}: {source}")]
    SecretFile {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl Config {
    /// Resolves the settings. `ORDO_JWT_SECRET` wins over the data directory's secret;
    /// the latter is created on first use, but only in dev mode.
    /// `dev`: `--dev` where a command has it (`serve`, `token`); otherwise dev mode
    /// follows the database (on with the embedded one).
    pub fn resolve(args: &GlobalArgs, dev: Option<bool>) -> Result<Self, ConfigError> {
        let database = match &args.database_url {
            Some(url) => DatabaseSource::External(Box::new(
                PgConnectOptions::from_str(url).map_err(ConfigError::DatabaseUrl)?,
            )),
            None => DatabaseSource::Embedded,
        };
        let dev_mode = dev.unwrap_or(matches!(database, DatabaseSource::Embedded));
        Ok(Self {
            data_dir: args.data_dir.clone(),
            database,
            dev_mode,
            dev_mode_by_default: dev_mode && dev.is_none(),
            given_jwt_secret: args.jwt_secret.clone(),
            pg_bin_dir: args.pg_bin_dir.clone(),
        })
    }

    /// The secret that signs access tokens: the one given, checked, or in dev mode the
    /// data directory's (created on first use). Only what signs or checks tokens asks,
    /// so other commands create nothing in the data directory.
    pub fn jwt_secret(&self) -> Result<Secret, ConfigError> {
        jwt_secret(
            self.given_jwt_secret.as_deref(),
            &self.data_dir,
            self.dev_mode,
        )
    }

    /// WeChat login, from `serve`'s settings.
    pub fn wechat(args: &ServeArgs) -> WeChatConfig {
        let wechat = &args.wechat;
        WeChatConfig {
            base_url: wechat.wechat_base_url.clone(),
            app_id: wechat.wechat_app_id.clone().filter(|id| !id.is_empty()),
            app_secret: wechat
                .wechat_app_secret
                .clone()
                .filter(|secret| !secret.is_empty())
                .map(Secret::new),
            max_in_flight: wechat.wechat_max_in_flight,
            messages: Self::messages(wechat),
            ..WeChatConfig::default()
        }
    }

    /// The subscribe messages, from `serve`'s settings: a template set (not empty) for
    /// each occasion that sends one.
    fn messages(wechat: &args::WeChatArgs) -> MessageSettings {
        let template = |id: &Option<String>, fields: &TemplateFields| {
            id.as_deref()
                .map(str::trim)
                .filter(|id| !id.is_empty())
                .map(|id| Template {
                    id: id.to_owned(),
                    fields: fields.clone(),
                })
        };
        MessageSettings {
            paid: template(
                &wechat.wechat_template_paid,
                &wechat.wechat_template_paid_fields,
            ),
            shipped: template(
                &wechat.wechat_template_shipped,
                &wechat.wechat_template_shipped_fields,
            ),
            refunded: template(
                &wechat.wechat_template_refunded,
                &wechat.wechat_template_refunded_fields,
            ),
            page: wechat.wechat_message_page.clone(),
            miniprogram_state: wechat.wechat_miniprogram_state.clone(),
        }
    }

    /// The embedded cluster's directory.
    pub fn postgres_dir(&self) -> PathBuf {
        self.data_dir.join("postgres")
    }

    /// The file holding the embedded cluster's superuser password.
    pub fn postgres_password_file(&self) -> PathBuf {
        self.data_dir.join("postgres-password")
    }
}

fn jwt_secret(given: Option<&str>, data_dir: &Path, dev_mode: bool) -> Result<Secret, ConfigError> {
    if let Some(value) = given {
        if value.len() < MIN_JWT_SECRET_BYTES {
            return Err(ConfigError::JwtSecretTooShort);
        }
        return Ok(Secret::new(value));
    }
    if !dev_mode {
        return Err(ConfigError::JwtSecretRequired);
    }
    let path = data_dir.join("jwt-secret");
    secret::load_or_create(&path).map_err(|source| ConfigError::SecretFile { path, source })
}
