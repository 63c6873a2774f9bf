//! Finding 11: the router passed on responses whose framing could be read
//! two ways (conflicting or signed lengths, a transfer coding beside a
//! length), so a client or a cache after it could split the app's bytes
//! into other responses than the router did; and bytes an app sent after
//! an answer that has no body (to HEAD, a 204, a 304) could stay on a
//! pooled upstream connection and become the next request's answer.
//! Against a real app container that sends exactly those bytes: a 502
//! (`H17`) instead, and every answer its own request's.

use std::time::{Duration, Instant};

use berth_testkit::TestServer;

use super::containers::Member;
use super::raw_http::{deployed_raw_app, router_address, web_process_address, RawClient};

/// What a well-framed answer of the raw app says (`conn=… n=… method=…
/// path=… header_bytes=…`): the value of `key`.
fn field<'a>(body: &'a str, key: &str) -> &'a str {
    body.split(' ')
        .find_map(|pair| pair.strip_prefix(key)?.strip_prefix('='))
        .unwrap_or_else(|| panic!("no {key} in {body:?}"))
}

/// How long a client waits for bytes that must not come.
const QUIET: Duration = Duration::from_millis(300);

/// Paths of the raw app whose answers are framed ambiguously, with the
/// bytes in them that make it so.
const AMBIGUOUS: [(&str, &str); 7] = [
    (
        "/conflicting-lengths",
        "\r\nContent-Length: 5\r\nContent-Length: 6\r\n",
    ),
    ("/length-list", "\r\nContent-Length: 5, 6\r\n"),
    ("/signed-length", "\r\nContent-Length: +5\r\n"),
    ("/negative-length", "\r\nContent-Length: -5\r\n"),
    (
        "/gzip-beside-length",
        "\r\nTransfer-Encoding: gzip\r\nContent-Length: 5\r\n",
    ),
    (
        "/chunked-beside-length",
        "\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n",
    ),
    (
        "/chunked-in-http10",
        "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n",
    ),
];

/// Asserts `response` is the router's 502 and carries none of the app's bytes.
fn assert_refused(response: &super::raw_http::Response, what: &str) {
    let text = response.text();
    assert_eq!(response.status, 502, "{what}: {}\n{text}", response.head);
    assert!(text.contains("Application error"), "{what}: {text}");
    assert!(
        !text.contains("hello") && !text.contains("SMUGGLED"),
        "{what}: the app's bytes reached the client: {text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ambiguously_framed_responses_get_a_502_and_none_of_their_bytes() {
    let server = TestServer::start();
    let member = Member::new(&server, "framing@example.com", false);
    let (app, _cleanup) = deployed_raw_app(&member, "framing").await;
    let host = format!("{}.localhost", app.name);
    let router = router_address(&server);
    let web = web_process_address(&app.name);

    for (path, ambiguity) in AMBIGUOUS {
        // Asked directly, the app really sends those bytes, and a second
        // response after them.
        let mut direct = RawClient::connect(web).await;
        direct
            .send(&super::raw_http::request("GET", path, "app"))
            .await
            .unwrap();
        let sent = String::from_utf8(direct.read_until_seen(b"SMUGGLED").await).unwrap();
        assert!(sent.contains(ambiguity), "{path}: the app sent {sent:?}");

        // GET and HEAD go through the router's own fast path.
        let mut client = RawClient::connect(router).await;
        let refused = client.exchange("GET", path, &host).await;
        assert_refused(&refused, &format!("GET {path}"));
        // The client connection goes on, with nothing of the app's left over.
        let next = client.exchange("GET", "/next", &host).await;
        assert_eq!(next.status, 200, "after GET {path}: {}", next.text());
        assert_eq!(field(&next.text(), "path"), "/next", "after GET {path}");
        client
            .assert_nothing_more(QUIET, &format!("GET {path}"))
            .await;

        // Requests with a body are served through hyper.
        let mut client = RawClient::connect(router).await;
        let refused = client.post(path, &host).await;
        assert_refused(&refused, &format!("POST {path}"));
        let next = client.post("/next", &host).await;
        assert_eq!(next.status, 200, "after POST {path}: {}", next.text());
        assert_eq!(field(&next.text(), "path"), "/next", "after POST {path}");
        client
            .assert_nothing_more(QUIET, &format!("POST {path}"))
            .await;
    }

    // Each refusal is in the app's log as Heroku's H17.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let lines = member
            .get(&format!(
                "apps/{}/logs?source=berth&dyno=router&lines=500",
                app.name
            ))
            .await;
        let h17 = |path: &str| {
            lines
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|line| line["message"].as_str())
                .filter(|message| {
                    message.contains("code=H17") && message.contains(&format!("path=\"{path}\""))
                })
                .count()
        };
        if AMBIGUOUS.iter().all(|(path, _)| h17(path) >= 2) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not every refusal was logged as H17: {lines}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Sends `GET path` and asserts the answer is the raw app's to exactly
/// this request, with nothing after it; returns its body.
async fn assert_own_answer(client: &mut RawClient, host: &str, path: &str, after: &str) -> String {
    let response = client.exchange("GET", path, host).await;
    let body = response.text();
    assert_eq!(response.status, 200, "GET {path} after {after}: {body}");
    assert_eq!(
        field(&body, "path"),
        path,
        "GET {path} after {after}: {body}"
    );
    client.assert_nothing_more(QUIET, after).await;
    body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pooled_upstream_connection_stays_in_step_after_head_204_and_304_answers() {
    let server = TestServer::start();
    let member = Member::new(&server, "pool@example.com", false);
    let (app, _cleanup) = deployed_raw_app(&member, "pool-in-step").await;
    let host = format!("{}.localhost", app.name);
    let mut client = RawClient::connect(router_address(&server)).await;

    let first = assert_own_answer(&mut client, &host, "/id/1", "nothing").await;
    let (conn, n) = (field(&first, "conn"), field(&first, "n"));
    let mut expected_n: u32 = n.parse().unwrap();

    let head = client.exchange("HEAD", "/id/2", &host).await;
    assert_eq!(head.status, 200, "{}", head.head);
    assert!(head.header("content-length").is_some(), "{}", head.head);
    client.assert_nothing_more(QUIET, "HEAD").await;
    let no_content = client.exchange("GET", "/no-content", &host).await;
    assert_eq!(no_content.status, 204, "{}", no_content.head);
    client.assert_nothing_more(QUIET, "a 204").await;
    let not_modified = client.exchange("GET", "/not-modified", &host).await;
    assert_eq!(not_modified.status, 304, "{}", not_modified.head);
    assert_eq!(not_modified.header("etag"), Some("\"v1\""));
    client.assert_nothing_more(QUIET, "a 304").await;

    // The same upstream connection carried all of them, one answer each,
    // and carries the next one in step.
    expected_n += 4;
    let next = assert_own_answer(&mut client, &host, "/id/5", "HEAD, 204 and 304").await;
    assert_eq!(
        (field(&next, "conn"), field(&next, "n")),
        (conn, expected_n.to_string().as_str()),
        "the pooled upstream connection was not reused in step: {first} then {next}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bytes_an_app_sends_after_a_head_204_or_304_answer_never_reach_the_next_request() {
    let server = TestServer::start();
    let member = Member::new(&server, "stray@example.com", false);
    let (app, _cleanup) = deployed_raw_app(&member, "pool-stray").await;
    let host = format!("{}.localhost", app.name);
    let router = router_address(&server);

    // On the fast path (GET and HEAD), then through hyper (after a POST).
    for through_hyper in [false, true] {
        let via = if through_hyper { "hyper" } else { "fast path" };
        let mut client = RawClient::connect(router).await;
        if through_hyper {
            let posted = client.post("/id/0", &host).await;
            assert_eq!(posted.status, 200, "{}", posted.text());
        } else {
            assert_own_answer(&mut client, &host, "/id/0", "nothing").await;
        }

        // A body with the head, then a whole response after it.
        let head = client.exchange("HEAD", "/with-body", &host).await;
        assert_eq!(head.status, 200, "{via}: {}", head.head);
        client.assert_nothing_more(QUIET, "HEAD").await;
        assert_own_answer(&mut client, &host, "/id/1", &format!("HEAD ({via})")).await;

        for (path, status) in [
            ("/no-content-with-body", 204),
            ("/not-modified-with-body", 304),
        ] {
            let answer = client.exchange("GET", path, &host).await;
            assert_eq!(answer.status, status, "{via}: {}", answer.head);
            client.assert_nothing_more(QUIET, path).await;
            assert_own_answer(&mut client, &host, "/id/2", &format!("{path} ({via})")).await;
        }

        // The stray bytes come half a second after the 204, while the
        // upstream connection sits in the pool.
        let answer = client
            .exchange("GET", "/no-content-then-late-bytes", &host)
            .await;
        assert_eq!(answer.status, 204, "{via}: {}", answer.head);
        client
            .assert_nothing_more(Duration::from_millis(1500), "a 204 and late bytes")
            .await;
        assert_own_answer(
            &mut client,
            &host,
            "/id/3",
            &format!("a 204 and late bytes ({via})"),
        )
        .await;
    }
}
