//! Forwarding one request: find the app, pick a web process in turn, pass
//! the request on (once more, to another process, when the first could not
//! be connected to, or for an idempotent request without a body when the
//! first failed before any response byte), stream the answer back.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use http_body::Body as _;
use http_body_util::{BodyExt, Empty};
use hyper::body::Incoming;
use hyper::header::{HOST, UPGRADE};
use hyper::http::uri::{PathAndQuery, Scheme};
use hyper::{Method, Request, Response, StatusCode, Uri, Version};
use hyper_util::rt::TokioIo;

use crate::headers;
use crate::pages::Page;
use crate::reclaimable::{Reclaim, ReclaimableBody};
use crate::slots::ConnectionSlot;
use crate::table::{InFlight, RouteEntry};
use crate::tls::HostTls;
use crate::tracked::{AccessLog, TrackedBody};
use crate::traffic::UpstreamErrorKind;
use crate::worker::Worker;
use crate::{ProxyBody, Router};

/// Where ACME HTTP-01 validation asks for a token's key authorization.
pub(crate) const ACME_CHALLENGE_PREFIX: &str = "/.well-known/acme-challenge/";

impl Router {
    /// The answer to a pending ACME challenge, whatever the host; other
    /// tokens go on to the app, which may run its own ACME client.
    fn acme_answer(&self, path: &str) -> Option<Response<ProxyBody>> {
        let token = path.strip_prefix(ACME_CHALLENGE_PREFIX)?;
        let key_authorization = self.challenges.load().get(token)?.clone();
        let body = http_body_util::Full::new(bytes::Bytes::from(key_authorization))
            .map_err(|never| match never {})
            .boxed();
        let mut response = Response::new(body);
        response.headers_mut().insert(
            hyper::header::CONTENT_TYPE,
            hyper::header::HeaderValue::from_static("text/plain"),
        );
        Some(response)
    }

    /// A redirect of a plain HTTP request to the same URL over HTTPS, once
    /// a TLS listener runs: 301 for reads, 308 (method and body kept) for
    /// the rest.
    fn https_redirect<B>(
        &self,
        hostname: &str,
        request: &Request<B>,
    ) -> Option<Response<ProxyBody>> {
        let port = self.https_port.load(std::sync::atomic::Ordering::Acquire);
        if port == 0 {
            return None;
        }
        let authority = match port {
            443 => hostname.to_string(),
            port => format!("{hostname}:{port}"),
        };
        let path = request
            .uri()
            .path_and_query()
            .map_or("/", PathAndQuery::as_str);
        let location =
            hyper::header::HeaderValue::from_str(&format!("https://{authority}{path}")).ok()?;
        let status = match *request.method() {
            Method::GET | Method::HEAD => StatusCode::MOVED_PERMANENTLY,
            _ => StatusCode::PERMANENT_REDIRECT,
        };
        let mut response = Response::new(Empty::new().map_err(|never| match never {}).boxed());
        *response.status_mut() = status;
        response
            .headers_mut()
            .insert(hyper::header::LOCATION, location);
        Some(response)
    }
}

impl Worker {
    pub(crate) async fn handle(
        self: Arc<Self>,
        request: Request<Incoming>,
        peer: SocketAddr,
        slot: Arc<ConnectionSlot>,
    ) -> Response<ProxyBody> {
        let started = Instant::now();
        let router = &self.router;
        if let Some(answer) = router.acme_answer(request.uri().path()) {
            return answer;
        }
        let host = request
            .headers()
            .get(HOST)
            .and_then(|value| value.to_str().ok())
            .map(str::to_string)
            .or_else(|| {
                request
                    .uri()
                    .authority()
                    .map(|authority| authority.to_string())
            })
            .unwrap_or_default();
        let tls_host = router.tls_host(&host);
        // Every ACME challenge stays on plain HTTP, even one for the app's own client.
        if self.tls.is_none() && !request.uri().path().starts_with(ACME_CHALLENGE_PREFIX) {
            if let Some(redirect) = tls_host
                .as_ref()
                .filter(|tls_host| tls_host.redirect_http)
                .and_then(|tls_host| router.https_redirect(&tls_host.hostname, &request))
            {
                return redirect;
            }
        }
        let Some(route) = router.table.load().lookup(&host).cloned() else {
            return Page::NoSuchApp.response();
        };
        let response = self
            .forward(&route, request, host, tls_host, peer, slot, started)
            .await;
        route
            .traffic
            .response(response.status().as_u16(), started.elapsed());
        response
    }

    /// The answer to a request for `route`'s app: the app's, or one of the
    /// router's pages for it. Its head is ready when this returns.
    #[allow(clippy::too_many_arguments)]
    async fn forward(
        &self,
        route: &RouteEntry,
        mut request: Request<Incoming>,
        host: String,
        tls_host: Option<Arc<HostTls>>,
        peer: SocketAddr,
        slot: Arc<ConnectionSlot>,
        started: Instant,
    ) -> Response<ProxyBody> {
        let router = &self.router;
        let request_id = headers::request_id(request.headers());
        let path_and_query = request
            .uri()
            .path_and_query()
            .cloned()
            .unwrap_or_else(|| PathAndQuery::from_static("/"));
        let method = request.method().clone();
        let describe = |dyno: &str| {
            format!(
                "method={} path=\"{}\" host={} request_id={request_id} fwd=\"{}\" dyno={dyno}",
                method,
                path_and_query.as_str().replace('"', "%22"),
                host,
                peer.ip(),
            )
        };
        let log_error = |code: &str, desc: &str, dyno: &str, status: StatusCode| {
            let line = format!(
                "at=error code={code} desc=\"{desc}\" {} service={}ms status={} bytes=0",
                describe(dyno),
                started.elapsed().as_millis(),
                status.as_u16()
            );
            (router.log)(&route.app, line);
        };
        if route.maintenance {
            log_error("H80", "Maintenance mode", "", Page::Maintenance.status());
            return Page::Maintenance.response();
        }
        if route.targets.is_empty() {
            log_error(
                "H14",
                "No web processes running",
                "",
                Page::NoWebProcess.status(),
            );
            return Page::NoWebProcess.response();
        }

        let upgrade = request.headers().contains_key(UPGRADE);
        let client_upgrade = upgrade.then(|| hyper::upgrade::on(&mut request));
        let (mut parts, body) = request.into_parts();
        let idempotent = matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS);
        // Sent again after a failure that may have come after the app got it:
        // only a request that means the same however often it comes.
        let repeatable = idempotent && body.is_end_stream() && !upgrade;
        headers::forward(
            &mut parts.headers,
            &host,
            peer,
            self.local_port,
            &request_id,
            upgrade,
        );
        if self.tls.is_some() {
            headers::forwarded_over_tls(&mut parts.headers);
        }
        let hsts = self.tls.is_some() && tls_host.is_some_and(|tls_host| tls_host.hsts);
        let has_body = !body.is_end_stream();
        // The body while no try has read from it (none: an empty body).
        let mut unread = has_body.then_some(body);
        // Only an app with another process can see a second try.
        let may_retry = route.targets.len() > 1;

        let mut last_dyno = String::new();
        for target in route.tries() {
            last_dyno.clone_from(&target.dyno);
            let (request_body, reclaim) = match unread.take() {
                Some(body) => {
                    let (body, reclaim) = ReclaimableBody::new(body);
                    (body.boxed(), Some(reclaim))
                }
                None if has_body => break,
                None => (Empty::new().map_err(|never| match never {}).boxed(), None),
            };
            let mut upstream_request = Request::new(request_body);
            *upstream_request.method_mut() = parts.method.clone();
            *upstream_request.version_mut() = Version::HTTP_11;
            *upstream_request.headers_mut() = if may_retry {
                parts.headers.clone()
            } else {
                std::mem::take(&mut parts.headers)
            };
            *upstream_request.uri_mut() = match Uri::builder()
                .scheme(Scheme::HTTP)
                .authority(target.authority.clone())
                .path_and_query(path_and_query.clone())
                .build()
            {
                Ok(uri) => uri,
                Err(_) => return Page::AppError.response(),
            };
            let in_flight = InFlight::start(target);
            let sent = tokio::time::timeout(
                router.config.first_byte_timeout,
                self.client.request(upstream_request),
            );
            let mut response = match sent.await {
                Err(_) => {
                    route.traffic.upstream_error(UpstreamErrorKind::Timeout);
                    log_error(
                        "H12",
                        "Request timeout",
                        &target.dyno,
                        Page::Timeout.status(),
                    );
                    return Page::Timeout.response();
                }
                Ok(Err(error)) if is_poorly_formatted(&error) => {
                    route.traffic.upstream_error(UpstreamErrorKind::BadResponse);
                    log_error(
                        "H17",
                        "Poorly formatted HTTP response",
                        &target.dyno,
                        Page::AppError.status(),
                    );
                    return Page::AppError.response();
                }
                Ok(Err(error)) if error.is_connect() => {
                    route.traffic.upstream_error(UpstreamErrorKind::Connect);
                    tracing::debug!(app = %route.app, dyno = %target.dyno, %error, "upstream unreachable");
                    target.health().mark_unreachable();
                    // Nothing of the request was sent: whatever it is, it
                    // goes to the next process, with its body.
                    unread = reclaim.and_then(Reclaim::take);
                    continue;
                }
                Ok(Err(error)) => {
                    tracing::debug!(app = %route.app, dyno = %target.dyno, %error, "upstream failed");
                    route.traffic.upstream_error(UpstreamErrorKind::Closed);
                    if repeatable {
                        continue;
                    }
                    break;
                }
                Ok(Ok(response)) => response,
            };
            target.health().mark_reachable();
            if headers::has_ambiguous_framing(response.headers()) {
                route.traffic.upstream_error(UpstreamErrorKind::BadResponse);
                log_error(
                    "H17",
                    "Poorly formatted HTTP response",
                    &target.dyno,
                    Page::AppError.status(),
                );
                return Page::AppError.response();
            }
            let status = response.status();
            if status == StatusCode::SWITCHING_PROTOCOLS {
                if let Some(client_upgrade) = client_upgrade {
                    let upstream_upgrade = hyper::upgrade::on(&mut response);
                    tokio::spawn(async move {
                        let (Ok(client), Ok(upstream)) =
                            (client_upgrade.await, upstream_upgrade.await)
                        else {
                            return;
                        };
                        let _in_flight = in_flight;
                        let _slot = slot;
                        let _ = tokio::io::copy_bidirectional(
                            &mut TokioIo::new(client),
                            &mut TokioIo::new(upstream),
                        )
                        .await;
                    });
                    let (parts, _) = response.into_parts();
                    return Response::from_parts(
                        parts,
                        Empty::new().map_err(|never| match never {}).boxed(),
                    );
                }
            }
            headers::strip_hop_by_hop(response.headers_mut(), false);
            headers::one_content_length(response.headers_mut());
            if hsts {
                response.headers_mut().insert(
                    hyper::header::STRICT_TRANSPORT_SECURITY,
                    hyper::header::HeaderValue::from_static(crate::tls::HSTS_VALUE),
                );
            }
            let access = AccessLog {
                log: router.log.clone(),
                app: route.app.clone(),
                line: format!(
                    "at=info {} service={}ms",
                    describe(&target.dyno),
                    started.elapsed().as_millis()
                ),
                status: status.as_u16(),
            };
            let (parts, body) = response.into_parts();
            return Response::from_parts(parts, TrackedBody::new(body, access, in_flight).boxed());
        }
        log_error(
            "H13",
            "Connection closed without response",
            &last_dyno,
            Page::AppError.status(),
        );
        Page::AppError.response()
    }
}

/// Whether an upstream failed by answering something that is not a valid
/// HTTP/1.1 response (a bad or conflicting `Content-Length`, say).
fn is_poorly_formatted(error: &hyper_util::client::legacy::Error) -> bool {
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        if let Some(hyper_error) = cause.downcast_ref::<hyper::Error>() {
            return hyper_error.is_parse();
        }
        source = cause.source();
    }
    false
}
