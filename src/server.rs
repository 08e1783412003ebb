//! The HTTP server bound to its listener, and the background tasks that run beside it.

mod connections;

use std::future::Future;
use std::io;
use std::net::SocketAddr;

use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::http;
use crate::payments::refunds::{RefundFollowUp, Refunds};
use crate::payments::timeout::PaymentTimeout;
use crate::retention;
use crate::state::AppState;

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
        let listener = TcpListener::bind(listen).await?;
        Self::on(state, listener).await
    }

    /// Like [`Application::build`], on a listener already bound (`ordo serve` binds
    /// first, so a busy port is reported before the database starts).
    pub async fn on(state: AppState, listener: TcpListener) -> io::Result<Self> {
        state.projector.register().await.map_err(io::Error::other)?;
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
            self.state.payments.clone(),
            self.state.write.settings().payment_timeout,
        );
        let timeouts = tokio::spawn(timeout.run(stopped.clone()));
        let late_notices = tokio::spawn(
            self.state
                .payments
                .clone()
                .run_late_notices(stopped.clone()),
        );
        let reconciliations = tokio::spawn(
            self.state
                .payments
                .clone()
                .run_reconciliations(stopped.clone()),
        );
        let purges = tokio::spawn(retention::run(
            self.state.pool.clone(),
            self.state.retention,
            stopped.clone(),
        ));
        let follow_up = RefundFollowUp {
            pool: self.state.pool.clone(),
            events: self.state.events.clone(),
            refunds: Refunds {
                write: self.state.write.clone(),
                wechat_pay: self.state.wechat_pay.clone(),
            },
            every: self.state.refund_follow_up,
        };
        let follow_ups = tokio::spawn(follow_up.run(stopped.clone()));
        let horizon = tokio::spawn(crate::feed_horizon::run(
            self.state.pool.clone(),
            self.state
                .projector
                .projections()
                .iter()
                .map(|p| p.name())
                .collect(),
            self.state.horizon.clone(),
            stopped.clone(),
        ));
        let replica = self
            .state
            .reads
            .replica()
            .map(|replica| tokio::spawn(replica.clone().watch(stopped.clone())));
        let deliverer = deliverer(&self.state);
        let deliveries = tokio::spawn(deliverer.run(stopped.clone()));
        let delivery_companies = self.state.platform.clone().map(|platform| {
            tokio::spawn(crate::platform::refresh_delivery_companies(
                self.state.delivery_companies.clone(),
                platform,
                stopped.clone(),
            ))
        });
        let sealer = tokio::spawn(crate::audit::sealer::run(
            self.state.pool.clone(),
            SEAL_EVERY,
            stopped,
        ));
        let header_read_timeout = self.state.client_deadlines.headers;
        // Dev mode's simulated WeChat Pay, outside the API's middleware (it is another
        // party, called by ordo's own client).
        let simulator = self.state.wechat_pay.config().and_then(|config| {
            crate::wechat_pay_simulator::router(self.state.pool.clone(), config)
        });
        let platform_simulator = self
            .state
            .platform
            .as_ref()
            .is_some_and(crate::wechat::Platform::simulated)
            .then(|| crate::wechat_simulator::router(self.state.pool.clone()));
        let mut router = http::router(self.state);
        if let Some(simulator) = simulator {
            router = axum::Router::new()
                .nest(crate::wechat_pay_simulator::PATH, simulator)
                .merge(router);
        }
        if let Some(simulator) = platform_simulator {
            router = axum::Router::new()
                .nest(crate::wechat::SIMULATOR_PATH, simulator)
                .merge(router);
        }
        connections::serve(self.listener, router, header_read_timeout, shutdown).await;
        let _ = stop_projector.send(true);
        let _ = projector.await;
        let _ = timeouts.await;
        let _ = late_notices.await;
        let _ = reconciliations.await;
        let _ = purges.await;
        let _ = follow_ups.await;
        let _ = sealer.await;
        let _ = deliveries.await;
        if let Some(refresh) = delivery_companies {
            let _ = refresh.await;
        }
        if let Some(replica) = replica {
            let _ = replica.await;
        }
        let _ = horizon.await;
        Ok(())
    }
}

/// The deliverer of the calls to WeChat that `state`'s events cause.
pub fn deliverer(state: &AppState) -> crate::platform::deliver::Deliverer {
    use crate::platform::{messages::MessageSender, openids::Openids, shipping::ShippingUploader};
    let openids = Openids::new(state.events.clone());
    crate::platform::deliver::Deliverer {
        outbox: state.outbox.clone(),
        shipping: ShippingUploader {
            events: state.events.clone(),
            platform: state.platform.clone(),
            wechat_pay: state.wechat_pay.clone(),
            openids: openids.clone(),
        },
        messages: MessageSender {
            events: state.events.clone(),
            platform: state.platform.clone(),
            settings: state.messages.clone(),
            acceptances: state.acceptances.clone(),
            openids,
        },
    }
}
