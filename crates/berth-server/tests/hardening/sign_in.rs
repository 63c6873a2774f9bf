//! Sign-in abuse: oversized bodies and emails, parallel guessing past the
//! throttle, and an audit trail that grows without bound or in one piece.

use berth_api_types::AuditEvent;
use berth_testkit::TestServer;
use reqwest::StatusCode;

async fn login(server: &TestServer, body: String) -> (StatusCode, serde_json::Value) {
    let response = reqwest::Client::new()
        .post(format!("{}/api/v1/login", server.api_url))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or_default())
}

fn login_body(email: &str, password: &str) -> String {
    serde_json::json!({ "email": email, "password": password }).to_string()
}

async fn audit(server: &TestServer, admin: &str, query: &str) -> Vec<AuditEvent> {
    let response = reqwest::Client::new()
        .get(format!("{}/api/v1/audit{query}", server.api_url))
        .bearer_auth(admin)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

fn sign_ins(trail: &[AuditEvent]) -> Vec<&AuditEvent> {
    trail
        .iter()
        .filter(|event| event.action.starts_with("session."))
        .collect()
}

#[tokio::test]
async fn a_two_megabyte_login_body_is_refused_with_413_and_leaves_no_audit_row() {
    let server = TestServer::start();
    let admin = server.create_user("admin@example.com", true, None);
    let huge_email = format!("{}@example.com", "a".repeat(2 * 1024 * 1024));
    let (status, body) = login(&server, login_body(&huge_email, "guess")).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    assert_eq!(body["id"], "payload_too_large", "{body}");
    assert!(sign_ins(&audit(&server, &admin, "").await).is_empty());
}

#[tokio::test]
async fn an_overlong_email_is_refused_with_400_and_leaves_no_audit_row() {
    let server = TestServer::start();
    let admin = server.create_user("admin@example.com", true, None);
    let long_email = format!("{}@example.com", "a".repeat(250));
    let (status, body) = login(&server, login_body(&long_email, "guess")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("longer than 254"),
        "{body}"
    );
    assert!(sign_ins(&audit(&server, &admin, "").await).is_empty());
}

#[tokio::test]
async fn parallel_wrong_passwords_run_no_more_password_checks_than_the_throttle_allows() {
    const ATTEMPTS: usize = 24;
    const ALLOWANCE: usize = 5;
    let server = TestServer::start();
    let admin = server.create_user("admin@example.com", true, None);
    server.create_user("victim@example.com", false, Some("correct horse"));
    let mut attempts = tokio::task::JoinSet::new();
    for i in 0..ATTEMPTS {
        let request = reqwest::Client::new()
            .post(format!("{}/api/v1/login", server.api_url))
            .header("content-type", "application/json")
            .body(login_body("victim@example.com", &format!("guess {i}")));
        attempts.spawn(async move { request.send().await.unwrap().status() });
    }
    let statuses = attempts.join_all().await;
    let refused = statuses
        .iter()
        .filter(|status| **status == StatusCode::UNAUTHORIZED)
        .count();
    let held_back = statuses
        .iter()
        .filter(|status| {
            **status == StatusCode::TOO_MANY_REQUESTS || **status == StatusCode::SERVICE_UNAVAILABLE
        })
        .count();
    assert_eq!(refused + held_back, ATTEMPTS, "{statuses:?}");
    assert!((1..=ALLOWANCE).contains(&refused), "{statuses:?}");

    // Every checked attempt is a `session.fail`, every throttled one a
    // `session.throttled`: no more passwords were verified than allowed.
    let trail = audit(&server, &admin, "").await;
    let failed = trail.iter().filter(|e| e.action == "session.fail").count();
    let throttled = trail
        .iter()
        .filter(|e| e.action == "session.throttled")
        .count();
    assert_eq!(failed, refused);
    assert_eq!(
        throttled,
        statuses
            .iter()
            .filter(|status| **status == StatusCode::TOO_MANY_REQUESTS)
            .count()
    );
    // Once the allowance is spent, even the right password waits.
    if refused == ALLOWANCE {
        let (status, _) = login(&server, login_body("victim@example.com", "correct horse")).await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    }
}

#[tokio::test]
async fn audit_pages_come_newest_last_and_page_back_in_order() {
    let server = TestServer::start();
    let admin = server.create_user("admin@example.com", true, None);
    for i in 0..7 {
        login(
            &server,
            login_body(&format!("nobody{i}@example.com"), "guess"),
        )
        .await;
    }
    let whole = audit(&server, &admin, "").await;
    assert!(whole.windows(2).all(|pair| pair[0].id < pair[1].id));

    let mut paged = Vec::new();
    let mut query = "?limit=3".to_string();
    for _ in 0..whole.len() {
        let page = audit(&server, &admin, &query).await;
        assert!(page.len() <= 3);
        assert!(page.windows(2).all(|pair| pair[0].id < pair[1].id));
        let Some(first) = page.first() else { break };
        query = format!("?limit=3&before={}", first.id);
        paged.splice(0..0, page);
    }
    assert_eq!(paged, whole);

    let response = reqwest::Client::new()
        .get(format!("{}/api/v1/audit?limit=0", server.api_url))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn the_audit_trail_keeps_only_its_newest_entries_beyond_its_retention() {
    const KEPT: u64 = 10;
    let server = TestServer::start_with(|settings| settings.audit_retention_entries = KEPT);
    let admin = server.create_user("admin@example.com", true, None);
    for i in 0..30 {
        login(
            &server,
            login_body(&format!("nobody{i}@example.com"), "guess"),
        )
        .await;
    }
    let trail = audit(&server, &admin, "").await;
    assert_eq!(trail.len() as u64, KEPT, "{trail:?}");
    // The newest stayed: the last attempt is the trail's last entry.
    assert!(
        trail
            .last()
            .unwrap()
            .detail
            .contains("nobody29@example.com"),
        "{:?}",
        trail.last()
    );
    assert!(trail
        .iter()
        .all(|event| !event.detail.contains("\"nobody0@")));
}
