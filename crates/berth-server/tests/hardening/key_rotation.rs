//! Finding 7: containers were labelled with the secret key's fingerprint,
//! so after `berthd admin rotate-key` the reconciler no longer knew them;
//! and several lookups went by `berth.app` alone, so a platform sharing the
//! engine could touch another's app of the same name.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use berth_api_types::App;
use berth_testkit::{unique_app_name, EngineCleanup, TestServer};

use super::containers::{deploy, inspect, Member};

/// The real `berthd` on a data directory, killed when dropped.
struct Berthd(Child);

impl Berthd {
    fn start(data_dir: &Path, api: &str, http: &str) -> Self {
        let child = Command::new(env!("CARGO_BIN_EXE_berthd"))
            .env("BERTH_DATA_DIR", data_dir)
            .env("BERTH_API_LISTEN", api)
            .env("BERTH_HTTP_LISTEN", http)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(api).is_err() {
            assert!(Instant::now() < deadline, "berthd did not listen on {api}");
            std::thread::sleep(Duration::from_millis(50));
        }
        Self(child)
    }
}

impl Drop for Berthd {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_address() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().to_string()
}

fn admin(data_dir: &Path, args: &[&str]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_berthd"))
        .arg("admin")
        .args(args)
        .env("BERTH_DATA_DIR", data_dir)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "berthd admin {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// Waits (bounded) until the router serves `app` with 200.
async fn wait_until_served(http: &str, app: &str) {
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let response = client
            .get(format!("http://{http}/"))
            .header("host", format!("{app}.localhost"))
            .timeout(Duration::from_secs(5))
            .send()
            .await;
        if response.is_ok_and(|r| r.status().is_success()) {
            return;
        }
        assert!(Instant::now() < deadline, "{app} is not served again");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_key_rotation_the_running_dyno_is_adopted_and_still_supervised() {
    let data_dir = tempfile::tempdir().unwrap();
    let (api, http) = (free_address(), free_address());
    let berthd = Berthd::start(data_dir.path(), &api, &http);
    let created = admin(data_dir.path(), &["create-user", "ops@example.com"]);
    let token = created.lines().last().unwrap().to_string();
    let name = unique_app_name("rotated");
    let _cleanup = EngineCleanup::new(&name);
    let app: App = reqwest::Client::new()
        .post(format!("http://{api}/api/v1/apps"))
        .bearer_auth(&token)
        .json(&serde_json::json!({ "name": name }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    deploy(&app, &token);
    let container = format!("berth-{name}.v1.web.1");
    let before = inspect(&container);

    drop(berthd);
    let rotated = admin(data_dir.path(), &["rotate-key"]);
    assert!(!rotated.trim().is_empty());
    let _berthd = Berthd::start(data_dir.path(), &api, &http);
    wait_until_served(&http, &name).await;
    let after = inspect(&container);
    assert_eq!(after["Id"], before["Id"], "the same container serves");
    assert_eq!(
        after["State"]["StartedAt"], before["State"]["StartedAt"],
        "it was adopted, not restarted"
    );

    // Supervised still: when it dies, the reconciler brings the app back,
    // which it can only do for a container it recognises as its own.
    let killed = Command::new("docker")
        .args(["kill", &container])
        .output()
        .unwrap();
    assert!(killed.status.success());
    wait_until_served(&http, &name).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_platforms_on_one_engine_leave_each_others_app_of_the_same_name_alone() {
    let ours = TestServer::start();
    let theirs = TestServer::start();
    let owner = Member::new(&ours, "dev@example.com", false);
    let other = Member::new(&theirs, "dev@example.com", false);
    let (app, _cleanup) = owner.deployed_app("twin").await;
    let container = format!("berth-{}.v1.web.1", app.name);
    let before = inspect(&container);

    other.create_app(&app.name).await;
    let dynos = other.get(&format!("apps/{}/dynos", app.name)).await;
    assert_eq!(dynos, serde_json::json!([]), "their app has no dynos");
    let (status, body) = other
        .send(reqwest::Method::DELETE, &format!("apps/{}", app.name), None)
        .await;
    assert!(status.is_success(), "{status} {body}");

    let after = inspect(&container);
    assert_eq!(after["Id"], before["Id"]);
    assert_eq!(after["State"]["Running"], true, "our dyno still runs");
    let dynos = owner.get(&format!("apps/{}/dynos", app.name)).await;
    assert_eq!(dynos.as_array().unwrap().len(), 1, "{dynos}");
}
