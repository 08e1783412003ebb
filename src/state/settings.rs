//! The server's settings as `ordo serve` reads them from its flags and variables: the
//! server and the tests build them by the same path, so each default is declared once (on
//! the flag, which takes it from the setting's own type).

use ipnet::IpNet;

use crate::client_deadlines::ClientDeadlines;
use crate::config::{Config, ServeArgs};
use crate::media::{MediaStore, MediaUrls};
use crate::rate_limit::RateLimits;
use crate::reads::replica::ReplicaSettings;
use crate::retention::RetentionSettings;
use crate::secret::Secret;
use crate::wechat::WeChatConfig;
use crate::wechat_pay::{PaymentCheckSettings, WeChatPayConfig};
use crate::write::WriteSettings;

/// A request's deadline unless the settings give another.
pub const DEFAULT_REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// The server's settings beyond the database and the JWT keys.
#[derive(Debug, Clone)]
pub struct AppSettings {
    /// Dev mode: dev logins (`dev:<name>`) and simulated payments.
    pub dev_mode: bool,
    /// Dev mode is on only because nobody said otherwise (embedded database, loopback,
    /// no `ORDO_DEV`): its dev-only paths refuse requests that came through a proxy.
    pub dev_mode_by_default: bool,
    /// Dev logins without the rest of dev mode (`ORDO_DEV_LOGIN=true`).
    pub dev_login: bool,
    pub write: WriteSettings,
    pub wechat: WeChatConfig,
    /// WeChat Pay; `None`: payments answer 503.
    pub wechat_pay: Option<WeChatPayConfig>,
    pub rate_limits: RateLimits,
    /// Browser origins allowed to call the API (an operator's web console); `*` for any.
    /// Mini programs need none.
    pub cors_origins: Vec<String>,
    /// How long sessions and payment notices are kept, and how often they are purged.
    pub retention: RetentionSettings,
    /// How long a request may run before its client is answered 503; `None`: 30 s.
    pub request_timeout: Option<std::time::Duration>,
    /// How long a client may take to send a request's headers, and its body.
    pub client_deadlines: ClientDeadlines,
    /// How long a refund waits for its notice before WeChat Pay is asked.
    pub refund_follow_up: std::time::Duration,
    /// When and how often ordo asks WeChat Pay about payments whose notices are late.
    pub payment_checks: PaymentCheckSettings,
    /// Reverse proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<IpNet>,
    /// When set, `/metrics` needs it as a bearer token.
    pub metrics_token: Option<Secret>,
    /// Where product images are stored; `None`: uploads answer 503.
    pub media: Option<MediaStore>,
    /// The base of image URLs: ordo's own `/media` unless a CDN's is set.
    pub media_urls: MediaUrls,
    /// A streaming replica for the catalog and shoppers' order reads.
    pub read_replica: Option<ReplicaSettings>,
}

impl AppSettings {
    /// The settings `args` give, before what needs the machine (dev mode, which depends
    /// on the database and address; WeChat Pay's keys, read from files; the image store).
    pub fn from_serve_args(args: &ServeArgs) -> Self {
        Self {
            dev_mode: false,
            dev_mode_by_default: false,
            dev_login: args.dev_login,
            write: WriteSettings {
                payment_timeout: args.payment_timeout.into(),
                max_unpaid_orders: args.max_unpaid_orders,
                return_window: args.return_window.into(),
                ..WriteSettings::default()
            },
            wechat: Config::wechat(args),
            wechat_pay: None,
            rate_limits: args.rate_limits(),
            cors_origins: args.cors_origins(),
            retention: RetentionSettings {
                interval: args.retention_interval.into(),
                ..args.retention.settings()
            },
            request_timeout: None,
            client_deadlines: args.client_deadlines(),
            refund_follow_up: args.refund_follow_up.into(),
            payment_checks: args.payment_checks.settings(),
            trusted_proxies: args.trusted_proxies.clone(),
            metrics_token: args
                .metrics_token
                .clone()
                .filter(|token| !token.is_empty())
                .map(Secret::new),
            media: None,
            media_urls: MediaUrls::default(),
            read_replica: args
                .read_replica
                .database_read_url
                .clone()
                .map(|url| ReplicaSettings {
                    options: url.0,
                    max_lag: args.read_replica.read_replica_max_lag.into(),
                    wait: args.read_replica.read_replica_wait.into(),
                    max_connections: ReplicaSettings::MAX_CONNECTIONS,
                }),
        }
    }
}

/// What `ordo serve` runs with when no flag or variable is given.
impl Default for AppSettings {
    fn default() -> Self {
        Self::from_serve_args(&ServeArgs::defaults())
    }
}
