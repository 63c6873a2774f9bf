//! What the router tests share: an HTTP/1.1 client over a plain loopback
//! socket, which sends exactly the bytes it is given and keeps every byte
//! it gets back (an HTTP library would hide framing, pool connections and
//! retry); and a raw test app, busybox `nc` running `raw_app.sh` per
//! connection, which answers with exactly the bytes the script prints.

use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use berth_api_types::App;
use berth_testkit::{unique_app_name, AppRepo, EngineCleanup, TestServer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::containers::{inspect, Member};

/// The most any one read or write of these tests may take: a guard
/// against a test hanging, not a speed claim.
pub(crate) const IO_TIMEOUT: Duration = Duration::from_secs(20);

const RAW_APP_SCRIPT: &str = include_str!("raw_app.sh");

const RAW_APP_DOCKERFILE: &str = "\
# Built FROM scratch with Debian's static busybox (the test copies it in).
FROM scratch
COPY busybox /bin/busybox
RUN [\"/bin/busybox\", \"--install\", \"-s\", \"/bin\"]
COPY raw_app.sh /app/raw_app.sh
# -ll: keep listening, one copy of the script per connection.
CMD [\"/bin/sh\", \"-c\", \"exec nc -ll -p $PORT -e /app/raw_app.sh\"]
";

/// Creates a `prefix`-named app and deploys the raw app to it (one web process).
pub(crate) async fn deployed_raw_app(member: &Member, prefix: &str) -> (App, EngineCleanup) {
    let name = unique_app_name(prefix);
    let cleanup = EngineCleanup::new(&name);
    let app = member.create_app(&name).await;
    let repo = AppRepo::from_fixture("cmd-only");
    std::fs::remove_dir_all(repo.path().join("www")).unwrap();
    repo.write("Dockerfile", RAW_APP_DOCKERFILE);
    repo.write("raw_app.sh", RAW_APP_SCRIPT);
    let script = repo.path().join("raw_app.sh");
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    repo.commit("A raw app: busybox nc and a shell script");
    let pushed = repo.push(&app.git_url, &member.token, "main", &[]);
    assert!(
        pushed.status.success(),
        "the raw app did not deploy: {}",
        String::from_utf8_lossy(&pushed.stderr)
    );
    (app, cleanup)
}

/// The router's address (`127.0.0.1:port`).
pub(crate) fn router_address(server: &TestServer) -> SocketAddr {
    address_of(&server.http_url)
}

/// The API listener's address (`127.0.0.1:port`).
pub(crate) fn api_address(server: &TestServer) -> SocketAddr {
    address_of(&server.api_url)
}

fn address_of(url: &str) -> SocketAddr {
    url.trim_start_matches("http://").parse().unwrap()
}

/// Where the engine published `app`'s first web process on loopback: the
/// app itself, without the router in between.
pub(crate) fn web_process_address(app: &str) -> SocketAddr {
    let container = inspect(&format!("berth-{app}.v1.web.1"));
    let ports = container["NetworkSettings"]["Ports"]
        .as_object()
        .expect("published ports");
    let binding = ports
        .values()
        .find_map(|bindings| bindings.as_array()?.first().cloned())
        .expect("a published port");
    format!(
        "{}:{}",
        binding["HostIp"].as_str().unwrap(),
        binding["HostPort"].as_str().unwrap()
    )
    .parse()
    .unwrap()
}

/// A GET or HEAD request head for `path` on `host`.
pub(crate) fn request(method: &str, path: &str, host: &str) -> Vec<u8> {
    format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: berth-test\r\n\r\n")
        .into_bytes()
}

/// One response as it came over the wire.
#[derive(Debug)]
pub(crate) struct Response {
    pub(crate) status: u16,
    /// The head, status line and headers, without the blank line.
    pub(crate) head: String,
    pub(crate) body: Vec<u8>,
}

impl Response {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().skip(1).find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.trim()
                .eq_ignore_ascii_case(name)
                .then_some(value.trim())
        })
    }

    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// A client connection that sends raw bytes and reads responses by their framing.
pub(crate) struct RawClient {
    stream: TcpStream,
    /// Bytes read and not yet part of a response.
    unread: Vec<u8>,
}

impl RawClient {
    pub(crate) async fn connect(address: SocketAddr) -> Self {
        let stream = tokio::time::timeout(IO_TIMEOUT, TcpStream::connect(address))
            .await
            .expect("connecting timed out")
            .expect("connect");
        stream.set_nodelay(true).unwrap();
        Self {
            stream,
            unread: Vec::new(),
        }
    }

    /// Writes `bytes` as they are; `Err` when the peer has closed or reset.
    pub(crate) async fn send(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        tokio::time::timeout(IO_TIMEOUT, self.stream.write_all(bytes))
            .await
            .map_err(|_| std::io::Error::from(std::io::ErrorKind::TimedOut))?
    }

    /// Sends a `method` request for `path` and reads its response.
    pub(crate) async fn exchange(&mut self, method: &str, path: &str, host: &str) -> Response {
        self.send(&request(method, path, host))
            .await
            .unwrap_or_else(|error| panic!("{method} {path}: {error}"));
        self.read_response(method == "HEAD").await
    }

    /// Sends a POST for `path` with a small body (hyper serves the client
    /// connection from then on) and reads its response.
    pub(crate) async fn post(&mut self, path: &str, host: &str) -> Response {
        let request = format!(
            "POST {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: berth-test\r\n\
             Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 3\r\n\r\nx=1"
        );
        self.send(request.as_bytes())
            .await
            .unwrap_or_else(|error| panic!("POST {path}: {error}"));
        self.read_response(false).await
    }

    /// Reads until `needle` has come (bytes kept), within `IO_TIMEOUT`.
    pub(crate) async fn read_until_seen(&mut self, needle: &[u8]) -> Vec<u8> {
        while find(&self.unread, needle).is_none() {
            assert!(
                self.read_more().await > 0,
                "the connection ended before {:?} came: {:?}",
                String::from_utf8_lossy(needle),
                String::from_utf8_lossy(&self.unread)
            );
        }
        std::mem::take(&mut self.unread)
    }

    /// Reads one response: a body by `Content-Length`, none for an answer to
    /// HEAD or a 204 or 304, else up to the connection's end.
    pub(crate) async fn read_response(&mut self, to_head: bool) -> Response {
        let head_end = loop {
            if let Some(at) = find(&self.unread, b"\r\n\r\n") {
                break at;
            }
            assert!(
                self.read_more().await > 0,
                "the connection ended before a response head: {:?}",
                String::from_utf8_lossy(&self.unread)
            );
        };
        let head = String::from_utf8(self.unread[..head_end].to_vec()).expect("a UTF-8 head");
        self.unread.drain(..head_end + 4);
        let status = head
            .split(' ')
            .nth(1)
            .and_then(|code| code.parse().ok())
            .unwrap_or_else(|| panic!("no status in {head:?}"));
        let mut response = Response {
            status,
            head,
            body: Vec::new(),
        };
        assert!(
            response.header("transfer-encoding").is_none(),
            "a transfer coding reached the client (the raw app sends none the router may pass on): {}",
            response.head
        );
        if to_head || status == 204 || status == 304 {
            return response;
        }
        match response.header("content-length") {
            Some(length) => {
                let length: usize = length.parse().expect("a plain Content-Length");
                while self.unread.len() < length {
                    assert!(
                        self.read_more().await > 0,
                        "the connection ended inside a body"
                    );
                }
                response.body = self.unread.drain(..length).collect();
            }
            None => {
                while self.read_more().await > 0 {}
                response.body = std::mem::take(&mut self.unread);
            }
        }
        response
    }

    /// Waits `quiet` for bytes beyond the responses read: none may come.
    pub(crate) async fn assert_nothing_more(&mut self, quiet: Duration, after: &str) {
        if self.unread.is_empty() {
            let mut byte = [0u8; 1024];
            if let Ok(read) = tokio::time::timeout(quiet, self.stream.read(&mut byte)).await {
                let read = read.unwrap_or(0);
                self.unread.extend_from_slice(&byte[..read]);
            }
        }
        assert!(
            self.unread.is_empty(),
            "stray bytes after {after}: {:?}",
            String::from_utf8_lossy(&self.unread)
        );
    }

    /// Reads until the peer closes (or resets) the connection, within
    /// `within`; returns every byte that came.
    pub(crate) async fn read_until_closed(&mut self, within: Duration) -> Vec<u8> {
        let closing = async {
            let mut chunk = [0u8; 16 * 1024];
            loop {
                match self.stream.read(&mut chunk).await {
                    Ok(0) | Err(_) => break,
                    Ok(read) => self.unread.extend_from_slice(&chunk[..read]),
                }
            }
        };
        let closed = tokio::time::timeout(within, closing).await.is_ok();
        assert!(
            closed,
            "the connection is still open after {within:?}, having sent {:?}",
            String::from_utf8_lossy(&self.unread)
        );
        std::mem::take(&mut self.unread)
    }

    /// What the peer has sent so far and not yet read, without waiting;
    /// and whether it has closed (or reset) the connection.
    pub(crate) async fn take_waiting(&mut self) -> (Vec<u8>, bool) {
        let mut chunk = [0u8; 4096];
        let mut closed = false;
        while let Ok(read) =
            tokio::time::timeout(Duration::from_millis(1), self.stream.read(&mut chunk)).await
        {
            match read {
                Ok(0) | Err(_) => {
                    closed = true;
                    break;
                }
                Ok(read) => self.unread.extend_from_slice(&chunk[..read]),
            }
        }
        (std::mem::take(&mut self.unread), closed)
    }

    async fn read_more(&mut self) -> usize {
        let mut chunk = [0u8; 16 * 1024];
        let read = tokio::time::timeout(IO_TIMEOUT, self.stream.read(&mut chunk))
            .await
            .expect("no answer in time")
            .unwrap_or(0);
        self.unread.extend_from_slice(&chunk[..read]);
        read
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}
