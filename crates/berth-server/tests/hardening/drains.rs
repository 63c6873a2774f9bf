//! Finding 12: a drain's HTTP client followed redirects (a drain URL could
//! send Berth's requests and an app's lines anywhere), an app could have any
//! number of drains, and a stalled drain's memory was bounded only in lines.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use berth_testkit::{unique_app_name, AppRepo, EngineCleanup, TestServer};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

use super::containers::Member;

/// Counts connections and requests, answering every request with `answer`.
struct Endpoint {
    port: u16,
    connections: Arc<AtomicUsize>,
    requests: Arc<AtomicUsize>,
}

impl Endpoint {
    async fn start(answer: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let connections = Arc::new(AtomicUsize::new(0));
        let requests = Arc::new(AtomicUsize::new(0));
        let (accepted, served) = (connections.clone(), requests.clone());
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                accepted.fetch_add(1, Ordering::SeqCst);
                let (answer, served) = (answer.clone(), served.clone());
                tokio::spawn(async move {
                    let mut stream = BufReader::new(stream);
                    loop {
                        let mut length = 0;
                        loop {
                            let mut line = String::new();
                            if stream.read_line(&mut line).await.unwrap_or(0) == 0 {
                                return;
                            }
                            if let Some(value) =
                                line.to_ascii_lowercase().strip_prefix("content-length:")
                            {
                                length = value.trim().parse().unwrap_or(0);
                            }
                            if line == "\r\n" {
                                break;
                            }
                        }
                        let mut body = vec![0; length];
                        if stream.read_exact(&mut body).await.is_err() {
                            return;
                        }
                        served.fetch_add(1, Ordering::SeqCst);
                        if stream.get_mut().write_all(answer.as_bytes()).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        Self {
            port,
            connections,
            requests,
        }
    }
}

async fn add_drain(member: &Member, app: &str, url: &str) -> (reqwest::StatusCode, String) {
    member
        .send(
            reqwest::Method::POST,
            &format!("apps/{app}/drains"),
            Some(serde_json::json!({ "url": url })),
        )
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drain_answering_with_a_redirect_does_not_send_the_lines_elsewhere() {
    let server = TestServer::start();
    let member = Member::new(&server, "dev@example.com", false);
    let name = unique_app_name("redirected");
    let _cleanup = EngineCleanup::new(&name);
    member.create_app(&name).await;
    let elsewhere = Endpoint::start("HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n".into()).await;
    let drain = Endpoint::start(format!(
        "HTTP/1.1 302 Found\r\nlocation: http://127.0.0.1:{}/stolen\r\ncontent-length: 0\r\n\r\n",
        elsewhere.port
    ))
    .await;
    let (status, body) = add_drain(
        &member,
        &name,
        &format!("http://127.0.0.1:{}/drain", drain.port),
    )
    .await;
    assert!(status.is_success(), "{status} {body}");
    // A line in the app's log, for the drain to forward.
    let (status, body) = member
        .send(
            reqwest::Method::PUT,
            &format!("apps/{name}/maintenance"),
            Some(serde_json::json!({ "enabled": true })),
        )
        .await;
    assert!(status.is_success(), "{status} {body}");

    // The second delivery attempt comes only after the first one is over
    // (a redirect would have been followed within it).
    let deadline = Instant::now() + Duration::from_secs(60);
    while drain.requests.load(Ordering::SeqCst) < 2 {
        assert_eq!(
            elsewhere.connections.load(Ordering::SeqCst),
            0,
            "the redirect's target was reached"
        );
        assert!(Instant::now() < deadline, "the drain was not retried");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(elsewhere.connections.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn drains_beyond_the_per_app_limit_are_refused() {
    let server = TestServer::start();
    let member = Member::new(&server, "dev@example.com", false);
    let name = unique_app_name("drains");
    let _cleanup = EngineCleanup::new(&name);
    member.create_app(&name).await;
    for port in 1..=5 {
        let (status, body) = add_drain(&member, &name, &format!("syslog://127.0.0.1:{port}")).await;
        assert!(status.is_success(), "{status} {body}");
    }
    let (status, body) = add_drain(&member, &name, "syslog://127.0.0.1:6").await;
    assert!(status.is_client_error(), "{status} {body}");
    assert!(body.contains("BERTH_MAX_DRAINS_PER_APP=5"), "{body}");
    let drains = member.get(&format!("apps/{name}/drains")).await;
    assert_eq!(drains.as_array().unwrap().len(), 5, "nothing was added");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_drain_drops_and_counts_lines_instead_of_holding_them() {
    let server = TestServer::start();
    let member = Member::new(&server, "dev@example.com", false);
    let name = unique_app_name("stalled");
    let _cleanup = EngineCleanup::new(&name);
    let app = member.create_app(&name).await;
    // Accepts connections and never reads from them.
    let stalled = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = stalled.local_addr().unwrap().port();
    let held = tokio::spawn(async move {
        let mut connections = Vec::new();
        while let Ok((stream, _)) = stalled.accept().await {
            connections.push(stream);
        }
    });
    let (status, body) = add_drain(&member, &name, &format!("http://127.0.0.1:{port}/")).await;
    assert!(status.is_success(), "{status} {body}");

    // A web process that writes 30,000 lines before it serves: three
    // times what a drain may hold.
    let repo = AppRepo::from_fixture("procfile");
    repo.write(
        "Procfile",
        "web: seq 1 30000; exec httpd -f -p $PORT -h /www\n",
    );
    repo.commit("A chatty web process");
    let pushed = repo.push(&app.git_url, &member.token, "main", &[]);
    assert!(
        pushed.status.success(),
        "{}",
        String::from_utf8_lossy(&pushed.stderr)
    );

    let deadline = Instant::now() + Duration::from_secs(90);
    let dropped = loop {
        let lines = member
            .get(&format!(
                "apps/{name}/logs?source=berth&dyno=drain&lines=10"
            ))
            .await;
        let counted = lines.as_array().unwrap().iter().find_map(|line| {
            line["message"]
                .as_str()?
                .strip_prefix("Error L10 (output buffer overflow): ")?
                .split(' ')
                .next()?
                .parse::<u64>()
                .ok()
        });
        if let Some(dropped) = counted {
            break dropped;
        }
        assert!(
            Instant::now() < deadline,
            "no overflow notice in the log: {lines}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert!(dropped >= 10_000, "only {dropped} lines were dropped");
    held.abort();
}
