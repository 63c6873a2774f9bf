//! The common case without hyper: an HTTP/1.1 `GET` or `HEAD` without a
//! body, to an app with running web processes, goes to a pooled upstream
//! connection as a rewritten head, and the answer comes back byte for byte
//! (only its head rewritten), as nginx does it. Anything else — bodies,
//! upgrades, HTTP/1.0, HTTP/2, ACME answers, the router's own pages for
//! unknown hosts and maintenance, redirects to HTTPS — hands the connection
//! to hyper for the rest of its life, with the bytes already read put back
//! in front.
//!
//! The router spends most of its time per request here, so this path
//! parses each head once, formats each log line once, and makes one write
//! per direction when head and body arrive together.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use berth_core::cookies;
use bytes::{Buf, BytesMut};
use hyper_util::server::graceful::Watcher;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::watch;

use crate::headers;
use crate::pages::Page;
use crate::proxy::ACME_CHALLENGE_PREFIX;
use crate::slots::ConnectionSlot;
use crate::table::{InFlight, RouteEntry, Target};
use crate::traffic::UpstreamErrorKind;
use crate::worker::Worker;

/// Headers of a request or response this path reads or rewrites.
const MAX_HEADERS: usize = 100;

/// Serves one client connection until it closes, idles out, the router
/// stops, or a request needs hyper. `_slot` holds its place under the
/// connection cap until then.
pub(crate) async fn serve(
    worker: Arc<Worker>,
    mut client: TcpStream,
    peer: SocketAddr,
    mut stopping: watch::Receiver<()>,
    watcher: Watcher,
    slot: ConnectionSlot,
) {
    let config = &worker.router.config;
    let peer_ip = peer.ip().to_string();
    let mut buffer = BytesMut::with_capacity(8 * 1024);
    let mut scratch = Scratch::default();
    // The first head is due within the head timeout of the connection's
    // start; a later one within the head timeout of its first byte.
    let mut head_due = Some(tokio::time::Instant::now() + config.head_timeout);
    let mut scanned = 0;
    loop {
        // Wait for a whole request head (or for the bytes hyper needs to answer).
        while !has_whole_head(&buffer, &mut scanned) && buffer.len() <= config.max_header_bytes {
            buffer.reserve(4096);
            let due = head_due.unwrap_or_else(|| tokio::time::Instant::now() + config.idle_timeout);
            tokio::select! {
                read = tokio::time::timeout_at(due, client.read_buf(&mut buffer)) => {
                    match read {
                        Ok(Ok(0)) | Ok(Err(_)) => return,
                        Ok(Ok(_)) => {
                            head_due.get_or_insert_with(|| {
                                tokio::time::Instant::now() + config.head_timeout
                            });
                        }
                        Err(_) if buffer.is_empty() => return,
                        Err(_) => {
                            answer_head_timeout(&mut client, peer).await;
                            return;
                        }
                    }
                }
                _ = stopping.changed() => return,
            }
        }
        let started = Instant::now();
        let mut slots = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut request = httparse::Request::new(&mut slots);
        let head_length = match request.parse(&buffer) {
            Ok(httparse::Status::Complete(length)) => length,
            _ => break,
        };
        let Some(plain) = PlainRequest::read(&request, peer_ip.as_str()) else {
            break;
        };
        let Some(route) = worker.router.table.load().lookup(plain.host).cloned() else {
            break;
        };
        if route.maintenance
            || route.targets.is_empty()
            || worker.router.redirects_to_https(plain.host)
        {
            break;
        }
        let keep_alive = worker
            .exchange(&route, &plain, &mut client, &mut scratch, started)
            .await;
        buffer.advance(head_length);
        if !keep_alive {
            return;
        }
        scanned = 0;
        head_due = (!buffer.is_empty()).then(|| tokio::time::Instant::now() + config.head_timeout);
    }
    worker
        .hand_to_hyper(client, buffer, peer, watcher, slot)
        .await;
}

/// Tells a client whose request head did not arrive in time so, and lets
/// the connection close.
async fn answer_head_timeout(client: &mut TcpStream, peer: SocketAddr) {
    tracing::debug!(%peer, "router: a request head did not arrive in time");
    let answer = Page::HeadTimeout.http1_closing();
    let _ = tokio::time::timeout(ANSWER_WRITE_TIMEOUT, client.write_all(&answer)).await;
}

/// How long writing one of the router's own short answers may take.
const ANSWER_WRITE_TIMEOUT: Duration = Duration::from_secs(2);

/// Whether `bytes` hold a blank line ending a head (`\r\n\r\n`, or bare
/// `\n\n`). Only what `scanned` does not cover yet is looked at (plus the
/// two bytes before it, where a blank line may have begun), so waiting for
/// a head that arrives byte by byte stays linear in its length.
fn has_whole_head(bytes: &[u8], scanned: &mut usize) -> bool {
    let mut at = scanned.saturating_sub(2);
    while let Some(offset) = bytes[at..].iter().position(|&byte| byte == b'\n') {
        let newline = at + offset;
        match bytes.get(newline + 1) {
            Some(b'\n') => return true,
            Some(b'\r') if bytes.get(newline + 2) == Some(&b'\n') => return true,
            _ => at = newline + 1,
        }
    }
    *scanned = bytes.len();
    false
}

/// A request this path can serve, as parts of the client's head.
struct PlainRequest<'head> {
    method: &'head str,
    path: &'head str,
    host: &'head str,
    head_only: bool,
    close: bool,
    request_id: String,
    peer_ip: &'head str,
    /// The client's headers as they go upstream, forwarding headers excluded.
    kept: Vec<(&'head str, &'head [u8])>,
    forwarded_for: Vec<&'head [u8]>,
    via: Vec<&'head [u8]>,
}

impl<'head> PlainRequest<'head> {
    /// The request, if this path serves it: HTTP/1.1, `GET` or `HEAD`,
    /// origin-form, a `Host`, no body, no upgrade, nothing for the ACME
    /// answers; `None` leaves it to hyper.
    fn read(request: &httparse::Request<'head, '_>, peer_ip: &'head str) -> Option<Self> {
        let method = request.method?;
        let path = request.path?;
        if request.version != Some(1)
            || !matches!(method, "GET" | "HEAD")
            || !path.starts_with('/')
            || path.starts_with(ACME_CHALLENGE_PREFIX)
        {
            return None;
        }
        let mut plain = PlainRequest {
            method,
            path,
            host: "",
            head_only: method == "HEAD",
            close: false,
            request_id: String::new(),
            peer_ip,
            kept: Vec::with_capacity(request.headers.len()),
            forwarded_for: Vec::new(),
            via: Vec::new(),
        };
        let mut given_request_id = None;
        let mut connection_names: Vec<&[u8]> = Vec::new();
        for header in request.headers.iter() {
            let name = header.name;
            let value = header.value;
            if name.eq_ignore_ascii_case("host") {
                plain.host = std::str::from_utf8(value).ok()?;
            } else if name.eq_ignore_ascii_case("content-length") {
                if value != b"0" {
                    return None;
                }
            } else if name.eq_ignore_ascii_case("transfer-encoding")
                || name.eq_ignore_ascii_case("upgrade")
                || name.eq_ignore_ascii_case("expect")
            {
                return None;
            } else if name.eq_ignore_ascii_case("connection") {
                for token in value.split(|&b| b == b',').map(<[u8]>::trim_ascii) {
                    if token.eq_ignore_ascii_case(b"close") {
                        plain.close = true;
                    } else if token.eq_ignore_ascii_case(b"upgrade") {
                        return None;
                    }
                    connection_names.push(token);
                }
            } else if name.eq_ignore_ascii_case("x-forwarded-for") {
                plain.forwarded_for.push(value);
            } else if name.eq_ignore_ascii_case("via") {
                plain.via.push(value);
            } else if name.eq_ignore_ascii_case("x-request-id") {
                given_request_id = std::str::from_utf8(value).ok();
            } else if !headers::is_hop_by_hop(name)
                && !name.eq_ignore_ascii_case("x-forwarded-proto")
                && !name.eq_ignore_ascii_case("x-forwarded-port")
                && !name.eq_ignore_ascii_case("x-forwarded-host")
            {
                plain.kept.push((name, value));
            }
        }
        if plain.host.is_empty() {
            return None;
        }
        plain.kept.retain(|(name, _)| {
            !connection_names
                .iter()
                .any(|c| c.eq_ignore_ascii_case(name.as_bytes()))
        });
        plain.request_id = headers::kept_or_new_request_id(given_request_id);
        Some(plain)
    }

    /// The head sent upstream, into `out`.
    fn write_upstream_head(&self, out: &mut Vec<u8>, local_port: &str) {
        out.clear();
        for part in [
            self.method,
            " ",
            self.path,
            " HTTP/1.1\r\nhost: ",
            self.host,
        ] {
            out.extend_from_slice(part.as_bytes());
        }
        for (name, value) in &self.kept {
            if name.eq_ignore_ascii_case("cookie") && cookies::has_berth_cookie(value) {
                write_foreign_cookies(out, value);
                continue;
            }
            out.extend_from_slice(b"\r\n");
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(value);
        }
        out.extend_from_slice(b"\r\nx-forwarded-for: ");
        for earlier in &self.forwarded_for {
            out.extend_from_slice(earlier);
            out.extend_from_slice(b", ");
        }
        out.extend_from_slice(self.peer_ip.as_bytes());
        out.extend_from_slice(b"\r\nvia: ");
        for earlier in &self.via {
            out.extend_from_slice(earlier);
            out.extend_from_slice(b", ");
        }
        for part in [
            "1.1 berth\r\nx-forwarded-proto: http\r\nx-forwarded-port: ",
            local_port,
            "\r\nx-forwarded-host: ",
            self.host,
            "\r\nx-request-id: ",
            &self.request_id,
            "\r\n\r\n",
        ] {
            out.extend_from_slice(part.as_bytes());
        }
    }

    /// The router's log line for this request, in Heroku's shape.
    fn log_line(
        &self,
        outcome: std::fmt::Arguments<'_>,
        dyno: &str,
        tail: std::fmt::Arguments<'_>,
    ) -> String {
        format!(
            "{outcome} method={} path=\"{}\" host={} request_id={} fwd=\"{}\" dyno={dyno} {tail}",
            self.method,
            self.path.replace('"', "%22"),
            self.host,
            self.request_id,
            self.peer_ip,
        )
    }
}

/// A `Cookie` header line with Berth's own cookies left out (none at all
/// when only Berth's were there): apps never see a dashboard session.
fn write_foreign_cookies(out: &mut Vec<u8>, value: &[u8]) {
    let mut pairs = cookies::foreign_cookies(value);
    let Some(first) = pairs.next() else { return };
    out.extend_from_slice(b"\r\ncookie: ");
    out.extend_from_slice(first);
    for pair in pairs {
        out.extend_from_slice(b"; ");
        out.extend_from_slice(pair);
    }
}

/// Buffers reused from one request to the next on a connection.
#[derive(Default)]
struct Scratch {
    upstream_head: Vec<u8>,
    /// The upstream's answer as it arrives.
    response: BytesMut,
    /// What goes to the client next: the rewritten head, then body bytes.
    out: Vec<u8>,
}

/// How a response body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    Empty,
    Length(u64),
    Chunked,
    UntilClose,
}

/// What the upstream's response head said, as far as relaying goes.
#[derive(Debug, Clone, Copy)]
struct ResponseHead {
    status: u16,
    framing: Framing,
    /// The upstream connection may carry another request afterwards.
    reusable: bool,
    /// The answer cannot have a body (to `HEAD`, or a 204 or 304): body
    /// bytes an app sends anyway may still be on their way, so the
    /// connection is looked at again before its next use.
    bodiless: bool,
}

/// Why an upstream gave no answer the router relays.
enum Failure {
    /// No response, before any response byte: another try may follow.
    Unanswered,
    /// The address could not be reached: no connection could be made, a
    /// new one ended before any response byte (as docker-proxy does when
    /// nothing listens behind it), or its host stopped acknowledging what
    /// was sent. Passed over for a while; another try may follow.
    Unreachable,
    /// A response whose framing is invalid or ambiguous (Heroku's H17):
    /// neither relayed nor retried.
    PoorlyFormatted,
}

impl Worker {
    /// Forwards one request and relays its answer; whether the client
    /// connection stays open for another request.
    async fn exchange(
        &self,
        route: &RouteEntry,
        request: &PlainRequest<'_>,
        client: &mut TcpStream,
        scratch: &mut Scratch,
        started: Instant,
    ) -> bool {
        request.write_upstream_head(&mut scratch.upstream_head, &self.local_port_text);
        let mut last_dyno = "";
        // An idempotent request gets one more try, on the next process.
        for target in route.tries() {
            last_dyno = &target.dyno;
            let in_flight = InFlight::start(target);
            let attempt = self.attempt(target, request.head_only, scratch);
            let (upstream, head) =
                match tokio::time::timeout(self.router.config.first_byte_timeout, attempt).await {
                    Ok(Ok(answered)) => answered,
                    Ok(Err(Failure::Unanswered)) => {
                        route.traffic.upstream_error(UpstreamErrorKind::Closed);
                        continue;
                    }
                    Ok(Err(Failure::Unreachable)) => {
                        route.traffic.upstream_error(UpstreamErrorKind::Connect);
                        target.health().mark_unreachable();
                        continue;
                    }
                    Ok(Err(Failure::PoorlyFormatted)) => {
                        route.traffic.upstream_error(UpstreamErrorKind::BadResponse);
                        let page =
                            Error::new(Page::AppError, "H17", "Poorly formatted HTTP response");
                        return self
                            .answer_with_page(route, request, client, page, &target.dyno, started)
                            .await;
                    }
                    Err(_) => {
                        route.traffic.upstream_error(UpstreamErrorKind::Timeout);
                        let page = Error::new(Page::Timeout, "H12", "Request timeout");
                        return self
                            .answer_with_page(route, request, client, page, &target.dyno, started)
                            .await;
                    }
                };
            target.health().mark_reachable();
            let service = started.elapsed();
            route.traffic.response(head.status, service);
            let service = service.as_millis();
            let (sent, keep_alive) = self
                .relay(target, upstream, head, request.close, client, scratch)
                .await;
            drop(in_flight);
            let line = request.log_line(
                format_args!("at=info"),
                &target.dyno,
                format_args!("service={service}ms status={} bytes={sent}", head.status),
            );
            (self.router.log)(&route.app, line);
            return keep_alive;
        }
        let page = Error::new(Page::AppError, "H13", "Connection closed without response");
        self.answer_with_page(route, request, client, page, last_dyno, started)
            .await
    }

    /// Sends the request head to `target` — on a pooled connection, and on
    /// a new one if that one turns out closed — and reads the response
    /// head; `scratch.out` then holds it rewritten for the client (without
    /// its final blank line) and `scratch.response` the body bytes after it.
    async fn attempt(
        &self,
        target: &Target,
        head_only: bool,
        scratch: &mut Scratch,
    ) -> Result<(TcpStream, ResponseHead), Failure> {
        let mut pooled = self.pool.take(target.address);
        loop {
            let reused = pooled.is_some();
            let mut upstream = match pooled.take() {
                Some(upstream) => upstream,
                None => connect(target.address, self.router.config.connect_timeout)
                    .await
                    .ok_or(Failure::Unreachable)?,
            };
            if upstream.write_all(&scratch.upstream_head).await.is_err() {
                if reused {
                    continue;
                }
                return Err(Failure::Unreachable);
            }
            scratch.response.clear();
            match read_response_head(&mut upstream, head_only, scratch).await {
                Ok(head) => return Ok((upstream, head)),
                // A pooled connection the app had closed: try a new one.
                Err(Failure::Unanswered) if reused && scratch.response.is_empty() => continue,
                Err(Failure::Unanswered) if scratch.response.is_empty() => {
                    return Err(Failure::Unreachable)
                }
                Err(failure) => return Err(failure),
            }
        }
    }

    /// Passes the head and body to the client. Returns the body bytes sent
    /// and whether the client connection may carry another request; the
    /// upstream connection goes back to the pool when it is clean.
    async fn relay(
        &self,
        target: &Target,
        mut upstream: TcpStream,
        head: ResponseHead,
        client_asked_close: bool,
        client: &mut TcpStream,
        scratch: &mut Scratch,
    ) -> (u64, bool) {
        let keep_alive = !client_asked_close && head.framing != Framing::UntilClose;
        if !keep_alive {
            scratch.out.extend_from_slice(b"\r\nconnection: close");
        }
        scratch.out.extend_from_slice(b"\r\n\r\n");
        let mut body = BodyProgress::new(head.framing);
        let mut sent = 0;
        // The head and whatever body came with it go out in one write.
        let taken = match body.take(&scratch.response) {
            Ok(taken) => taken,
            Err(Malformed) => return (0, false),
        };
        scratch
            .out
            .extend_from_slice(&scratch.response[..taken.bytes]);
        sent += taken.data;
        scratch.response.advance(taken.bytes);
        if client.write_all(&scratch.out).await.is_err() {
            return (sent, false);
        }
        while !body.done() {
            scratch.response.clear();
            scratch.response.reserve(16 * 1024);
            match upstream.read_buf(&mut scratch.response).await {
                Ok(0) if head.framing == Framing::UntilClose => break,
                Ok(0) | Err(_) => return (sent, false),
                Ok(_) => {}
            }
            let taken = match body.take(&scratch.response) {
                Ok(taken) => taken,
                Err(Malformed) => return (sent, false),
            };
            sent += taken.data;
            if client
                .write_all(&scratch.response[..taken.bytes])
                .await
                .is_err()
            {
                return (sent, false);
            }
            scratch.response.advance(taken.bytes);
        }
        // Bytes beyond the body mean the upstream is out of step: drop it.
        if head.reusable && scratch.response.is_empty() {
            self.pool.put(target.address, upstream, head.bodiless);
        }
        (sent, keep_alive)
    }

    /// Answers with one of the router's pages and logs why.
    async fn answer_with_page(
        &self,
        route: &RouteEntry,
        request: &PlainRequest<'_>,
        client: &mut TcpStream,
        error: Error,
        dyno: &str,
        started: Instant,
    ) -> bool {
        let status = error.page.status().as_u16();
        let service = started.elapsed();
        route.traffic.response(status, service);
        let line = request.log_line(
            format_args!(
                "at=error code={} desc=\"{}\"",
                error.code, error.description
            ),
            dyno,
            format_args!("service={}ms status={status} bytes=0", service.as_millis()),
        );
        (self.router.log)(&route.app, line);
        client.write_all(&error.page.http1()).await.is_ok() && !request.close
    }

    /// Serves the rest of the connection with hyper, the bytes already read first.
    async fn hand_to_hyper(
        self: Arc<Self>,
        client: TcpStream,
        read: BytesMut,
        peer: SocketAddr,
        watcher: Watcher,
        slot: ConnectionSlot,
    ) {
        let io = Rewound {
            unread: read,
            stream: client,
        };
        self.serve_with_hyper(io, peer, watcher, slot).await;
    }
}

/// A router error answered with a page, and its Heroku-style code.
struct Error {
    page: Page,
    code: &'static str,
    description: &'static str,
}

impl Error {
    fn new(page: Page, code: &'static str, description: &'static str) -> Self {
        Self {
            page,
            code,
            description,
        }
    }
}

/// A new connection to `address`, within `timeout`. What is sent on it and
/// left unacknowledged for as long fails it too: its host is gone (its link
/// cut, say), and a request on a pooled connection to it goes elsewhere
/// then instead of waiting out the first-byte timeout. A slow app is not
/// cut off by this: its host acknowledges what arrives at once, and this
/// path sends nothing upstream but request heads.
async fn connect(address: SocketAddr, timeout: Duration) -> Option<TcpStream> {
    let stream = tokio::time::timeout(timeout, TcpStream::connect(address))
        .await
        .ok()?
        .ok()?;
    let _ = stream.set_nodelay(true);
    let _ = socket2::SockRef::from(&stream).set_tcp_user_timeout(Some(timeout));
    Some(stream)
}

/// Reads a response head (skipping interim 1xx answers) into
/// `scratch.response`, writes its rewrite for the client into `scratch.out`
/// and leaves the bytes after it in `scratch.response`.
async fn read_response_head(
    upstream: &mut TcpStream,
    head_only: bool,
    scratch: &mut Scratch,
) -> Result<ResponseHead, Failure> {
    loop {
        let mut slots = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut response = httparse::Response::new(&mut slots);
        match response.parse(&scratch.response) {
            Ok(httparse::Status::Complete(length)) => {
                let status = response.code.ok_or(Failure::PoorlyFormatted)?;
                if (100..200).contains(&status) {
                    // Interim answers (103 Early Hints) are not passed on;
                    // a 101 was never asked for on this path.
                    if status == 101 {
                        return Err(Failure::Unanswered);
                    }
                    scratch.response.advance(length);
                    continue;
                }
                let head = rewrite_response_head(&response, head_only, &mut scratch.out)?;
                scratch.response.advance(length);
                return Ok(head);
            }
            Ok(httparse::Status::Partial) => {}
            Err(_) => return Err(Failure::PoorlyFormatted),
        }
        if scratch.response.len() > 64 * 1024 {
            return Err(Failure::PoorlyFormatted);
        }
        scratch.response.reserve(16 * 1024);
        match upstream.read_buf(&mut scratch.response).await {
            // What was sent went unacknowledged (see `connect`).
            Err(error) if error.kind() == io::ErrorKind::TimedOut => {
                return Err(Failure::Unreachable)
            }
            Ok(0) | Err(_) => return Err(Failure::Unanswered),
            Ok(_) => {}
        }
    }
}

/// The client's version of a response head: hop-by-hop headers gone
/// (except a chunked framing, passed through as it is), one
/// `Content-Length` however many equal ones the app sent. A framing that
/// could be read two ways is refused, never passed on (RFC 9112 §6.3).
fn rewrite_response_head(
    response: &httparse::Response<'_, '_>,
    head_only: bool,
    out: &mut Vec<u8>,
) -> Result<ResponseHead, Failure> {
    let status = response.code.ok_or(Failure::PoorlyFormatted)?;
    let http11 = response.version == Some(1);
    let mut transfer_coded = false;
    let mut chunked = false;
    let mut length = None;
    let mut upstream_closes = !http11;
    let mut connection_names: Vec<&[u8]> = Vec::new();
    for header in response.headers.iter() {
        if header.name.eq_ignore_ascii_case("transfer-encoding") {
            transfer_coded = true;
            chunked = header
                .value
                .rsplit(|&b| b == b',')
                .next()
                .is_some_and(|last| last.trim_ascii().eq_ignore_ascii_case(b"chunked"));
            if !chunked {
                upstream_closes = true;
            }
        } else if header.name.eq_ignore_ascii_case("content-length") {
            add_content_length(header.value, &mut length).ok_or(Failure::PoorlyFormatted)?;
        } else if header.name.eq_ignore_ascii_case("connection") {
            for token in header.value.split(|&b| b == b',').map(<[u8]>::trim_ascii) {
                if token.eq_ignore_ascii_case(b"close") {
                    upstream_closes = true;
                }
                connection_names.push(token);
            }
        }
    }
    // A transfer coding beside a length (or in HTTP/1.0) leaves it to
    // each reader which one ends the body.
    if transfer_coded && (length.is_some() || !http11) {
        return Err(Failure::PoorlyFormatted);
    }
    let bodiless = head_only || status == 204 || status == 304;
    let framing = if bodiless {
        Framing::Empty
    } else if chunked {
        Framing::Chunked
    } else if let Some(length) = length {
        Framing::Length(length)
    } else {
        Framing::UntilClose
    };
    out.clear();
    out.extend_from_slice(b"HTTP/1.1 ");
    push_decimal(out, u64::from(status));
    out.push(b' ');
    out.extend_from_slice(response.reason.unwrap_or("").as_bytes());
    let mut length_written = false;
    for header in response.headers.iter() {
        let name = header.name;
        if name.eq_ignore_ascii_case("content-length") {
            if let (Some(length), false) = (length, length_written) {
                out.extend_from_slice(b"\r\n");
                out.extend_from_slice(name.as_bytes());
                out.extend_from_slice(b": ");
                push_decimal(out, length);
                length_written = true;
            }
            continue;
        }
        let dropped = if name.eq_ignore_ascii_case("transfer-encoding") {
            // An unframed body has no coding on the client's side.
            framing == Framing::UntilClose
        } else {
            headers::is_hop_by_hop(name)
                || name.eq_ignore_ascii_case("upgrade")
                || connection_names
                    .iter()
                    .any(|c| c.eq_ignore_ascii_case(name.as_bytes()))
        };
        if !dropped {
            out.extend_from_slice(b"\r\n");
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(header.value);
        }
    }
    Ok(ResponseHead {
        status,
        framing,
        reusable: !upstream_closes && framing != Framing::UntilClose,
        bodiless,
    })
}

/// Adds a `Content-Length` value (digits only, or a list of equal ones) to
/// the length seen so far; `None` when it is not a length or differs.
fn add_content_length(value: &[u8], length: &mut Option<u64>) -> Option<()> {
    for item in value.split(|&b| b == b',').map(<[u8]>::trim_ascii) {
        if item.is_empty() || !item.iter().all(u8::is_ascii_digit) {
            return None;
        }
        let parsed = item.iter().try_fold(0u64, |total, &digit| {
            total.checked_mul(10)?.checked_add(u64::from(digit - b'0'))
        })?;
        match *length {
            Some(earlier) if earlier != parsed => return None,
            _ => *length = Some(parsed),
        }
    }
    Some(())
}

/// Writes `number` in decimal, without allocating.
fn push_decimal(out: &mut Vec<u8>, mut number: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (number % 10) as u8;
        number /= 10;
        if number == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[at..]);
}

/// Where a response body stands: how much is left, and for a chunked one,
/// where in its framing the bytes so far have brought it.
struct BodyProgress {
    framing: Framing,
    remaining: u64,
    chunk: ChunkState,
}

/// A chunked body that does not parse: the exchange is cut off.
struct Malformed;

/// Bytes of a read that belong to the body, and how many of them are data.
struct Taken {
    bytes: usize,
    data: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ChunkState {
    Size { size: u64 },
    Extension { size: u64 },
    SizeNewline { size: u64 },
    Data { left: u64 },
    DataReturn,
    DataNewline,
    TrailerLineStart,
    TrailerLine,
    FinalNewline,
    Done,
}

impl BodyProgress {
    fn new(framing: Framing) -> Self {
        Self {
            framing,
            remaining: match framing {
                Framing::Length(length) => length,
                _ => 0,
            },
            chunk: ChunkState::Size { size: 0 },
        }
    }

    fn done(&self) -> bool {
        match self.framing {
            Framing::Empty => true,
            Framing::Length(_) => self.remaining == 0,
            Framing::Chunked => self.chunk == ChunkState::Done,
            Framing::UntilClose => false,
        }
    }

    /// How much of `bytes` (what came next from upstream) is body.
    fn take(&mut self, bytes: &[u8]) -> Result<Taken, Malformed> {
        match self.framing {
            Framing::Empty => Ok(Taken { bytes: 0, data: 0 }),
            Framing::UntilClose => Ok(Taken {
                bytes: bytes.len(),
                data: bytes.len() as u64,
            }),
            Framing::Length(_) => {
                let taken = self.remaining.min(bytes.len() as u64);
                self.remaining -= taken;
                Ok(Taken {
                    bytes: taken as usize,
                    data: taken,
                })
            }
            Framing::Chunked => self.take_chunked(bytes),
        }
    }

    fn take_chunked(&mut self, bytes: &[u8]) -> Result<Taken, Malformed> {
        let mut at = 0;
        let mut data = 0;
        while at < bytes.len() && self.chunk != ChunkState::Done {
            let byte = bytes[at];
            self.chunk = match self.chunk {
                ChunkState::Size { size } => match byte {
                    b'\r' => ChunkState::SizeNewline { size },
                    b';' | b' ' | b'\t' => ChunkState::Extension { size },
                    _ => {
                        let digit = (byte as char).to_digit(16).ok_or(Malformed)?;
                        let size = size
                            .checked_mul(16)
                            .and_then(|size| size.checked_add(u64::from(digit)))
                            .ok_or(Malformed)?;
                        ChunkState::Size { size }
                    }
                },
                ChunkState::Extension { size } => match byte {
                    b'\r' => ChunkState::SizeNewline { size },
                    _ => ChunkState::Extension { size },
                },
                ChunkState::SizeNewline { size } => match (byte, size) {
                    (b'\n', 0) => ChunkState::TrailerLineStart,
                    (b'\n', size) => ChunkState::Data { left: size },
                    _ => return Err(Malformed),
                },
                ChunkState::Data { left } => {
                    let run = left.min((bytes.len() - at) as u64);
                    at += run as usize;
                    data += run;
                    self.chunk = match left - run {
                        0 => ChunkState::DataReturn,
                        left => ChunkState::Data { left },
                    };
                    continue;
                }
                ChunkState::DataReturn if byte == b'\r' => ChunkState::DataNewline,
                ChunkState::DataNewline if byte == b'\n' => ChunkState::Size { size: 0 },
                ChunkState::DataReturn | ChunkState::DataNewline => return Err(Malformed),
                ChunkState::TrailerLineStart => match byte {
                    b'\r' => ChunkState::FinalNewline,
                    _ => ChunkState::TrailerLine,
                },
                ChunkState::TrailerLine => match byte {
                    b'\n' => ChunkState::TrailerLineStart,
                    _ => ChunkState::TrailerLine,
                },
                ChunkState::FinalNewline if byte == b'\n' => ChunkState::Done,
                ChunkState::FinalNewline => return Err(Malformed),
                ChunkState::Done => ChunkState::Done,
            };
            at += 1;
        }
        Ok(Taken { bytes: at, data })
    }
}

/// A connection with bytes already read from it put back in front.
struct Rewound {
    unread: BytesMut,
    stream: TcpStream,
}

impl AsyncRead for Rewound {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.unread.is_empty() {
            return Pin::new(&mut self.stream).poll_read(cx, buf);
        }
        let count = self.unread.len().min(buf.remaining());
        buf.put_slice(&self.unread[..count]);
        self.unread.advance(count);
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for Rewound {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunked(pieces: &[&[u8]]) -> (Vec<usize>, u64, bool) {
        let mut body = BodyProgress::new(Framing::Chunked);
        let mut taken = Vec::new();
        let mut data = 0;
        for piece in pieces {
            match body.take(piece) {
                Ok(t) => {
                    taken.push(t.bytes);
                    data += t.data;
                }
                Err(Malformed) => return (taken, data, false),
            }
        }
        (taken, data, body.done())
    }

    #[test]
    fn chunked_bodies_end_where_their_framing_says() {
        let whole: &[u8] = b"5\r\nhello\r\n1a;ext=1\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\n\r\nNEXT";
        let (taken, data, done) = chunked(&[whole]);
        assert_eq!(taken, [whole.len() - 4]);
        assert_eq!(data, 31);
        assert!(done);
        // Split anywhere, the same.
        for split in 1..whole.len() - 4 {
            let (taken, data, done) = chunked(&[&whole[..split], &whole[split..]]);
            assert_eq!(
                taken.iter().sum::<usize>(),
                whole.len() - 4,
                "split at {split}"
            );
            assert_eq!(data, 31);
            assert!(done);
        }
    }

    #[test]
    fn chunked_trailers_are_part_of_the_body() {
        let whole: &[u8] = b"3\r\nabc\r\n0\r\nx-checksum: 1\r\n\r\n";
        let (taken, data, done) = chunked(&[whole]);
        assert_eq!(taken, [whole.len()]);
        assert_eq!(data, 3);
        assert!(done);
    }

    #[test]
    fn malformed_chunks_are_refused() {
        assert!(!chunked(&[b"zz\r\n"]).2);
        assert!(!chunked(&[b"3\r\nabcX"]).2);
    }

    fn whole_head(bytes: &[u8]) -> bool {
        has_whole_head(bytes, &mut 0)
    }

    #[test]
    fn heads_end_at_a_blank_line() {
        assert!(whole_head(b"GET / HTTP/1.1\r\nhost: a\r\n\r\n"));
        assert!(whole_head(b"GET / HTTP/1.1\nhost: a\n\n"));
        assert!(!whole_head(b"GET / HTTP/1.1\r\nhost: a\r\n"));
    }

    #[test]
    fn a_head_arriving_byte_by_byte_is_found_where_it_ends() {
        for head in [
            &b"GET / HTTP/1.1\r\nhost: a\r\nx: y\r\n\r\n"[..],
            b"GET / HTTP/1.1\nhost: a\n\n",
        ] {
            let mut scanned = 0;
            for end in 1..head.len() {
                assert!(!has_whole_head(&head[..end], &mut scanned), "{end}");
                assert_eq!(scanned, end, "what was looked at is not looked at again");
            }
            assert!(has_whole_head(head, &mut scanned));
        }
    }

    fn response_head(head: &[u8]) -> Result<(ResponseHead, String), &'static str> {
        let mut slots = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut response = httparse::Response::new(&mut slots);
        assert!(response.parse(head).unwrap().is_complete());
        let mut out = Vec::new();
        match rewrite_response_head(&response, false, &mut out) {
            Ok(head) => Ok((head, String::from_utf8(out).unwrap())),
            Err(Failure::PoorlyFormatted) => Err("poorly formatted"),
            Err(Failure::Unanswered | Failure::Unreachable) => Err("unanswered"),
        }
    }

    #[test]
    fn ambiguous_response_framing_is_refused() {
        for head in [
            &b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\ncontent-length: 6\r\n\r\n"[..],
            b"HTTP/1.1 200 OK\r\ncontent-length: +5\r\n\r\n",
            b"HTTP/1.1 200 OK\r\ncontent-length: 5, 6\r\n\r\n",
            b"HTTP/1.1 200 OK\r\ncontent-length: -1\r\n\r\n",
            b"HTTP/1.1 200 OK\r\ncontent-length: 99999999999999999999\r\n\r\n",
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: gzip\r\ncontent-length: 5\r\n\r\n",
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\ncontent-length: 5\r\n\r\n",
            b"HTTP/1.0 200 OK\r\ntransfer-encoding: chunked\r\n\r\n",
        ] {
            assert_eq!(
                response_head(head).err(),
                Some("poorly formatted"),
                "{}",
                String::from_utf8_lossy(head)
            );
        }
    }

    #[test]
    fn equal_lengths_are_passed_on_as_one() {
        let (head, text) = response_head(
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nx-a: 1\r\ncontent-length: 005, 5\r\n\r\n",
        )
        .unwrap();
        assert_eq!(head.framing, Framing::Length(5));
        assert_eq!(text, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nx-a: 1");
    }
}
