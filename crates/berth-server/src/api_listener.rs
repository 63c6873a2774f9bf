//! Serves the API, dashboard and git endpoint with hyper directly (what
//! `axum::serve` does, plus a whole-head deadline it does not offer): a
//! client that never finishes its request head (or never starts one), or
//! sits idle, is closed after the head timeout instead of holding its
//! connection forever.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tower::ServiceExt;

/// Serves `app` on `listener` until `shutdown` resolves, then waits for
/// open connections to finish (the caller bounds that wait).
pub(crate) async fn serve(
    listener: TcpListener,
    app: Router,
    head_timeout: Duration,
    shutdown: impl Future<Output = ()>,
) {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(head_timeout);
    // HTTP/2 over cleartext stays on, as axum::serve had it; its extended
    // CONNECT carries WebSockets.
    builder.http2().enable_connect_protocol();
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors, say: back off instead of spinning.
                    tracing::warn!(%error, "API: accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let app = app.clone();
        let requested = Arc::new(AtomicBool::new(false));
        let seen = requested.clone();
        let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
            seen.store(true, Ordering::Relaxed);
            request.extensions_mut().insert(ConnectInfo(peer));
            app.clone().oneshot(request.map(axum::body::Body::new))
        });
        let connection = builder
            .serve_connection_with_upgrades(TokioIo::new(stream), service)
            .into_owned();
        let watched = graceful.watch(connection);
        tokio::spawn(async move {
            tokio::select! {
                served = watched => {
                    if let Err(error) = served {
                        tracing::debug!(%peer, %error, "API: connection ended with an error");
                    }
                }
                () = no_request_within(head_timeout, &requested) => {
                    tracing::debug!(%peer, "API: no request within the head timeout");
                }
            }
        });
    }
    graceful.shutdown().await;
}

/// Resolves once `timeout` has passed without a request on a connection
/// (never, once one came). hyper's head timer starts only after its
/// version detection, which reads the first bytes without a deadline, and
/// HTTP/2 has none: without this, a client that sends nothing, stops
/// inside the HTTP/2 preface, or opens an HTTP/2 connection and asks
/// nothing, holds its connection forever.
async fn no_request_within(timeout: Duration, requested: &AtomicBool) {
    tokio::time::sleep(timeout).await;
    if requested.load(Ordering::Relaxed) {
        std::future::pending::<()>().await;
    }
}
