//! What every request handler and background task shares: the database, the write
//! model, the projector, keys and clients, built once from the server's settings.

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};

use ipnet::IpNet;
use sqlx::PgPool;

use crate::audit::AuditReader;
use crate::auth::{JwtKeys, Sessions};
use crate::client_deadlines::ClientDeadlines;
use crate::event_store::EventStore;
use crate::feed_horizon::HorizonWatch;
use crate::idempotency::IdempotencyStore;
use crate::media::{MediaStore, MediaUrls};
use crate::payments::Payments;
use crate::rate_limit::{Limiters, RateLimits};
use crate::reads::ReadModels;
use crate::retention::RetentionSettings;
use crate::secret::Secret;
use crate::wechat::{WeChatClient, WeChatConfig};
use crate::wechat_pay::{WeChatPay, WeChatPayConfig};
use crate::write::{WriteModel, WriteSettings};
use projections::Projector;

/// How long a refund waits for its notice before WeChat Pay is asked, unless the
/// settings say otherwise.
pub const DEFAULT_REFUND_FOLLOW_UP: std::time::Duration = std::time::Duration::from_secs(60);

/// A request's deadline unless the settings give another.
pub const DEFAULT_REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// The server's settings beyond the database and the JWT keys.
#[derive(Debug, Clone, Default)]
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
    /// How long a refund waits for its notice before WeChat Pay is asked; `None`: 1 min.
    pub refund_follow_up: Option<std::time::Duration>,
    /// Reverse proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<IpNet>,
    /// When set, `/metrics` needs it as a bearer token.
    pub metrics_token: Option<Secret>,
    /// Where product images are stored; `None`: uploads answer 503.
    pub media: Option<MediaStore>,
    /// The base of image URLs: ordo's own `/media` unless a CDN's is set.
    pub media_urls: MediaUrls,
}

/// What every request handler can reach.
#[derive(Debug, Clone)]
pub struct AppState {
    pub pool: PgPool,
    pub events: EventStore,
    pub write: Arc<WriteModel>,
    /// Prepays, WeChat Pay's notices and the notices' record.
    pub payments: Payments,
    /// The store behind `Idempotency-Key`.
    pub idempotency: IdempotencyStore,
    /// Queries over the read models.
    pub reads: ReadModels,
    /// Auditors' reads of the log.
    pub audit: AuditReader,
    pub projector: Arc<Projector>,
    /// What the feed horizon's watcher saw last (who holds the read side back).
    pub horizon: Arc<HorizonWatch>,
    pub jwt: Arc<JwtKeys>,
    pub sessions: Arc<Sessions>,
    pub wechat: WeChatClient,
    pub wechat_pay: WeChatPay,
    pub limiters: Arc<Limiters>,
    /// Shared: the state is cloned for every request.
    pub cors_origins: Arc<[String]>,
    pub dev_mode: bool,
    /// Whether `dev:<name>` login codes are accepted.
    pub dev_login: bool,
    /// Simulated payments and refunds refuse requests through a proxy (dev mode is on
    /// only by default).
    pub dev_mode_by_default: bool,
    /// Dev logins refuse requests through a proxy (they come with dev mode by default,
    /// and `ORDO_DEV_LOGIN` did not ask for them).
    pub dev_login_by_default: bool,
    /// The address the server listens on, once bound (the payment simulator posts there).
    pub local_addr: Arc<OnceLock<SocketAddr>>,
    /// For the retention purge the server runs.
    pub retention: RetentionSettings,
    /// How long a request may run before its client is answered 503.
    pub request_timeout: std::time::Duration,
    pub client_deadlines: ClientDeadlines,
    /// See [`AppSettings::refund_follow_up`].
    pub refund_follow_up: std::time::Duration,
    pub trusted_proxies: Arc<[IpNet]>,
    pub metrics_token: Option<Arc<Secret>>,
    pub media: Option<MediaStore>,
    pub media_urls: MediaUrls,
}

impl AppState {
    pub fn new(pool: PgPool, jwt: JwtKeys, settings: AppSettings) -> Self {
        crate::metrics::handle();
        let events = EventStore::new(pool.clone());
        let write = Arc::new(WriteModel::new(events.clone(), settings.write));
        let wechat_pay = WeChatPay::new(settings.wechat_pay);
        Self {
            payments: Payments::new(
                pool.clone(),
                events.clone(),
                write.clone(),
                wechat_pay.clone(),
            ),
            idempotency: IdempotencyStore::new(pool.clone(), events.clone()),
            reads: ReadModels::new(pool.clone()),
            audit: AuditReader::new(pool.clone()),
            write,
            projector: Arc::new(Projector::new(pool.clone(), projections::all())),
            horizon: Arc::new(HorizonWatch::default()),
            sessions: Arc::new(Sessions::new(pool.clone())),
            wechat: WeChatClient::new(settings.wechat),
            wechat_pay,
            limiters: Limiters::new(settings.rate_limits),
            cors_origins: settings.cors_origins.into(),
            events,
            pool,
            jwt: Arc::new(jwt),
            dev_mode: settings.dev_mode,
            dev_login: settings.dev_mode || settings.dev_login,
            dev_mode_by_default: settings.dev_mode && settings.dev_mode_by_default,
            dev_login_by_default: settings.dev_mode
                && settings.dev_mode_by_default
                && !settings.dev_login,
            local_addr: Arc::new(OnceLock::new()),
            retention: settings.retention,
            request_timeout: settings.request_timeout.unwrap_or(DEFAULT_REQUEST_TIMEOUT),
            client_deadlines: settings.client_deadlines,
            refund_follow_up: settings
                .refund_follow_up
                .unwrap_or(DEFAULT_REFUND_FOLLOW_UP),
            trusted_proxies: settings.trusted_proxies.into(),
            metrics_token: settings.metrics_token.map(Arc::new),
            media: settings.media,
            media_urls: settings.media_urls,
        }
    }
}
