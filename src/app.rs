//! The application: shared state and the HTTP server bound to its listener.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use sqlx::PgPool;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::auth::JwtKeys;
use crate::event_store::EventStore;
use crate::http;
use crate::write::{WriteModel, WriteSettings};
use projections::Projector;

/// What every request handler can reach.
#[derive(Debug, Clone)]
pub struct AppState {
    pub pool: PgPool,
    pub events: EventStore,
    pub write: Arc<WriteModel>,
    pub projector: Arc<Projector>,
    pub jwt: Arc<JwtKeys>,
    pub dev_mode: bool,
}

impl AppState {
    pub fn new(pool: PgPool, jwt: JwtKeys, dev_mode: bool, write: WriteSettings) -> Self {
        let events = EventStore::new(pool.clone());
        Self {
            write: Arc::new(WriteModel::new(events.clone(), write)),
            projector: Arc::new(Projector::new(pool.clone(), projections::all())),
            events,
            pool,
            jwt: Arc::new(jwt),
            dev_mode,
        }
    }
}

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
        Ok(Self { listener, state })
    }

    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves (and runs the projector) until `shutdown` completes, then finishes the
    /// requests in flight and stops the projector between batches.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> io::Result<()> {
        let (stop_projector, stopped) = watch::channel(false);
        let projector = tokio::spawn(self.state.projector.clone().run(stopped));
        let router = http::router(self.state);
        let served = axum::serve(self.listener, router)
            .with_graceful_shutdown(shutdown)
            .await;
        let _ = stop_projector.send(true);
        let _ = projector.await;
        served
    }
}
