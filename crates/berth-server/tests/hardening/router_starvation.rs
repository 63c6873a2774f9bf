//! Finding 6: the router could be starved. It had per-read timeouts only,
//! so a client trickling its request head in byte by byte held its
//! connection forever; it took connections without limit; its head scan
//! started over on every read (quadratic in a head sent in small pieces);
//! and the API listener had no timeouts at all. Against a real berthd and
//! a real app container: a whole-head deadline (408, closed), a connection
//! cap (503, closed), a linear head scan, and a head deadline on the API.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use berth_testkit::TestServer;

use super::containers::Member;
use super::raw_http::{
    api_address, deployed_raw_app, request, router_address, RawClient, IO_TIMEOUT,
};

/// The head deadline these tests give the router and the API, in seconds.
const HEAD_TIMEOUT_SECS: u64 = 3;
/// How often a slow client sends its next byte: far inside any per-read
/// timeout, so only a deadline on the whole head ends it.
const TRICKLE_EVERY: Duration = Duration::from_millis(100);
/// How long a slow client trickles at most before the test gives up on
/// being cut off.
const TRICKLE_FOR: Duration = Duration::from_secs(20);

/// The first 18 bytes of the 24 that open an HTTP/2 connection: they end
/// like a request head, and an HTTP/1 or HTTP/2 server must wait for the
/// rest to tell which it is serving.
const HTTP2_PREFACE_BEGINS: &[u8] = b"PRI * HTTP/2.0\r\n\r\n";

/// Sends `begin`, then one byte every `TRICKLE_EVERY`, never ending the
/// head, until the peer closes the connection (or `TRICKLE_FOR` passes).
/// Returns what the peer sent, and how long after `since` it closed.
async fn trickle_until_closed(
    client: &mut RawClient,
    begin: &[u8],
    since: Instant,
) -> (Vec<u8>, Duration) {
    client.send(begin).await.expect("the head's beginning");
    let mut received = Vec::new();
    let mut closed = false;
    let deadline = Instant::now() + TRICKLE_FOR;
    while Instant::now() < deadline {
        tokio::time::sleep(TRICKLE_EVERY).await;
        let (bytes, done) = client.take_waiting().await;
        received.extend(bytes);
        if done || client.send(b"a").await.is_err() {
            closed = true;
            break;
        }
    }
    let elapsed = since.elapsed();
    assert!(
        closed,
        "still open after trickling for {TRICKLE_FOR:?}: {:?}",
        String::from_utf8_lossy(&received)
    );
    // Whatever came before the end.
    received.extend(client.read_until_closed(IO_TIMEOUT).await);
    (received, elapsed)
}

/// Asserts a slow client was cut off at the head deadline, not before it
/// (it sent a byte every 100 ms) and not much after it.
fn assert_cut_at_the_deadline(what: &str, after: Duration) {
    let deadline = Duration::from_secs(HEAD_TIMEOUT_SECS);
    assert!(
        after >= deadline - Duration::from_millis(500) && after <= deadline * 3,
        "{what} was cut off after {after:?}, with a head deadline of {deadline:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_heads_get_408_at_the_head_deadline_while_other_clients_are_served() {
    let server = TestServer::start_with(|settings| {
        settings.router_head_timeout = HEAD_TIMEOUT_SECS;
    });
    let member = Member::new(&server, "slowloris@example.com", false);
    let (app, _cleanup) = deployed_raw_app(&member, "slowloris").await;
    let host = format!("{}.localhost", app.name);
    let router = router_address(&server);

    // One client trickles its first head; another is served once, then
    // trickles its second head on the kept-alive connection.
    let first_started = Instant::now();
    let mut first = RawClient::connect(router).await;
    let mut stalled = RawClient::connect(router).await;
    stalled.send(HTTP2_PREFACE_BEGINS).await.unwrap();
    let mut second = RawClient::connect(router).await;
    let served = second.exchange("GET", "/before", &host).await;
    assert_eq!(served.status, 200, "{}", served.text());
    let second_started = Instant::now();
    let head_begins = format!("GET /slow HTTP/1.1\r\nHost: {host}\r\nX-Slow: ");
    let slow_ones_done = AtomicBool::new(false);
    let slow_ones = async {
        let results = tokio::join!(
            trickle_until_closed(&mut first, head_begins.as_bytes(), first_started),
            trickle_until_closed(&mut second, head_begins.as_bytes(), second_started),
        );
        slow_ones_done.store(true, Ordering::Release);
        results
    };
    // Meanwhile other clients come and go, and are served.
    let others = async {
        let mut served = 0;
        for round in 0..100 {
            if slow_ones_done.load(Ordering::Acquire) {
                break;
            }
            let mut other = RawClient::connect(router).await;
            let response = other
                .exchange("GET", &format!("/other/{round}"), &host)
                .await;
            assert_eq!(response.status, 200, "{}", response.text());
            assert!(response.text().contains(&format!("path=/other/{round} ")));
            served += 1;
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        served
    };
    let (((first_got, first_after), (second_got, second_after)), served) =
        tokio::join!(slow_ones, others);

    for (what, got, after) in [
        ("a first head", first_got, first_after),
        ("a later head", second_got, second_after),
    ] {
        let text = String::from_utf8_lossy(&got);
        assert!(
            text.starts_with("HTTP/1.1 408 "),
            "{what} trickled in: {text:?}"
        );
        assert!(text.contains("connection: close"), "{text:?}");
        assert!(!text.contains("path=/slow"), "never forwarded: {text:?}");
        assert_cut_at_the_deadline(what, after);
    }
    assert!(
        served >= 5,
        "only {served} other requests were served while the slow clients trickled"
    );
    // A client stopped inside the HTTP/2 preface is closed at the deadline too.
    stalled.read_until_closed(IO_TIMEOUT).await;
    assert_cut_at_the_deadline(
        "a client stalled in the HTTP/2 preface",
        first_started.elapsed(),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_past_the_cap_get_a_503_and_are_closed_until_open_ones_go() {
    const CAP: usize = 4;
    let server = TestServer::start_with(|settings| settings.router_max_connections = CAP);
    let member = Member::new(&server, "cap@example.com", false);
    let (app, _cleanup) = deployed_raw_app(&member, "conn-cap").await;
    let host = format!("{}.localhost", app.name);
    let router = router_address(&server);

    // Clients up to the cap are served, and keep their connections open.
    let mut held = Vec::new();
    for index in 0..CAP {
        let mut client = RawClient::connect(router).await;
        let response = client
            .exchange("GET", &format!("/held/{index}"), &host)
            .await;
        assert_eq!(response.status, 200, "{}", response.text());
        held.push(client);
    }

    // Past the cap: a clear 503, and the connection is closed.
    for _ in 0..3 {
        let mut over = RawClient::connect(router).await;
        // The router may have answered and closed already: a failed write is fine.
        let _ = over.send(&request("GET", "/over", &host)).await;
        let answer = over.read_until_closed(IO_TIMEOUT).await;
        let text = String::from_utf8_lossy(&answer);
        assert!(text.starts_with("HTTP/1.1 503 "), "{text:?}");
        assert!(text.contains("Too many connections"), "{text:?}");
        assert!(text.contains("connection: close"), "{text:?}");
        assert!(!text.contains("path=/over"), "never forwarded: {text:?}");
    }
    // The connections held are still served.
    let response = held[0].exchange("GET", "/held/again", &host).await;
    assert_eq!(response.status, 200, "{}", response.text());

    // Once they go, new clients are served again: as many as the cap at once.
    drop(held);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mut client = RawClient::connect(router).await;
        let _ = client.send(&request("GET", "/after", &host)).await;
        let answer = client.read_response(false).await;
        if answer.status == 200 {
            break;
        }
        assert_eq!(answer.status, 503, "{}", answer.text());
        assert!(
            Instant::now() < deadline,
            "still refused 10 s after the held connections closed"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut again = Vec::new();
    for _ in 0..CAP {
        again.push(RawClient::connect(router).await);
    }
    for (index, client) in again.iter_mut().enumerate() {
        let response = client
            .exchange("GET", &format!("/again/{index}"), &host)
            .await;
        assert_eq!(response.status, 200, "{}", response.text());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_drops_a_client_that_never_finishes_its_head() {
    let server = TestServer::start_with(|settings| {
        settings.api_head_timeout = HEAD_TIMEOUT_SECS;
    });
    let member = Member::new(&server, "api-slow@example.com", false);
    let api = api_address(&server);

    // One client opens a connection and says nothing, one stops inside
    // the HTTP/2 preface, another trickles a head.
    let started = Instant::now();
    let mut silent = RawClient::connect(api).await;
    let mut stalled = RawClient::connect(api).await;
    stalled.send(HTTP2_PREFACE_BEGINS).await.unwrap();
    let mut slow = RawClient::connect(api).await;
    let head_begins = format!("GET /api/v1/apps HTTP/1.1\r\nHost: {api}\r\nX-Slow: ");
    let slow_done = AtomicBool::new(false);
    let trickled = async {
        let result = trickle_until_closed(&mut slow, head_begins.as_bytes(), started).await;
        slow_done.store(true, Ordering::Release);
        result
    };
    // Meanwhile the API serves others.
    let others = async {
        let mut served = 0;
        for _ in 0..100 {
            if slow_done.load(Ordering::Acquire) {
                break;
            }
            member.get("apps").await;
            served += 1;
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        served
    };
    let ((got, after), served) = tokio::join!(trickled, others);
    let text = String::from_utf8_lossy(&got);
    assert!(
        !text.starts_with("HTTP/1.1 200"),
        "a head never finished got an answer: {text:?}"
    );
    assert_cut_at_the_deadline("a trickled head to the API", after);
    assert!(
        served >= 5,
        "only {served} API requests were served meanwhile"
    );

    for (what, client) in [
        ("a silent API client", &mut silent),
        ("an API client stalled in the HTTP/2 preface", &mut stalled),
    ] {
        let got = client.read_until_closed(IO_TIMEOUT).await;
        assert_cut_at_the_deadline(what, started.elapsed());
        assert!(
            got.is_empty(),
            "{what}: {:?}",
            String::from_utf8_lossy(&got)
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_head_sent_in_many_small_pieces_is_served() {
    let server = TestServer::start();
    let member = Member::new(&server, "large-head@example.com", false);
    let (app, _cleanup) = deployed_raw_app(&member, "large-head").await;
    let host = format!("{}.localhost", app.name);

    // About 60 KiB (the router takes heads up to 64 KiB) in 3-byte pieces.
    let filler = "a".repeat(4000);
    let mut head = format!("GET /large HTTP/1.1\r\nHost: {host}\r\n");
    for index in 0..15 {
        head.push_str(&format!("X-Filler-{index:02}: {filler}\r\n"));
    }
    head.push_str("\r\n");
    let mut client = RawClient::connect(router_address(&server)).await;
    for piece in head.as_bytes().chunks(3) {
        client.send(piece).await.expect("the router reads on");
    }
    let response = client.read_response(false).await;
    assert_eq!(response.status, 200, "{}", response.text());
    let text = response.text();
    assert!(text.contains("path=/large "), "{text}");
    // The app counts the header bytes it got: every filler arrived.
    let header_bytes: usize = text
        .rsplit("header_bytes=")
        .next()
        .and_then(|count| count.trim().parse().ok())
        .unwrap_or_else(|| panic!("no count in {text:?}"));
    assert!(header_bytes > 15 * 4000, "{text}");
}
