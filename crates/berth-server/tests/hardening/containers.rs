//! Finding 5: app containers ran unconfined (no pids or memory limit, every
//! default capability, privilege gain through setuid binaries) and nothing
//! bounded how many apps, dynos or drains a member could make.

use std::process::Command;
use std::time::Duration;

use berth_api_types::App;
use berth_testkit::{unique_app_name, AppRepo, EngineCleanup, TestServer};
use reqwest::StatusCode;
use serde_json::Value;

/// A member's view of one server's API, with a bearer token.
pub(crate) struct Member {
    pub(crate) api_url: String,
    pub(crate) token: String,
    client: reqwest::Client,
}

impl Member {
    pub(crate) fn new(server: &TestServer, email: &str, admin: bool) -> Self {
        Self {
            api_url: server.api_url.clone(),
            token: server.create_user(email, admin, None),
            client: reqwest::Client::new(),
        }
    }

    pub(crate) async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, String) {
        let mut request = self
            .client
            .request(method, format!("{}/api/v1/{path}", self.api_url))
            .bearer_auth(&self.token)
            .timeout(Duration::from_secs(120));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        (status, response.text().await.unwrap())
    }

    pub(crate) async fn get(&self, path: &str) -> Value {
        let (status, body) = self.send(reqwest::Method::GET, path, None).await;
        assert!(status.is_success(), "GET {path}: {status} {body}");
        serde_json::from_str(&body).unwrap()
    }

    pub(crate) async fn create_app(&self, name: &str) -> App {
        let (status, body) = self
            .send(
                reqwest::Method::POST,
                "apps",
                Some(serde_json::json!({ "name": name })),
            )
            .await;
        assert!(status.is_success(), "create {name}: {status} {body}");
        serde_json::from_str(&body).unwrap()
    }

    /// Creates `prefix`-named app and deploys the `cmd-only` fixture (a
    /// busybox httpd) to it.
    pub(crate) async fn deployed_app(&self, prefix: &str) -> (App, EngineCleanup) {
        let name = unique_app_name(prefix);
        let cleanup = EngineCleanup::new(&name);
        let app = self.create_app(&name).await;
        deploy(&app, &self.token);
        (app, cleanup)
    }
}

/// Pushes the `cmd-only` fixture to `app`; the push must deploy.
pub(crate) fn deploy(app: &App, token: &str) {
    let repo = AppRepo::from_fixture("cmd-only");
    let pushed = repo.push(&app.git_url, token, "main", &[]);
    assert!(
        pushed.status.success(),
        "the push did not deploy: {}",
        String::from_utf8_lossy(&pushed.stderr)
    );
}

/// `docker inspect` of a container, as JSON.
pub(crate) fn inspect(container: &str) -> Value {
    let output = Command::new("docker")
        .args(["inspect", container])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "no container {container}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice::<Value>(&output.stdout).unwrap()[0].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynos_run_confined_and_a_fork_bomb_stops_at_the_pids_limit() {
    let server = TestServer::start_with(|settings| {
        settings.dyno_pids = 48;
        settings.dyno_memory = 256;
    });
    let member = Member::new(&server, "dev@example.com", false);
    let (app, _cleanup) = member.deployed_app("confined").await;

    let host = inspect(&format!("berth-{}.v1.web.1", app.name))["HostConfig"].clone();
    assert_eq!(host["PidsLimit"], 48);
    assert_eq!(host["Memory"], 256 << 20);
    assert_eq!(host["MemorySwap"], 256 << 20, "no swap beyond the limit");
    assert_eq!(host["CapDrop"], serde_json::json!(["ALL"]));
    let kept: Vec<&str> = host["CapAdd"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    assert_eq!(kept, berth_docker::KEPT_CAPABILITIES);
    assert!(host["SecurityOpt"]
        .as_array()
        .unwrap()
        .iter()
        .any(|o| o == "no-new-privileges:true"));

    // A one-off that tries to hold 200 processes at once (bounded: the
    // loop ends, and the dyno with it, which takes its children along).
    let (status, body) = member
        .send(
            reqwest::Method::POST,
            &format!("apps/{}/dynos/run", app.name),
            Some(serde_json::json!({
                "command": "i=0; while [ $i -lt 200 ]; do sleep 60 & i=$((i+1)); done; echo loop-done"
            })),
        )
        .await;
    assert!(status.is_success(), "{status} {body}");
    let events: Vec<Value> = body
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let output: String = events
        .iter()
        .filter_map(|event| event["line"].as_str())
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        output.contains("can't fork"),
        "forking past the pids limit must fail: {output}"
    );
    assert!(
        events.iter().any(|event| event["type"] == "exit"),
        "the one-off ends: {body}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scaling_beyond_the_dyno_quota_is_refused_and_changes_nothing() {
    let server = TestServer::start_with(|settings| settings.max_dynos_per_app = 2);
    let member = Member::new(&server, "dev@example.com", false);
    let (app, _cleanup) = member.deployed_app("quota").await;

    let (status, body) = member
        .send(
            reqwest::Method::PATCH,
            &format!("apps/{}/formation", app.name),
            Some(serde_json::json!({ "changes": ["web=3"] })),
        )
        .await;
    assert!(status.is_client_error(), "{status} {body}");
    assert!(body.contains("BERTH_MAX_DYNOS_PER_APP=2"), "{body}");
    let formation = member.get(&format!("apps/{}/formation", app.name)).await;
    assert_eq!(formation[0]["quantity"], 1, "{formation}");
    let dynos = member.get(&format!("apps/{}/dynos", app.name)).await;
    assert_eq!(dynos.as_array().unwrap().len(), 1, "{dynos}");

    let (status, body) = member
        .send(
            reqwest::Method::PATCH,
            &format!("apps/{}/formation", app.name),
            Some(serde_json::json!({ "changes": ["web=2"] })),
        )
        .await;
    assert!(
        status.is_success(),
        "up to the quota is fine: {status} {body}"
    );
}

#[tokio::test]
async fn creating_apps_beyond_a_members_quota_is_refused_but_not_for_admins() {
    let server = TestServer::start_with(|settings| settings.max_apps_per_user = 2);
    let member = Member::new(&server, "dev@example.com", false);
    let admin = Member::new(&server, "ops@example.com", true);
    let names: Vec<String> = (0..3).map(|_| unique_app_name("quota")).collect();
    member.create_app(&names[0]).await;
    member.create_app(&names[1]).await;

    let (status, body) = member
        .send(
            reqwest::Method::POST,
            "apps",
            Some(serde_json::json!({ "name": names[2] })),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(body.contains("BERTH_MAX_APPS_PER_USER=2"), "{body}");
    assert_eq!(member.get("apps").await.as_array().unwrap().len(), 2);

    for _ in 0..3 {
        admin.create_app(&unique_app_name("ops")).await;
    }
}
