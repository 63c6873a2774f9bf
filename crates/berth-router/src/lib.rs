//! Berth's edge: an HTTP reverse proxy (hyper) that routes `<app>.<base
//! domain>` and custom domains to the app's healthy web processes. It is
//! fed its route table as data and never calls up; what it has to say about
//! requests goes out through the log function it was given.

mod fast_path;
mod headers;
mod health;
mod pages;
mod proxy;
mod reclaimable;
mod slots;
mod table;
mod tls;
mod tracked;
mod traffic;
mod upstream_pool;
mod worker;

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

pub use table::{AppRoute, Upstream};
use table::{RouteTable, UpstreamStates};
pub use tls::{crypto_provider, HostTls, ServerCertificate, TlsError};
use traffic::AppCounterSets;
pub use traffic::{AppTraffic, UpstreamErrorKind, LATENCY_BUCKETS};

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
    /// How long a whole request head may take to arrive, from the
    /// connection's start or a request's first byte: a client trickling its
    /// head in byte by byte is cut off then (with a 408).
    pub head_timeout: Duration,
    /// Client connections open at once, over every listener; more are
    /// answered 503 and closed.
    pub max_connections: usize,
    /// The largest request head (request line and headers) accepted.
    pub max_header_bytes: usize,
    /// How long connecting to an upstream may take before the request goes
    /// to another process (and the address is passed over for a while).
    /// Upstreams are on the same network: this leaves room for one resent
    /// SYN (Linux resends after 1 s) and still for a retry elsewhere within a
    /// client's typical 5 s timeout.
    pub connect_timeout: Duration,
    /// Threads serving connections, each with its own event loop and
    /// upstream pool (0: one per CPU).
    pub workers: usize,
}

impl Default for RouterConfig {
    fn default() -> Self {
        Self {
            first_byte_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(75),
            head_timeout: Duration::from_secs(30),
            max_connections: 4096,
            max_header_bytes: 64 * 1024,
            connect_timeout: Duration::from_secs(2),
            workers: 0,
        }
    }
}

/// Receives the router's log lines: the app they concern, and the line
/// (`at=info method=GET path="/" …`).
pub type RouterLog = Arc<dyn Fn(&str, String) + Send + Sync>;

/// What every worker shares: routes, challenges, upstream states, the log.
pub struct Router {
    table: ArcSwap<RouteTable>,
    /// ACME HTTP-01 answers, by token: served before any host routing.
    challenges: ArcSwap<HashMap<String, String>>,
    /// In-flight counts and health per upstream address.
    upstreams: UpstreamStates,
    /// Traffic counts per routed app.
    traffic: AppCounterSets,
    log: RouterLog,
    config: RouterConfig,
    /// Certificates and HTTPS policies, by hostname.
    tls_hosts: Arc<tls::TlsHosts>,
    /// The TLS listener's port (0 while there is none), for redirects.
    https_port: AtomicU16,
    /// Client connections open now, against `config.max_connections`.
    connections: slots::ConnectionSlots,
}

impl Router {
    pub fn new(config: RouterConfig, log: RouterLog) -> Arc<Self> {
        Arc::new(Self {
            table: ArcSwap::from_pointee(RouteTable::default()),
            challenges: ArcSwap::from_pointee(HashMap::new()),
            upstreams: UpstreamStates::default(),
            traffic: AppCounterSets::default(),
            log,
            tls_hosts: Arc::new(ArcSwap::from_pointee(HashMap::new())),
            https_port: AtomicU16::new(0),
            connections: slots::ConnectionSlots::new(config.max_connections),
            config,
        })
    }

    /// Replaces every hostname's certificate and HTTPS policy at once: the
    /// next TLS handshake sees the new set; a name left out gets the
    /// default certificate.
    pub fn set_tls_hosts(&self, hosts: Vec<HostTls>) {
        let by_name = hosts
            .into_iter()
            .map(|mut host| {
                host.hostname = tls::host_name(&host.hostname);
                (host.hostname.clone(), Arc::new(host))
            })
            .collect();
        self.tls_hosts.store(Arc::new(by_name));
    }

    /// Whether plain HTTP requests to `host` are redirected to HTTPS.
    fn redirects_to_https(&self, host: &str) -> bool {
        !self.tls_hosts.load().is_empty()
            && self.https_port.load(Ordering::Acquire) != 0
            && self
                .tls_host(host)
                .is_some_and(|tls_host| tls_host.redirect_http)
    }

    /// What the router serves over TLS for `host` (a `Host` header value).
    fn tls_host(&self, host: &str) -> Option<Arc<HostTls>> {
        self.tls_hosts.load().get(&tls::host_name(host)).cloned()
    }

    /// Serves HTTPS on `listener` (SNI picks the certificate; a self-signed
    /// default answers for names without one) until `shutdown` resolves,
    /// with its own workers, as `serve` does for plain HTTP.
    pub async fn serve_tls(
        self: Arc<Self>,
        listener: TcpListener,
        shutdown: impl Future<Output = ()>,
    ) -> Result<(), TlsError> {
        let default = ServerCertificate::self_signed(vec!["berth.invalid".to_string()])?;
        let config = tls::server_config(tls::SniResolver {
            hosts: self.tls_hosts.clone(),
            default: tls::default_key(&default),
        })?;
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        if let Ok(address) = listener.local_addr() {
            self.https_port.store(address.port(), Ordering::Release);
        }
        self.serve_with(listener, Some(acceptor), shutdown).await;
        Ok(())
    }

    /// Replaces the whole route table at once.
    pub fn set_routes(&self, routes: Vec<AppRoute>) {
        self.table.store(Arc::new(RouteTable::new(
            routes,
            &self.upstreams,
            &self.traffic,
        )));
    }

    /// Every routed app's counts (apps the table no longer has are forgotten).
    pub fn traffic(&self) -> Vec<AppTraffic> {
        self.table.load().traffic()
    }

    /// Replaces the ACME HTTP-01 challenge answers (token → key authorization).
    pub fn set_challenges(&self, challenges: HashMap<String, String>) {
        self.challenges.store(Arc::new(challenges));
    }

    /// Requests to `upstream` not yet finished (response body included):
    /// what a cutover waits for before stopping an old process.
    pub fn in_flight(&self, upstream: SocketAddr) -> usize {
        self.upstreams.in_flight(upstream)
    }

    /// Serves HTTP/1.1 and HTTP/2 (cleartext) on `listener` until `shutdown`
    /// resolves, then lets open connections finish (bounded).
    ///
    /// Connections are served by worker threads, each running its own
    /// single-threaded event loop with its own upstream connection pool, as
    /// nginx's worker processes do: a request and its upstream exchange stay
    /// on one thread, with no hand-offs between threads.
    pub async fn serve(self: Arc<Self>, listener: TcpListener, shutdown: impl Future<Output = ()>) {
        self.serve_with(listener, None, shutdown).await;
    }

    async fn serve_with(
        self: Arc<Self>,
        listener: TcpListener,
        tls: Option<tokio_rustls::TlsAcceptor>,
        shutdown: impl Future<Output = ()>,
    ) {
        let workers = match self.config.workers {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        };
        let (stop, stopping) = tokio::sync::watch::channel(());
        let finished = match worker::start(&self, listener, workers, stopping, tls) {
            Ok(finished) => finished,
            Err(error) => {
                tracing::error!(%error, "router: could not start its workers");
                return;
            }
        };
        shutdown.await;
        drop(stop);
        for worker in finished {
            let _ = worker.await;
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
