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
use crate::platform::messages::Acceptances;
use crate::platform::{DeliveryCompanies, Outbox};
use crate::rate_limit::Limiters;
use crate::reads::ReadModels;
use crate::reads::replica::Replica;
use crate::retention::RetentionSettings;
use crate::secret::Secret;
use crate::wechat::messages::MessageSettings;
use crate::wechat::{Platform, WeChatClient};
use crate::wechat_pay::WeChatPay;
use crate::write::WriteModel;

mod settings;

use projections::Projector;
pub use settings::{AppSettings, DEFAULT_REQUEST_TIMEOUT};

/// What every request handler can reach. Every middleware and handler of a request takes
/// its own copy (axum's `State`), so it is a handle to one shared [`Services`]: copying
/// the services themselves, and dropping the copies, was a third of a GET's CPU.
#[derive(Debug, Clone)]
pub struct AppState(Arc<Services>);

impl std::ops::Deref for AppState {
    type Target = Services;

    fn deref(&self) -> &Services {
        &self.0
    }
}

/// The server's services and settings, shared by every request.
#[derive(Debug)]
pub struct Services {
    pub pool: PgPool,
    pub events: EventStore,
    pub write: Arc<WriteModel>,
    /// Prepays, WeChat Pay's notices and the notices' record.
    pub payments: Payments,
    /// Dev mode's simulated WeChat Pay: its records, where the dev routes pay and
    /// settle refunds as a shopper and WeChat Pay would (empty outside dev mode).
    pub simulated_wechat_pay: crate::wechat_pay_simulator::Ledger,
    /// What dev mode's simulated WeChat platform received (empty outside dev mode).
    pub simulated_platform: crate::wechat_simulator::Received,
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
    /// The mini program's platform API (access token, shipping info, messages), when
    /// configured or simulated in dev mode.
    pub platform: Option<Platform>,
    /// The calls to WeChat that events caused.
    pub outbox: Outbox,
    /// WeChat's delivery companies, which `ship` checks.
    pub delivery_companies: DeliveryCompanies,
    /// The subscribe messages the shop sends, and what shoppers accepted.
    pub messages: MessageSettings,
    pub acceptances: Acceptances,
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
        let local_addr = Arc::new(OnceLock::new());
        let wechat_pay = WeChatPay::new(settings.wechat_pay, Arc::clone(&local_addr));
        let platform = settings
            .wechat
            .platform(&pool, settings.dev_mode, &local_addr);
        let projections = crate::platform::projector_runs(&settings.wechat.messages);
        Self(Arc::new(Services {
            payments: Payments::new(
                pool.clone(),
                events.clone(),
                write.clone(),
                wechat_pay.clone(),
                settings.payment_checks,
            ),
            simulated_wechat_pay: crate::wechat_pay_simulator::Ledger::new(pool.clone()),
            simulated_platform: crate::wechat_simulator::Received::new(pool.clone()),
            idempotency: IdempotencyStore::new(pool.clone(), events.clone()),
            reads: ReadModels::with_replica(
                pool.clone(),
                settings
                    .read_replica
                    .map(|replica| Replica::new(replica, pool.clone())),
            ),
            audit: AuditReader::new(pool.clone()),
            write,
            projector: Arc::new(Projector::new(pool.clone(), projections)),
            horizon: Arc::new(HorizonWatch::default()),
            sessions: Arc::new(Sessions::new(pool.clone())),
            messages: settings.wechat.messages.clone(),
            acceptances: Acceptances::new(pool.clone()),
            wechat: WeChatClient::new(settings.wechat),
            platform,
            outbox: Outbox::new(pool.clone()),
            delivery_companies: DeliveryCompanies::new(pool.clone()),
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
            local_addr,
            retention: settings.retention,
            request_timeout: settings.request_timeout.unwrap_or(DEFAULT_REQUEST_TIMEOUT),
            client_deadlines: settings.client_deadlines,
            refund_follow_up: settings.refund_follow_up,
            trusted_proxies: settings.trusted_proxies.into(),
            metrics_token: settings.metrics_token.map(Arc::new),
            media: settings.media,
            media_urls: settings.media_urls,
        }))
    }
}
