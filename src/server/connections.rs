//! Accepting connections and serving HTTP/1.1 on them, as `axum::serve` does, plus a
//! deadline for the request line and headers (which `axum::serve` cannot set): a client
//! that sends them a byte now and then is cut off instead of holding its connection
//! forever. HTTP/1.1 only: a TLS proxy in front speaks it, and HTTP/2 has no such
//! deadline.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::extract::{ConnectInfo, Request};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tower::ServiceExt;

/// Serves `router` on `listener` until `shutdown` completes; then stops accepting, lets
/// every connection finish the request it is serving, and returns once all are closed.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    header_read_timeout: Duration,
    shutdown: impl Future<Output = ()>,
) {
    let (stop, stopping) = watch::channel(());
    // Every connection's task holds a sender; `recv` answers `None` once all are gone.
    let (open, mut all_closed) = mpsc::channel::<()>(1);
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    pause_after(&err).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let (router, stopping, open) = (router.clone(), stopping.clone(), open.clone());
        tokio::spawn(async move {
            connection(stream, peer, router, header_read_timeout, stopping).await;
            drop(open);
        });
    }
    drop(listener);
    drop(stop);
    drop(open);
    let _ = all_closed.recv().await;
}

/// Serves one connection until it closes, or finishes its request in flight once
/// `stopping` says so.
async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    router: Router,
    header_read_timeout: Duration,
    mut stopping: watch::Receiver<()>,
) {
    let service = router.map_request(from_peer(peer));
    let mut builder = Builder::new(TokioExecutor::new()).http1_only();
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(header_read_timeout);
    let connection =
        builder.serve_connection(TokioIo::new(stream), TowerToHyperService::new(service));
    tokio::pin!(connection);
    tokio::select! {
        served = connection.as_mut() => {
            if let Err(err) = served {
                tracing::debug!(%err, %peer, "connection ended with an error");
            }
        }
        _ = stopping.changed() => {
            connection.as_mut().graceful_shutdown();
            let _ = connection.await;
        }
    }
}

/// Marks each request with the peer's address: it reaches handlers and the per-address
/// rate limit as `ConnectInfo`, as `into_make_service_with_connect_info` puts it.
fn from_peer<B>(peer: SocketAddr) -> impl Fn(Request<B>) -> Request<B> + Clone {
    move |mut request| {
        request.extensions_mut().insert(ConnectInfo(peer));
        request
    }
}

/// After a failed accept: a connection the client abandoned is nothing; running out of
/// file descriptors (or another resource) is waited out a little instead of spinning.
async fn pause_after(err: &io::Error) {
    use io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(
        err.kind(),
        ConnectionAborted | ConnectionRefused | ConnectionReset
    ) {
        return;
    }
    tracing::error!(%err, "cannot accept connections; retrying in 1 s");
    tokio::time::sleep(Duration::from_secs(1)).await;
}
