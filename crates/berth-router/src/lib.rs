//! Berth's edge: an HTTP reverse proxy (hyper) that routes `<app>.<base
//! domain>` and custom domains to the app's healthy web processes. It is
//! fed its route table as data and never calls up; what it has to say about
//! requests goes out through the log function it was given.

mod headers;
mod pages;
mod proxy;
mod table;
mod tracked;

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arc_swap::ArcSwap;
use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;

use table::RouteTable;
pub use table::{AppRoute, Upstream};

pub(crate) type ProxyBody = BoxBody<Bytes, hyper::Error>;

/// How long open connections get to finish once shutdown begins.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Limits and timeouts of the router.
#[derive(Debug, Clone)]
pub struct RouterConfig {
    /// From forwarding a request to the app's first response byte; then 503 (Heroku's H12).
    pub first_byte_timeout: Duration,
    /// How long a client connection may sit idle between requests.
    pub idle_timeout: Duration,
    /// The largest request head (request line and headers) accepted.
    pub max_header_bytes: usize,
}

impl Default for RouterConfig {
    fn default() -> Self {
        Self {
            first_byte_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(75),
            max_header_bytes: 64 * 1024,
        }
    }
}

/// Receives the router's log lines: the app they concern, and the line
/// (`at=info method=GET path="/" …`).
pub type RouterLog = Arc<dyn Fn(&str, String) + Send + Sync>;

pub struct Router {
    table: ArcSwap<RouteTable>,
    /// ACME HTTP-01 answers, by token: served before any host routing.
    challenges: ArcSwap<HashMap<String, String>>,
    client: Client<HttpConnector, ProxyBody>,
    in_flight: Mutex<HashMap<SocketAddr, usize>>,
    log: RouterLog,
    config: RouterConfig,
}

impl Router {
    pub fn new(config: RouterConfig, log: RouterLog) -> Arc<Self> {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(Duration::from_secs(5)));
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(60))
            .pool_max_idle_per_host(256)
            .build(connector);
        Arc::new(Self {
            table: ArcSwap::from_pointee(RouteTable::default()),
            challenges: ArcSwap::from_pointee(HashMap::new()),
            client,
            in_flight: Mutex::new(HashMap::new()),
            log,
            config,
        })
    }

    /// Replaces the whole route table at once.
    pub fn set_routes(&self, routes: Vec<AppRoute>) {
        self.table.store(Arc::new(RouteTable::new(routes)));
    }

    /// Replaces the ACME HTTP-01 challenge answers (token → key authorization).
    pub fn set_challenges(&self, challenges: HashMap<String, String>) {
        self.challenges.store(Arc::new(challenges));
    }

    /// Requests to `upstream` not yet finished (response body included):
    /// what a cutover waits for before stopping an old process.
    pub fn in_flight(&self, upstream: SocketAddr) -> usize {
        let in_flight = self.in_flight.lock().expect("in-flight map lock");
        in_flight.get(&upstream).copied().unwrap_or(0)
    }

    /// Serves HTTP/1.1 and HTTP/2 (cleartext) on `listener` until `shutdown`
    /// resolves, then lets open connections finish (bounded).
    pub async fn serve(self: Arc<Self>, listener: TcpListener, shutdown: impl Future<Output = ()>) {
        let local_port = listener.local_addr().map(|a| a.port()).unwrap_or(0);
        let mut builder = auto::Builder::new(TokioExecutor::new());
        builder
            .http1()
            .timer(TokioTimer::new())
            .header_read_timeout(self.config.idle_timeout)
            .max_buf_size(self.config.max_header_bytes.max(8192));
        let graceful = GracefulShutdown::new();
        tokio::pin!(shutdown);
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
                    let _ = stream.set_nodelay(true);
                    let router = self.clone();
                    let service = hyper::service::service_fn(move |request| {
                        let router = router.clone();
                        async move {
                            Ok::<_, std::convert::Infallible>(router.handle(request, peer, local_port).await)
                        }
                    });
                    let connection = builder
                        .serve_connection_with_upgrades(TokioIo::new(stream), service)
                        .into_owned();
                    let connection = graceful.watch(connection);
                    tokio::spawn(async move {
                        if let Err(error) = connection.await {
                            tracing::debug!(%peer, %error, "router: connection ended with an error");
                        }
                    });
                }
                () = &mut shutdown => break,
            }
        }
        if tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown())
            .await
            .is_err()
        {
            tracing::warn!("router: connections still open after the grace period were closed");
        }
    }

    fn track(self: &Arc<Self>, upstream: SocketAddr) -> InFlight {
        *self
            .in_flight
            .lock()
            .expect("in-flight map lock")
            .entry(upstream)
            .or_insert(0) += 1;
        InFlight {
            router: self.clone(),
            upstream,
        }
    }
}

/// One request in flight to an upstream; counted until dropped.
pub(crate) struct InFlight {
    router: Arc<Router>,
    upstream: SocketAddr,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let mut in_flight = self.router.in_flight.lock().expect("in-flight map lock");
        if let Some(count) = in_flight.get_mut(&self.upstream) {
            *count -= 1;
            if *count == 0 {
                in_flight.remove(&self.upstream);
            }
        }
    }
}

/// The status with which something answers `GET path` at `address` within
/// `timeout`, if anything does: behind docker-proxy a TCP connect proves nothing.
pub async fn probe(address: SocketAddr, path: &str, timeout: Duration) -> Option<u16> {
    let attempt = async {
        let stream = tokio::net::TcpStream::connect(address).await.ok()?;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .ok()?;
        tokio::spawn(connection);
        let request = hyper::Request::get(path)
            .header(hyper::header::HOST, "localhost")
            .header("user-agent", "berth-health-check")
            .body(http_body_util::Empty::<Bytes>::new())
            .ok()?;
        sender
            .send_request(request)
            .await
            .ok()
            .map(|response| response.status().as_u16())
    };
    tokio::time::timeout(timeout, attempt).await.ok().flatten()
}

#[cfg(test)]
mod tests;
