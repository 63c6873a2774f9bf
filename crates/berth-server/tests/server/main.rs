//! berthd as operators and API clients meet it: the real binary for
//! `berthd admin` and signals, the in-process server for the API.

mod access;
mod browser;
mod browser_access;
mod browser_addons;
mod browser_domains;
mod browser_live;
mod dashboard;
mod deploy;
mod openapi;

use std::collections::BTreeSet;
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use berth_api_types::{App, CreatedToken, ErrorBody, Token};
use berth_testkit::{free_addresses, wait_until_listening, TestServer};
use reqwest::{Method, StatusCode};

fn berthd(server: &TestServer) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_berthd"));
    command
        .env("BERTH_DATA_DIR", server.data_dir())
        .env_remove("BERTH_DATABASE_URL");
    command
}

/// The routes the API answers on: each path the router reports
/// (`berth_server::api_paths`), with each method that does not get a 405.
/// Asked without a token, so nothing changes; path parameters get sample
/// values.
async fn routes_of_the_router(server: &TestServer) -> BTreeSet<(String, String)> {
    let client = reqwest::Client::new();
    let mut routes = BTreeSet::new();
    for template in berth_server::api_paths() {
        let path: Vec<&str> = template
            .split('/')
            .map(|segment| match segment {
                "{version}" => "current",
                "{email}" => "probe@example.com",
                "{hostname}" => "probe.example.test",
                "{backup}" => "b001",
                "{process_type}" => "web",
                _ if segment.starts_with('{') => "probe",
                _ => segment,
            })
            .collect();
        let url = format!("{}{}", server.api_url, path.join("/"));
        for method in [
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
        ] {
            let response = client.request(method.clone(), &url).send().await.unwrap();
            if response.status() != StatusCode::METHOD_NOT_ALLOWED {
                routes.insert((method.to_string(), template.clone()));
            }
        }
    }
    routes
}

async fn error_of(response: reqwest::Response) -> (StatusCode, ErrorBody) {
    let status = response.status();
    (
        status,
        response.json::<ErrorBody>().await.expect("an error body"),
    )
}

#[tokio::test]
async fn admin_create_user_beside_a_running_server_prints_a_token_valid_at_once() {
    let server = TestServer::start();
    let output = berthd(&server)
        .args(["admin", "create-user", "Ops@Example.com", "--admin"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8(output.stdout).unwrap();
    let token = stdout.lines().last().unwrap();
    assert!(
        stdout.contains("no password yet"),
        "no prompt without a terminal: {stdout}"
    );

    let account: serde_json::Value = reqwest::Client::new()
        .get(format!("{}/api/v1/account", server.api_url))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(account["email"], "ops@example.com");
    assert_eq!(account["admin"], true);

    let again = berthd(&server)
        .args(["admin", "create-user", "ops@example.com"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!again.status.success());
    assert_eq!(
        String::from_utf8_lossy(&again.stderr).trim(),
        "error: a user with email ops@example.com already exists"
    );
}

#[tokio::test]
async fn admin_passwords_come_from_stdin_and_allow_sign_in() {
    let server = TestServer::start();
    let mut child = berthd(&server)
        .args([
            "admin",
            "create-user",
            "dev@example.com",
            "--password-stdin",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"correct horse\n")
        .unwrap();
    assert!(child.wait_with_output().unwrap().status.success());

    let client = reqwest::Client::new();
    let login = |password: &'static str| {
        client
            .post(format!("{}/api/v1/login", server.api_url))
            .json(&serde_json::json!({"email": "dev@example.com", "password": password}))
            .send()
    };
    let created: CreatedToken = login("correct horse").await.unwrap().json().await.unwrap();
    assert!(created.token.starts_with("berth_"));
    let (status, error) = error_of(login("wrong").await.unwrap()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(error.message, "invalid email or password");

    let bad = berthd(&server)
        .args(["admin", "create-user", "not-an-email"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&bad.stderr).contains("is not an email address"));
}

#[tokio::test]
async fn api_errors_have_the_wire_shape_and_status() {
    let server = TestServer::start();
    let token = server.create_user("alice@example.com", false, None);
    let client = reqwest::Client::new();
    let url = |path: &str| format!("{}/api/v1{path}", server.api_url);

    let (status, error) = error_of(client.get(url("/apps")).send().await.unwrap()).await;
    assert_eq!(
        (status, error.id.as_str()),
        (StatusCode::UNAUTHORIZED, "unauthorized")
    );
    let (status, _) = error_of(
        client
            .get(url("/apps"))
            .bearer_auth("berth_bogus")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let (status, error) = error_of(
        client
            .get(url("/apps/nope"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, error.message.as_str()),
        (StatusCode::NOT_FOUND, "app nope not found")
    );

    let (status, error) = error_of(
        client
            .get(url("/no-such-thing"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, error.id.as_str()),
        (StatusCode::NOT_FOUND, "not_found")
    );

    let malformed = client
        .post(url("/apps"))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    let (status, error) = error_of(malformed).await;
    assert_eq!(
        (status, error.id.as_str()),
        (StatusCode::BAD_REQUEST, "bad_request")
    );

    let create = |name: &str| {
        client
            .post(url("/apps"))
            .bearer_auth(&token)
            .json(&serde_json::json!({ "name": name }))
            .send()
    };
    let (status, error) = error_of(create("ab").await.unwrap()).await;
    assert_eq!(
        (status, error.id.as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_params")
    );
    let created = create("shop").await.unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    let (status, error) = error_of(
        client
            .get(url("/apps/shop/audit?limit=many"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, error.id.as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_params")
    );
    let app: App = created.json().await.unwrap();
    assert_eq!(app.git_url, format!("{}/shop.git", server.api_url));
    let router_port = server.http_url.rsplit(':').next().unwrap();
    assert_eq!(app.web_url, format!("http://shop.localhost:{router_port}/"));
    assert!(server.data_dir().join("repos/shop.git/HEAD").exists());
    let (status, error) = error_of(create("shop").await.unwrap()).await;
    assert_eq!(
        (status, error.id.as_str()),
        (StatusCode::CONFLICT, "conflict")
    );
}

#[tokio::test]
async fn tokens_are_listed_scoped_and_revocable_over_the_api() {
    let server = TestServer::start();
    let token = server.create_user("alice@example.com", false, None);
    let client = reqwest::Client::new();
    let url = |path: &str| format!("{}/api/v1{path}", server.api_url);

    let read: CreatedToken = client
        .post(url("/tokens"))
        .bearer_auth(&token)
        .json(&serde_json::json!({"description": "dashboards", "scope": "read", "expires_in_secs": 3600}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let listed: Vec<Token> = client
        .get(url("/tokens"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let entry = listed.iter().find(|t| t.id == read.id).unwrap();
    assert_eq!(
        (entry.scope.as_str(), entry.description.as_str()),
        ("read", "dashboards")
    );
    assert!(entry.expires_at.is_some());
    assert!(listed
        .iter()
        .all(|t| !serde_json::to_string(t).unwrap().contains(&read.token)));

    let apps = client
        .get(url("/apps"))
        .bearer_auth(&read.token)
        .send()
        .await
        .unwrap();
    assert_eq!(apps.status(), StatusCode::OK, "read scope lists apps");
    let refused = client
        .post(url("/apps"))
        .bearer_auth(&read.token)
        .json(&serde_json::json!({"name": "shop"}))
        .send()
        .await
        .unwrap();
    let (status, error) = error_of(refused).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(error.message.contains("read scope"), "{}", error.message);

    let (status, _) = error_of(
        client
            .post(url("/tokens"))
            .bearer_auth(&token)
            .json(&serde_json::json!({"scope": "root"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);

    let revoked = client
        .delete(url(&format!("/tokens/{}", read.id)))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), StatusCode::NO_CONTENT);
    let after = client
        .get(url("/apps"))
        .bearer_auth(&read.token)
        .send()
        .await
        .unwrap();
    assert_eq!(after.status(), StatusCode::UNAUTHORIZED);

    let logout = client
        .post(url("/logout"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(logout.status(), StatusCode::NO_CONTENT);
    let after = client
        .get(url("/account"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(after.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn the_welcome_page_and_router_answer() {
    let server = TestServer::start();
    let page = reqwest::get(format!("{}/", server.api_url)).await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(
        html.contains(&format!("export BERTH_API_URL={}", server.api_url)),
        "{html}"
    );
    let css = reqwest::get(format!("{}/static/berth.css", server.api_url))
        .await
        .unwrap();
    assert_eq!(css.headers()["content-type"], "text/css; charset=utf-8");

    let routed = reqwest::Client::new()
        .get(format!("{}/", server.http_url))
        .header("host", "nope.localhost")
        .send()
        .await
        .unwrap();
    assert_eq!(routed.status(), StatusCode::NOT_FOUND);
    assert!(routed.text().await.unwrap().contains("No such app"));
}

/// The real `berthd` binary on `data_dir`, listening on `api` and `http`.
fn berthd_command(data_dir: &std::path::Path, api: &str, http: &str) -> Command {
    berth_testkit::berthd_command(
        std::path::Path::new(env!("CARGO_BIN_EXE_berthd")),
        data_dir,
        api,
        http,
    )
}

#[test]
fn the_server_starts_on_a_fresh_data_dir_and_stops_at_once_on_sigterm() {
    let data_dir = tempfile::tempdir().unwrap();
    let (api, http) = free_addresses();
    let child = berthd_command(&data_dir.path().join("fresh"), &api, &http)
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_until_listening(&api);
    let started = Instant::now();
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "exit status {:?}", output.status);
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "shutdown is bounded"
    );
    let log = String::from_utf8_lossy(&output.stdout);
    assert!(log.contains("No user exists yet"), "{log}");
    // Nothing was open: nothing waits out the shutdown grace.
    assert!(!log.contains("were cut off"), "{log}");
    assert!(
        log.contains(&format!("API, dashboard and git on http://{api}")),
        "{log}"
    );
    assert!(data_dir.path().join("fresh/berth.db").exists());
}

#[test]
fn without_a_docker_engine_the_server_says_so_and_exits() {
    let data_dir = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_berthd"))
        .env("BERTH_DATA_DIR", data_dir.path())
        .env("BERTH_API_LISTEN", "127.0.0.1:0")
        .env("BERTH_HTTP_LISTEN", "127.0.0.1:0")
        .env("BERTH_DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.starts_with("error: no Docker engine answers at unix:///nonexistent/docker.sock"),
        "{stderr}"
    );
}
