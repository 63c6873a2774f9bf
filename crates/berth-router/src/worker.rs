//! A router worker: one thread, one single-threaded event loop, its own
//! pool of upstream connections. One of them accepts and deals the
//! connections out to all.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot, watch};
use tokio_rustls::TlsAcceptor;

use crate::fast_path;
use crate::slots::ConnectionSlot;
use crate::upstream_pool::{UpstreamPool, IDLE_LIMIT};
use crate::{ProxyBody, Router, RouterConfig, SHUTDOWN_GRACE};

/// What a worker thread serves connections with.
pub(crate) struct Worker {
    pub router: Arc<Router>,
    /// Upstream connections live on this worker's event loop only: hyper's
    /// for what hyper serves, the pool for the fast path.
    pub client: Client<HttpConnector, ProxyBody>,
    pub pool: UpstreamPool,
    /// Serves the connections the fast path hands over.
    pub http: auto::Builder<TokioExecutor>,
    pub local_port: u16,
    /// `local_port` as the fast path writes it into `X-Forwarded-Port`.
    pub local_port_text: String,
    /// Set on the workers of the TLS listener: connections start with a
    /// handshake, and hyper serves them (the fast path is for plain HTTP).
    pub tls: Option<TlsAcceptor>,
}

/// How long a client gets to complete its TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// A connection dealt to a worker, with its place under the connection cap.
type Dealt = (std::net::TcpStream, SocketAddr, ConnectionSlot);

/// Starts `count` worker threads. The first also accepts on `listener` and
/// deals connections to all of them in turn, so that even a handful of
/// keep-alive connections spread evenly (threads racing for each accept
/// would not). Each stops when `stopping` closes, and reports on the
/// returned receivers when it has finished.
pub(crate) fn start(
    router: &Arc<Router>,
    listener: TcpListener,
    count: usize,
    stopping: watch::Receiver<()>,
    tls: Option<TlsAcceptor>,
) -> std::io::Result<Vec<oneshot::Receiver<()>>> {
    let local_port = listener.local_addr()?.port();
    let mut listener = Some(listener.into_std()?);
    let (dealers, mut inboxes): (Vec<_>, Vec<_>) = (0..count)
        .map(|_| mpsc::unbounded_channel::<Dealt>())
        .unzip();
    let mut finished = Vec::with_capacity(count);
    for index in (0..count).rev() {
        let inbox = inboxes.pop().expect("one inbox per worker");
        let acceptor = (index == 0).then(|| (listener.take(), dealers.clone(), router.clone()));
        let router = router.clone();
        let stopping = stopping.clone();
        let tls = tls.clone();
        let (done, finished_one) = oneshot::channel();
        std::thread::Builder::new()
            .name(format!("berth-router-{index}"))
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(runtime) => runtime,
                    Err(error) => {
                        tracing::error!(%error, "router: worker runtime failed to start");
                        return;
                    }
                };
                runtime.block_on(async move {
                    let worker = Arc::new(Worker {
                        client: upstream_client(&router.config),
                        pool: UpstreamPool::default(),
                        http: connection_builder(&router),
                        router,
                        local_port,
                        local_port_text: local_port.to_string(),
                        tls,
                    });
                    if let Some((Some(listener), dealers, router)) = acceptor {
                        match TcpListener::from_std(listener) {
                            Ok(listener) => {
                                let plain = worker.tls.is_none();
                                tokio::spawn(deal(
                                    listener,
                                    dealers,
                                    router,
                                    plain,
                                    stopping.clone(),
                                ));
                            }
                            Err(error) => {
                                tracing::error!(%error, "router: cannot use the listener");
                                return;
                            }
                        }
                    }
                    worker.serve_until_stopped(inbox, stopping).await;
                });
                let _ = done.send(());
            })?;
        finished.push(finished_one);
    }
    Ok(finished)
}

/// Accepts connections and hands them to the workers in turn. One over
/// the connection cap is answered 503 on plain HTTP (over TLS, where no
/// answer can be read before a handshake, it is closed).
async fn deal(
    listener: TcpListener,
    dealers: Vec<mpsc::UnboundedSender<Dealt>>,
    router: Arc<Router>,
    plain: bool,
    mut stopping: watch::Receiver<()>,
) {
    let mut next = 0;
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(accepted) => accepted,
                    Err(error) => {
                        // Out of file descriptors, say: back off instead of spinning.
                        tracing::warn!(%error, "router: accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let Some(slot) = router.connections.take() else {
                    if plain {
                        router.connections.refuse(stream);
                    }
                    continue;
                };
                let _ = stream.set_nodelay(true);
                let Ok(stream) = stream.into_std() else { continue };
                let _ = dealers[next % dealers.len()].send((stream, peer, slot));
                next += 1;
            }
            _ = stopping.changed() => return,
        }
    }
}

fn upstream_client(config: &RouterConfig) -> Client<HttpConnector, ProxyBody> {
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    connector.set_connect_timeout(Some(config.connect_timeout));
    Client::builder(TokioExecutor::new())
        .pool_idle_timeout(Duration::from_secs(60))
        .pool_max_idle_per_host(256)
        .build(connector)
}

fn connection_builder(router: &Router) -> auto::Builder<TokioExecutor> {
    let config = &router.config;
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        // Hyper counts it from the end of the previous answer, so it bounds
        // idle keep-alive as well: never shorter than the idle timeout.
        .header_read_timeout(config.head_timeout.max(config.idle_timeout))
        .max_buf_size(config.max_header_bytes.max(8192));
    builder
}

impl Worker {
    async fn serve_until_stopped(
        self: Arc<Self>,
        mut inbox: mpsc::UnboundedReceiver<Dealt>,
        mut stopping: watch::Receiver<()>,
    ) {
        let graceful = GracefulShutdown::new();
        let mut pruning = tokio::time::interval(IDLE_LIMIT / 2);
        loop {
            tokio::select! {
                dealt = inbox.recv() => {
                    let Some((stream, peer, slot)) = dealt else { break };
                    match tokio::net::TcpStream::from_std(stream) {
                        Ok(stream) => match &self.tls {
                            Some(acceptor) => {
                                self.serve_tls_connection(
                                    &graceful,
                                    acceptor.clone(),
                                    (stream, peer, slot),
                                );
                            }
                            None => {
                                let serving = fast_path::serve(
                                    self.clone(),
                                    stream,
                                    peer,
                                    stopping.clone(),
                                    graceful.watcher(),
                                    slot,
                                );
                                tokio::spawn(serving);
                            }
                        },
                        Err(error) => tracing::warn!(%error, "router: cannot take a connection"),
                    }
                }
                _ = pruning.tick() => self.pool.prune(),
                _ = stopping.changed() => break,
            }
        }
        if tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown())
            .await
            .is_err()
        {
            tracing::warn!("router: connections still open after the grace period were closed");
        }
    }

    /// Handshakes on its own task (a slow client holds up no other
    /// connection), then lets hyper serve the connection.
    fn serve_tls_connection(
        self: &Arc<Self>,
        graceful: &GracefulShutdown,
        acceptor: TlsAcceptor,
        (stream, peer, slot): (tokio::net::TcpStream, SocketAddr, ConnectionSlot),
    ) {
        let worker = self.clone();
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            let stream =
                match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                    Ok(Ok(stream)) => stream,
                    Ok(Err(error)) => {
                        tracing::debug!(%peer, %error, "router: TLS handshake failed");
                        return;
                    }
                    Err(_) => return,
                };
            worker.serve_with_hyper(stream, peer, watcher, slot).await;
        });
    }

    /// Serves a connection with hyper until it ends (HTTP/1.1 or HTTP/2,
    /// upgrades included), counted in the graceful shutdown. Its slot
    /// under the connection cap is held until then, and by a tunnel after
    /// an upgrade for as long as the tunnel lasts.
    pub(crate) async fn serve_with_hyper<Io>(
        self: Arc<Self>,
        io: Io,
        peer: SocketAddr,
        watcher: Watcher,
        slot: ConnectionSlot,
    ) where
        Io: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        let worker = self.clone();
        let slot = Arc::new(slot);
        let requested = Arc::new(AtomicBool::new(false));
        let seen = requested.clone();
        let service = hyper::service::service_fn(move |request| {
            seen.store(true, Ordering::Relaxed);
            let worker = worker.clone();
            let slot = slot.clone();
            async move { Ok::<_, std::convert::Infallible>(worker.handle(request, peer, slot).await) }
        });
        let connection = self
            .http
            .serve_connection_with_upgrades(TokioIo::new(io), service)
            .into_owned();
        tokio::select! {
            served = watcher.watch(connection) => {
                if let Err(error) = served {
                    tracing::debug!(%peer, %error, "router: connection ended with an error");
                }
            }
            () = no_request_within(self.router.config.head_timeout, &requested) => {
                tracing::debug!(%peer, "router: no request within the head timeout");
            }
        }
    }
}

/// Resolves once `timeout` has passed without a request on a connection
/// served by hyper (never, once one came). hyper's own head timer starts
/// only after its version detection, which reads the first bytes without
/// a deadline, and HTTP/2 has none: without this, a client that sends
/// nothing after its TLS handshake, or stops inside the HTTP/2 preface,
/// or opens an HTTP/2 connection and asks nothing, holds its connection
/// (and its place under the cap) forever.
async fn no_request_within(timeout: Duration, requested: &AtomicBool) {
    tokio::time::sleep(timeout).await;
    if requested.load(Ordering::Relaxed) {
        std::future::pending::<()>().await;
    }
}
