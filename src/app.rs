//! The application: shared state and the HTTP server bound to its listener.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};

use sqlx::PgPool;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::auth::{JwtKeys, Sessions};
use crate::event_store::EventStore;
use crate::http;
use crate::http::rate_limit::{Limiters, RateLimits};
use crate::payment_timeout::PaymentTimeout;
use crate::retention::{self, RetentionSettings};
use crate::wechat::{WeChatClient, WeChatConfig};
use crate::wechat_pay::{WeChatPay, WeChatPayConfig};
use crate::write::{WriteModel, WriteSettings};
use projections::Projector;

/// The server's settings beyond the database and the JWT keys.
#[derive(Debug, Clone, Default)]
pub struct AppSettings {
    /// Dev mode: dev logins (`dev:<name>`) and simulated payments.
    pub dev_mode: bool,
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
}

/// What every request handler can reach.
#[derive(Debug, Clone)]
pub struct AppState {
    pub pool: PgPool,
    pub events: EventStore,
    pub write: Arc<WriteModel>,
    pub projector: Arc<Projector>,
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
    /// The address the server listens on, once bound (the payment simulator posts there).
    pub local_addr: Arc<OnceLock<SocketAddr>>,
    /// For the retention purge the server runs.
    pub retention: RetentionSettings,
    /// How long a request may run before its client is answered 503.
    pub request_timeout: std::time::Duration,
}

impl AppState {
    pub fn new(pool: PgPool, jwt: JwtKeys, settings: AppSettings) -> Self {
        crate::metrics::handle();
        let events = EventStore::new(pool.clone());
        Self {
            write: Arc::new(WriteModel::new(events.clone(), settings.write)),
            projector: Arc::new(Projector::new(pool.clone(), projections::all())),
            sessions: Arc::new(Sessions::new(pool.clone())),
            wechat: WeChatClient::new(settings.wechat),
            wechat_pay: WeChatPay::new(settings.wechat_pay),
            limiters: Limiters::new(settings.rate_limits),
            cors_origins: settings.cors_origins.into(),
            events,
            pool,
            jwt: Arc::new(jwt),
            dev_mode: settings.dev_mode,
            dev_login: settings.dev_mode || settings.dev_login,
            local_addr: Arc::new(OnceLock::new()),
            retention: settings.retention,
            request_timeout: settings
                .request_timeout
                .unwrap_or(crate::http::REQUEST_TIMEOUT),
        }
    }
}

/// How often the log is sealed (see `audit::sealer`).
const SEAL_EVERY: std::time::Duration = std::time::Duration::from_secs(10);

/// The HTTP server, bound but not yet serving: tests bind port 0 and read the port.
pub struct Application {
    listener: TcpListener,
    state: AppState,
}

impl Application {
    /// Registers the projections (their checkpoints exist before anyone can ask) and
    /// binds the listener.
    pub async fn build(state: AppState, listen: SocketAddr) -> io::Result<Self> {
        state.projector.register().await.map_err(io::Error::other)?;
        let listener = TcpListener::bind(listen).await?;
        let _ = state.local_addr.set(listener.local_addr()?);
        Ok(Self { listener, state })
    }

    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves (and runs the projector, the payment timeout, the sealer and the retention
    /// purge) until `shutdown` completes, then finishes the requests in flight and stops
    /// the projector between batches.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> io::Result<()> {
        let (stop_projector, stopped) = watch::channel(false);
        let projector = tokio::spawn(self.state.projector.clone().run(stopped.clone()));
        let timeout = PaymentTimeout::new(
            self.state.pool.clone(),
            self.state.write.clone(),
            self.state.write.settings().payment_timeout,
        );
        let timeouts = tokio::spawn(timeout.run(stopped.clone()));
        let purges = tokio::spawn(retention::run(
            self.state.pool.clone(),
            self.state.retention,
            stopped.clone(),
        ));
        let sealer = tokio::spawn(crate::audit::sealer::run(
            self.state.pool.clone(),
            SEAL_EVERY,
            stopped,
        ));
        let router = http::router(self.state);
        // The connection's address reaches handlers and the per-address rate limit.
        let service = router.into_make_service_with_connect_info::<SocketAddr>();
        let served = axum::serve(self.listener, service)
            .with_graceful_shutdown(shutdown)
            .await;
        let _ = stop_projector.send(true);
        let _ = projector.await;
        let _ = timeouts.await;
        let _ = purges.await;
        let _ = sealer.await;
        served
    }
}
