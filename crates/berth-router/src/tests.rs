//! The router against real HTTP backends on loopback.

use std::convert::Infallible;
use std::sync::Mutex;

use http_body_util::{BodyExt, Full};
use hyper::{Request, Response};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::*;
use hyper_util::rt::TokioExecutor;

/// A backend answering `<name> <x-forwarded-for> <x-request-id> <via> <host>`,
/// and echoing bytes after an `Upgrade: echo` handshake; `/404` and `/500`
/// answer with those statuses, `/60ms` after that long.
async fn backend(name: &'static str) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    serve_backend(listener, name);
    address
}

/// Serves `backend`'s answers on `listener`; `/echo` answers with the
/// request's body.
fn serve_backend(listener: TcpListener, name: &'static str) {
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let service = hyper::service::service_fn(
                move |mut request: Request<hyper::body::Incoming>| async move {
                    if request.headers().contains_key("upgrade") {
                        let upgrade = hyper::upgrade::on(&mut request);
                        tokio::spawn(async move {
                            let mut io = TokioIo::new(upgrade.await.unwrap());
                            let mut buffer = [0u8; 4];
                            io.read_exact(&mut buffer).await.unwrap();
                            io.write_all(&buffer).await.unwrap();
                        });
                        let mut response = Response::new(Full::new(Bytes::new()));
                        *response.status_mut() = hyper::StatusCode::SWITCHING_PROTOCOLS;
                        response
                            .headers_mut()
                            .insert("connection", "upgrade".parse().unwrap());
                        response
                            .headers_mut()
                            .insert("upgrade", "echo".parse().unwrap());
                        return Ok::<_, Infallible>(response);
                    }
                    match request.uri().path() {
                        "/slow" => tokio::time::sleep(Duration::from_secs(2)).await,
                        "/60ms" => tokio::time::sleep(Duration::from_millis(60)).await,
                        "/404" | "/500" => {
                            let mut response = Response::new(Full::new(Bytes::new()));
                            *response.status_mut() = request.uri().path()[1..].parse().unwrap();
                            return Ok(response);
                        }
                        "/upload" => {
                            let received = request
                                .into_body()
                                .collect()
                                .await
                                .unwrap()
                                .to_bytes()
                                .len();
                            return Ok(Response::new(Full::new(Bytes::from(received.to_string()))));
                        }
                        "/echo" => {
                            let body = request.into_body().collect().await.unwrap().to_bytes();
                            return Ok(Response::new(Full::new(body)));
                        }
                        _ => {}
                    }
                    let header = |name: &str| {
                        request
                            .headers()
                            .get(name)
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or("-")
                            .to_string()
                    };
                    let text = format!(
                        "{name} {} {} {} {}",
                        header("x-forwarded-for"),
                        header("x-request-id"),
                        header("via"),
                        header("host")
                    );
                    Ok(Response::new(Full::new(Bytes::from(text))))
                },
            );
            tokio::spawn(
                hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .with_upgrades(),
            );
        }
    });
}

/// An address where nothing listens.
async fn dead_address() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap()
}

struct Running {
    address: SocketAddr,
    router: Arc<Router>,
    lines: Arc<Mutex<Vec<(String, String)>>>,
}

async fn router(routes: Vec<AppRoute>) -> Running {
    router_with(RouterConfig::default(), routes).await
}

async fn router_with(config: RouterConfig, routes: Vec<AppRoute>) -> Running {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let sink = lines.clone();
    let router = Router::new(
        config,
        Arc::new(move |app: &str, line: String| sink.lock().unwrap().push((app.to_string(), line))),
    );
    router.set_routes(routes);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(router.clone().serve(listener, std::future::pending()));
    Running {
        address,
        router,
        lines,
    }
}

impl Running {
    /// The router's log lines once there are `count` (a line is written
    /// just after its response has gone out), within 5 s.
    async fn log_lines(&self, count: usize) -> Vec<(String, String)> {
        for _ in 0..500 {
            let lines = self.lines.lock().unwrap().clone();
            if lines.len() >= count {
                assert_eq!(lines.len(), count, "{lines:?}");
                return lines;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!(
            "{count} log lines did not come: {:?}",
            self.lines.lock().unwrap()
        );
    }
}

fn route(upstreams: Vec<(SocketAddr, &str)>) -> AppRoute {
    AppRoute {
        app: "demo".into(),
        hosts: vec!["demo.localhost".into()],
        upstreams: upstreams
            .into_iter()
            .map(|(address, dyno)| Upstream {
                address,
                dyno: dyno.into(),
            })
            .collect(),
        maintenance: false,
    }
}

async fn get(running: &Running, host: &str) -> (u16, String) {
    let response = reqwest::Client::new()
        .get(format!("http://{}/path?q=1", running.address))
        .header("host", host)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

#[tokio::test]
async fn requests_spread_over_replicas_with_forwarding_headers() {
    let (one, two) = (backend("one").await, backend("two").await);
    let running = router(vec![route(vec![(one, "web.1"), (two, "web.2")])]).await;
    let mut names = Vec::new();
    let mut first_length = 0;
    for _ in 0..4 {
        let (status, body) = get(&running, "Demo.Localhost:9999").await;
        assert_eq!(status, 200);
        let fields: Vec<&str> = body.split(' ').collect();
        assert_eq!(fields[1], "127.0.0.1", "x-forwarded-for");
        assert_eq!(fields[2].len(), 32, "a request id");
        assert_eq!(fields[3..5], ["1.1", "berth"]);
        assert_eq!(
            fields[5], "Demo.Localhost:9999",
            "the client's Host reaches the app"
        );
        names.push(fields[0].to_string());
        if first_length == 0 {
            first_length = body.len();
        }
    }
    assert_eq!(names, ["one", "two", "one", "two"]);

    let lines = running.log_lines(4).await;
    let (app, line) = &lines[0];
    assert_eq!(app, "demo");
    assert!(
        line.starts_with(
            "at=info method=GET path=\"/path?q=1\" host=Demo.Localhost:9999 request_id="
        ),
        "{line}"
    );
    assert!(
        line.contains(" fwd=\"127.0.0.1\" dyno=web.1 service="),
        "{line}"
    );
    assert!(
        line.ends_with(&format!("status=200 bytes={first_length}")),
        "{line}"
    );
}

#[tokio::test]
async fn unknown_hosts_and_apps_without_web_processes_get_distinct_pages() {
    let running = router(vec![route(vec![])]).await;
    let (status, body) = get(&running, "nope.localhost").await;
    assert_eq!(status, 404);
    assert!(body.contains("No such app"));
    let (status, body) = get(&running, "demo.localhost").await;
    assert_eq!(status, 503);
    assert!(body.contains("no web process"));
    assert!(running.lines.lock().unwrap()[0]
        .1
        .starts_with("at=error code=H14"));
}

#[tokio::test]
async fn a_dead_upstream_is_skipped_and_all_dead_is_a_502() {
    let live = backend("live").await;
    let dead = dead_address().await;
    let running = router(vec![route(vec![(dead, "web.1"), (live, "web.2")])]).await;
    for _ in 0..4 {
        let (status, body) = get(&running, "demo.localhost").await;
        assert_eq!((status, body.split(' ').next().unwrap()), (200, "live"));
    }
    running
        .router
        .set_routes(vec![route(vec![(dead, "web.1")])]);
    let (status, body) = get(&running, "demo.localhost").await;
    assert_eq!(status, 502);
    assert!(body.contains("Application error"));
    assert!(!body.contains("127.0.0.1"), "pages never leak internals");
}

#[tokio::test]
async fn upgrades_become_tunnels() {
    let echo = backend("echo").await;
    let running = router(vec![route(vec![(echo, "web.1")])]).await;
    let mut stream = tokio::net::TcpStream::connect(running.address)
        .await
        .unwrap();
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: demo.localhost\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
        .await
        .unwrap();
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut byte = [0u8; 1];
        stream.read_exact(&mut byte).await.unwrap();
        head.push(byte[0]);
    }
    assert!(
        String::from_utf8_lossy(&head).starts_with("HTTP/1.1 101"),
        "{}",
        String::from_utf8_lossy(&head)
    );
    stream.write_all(b"ping").await.unwrap();
    let mut echoed = [0u8; 4];
    stream.read_exact(&mut echoed).await.unwrap();
    assert_eq!(&echoed, b"ping");
    assert_eq!(
        running.router.traffic()[0].responses,
        [1, 0, 0, 0, 0],
        "an upgrade counts as 1xx"
    );
}

#[tokio::test]
async fn probes_need_an_http_answer() {
    assert_eq!(
        probe(backend("up").await, "/", Duration::from_secs(2)).await,
        Some(200)
    );
    assert_eq!(
        probe(dead_address().await, "/", Duration::from_secs(2)).await,
        None
    );
    // Something that accepts TCP but never speaks HTTP is not healthy.
    let silent = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = silent.local_addr().unwrap();
    tokio::spawn(async move {
        let _held = silent.accept().await;
        std::future::pending::<()>().await;
    });
    assert_eq!(probe(address, "/", Duration::from_millis(300)).await, None);
}

#[tokio::test]
async fn large_uploads_stream_through() {
    let running = router(vec![route(vec![(backend("big").await, "web.1")])]).await;
    let size = 32 * 1024 * 1024;
    let response = reqwest::Client::new()
        .post(format!("http://{}/upload", running.address))
        .header("host", "demo.localhost")
        .body(vec![b'x'; size])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), size.to_string());
}

#[tokio::test]
async fn a_slow_app_gets_a_timeout_page_and_an_h12_line() {
    let config = RouterConfig {
        first_byte_timeout: Duration::from_millis(300),
        ..RouterConfig::default()
    };
    let running = router_with(config, vec![route(vec![(backend("slow").await, "web.1")])]).await;
    let response = reqwest::Client::new()
        .get(format!("http://{}/slow", running.address))
        .header("host", "demo.localhost")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 503);
    assert!(response.text().await.unwrap().contains("Request timeout"));
    let lines = running.lines.lock().unwrap().clone();
    assert!(
        lines[0]
            .1
            .starts_with("at=error code=H12 desc=\"Request timeout\" method=GET path=\"/slow\""),
        "{lines:?}"
    );
}

#[tokio::test]
async fn oversized_request_heads_are_refused() {
    let config = RouterConfig {
        max_header_bytes: 16 * 1024,
        ..RouterConfig::default()
    };
    let running = router_with(config, vec![route(vec![(backend("one").await, "web.1")])]).await;
    let response = reqwest::Client::new()
        .get(format!("http://{}/", running.address))
        .header("host", "demo.localhost")
        .header("x-big", "a".repeat(64 * 1024))
        .send()
        .await;
    match response {
        Ok(response) => assert_eq!(response.status(), 431),
        Err(error) => assert!(
            error.is_request() || error.is_connect() || error.is_body(),
            "{error}"
        ),
    }
    let (status, _) = get(&running, "demo.localhost").await;
    assert_eq!(status, 200, "the router serves on");
}

#[tokio::test]
async fn http2_clients_are_served() {
    let running = router(vec![route(vec![(backend("h2").await, "web.1")])]).await;
    let stream = tokio::net::TcpStream::connect(running.address)
        .await
        .unwrap();
    let (mut sender, connection) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
            .await
            .unwrap();
    tokio::spawn(connection);
    let request = Request::get("http://demo.localhost/")
        .body(http_body_util::Empty::<Bytes>::new())
        .unwrap();
    let response = sender.send_request(request).await.unwrap();
    assert_eq!(response.status(), 200);
    let body = response.into_body().collect().await.unwrap().to_bytes();
    assert!(body.starts_with(b"h2 "), "{body:?}");
}

#[tokio::test]
async fn maintenance_mode_answers_for_the_app() {
    let mut maintained = route(vec![(backend("one").await, "web.1")]);
    maintained.maintenance = true;
    let running = router(vec![maintained]).await;
    let (status, body) = get(&running, "demo.localhost").await;
    assert_eq!(status, 503);
    assert!(body.contains("Down for maintenance"));
    assert!(running.lines.lock().unwrap()[0]
        .1
        .starts_with("at=error code=H80"));
}

#[tokio::test]
async fn acme_challenges_are_answered_before_host_routing() {
    let running = router(vec![route(vec![(backend("app").await, "web.1")])]).await;
    running.router.set_challenges(HashMap::from([(
        "tok123".to_string(),
        "tok123.thumb".to_string(),
    )]));
    let get_path = |host: &'static str, path: &'static str| {
        let address = running.address;
        async move {
            let response = reqwest::Client::new()
                .get(format!("http://{address}{path}"))
                .header("host", host)
                .send()
                .await
                .unwrap();
            (response.status().as_u16(), response.text().await.unwrap())
        }
    };
    for host in ["shop.example.com", "demo.localhost"] {
        let answer = get_path(host, "/.well-known/acme-challenge/tok123").await;
        assert_eq!(answer, (200, "tok123.thumb".to_string()), "{host}");
    }
    let (status, body) = get_path("demo.localhost", "/.well-known/acme-challenge/other").await;
    assert_eq!(
        (status, body.split(' ').next().unwrap()),
        (200, "app"),
        "unknown tokens reach the app"
    );
}

/// A raw HTTP/1.1 backend answering by path with exact bytes: `/chunked`
/// (a chunked body in pieces with a pause), `/unframed` (no length: the body
/// ends when it closes), anything else a 2-byte body; after `/bye` it closes
/// the connection, as an app's idle keep-alive timeout would. Counts the
/// connections it accepted.
async fn scripted_backend() -> (SocketAddr, Arc<std::sync::atomic::AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let accepted = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = accepted.clone();
    tokio::spawn(async move {
        loop {
            let (mut stream, _) = listener.accept().await.unwrap();
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            tokio::spawn(async move {
                let mut buffer = Vec::new();
                loop {
                    let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") else {
                        let mut chunk = [0u8; 1024];
                        match stream.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buffer.extend_from_slice(&chunk[..n]),
                        }
                        continue;
                    };
                    let head = String::from_utf8_lossy(&buffer[..end]).to_string();
                    buffer.drain(..end + 4);
                    let path = head.split(' ').nth(1).unwrap_or("/").to_string();
                    match path.as_str() {
                        "/chunked" => {
                            stream
                                .write_all(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\nkeep-alive: timeout=5\r\n\r\n5\r\nhello\r\n")
                                .await
                                .unwrap();
                            tokio::time::sleep(Duration::from_millis(50)).await;
                            stream.write_all(b"6\r\n world\r\n0\r\n\r\n").await.unwrap();
                        }
                        "/unframed" => {
                            stream
                                .write_all(
                                    b"HTTP/1.1 200 OK\r\nconnection: close\r\n\r\nuntil the end",
                                )
                                .await
                                .unwrap();
                            return;
                        }
                        _ => {
                            let body = if head.starts_with("HEAD") { "" } else { "ok" };
                            let answer = format!(
                                "HTTP/1.1 200 OK\r\ncontent-length: 2\r\nx-path: {path}\r\n\r\n{body}"
                            );
                            stream.write_all(answer.as_bytes()).await.unwrap();
                            if path == "/bye" {
                                return;
                            }
                        }
                    }
                }
            });
        }
    });
    (address, accepted)
}

/// Sends `requests` on one connection and reads until the router closes it
/// or `until` has come.
async fn raw_exchange(running: &Running, requests: &[u8], until: &str) -> String {
    let mut stream = tokio::net::TcpStream::connect(running.address)
        .await
        .unwrap();
    stream.write_all(requests).await.unwrap();
    let mut received = Vec::new();
    let reading = async {
        let mut chunk = [0u8; 4096];
        while !String::from_utf8_lossy(&received).contains(until) {
            match stream.read(&mut chunk).await.unwrap() {
                0 => break,
                n => received.extend_from_slice(&chunk[..n]),
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(10), reading)
        .await
        .expect("the router answered in time");
    String::from_utf8_lossy(&received).to_string()
}

#[tokio::test]
async fn chunked_answers_stream_through_and_the_connections_stay_open() {
    let (address, accepted) = scripted_backend().await;
    let running = router(vec![route(vec![(address, "web.1")])]).await;
    let text = raw_exchange(
        &running,
        b"GET /chunked HTTP/1.1\r\nHost: demo.localhost\r\n\r\nHEAD /x HTTP/1.1\r\nHost: demo.localhost\r\n\r\nGET /last HTTP/1.1\r\nHost: demo.localhost\r\n\r\n",
        "x-path: /last\r\n\r\nok",
    )
    .await;
    let answers: Vec<&str> = text.split("HTTP/1.1 200 OK").skip(1).collect();
    assert_eq!(answers.len(), 3, "{text}");
    assert!(
        answers[0].contains("transfer-encoding: chunked")
            && !answers[0].contains("keep-alive")
            && answers[0].ends_with("\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"),
        "{text}"
    );
    assert!(
        answers[1].ends_with("x-path: /x\r\n\r\n"),
        "HEAD: no body: {text}"
    );
    assert!(answers[2].ends_with("x-path: /last\r\n\r\nok"), "{text}");
    assert_eq!(
        accepted.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "one upstream connection served all three"
    );
    let lines = running.log_lines(3).await;
    assert!(lines[0].1.ends_with("status=200 bytes=11"), "{lines:?}");
}

#[tokio::test]
async fn an_upstream_connection_the_app_closed_is_replaced_unseen() {
    let (address, accepted) = scripted_backend().await;
    let running = router(vec![route(vec![(address, "web.1")])]).await;
    for path in ["/bye", "/again"] {
        let text = raw_exchange(
            &running,
            format!("GET {path} HTTP/1.1\r\nHost: demo.localhost\r\n\r\n").as_bytes(),
            "\r\n\r\nok",
        )
        .await;
        assert!(text.starts_with("HTTP/1.1 200 OK"), "{path}: {text}");
        // Let the backend's close reach the pooled connection.
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(accepted.load(std::sync::atomic::Ordering::SeqCst), 2);
}

#[tokio::test]
async fn an_answer_without_length_ends_the_client_connection_with_it() {
    let (address, _) = scripted_backend().await;
    let running = router(vec![route(vec![(address, "web.1")])]).await;
    let text = raw_exchange(
        &running,
        b"GET /unframed HTTP/1.1\r\nHost: demo.localhost\r\n\r\n",
        "never appears",
    )
    .await;
    assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
    assert!(text.contains("connection: close\r\n"), "{text}");
    assert!(text.ends_with("\r\n\r\nuntil the end"), "{text}");
}

/// Reads from `stream` until the router closes it; how long that took,
/// within 10 s (else `None`).
async fn closed_within_10s<S>(stream: &mut S) -> Option<Duration>
where
    S: tokio::io::AsyncRead + Unpin,
{
    let started = std::time::Instant::now();
    let reading = async {
        let mut chunk = [0u8; 4096];
        loop {
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(10), reading)
        .await
        .ok()
        .map(|()| started.elapsed())
}

#[tokio::test]
async fn a_client_that_stops_inside_the_http2_preface_is_closed_at_the_head_deadline() {
    let config = RouterConfig {
        head_timeout: Duration::from_secs(1),
        ..RouterConfig::default()
    };
    let running = router_with(config, vec![route(vec![(backend("one").await, "web.1")])]).await;
    // The first part of the preface ends like a request head, so the fast
    // path hands it to hyper, which waits for the rest to tell the
    // version; the whole preface makes an HTTP/2 connection with no request.
    for opening in [
        &b"PRI * HTTP/2.0\r\n\r\n"[..],
        b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
    ] {
        let mut stream = tokio::net::TcpStream::connect(running.address)
            .await
            .unwrap();
        stream.write_all(opening).await.unwrap();
        let closed = closed_within_10s(&mut stream).await;
        assert!(
            closed.is_some(),
            "{:?}: still open 10 s on, with a head deadline of 1 s",
            String::from_utf8_lossy(opening)
        );
    }
    let (status, _) = get(&running, "demo.localhost").await;
    assert_eq!(status, 200, "the router serves on");
}

/// An address that refuses connections for now: bound, not listening, so
/// no one else takes the port before `socket.listen` opens it.
fn refusing_for_now() -> (SocketAddr, tokio::net::TcpSocket) {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    (socket.local_addr().unwrap(), socket)
}

/// Counts what it accepts on `listener` and resets each connection once
/// `read_first` has read what it wants from it (nothing at all: at once).
fn resetting<F>(
    listener: TcpListener,
    read_first: fn(tokio::net::TcpStream) -> F,
) -> Arc<std::sync::atomic::AtomicUsize>
where
    F: Future<Output = tokio::net::TcpStream> + Send + 'static,
{
    let accepted = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = accepted.clone();
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            tokio::spawn(async move {
                let stream = read_first(stream).await;
                // Closing with lingering off sends a reset.
                socket2::SockRef::from(&stream)
                    .set_linger(Some(Duration::ZERO))
                    .unwrap();
            });
        }
    });
    accepted
}

/// Reads a request head and the `content-length` bytes of body after it (bounded).
async fn read_request(mut stream: tokio::net::TcpStream) -> tokio::net::TcpStream {
    let mut received = Vec::new();
    let reading = async {
        let mut chunk = [0u8; 4096];
        loop {
            if let Some(end) = received.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&received[..end]).to_ascii_lowercase();
                let length: usize = head
                    .lines()
                    .find_map(|line| line.strip_prefix("content-length:"))
                    .map_or(0, |value| value.trim().parse().unwrap());
                if received.len() >= end + 4 + length {
                    return;
                }
            }
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => received.extend_from_slice(&chunk[..n]),
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(5), reading).await;
    stream
}

/// Posts `body` to `/echo`: the status and the body that came back.
async fn post_echo(client: &reqwest::Client, running: &Running, body: Vec<u8>) -> (u16, Vec<u8>) {
    let response = client
        .post(format!("http://{}/echo", running.address))
        .header("host", "demo.localhost")
        .timeout(Duration::from_secs(10))
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.bytes().await.unwrap().to_vec())
}

#[tokio::test]
async fn a_post_an_unreachable_process_could_not_take_goes_to_another_with_its_body() {
    let live = backend("live").await;
    let running = router(vec![]).await;
    let client = reqwest::Client::new();
    // A new table each time starts its turn at the refusing process, and
    // the refusing address is new, so never passed over.
    for round in 0..20 {
        running.router.set_routes(vec![route(vec![
            (dead_address().await, "web.1"),
            (live, "web.2"),
        ])]);
        let body = format!("payload {round} ")
            .repeat(round * 5000 + 1)
            .into_bytes();
        let (status, echoed) = post_echo(&client, &running, body.clone()).await;
        assert_eq!(status, 200, "round {round}");
        assert!(echoed == body, "round {round}: the body arrived whole");
    }
    // One table over many requests: the refusing process is passed over.
    running.router.set_routes(vec![route(vec![
        (dead_address().await, "web.1"),
        (live, "web.2"),
    ])]);
    for round in 0..50 {
        let body = format!("request {round}").into_bytes();
        assert_eq!(
            post_echo(&client, &running, body.clone()).await,
            (200, body)
        );
    }
    let lines = running.log_lines(70).await;
    assert!(
        lines.iter().all(
            |(_, line)| line.starts_with("at=info method=POST path=\"/echo\"")
                && line.contains(" dyno=web.2 ")
        ),
        "{lines:?}"
    );
}

#[tokio::test]
async fn an_upstream_that_resets_at_once_is_passed_over_after_one_try() {
    let live = backend("live").await;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let resetter = listener.local_addr().unwrap();
    let accepted = resetting(listener, |stream| async { stream });
    let running = router(vec![route(vec![(resetter, "web.1"), (live, "web.2")])]).await;
    for _ in 0..20 {
        let (status, body) = get(&running, "demo.localhost").await;
        assert_eq!((status, body.split(' ').next().unwrap()), (200, "live"));
    }
    // Let any further connection the router made be accepted and counted.
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(accepted.load(std::sync::atomic::Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_refusing_upstream_is_passed_over_by_posts_and_gets_alike() {
    let live = backend("live").await;
    let (refusing, socket) = refusing_for_now();
    let running = router(vec![route(vec![(refusing, "web.1"), (live, "web.2")])]).await;
    let client = reqwest::Client::new();
    let (status, _) = post_echo(&client, &running, b"first".to_vec()).await;
    assert_eq!(status, 200);
    // Were the router to try the address again, it would be accepted now.
    let accepted = resetting(socket.listen(64).unwrap(), |stream| async { stream });
    for round in 0..10 {
        let body = format!("then {round}").into_bytes();
        assert_eq!(
            post_echo(&client, &running, body.clone()).await,
            (200, body)
        );
        let (status, body) = get(&running, "demo.localhost").await;
        assert_eq!((status, body.split(' ').next().unwrap()), (200, "live"));
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(accepted.load(std::sync::atomic::Ordering::SeqCst), 0);
}

#[tokio::test]
async fn an_app_whose_only_process_was_unreachable_is_served_as_soon_as_it_is_back() {
    let (address, socket) = refusing_for_now();
    let running = router(vec![route(vec![(address, "web.1")])]).await;
    let client = reqwest::Client::new();
    let (status, _) = get(&running, "demo.localhost").await;
    assert_eq!(status, 502);
    let (status, _) = post_echo(&client, &running, b"refused".to_vec()).await;
    assert_eq!(status, 502);
    serve_backend(socket.listen(64).unwrap(), "back");
    let (status, body) = get(&running, "demo.localhost").await;
    assert_eq!((status, body.split(' ').next().unwrap()), (200, "back"));
    let body = b"back again".to_vec();
    assert_eq!(
        post_echo(&client, &running, body.clone()).await,
        (200, body)
    );
}

#[tokio::test]
async fn a_post_the_app_may_have_read_is_never_sent_again() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let reader = listener.local_addr().unwrap();
    let read_by_resetter = resetting(listener, read_request);
    let (other, accepted_by_other) = scripted_backend().await;
    let running = router(vec![]).await;
    let client = reqwest::Client::new();
    for round in 0..3 {
        running
            .router
            .set_routes(vec![route(vec![(reader, "web.1"), (other, "web.2")])]);
        let (status, page) = post_echo(&client, &running, vec![b'x'; 64 * 1024]).await;
        assert_eq!(status, 502, "round {round}");
        assert!(String::from_utf8_lossy(&page).contains("Application error"));
    }
    let lines = running.log_lines(3).await;
    assert!(
        lines.iter().all(|(_, line)| line.starts_with(
            "at=error code=H13 desc=\"Connection closed without response\" method=POST path=\"/echo\""
        ) && line.contains(" dyno=web.1 ")),
        "{lines:?}"
    );
    assert_eq!(
        read_by_resetter.load(std::sync::atomic::Ordering::SeqCst),
        3
    );
    assert_eq!(
        accepted_by_other.load(std::sync::atomic::Ordering::SeqCst),
        0
    );
}

/// How a test reaches each of the router's two request paths: a `GET`
/// takes the fast path, a `POST` with a body goes through hyper.
#[derive(Debug, Clone, Copy)]
enum Path {
    Fast,
    Hyper,
}

impl Path {
    const BOTH: [Path; 2] = [Path::Fast, Path::Hyper];

    /// The status of a request for `path` on `demo.localhost`.
    async fn request(self, running: &Running, path: &str) -> u16 {
        let url = format!("http://{}{path}", running.address);
        let client = reqwest::Client::new();
        let request = match self {
            Path::Fast => client.get(url),
            Path::Hyper => client.post(url).body("x"),
        };
        let response = request
            .header("host", "demo.localhost")
            .timeout(Duration::from_secs(10))
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        response.bytes().await.unwrap();
        status
    }
}

/// The one app's counts.
fn demo_traffic(running: &Running) -> AppTraffic {
    let traffic = running.router.traffic();
    assert_eq!(traffic.len(), 1, "{traffic:?}");
    assert_eq!(traffic[0].app, "demo");
    traffic[0].clone()
}

#[tokio::test]
async fn responses_are_counted_by_class_and_time_on_both_paths() {
    for path in Path::BOTH {
        let running = router(vec![route(vec![(backend("one").await, "web.1")])]).await;
        for (request_path, times, status) in [("/", 5, 200), ("/404", 2, 404), ("/500", 1, 500)] {
            for _ in 0..times {
                assert_eq!(path.request(&running, request_path).await, status);
            }
        }
        let counted = demo_traffic(&running);
        assert_eq!(counted.responses, [0, 5, 0, 2, 1], "{path:?}");
        assert_eq!(counted.latency_buckets.iter().sum::<u64>(), 8, "{path:?}");
        assert!(counted.latency_sum_seconds > 0.0, "{path:?}");
        assert_eq!(counted.upstream_errors, [0; 4], "{path:?}");

        assert_eq!(path.request(&running, "/60ms").await, 200);
        let slow = demo_traffic(&running);
        let added: Vec<u64> = (0..13)
            .map(|bucket| slow.latency_buckets[bucket] - counted.latency_buckets[bucket])
            .collect();
        assert_eq!(
            added,
            [0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0],
            "{path:?}: 60 ms is in (0.05, 0.1]"
        );
        assert!(
            slow.latency_sum_seconds - counted.latency_sum_seconds >= 0.06,
            "{path:?}"
        );
    }
}

#[tokio::test]
async fn the_routers_own_pages_and_upstream_errors_are_counted() {
    for path in Path::BOTH {
        let mut maintenance = route(vec![(backend("one").await, "web.1")]);
        maintenance.maintenance = true;
        let running = router(vec![maintenance]).await;
        assert_eq!(path.request(&running, "/").await, 503);
        running.router.set_routes(vec![route(vec![])]);
        assert_eq!(path.request(&running, "/").await, 503);
        let counted = demo_traffic(&running);
        assert_eq!(counted.responses, [0, 0, 0, 0, 2], "{path:?}");
        assert_eq!(counted.latency_buckets.iter().sum::<u64>(), 2, "{path:?}");

        // The turn starts at the refusing process: one connect error, then the other answers.
        let live = backend("live").await;
        running.router.set_routes(vec![route(vec![
            (dead_address().await, "web.1"),
            (live, "web.2"),
        ])]);
        assert_eq!(path.request(&running, "/").await, 200);
        let counted = demo_traffic(&running);
        assert_eq!(counted.responses, [0, 1, 0, 0, 2], "{path:?}");
        assert_eq!(counted.upstream_errors, [1, 0, 0, 0], "{path:?}");
    }
}

#[tokio::test]
async fn a_timeout_is_counted_as_one_with_its_page() {
    let config = RouterConfig {
        first_byte_timeout: Duration::from_millis(300),
        ..RouterConfig::default()
    };
    for path in Path::BOTH {
        let slow = backend("slow").await;
        let running = router_with(config.clone(), vec![route(vec![(slow, "web.1")])]).await;
        assert_eq!(path.request(&running, "/slow").await, 503);
        let counted = demo_traffic(&running);
        assert_eq!(counted.responses, [0, 0, 0, 0, 1], "{path:?}");
        assert_eq!(counted.upstream_errors, [0, 1, 0, 0], "{path:?}");
        assert_eq!(
            counted.latency_buckets[6], 1,
            "{path:?}: 300 ms is in (0.25, 0.5]: {counted:?}"
        );
    }
}

#[tokio::test]
async fn counts_last_across_table_swaps_and_leave_with_their_app() {
    let one = backend("one").await;
    let running = router(vec![route(vec![(one, "web.1")])]).await;
    for path in Path::BOTH {
        assert_eq!(path.request(&running, "/").await, 200);
    }
    let mut other = route(vec![(one, "web.1")]);
    other.app = "other".into();
    other.hosts = vec!["other.localhost".into()];
    running
        .router
        .set_routes(vec![route(vec![(one, "web.1")]), other.clone()]);
    assert_eq!(Path::Fast.request(&running, "/").await, 200);
    let traffic = running.router.traffic();
    let apps: Vec<(&str, [u64; 5])> = traffic
        .iter()
        .map(|counted| (counted.app.as_str(), counted.responses))
        .collect();
    assert_eq!(
        apps,
        [("demo", [0, 3, 0, 0, 0]), ("other", [0, 0, 0, 0, 0])]
    );
    running.router.set_routes(vec![other]);
    let apps: Vec<String> = running
        .router
        .traffic()
        .into_iter()
        .map(|counted| counted.app)
        .collect();
    assert_eq!(apps, ["other"]);
}
