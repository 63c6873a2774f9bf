//! Log drains: each app's log stream forwarded, as it is written, to
//! syslog (RFC 5424 over TCP, octet-counted as RFC 6587 says; TLS for
//! `syslog+tls://`) or HTTP(S) endpoints (batched POSTs in Heroku's
//! `application/logplex-1` framing). Each drain has a bounded buffer; while
//! its endpoint is unreachable it retries with backoff, and lines that do not
//! fit are dropped and announced with an `L10` line, as Heroku's logplex does.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use berth_core::{Action, Actor};
use berth_store::DrainRecord;
use chrono::{DateTime, Utc};
use rand::RngCore;
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;
use tokio::sync::broadcast;
use tokio::task::JoinHandle;

use crate::audit::app_entry;
use crate::logs::{LogLine, LogSink, LogSource};
use crate::{Platform, PlatformError, Result};

/// Lines a drain holds while its endpoint is unreachable or slow; the
/// oldest go first past this many, or past `DRAIN_BUFFER_BYTES` of them.
const DRAIN_BUFFER: usize = 10_000;
/// What a drain's buffered lines may weigh: its memory stays bounded
/// whatever the lines' length.
const DRAIN_BUFFER_BYTES: usize = 4 << 20;
/// Lines sent in one batch (one POST, or one write to the syslog stream).
const BATCH: usize = 500;
const RETRY_FIRST: Duration = Duration::from_secs(1);
const RETRY_CAP: Duration = Duration::from_secs(60);
const SEND_TIMEOUT: Duration = Duration::from_secs(10);

/// A drain as its owner sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Drain {
    pub url: String,
    pub token: String,
    pub created_at: DateTime<Utc>,
}

/// Where a drain's lines go.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Endpoint {
    Syslog { host: String, port: u16, tls: bool },
    Http { url: String },
}

impl Endpoint {
    fn parse(url: &str) -> Result<Self> {
        let invalid = |why: &str| {
            PlatformError::Invalid(format!(
                "{url:?} is not a drain URL: {why} (use syslog://HOST:PORT, \
                 syslog+tls://HOST:PORT or https://HOST/PATH)"
            ))
        };
        let (scheme, rest) = url.split_once("://").ok_or_else(|| invalid("no scheme"))?;
        match scheme {
            "syslog" | "syslog+tls" => {
                let authority = rest.trim_end_matches('/');
                let (host, port) = authority
                    .rsplit_once(':')
                    .ok_or_else(|| invalid("the port is missing"))?;
                let port = port
                    .parse::<u16>()
                    .ok()
                    .filter(|port| *port > 0)
                    .ok_or_else(|| invalid("the port is not a number from 1 to 65535"))?;
                let host = host.trim_start_matches('[').trim_end_matches(']');
                if host.is_empty() || host.contains(['/', '@', ' ']) {
                    return Err(invalid("the host is not valid"));
                }
                Ok(Endpoint::Syslog {
                    host: host.to_string(),
                    port,
                    tls: scheme == "syslog+tls",
                })
            }
            "https" | "http" => {
                let parsed = reqwest::Url::parse(url).map_err(|e| invalid(&e.to_string()))?;
                if parsed.host_str().is_none_or(str::is_empty) {
                    return Err(invalid("the host is missing"));
                }
                Ok(Endpoint::Http {
                    url: url.to_string(),
                })
            }
            _ => Err(invalid("unknown scheme")),
        }
    }
}

fn url_hash(url: &str) -> String {
    hex::encode(Sha256::digest(url.as_bytes()))
}

/// One line as a syslog message, octet-counted: `LEN <190>1 TIME APP SOURCE DYNO - - MESSAGE`.
fn syslog_frame(app: &str, line: &LogLine) -> String {
    // Facility local7, severity info (the app's) or notice (the platform's).
    let priority = match line.source {
        LogSource::App => 190,
        LogSource::Berth => 189,
    };
    let message = format!(
        "<{priority}>1 {} {app} {} {} - - {}",
        line.at.format("%Y-%m-%dT%H:%M:%S%.6f+00:00"),
        line.source.as_str(),
        line.dyno,
        line.message
    );
    format!("{} {message}", message.len())
}

/// The shippers running now, by drain id.
#[derive(Default)]
pub(crate) struct Shippers {
    running: Mutex<HashMap<i64, JoinHandle<()>>>,
}

impl Platform {
    /// The app's drains.
    pub async fn drains(&self, actor: &Actor, app_name: &str) -> Result<Vec<Drain>> {
        let app = self
            .authorize_app(actor, app_name, Action::Configure)
            .await?;
        self.store
            .drains(Some(app.id))
            .await?
            .iter()
            .map(|drain| self.open_drain(drain))
            .collect()
    }

    /// Starts forwarding the app's log to `url`.
    pub async fn add_drain(&self, actor: &Actor, app_name: &str, url: &str) -> Result<Drain> {
        let app = self
            .authorize_app(actor, app_name, Action::Configure)
            .await?;
        Endpoint::parse(url)?;
        if let Some(limit) = self.quotas.drains_per_app {
            let count = self.store.drains(Some(app.id)).await?.len();
            if count >= limit {
                return Err(PlatformError::Invalid(format!(
                    "{} already has {count} drains, the most this platform allows an app \
                     (BERTH_MAX_DRAINS_PER_APP={limit}): remove one first",
                    app.name
                )));
            }
        }
        let mut token = [0u8; 12];
        rand::rngs::OsRng.fill_bytes(&mut token);
        let token = format!("d.{}", hex::encode(token));
        let hash = url_hash(url);
        let sealed = self
            .secrets
            .seal(&drain_context(app.id, &hash), url.as_bytes());
        let record = self
            .store
            .add_drain(
                app.id,
                &hash,
                &sealed,
                &token,
                &app_entry(actor, &app.name, "drain.add", token.clone()),
            )
            .await?;
        self.sync_drains().await?;
        self.open_drain(&record)
    }

    /// Stops forwarding the app's log to `url`.
    pub async fn remove_drain(&self, actor: &Actor, app_name: &str, url: &str) -> Result<()> {
        let app = self
            .authorize_app(actor, app_name, Action::Configure)
            .await?;
        let removed = self
            .store
            .remove_drain(
                app.id,
                &url_hash(url),
                &app_entry(actor, &app.name, "drain.remove", String::new()),
            )
            .await?;
        if !removed {
            return Err(PlatformError::NotFound(format!(
                "{} has no drain {url}",
                app.name
            )));
        }
        self.sync_drains().await
    }

    /// Runs a shipper for every drain in the store and none for any other:
    /// at start-up, after each change, and on every reconciler pass.
    pub(crate) async fn sync_drains(&self) -> Result<()> {
        let drains = self.store.drains(None).await?;
        let apps = self.store.apps_visible_to(0, true).await?;
        let mut running = self.shippers.running.lock().expect("shippers lock");
        running.retain(|id, shipper| {
            let wanted = drains.iter().any(|drain| drain.id == *id) && !shipper.is_finished();
            if !wanted {
                shipper.abort();
            }
            wanted
        });
        for drain in drains {
            if running.contains_key(&drain.id) {
                continue;
            }
            let Some(app) = apps.iter().find(|app| app.id == drain.app_id) else {
                continue;
            };
            let url = self.open_drain(&drain)?.url;
            let Ok(endpoint) = Endpoint::parse(&url) else {
                continue;
            };
            let shipper = Shipper {
                lines: self.logs.subscribe(&app.name),
                sink: self.logs.clone(),
                app: app.name.clone(),
                endpoint,
                token: drain.token.clone(),
                buffer: DrainBuffer::default(),
            };
            running.insert(drain.id, tokio::spawn(shipper.run()));
        }
        Ok(())
    }

    fn open_drain(&self, drain: &DrainRecord) -> Result<Drain> {
        let url = self.secrets.open(
            &drain_context(drain.app_id, &drain.url_sha256),
            &drain.url_sealed,
        )?;
        Ok(Drain {
            url: String::from_utf8(url)
                .map_err(|_| PlatformError::Internal("a drain URL is not text".into()))?,
            token: drain.token.clone(),
            created_at: drain.created_at,
        })
    }
}

/// What a sealed drain URL is bound to.
pub(crate) fn drain_context(app_id: i64, url_sha256: &str) -> String {
    format!("drain/{app_id}/{url_sha256}")
}

/// Forwards one app's lines to one endpoint.
struct Shipper {
    lines: broadcast::Receiver<Arc<LogLine>>,
    sink: LogSink,
    app: String,
    endpoint: Endpoint,
    token: String,
    buffer: DrainBuffer,
}

/// The lines waiting for a drain's endpoint: at most `DRAIN_BUFFER` of
/// them and `DRAIN_BUFFER_BYTES` together; past that the oldest are
/// dropped and counted.
#[derive(Default)]
struct DrainBuffer {
    frames: VecDeque<String>,
    bytes: usize,
    /// Lines lost since the last `L10` notice.
    dropped: u64,
}

impl DrainBuffer {
    fn push_back(&mut self, frame: String) {
        self.bytes += frame.len();
        self.frames.push_back(frame);
        self.shed();
    }

    fn push_front(&mut self, frame: String) {
        self.bytes += frame.len();
        self.frames.push_front(frame);
    }

    /// Drops the oldest lines until the buffer is within its bounds.
    fn shed(&mut self) {
        while self.frames.len() > DRAIN_BUFFER || self.bytes > DRAIN_BUFFER_BYTES {
            let Some(oldest) = self.frames.pop_front() else {
                break;
            };
            self.bytes -= oldest.len();
            self.dropped += 1;
        }
    }

    /// Removes the first `count` lines, which were delivered.
    fn delivered(&mut self, count: usize) {
        for frame in self.frames.drain(..count) {
            self.bytes -= frame.len();
        }
    }

    fn len(&self) -> usize {
        self.frames.len()
    }

    fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }
}

/// An open connection to a syslog endpoint.
type SyslogStream = Box<dyn tokio::io::AsyncWrite + Send + Unpin>;

impl Shipper {
    async fn run(mut self) {
        // A drain answering with a redirect must not send its lines (nor
        // Berth's requests) anywhere else.
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(SEND_TIMEOUT)
            .build()
            .expect("an HTTP client builds");
        let mut syslog: Option<SyslogStream> = None;
        let mut retry_in = RETRY_FIRST;
        let mut next_try = tokio::time::Instant::now();
        loop {
            let waiting = !self.buffer.is_empty();
            tokio::select! {
                received = self.lines.recv() => match received {
                    Ok(line) => self.take(&line),
                    Err(broadcast::error::RecvError::Lagged(lost)) => self.buffer.dropped += lost,
                    Err(broadcast::error::RecvError::Closed) => return,
                },
                () = tokio::time::sleep_until(next_try), if waiting => {}
            }
            while let Ok(line) = self.lines.try_recv() {
                self.take(&line);
                if self.buffer.len() >= BATCH {
                    break;
                }
            }
            if self.buffer.is_empty() || tokio::time::Instant::now() < next_try {
                continue;
            }
            self.announce_drops();
            let count = self.buffer.len().min(BATCH);
            let batch: Vec<&String> = self.buffer.frames.iter().take(count).collect();
            let sent = match &self.endpoint {
                Endpoint::Http { url } => send_http(&http, url, &self.token, &batch).await,
                Endpoint::Syslog { host, port, tls } => {
                    send_syslog(&mut syslog, host, *port, *tls, &batch).await
                }
            };
            match sent {
                Ok(()) => {
                    self.buffer.delivered(count);
                    retry_in = RETRY_FIRST;
                    next_try = tokio::time::Instant::now();
                }
                Err(error) => {
                    tracing::debug!(app = %self.app, %error, "drain delivery failed; retrying");
                    syslog = None;
                    next_try = tokio::time::Instant::now() + retry_in;
                    retry_in = (retry_in * 2).min(RETRY_CAP);
                }
            }
        }
    }

    fn take(&mut self, line: &LogLine) {
        self.buffer.push_back(syslog_frame(&self.app, line));
    }

    /// Says, in the drain and in the app's log, how many lines were lost.
    fn announce_drops(&mut self) {
        let dropped = std::mem::take(&mut self.buffer.dropped);
        if dropped == 0 {
            return;
        }
        tracing::warn!(app = %self.app, dropped, "a log drain fell behind: lines were dropped");
        let notice = LogLine::now(
            LogSource::Berth,
            "drain",
            &format!(
                "Error L10 (output buffer overflow): {dropped} messages dropped since the last delivery"
            ),
        );
        self.buffer.push_front(syslog_frame(&self.app, &notice));
        self.sink.write(&self.app, notice);
    }
}

async fn send_http(
    http: &reqwest::Client,
    url: &str,
    token: &str,
    batch: &[&String],
) -> std::result::Result<(), String> {
    let body: String = batch.iter().map(|frame| frame.as_str()).collect();
    let mut frame_id = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut frame_id);
    let response = http
        .post(url)
        .header("content-type", "application/logplex-1")
        .header("logplex-msg-count", batch.len().to_string())
        .header("logplex-frame-id", hex::encode(frame_id))
        .header("logplex-drain-token", token)
        .body(body)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if response.status().is_success() {
        Ok(())
    } else {
        Err(format!("the endpoint answered {}", response.status()))
    }
}

async fn send_syslog(
    stream: &mut Option<SyslogStream>,
    host: &str,
    port: u16,
    tls: bool,
    batch: &[&String],
) -> std::result::Result<(), String> {
    if stream.is_none() {
        *stream = Some(connect_syslog(host, port, tls).await?);
    }
    let connection = stream.as_mut().expect("connected above");
    let bytes: String = batch.iter().map(|frame| frame.as_str()).collect();
    let written = async {
        connection.write_all(bytes.as_bytes()).await?;
        connection.flush().await
    };
    tokio::time::timeout(SEND_TIMEOUT, written)
        .await
        .map_err(|_| "the syslog endpoint stopped reading".to_string())?
        .map_err(|e| e.to_string())
}

async fn connect_syslog(
    host: &str,
    port: u16,
    tls: bool,
) -> std::result::Result<SyslogStream, String> {
    let connect = tokio::net::TcpStream::connect((host, port));
    let tcp = tokio::time::timeout(SEND_TIMEOUT, connect)
        .await
        .map_err(|_| format!("connecting to {host}:{port} timed out"))?
        .map_err(|e| format!("cannot connect to {host}:{port}: {e}"))?;
    let _ = tcp.set_nodelay(true);
    if !tls {
        return Ok(Box::new(tcp));
    }
    let roots = tokio_rustls::rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let config = tokio_rustls::rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = tokio_rustls::rustls::pki_types::ServerName::try_from(host.to_string())
        .map_err(|e| format!("{host} is not a TLS server name: {e}"))?;
    let stream = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await
        .map_err(|e| format!("TLS with {host}:{port} failed: {e}"))?;
    Ok(Box::new(stream))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drain_urls_are_checked() {
        assert_eq!(
            Endpoint::parse("syslog+tls://logs.example.com:6514").unwrap(),
            Endpoint::Syslog {
                host: "logs.example.com".into(),
                port: 6514,
                tls: true
            }
        );
        assert!(matches!(
            Endpoint::parse("https://user:secret@logs.example.com/drain").unwrap(),
            Endpoint::Http { .. }
        ));
        for bad in [
            "logs.example.com:514",
            "syslog://logs.example.com",
            "syslog://logs.example.com:0",
            "ftp://logs.example.com/",
            "https://",
        ] {
            let error = Endpoint::parse(bad).unwrap_err().to_string();
            assert!(error.contains("is not a drain URL"), "{bad}: {error}");
        }
    }

    #[test]
    fn a_drain_buffer_stays_bounded_and_counts_what_it_drops() {
        let mut buffer = DrainBuffer::default();
        let line = "x".repeat(100);
        for _ in 0..DRAIN_BUFFER + 250 {
            buffer.push_back(line.clone());
        }
        assert_eq!(buffer.len(), DRAIN_BUFFER);
        assert_eq!(buffer.dropped, 250);
        assert_eq!(buffer.bytes, DRAIN_BUFFER * 100);

        let mut buffer = DrainBuffer::default();
        let long = "y".repeat(1 << 20);
        for _ in 0..10 {
            buffer.push_back(long.clone());
        }
        assert!(buffer.bytes <= DRAIN_BUFFER_BYTES);
        assert_eq!(buffer.len(), 4);
        assert_eq!(buffer.dropped, 6);
        buffer.delivered(3);
        assert_eq!((buffer.len(), buffer.bytes), (1, 1 << 20));
    }

    #[test]
    fn lines_become_octet_counted_syslog_messages() {
        let at = DateTime::parse_from_rfc3339("2026-11-22T10:04:05.123456Z")
            .unwrap()
            .with_timezone(&Utc);
        let line = LogLine::at(at, LogSource::App, "web.1", "héllo");
        let frame = syslog_frame("demo", &line);
        let message = "<190>1 2026-11-22T10:04:05.123456+00:00 demo app web.1 - - héllo";
        assert_eq!(frame, format!("{} {message}", message.len()));
    }
}
