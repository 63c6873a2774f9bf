//! One push must not exhaust berthd: a push's files are capped
//! (`BERTH_MAX_PUSH_BYTES`), git request bodies decode within that cap, trees
//! may not nest without end, and the output kept per release is bounded.

use std::process::{Command, Output, Stdio};

use berth_api_types::{App, Release, ReleaseDetail};
use berth_server::Settings;
use berth_testkit::{unique_app_name, AppRepo, EngineCleanup, TestServer};

/// A server with a user and one app, and the cleanup of what the app leaves in the engine.
pub(crate) struct Pusher {
    pub server: TestServer,
    pub token: String,
    pub app: App,
    _cleanup: EngineCleanup,
}

impl Pusher {
    pub async fn start(prefix: &str, configure: impl FnOnce(&mut Settings)) -> Self {
        let server = TestServer::start_with(configure);
        let token = server.create_user("dev@example.com", false, None);
        let name = unique_app_name(prefix);
        let cleanup = EngineCleanup::new(&name);
        let app: App = reqwest::Client::new()
            .post(format!("{}/api/v1/apps", server.api_url))
            .bearer_auth(&token)
            .json(&serde_json::json!({ "name": name }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        Self {
            server,
            token,
            app,
            _cleanup: cleanup,
        }
    }

    /// Pushes `main` from a blocking thread; returns whether git succeeded and all it printed.
    pub async fn push(&self, repo: AppRepo) -> (bool, String, AppRepo) {
        let (url, token) = (self.app.git_url.clone(), self.token.clone());
        tokio::task::spawn_blocking(move || {
            let output: Output = repo.push(&url, &token, "main", &[]);
            let text = format!(
                "{}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
            (output.status.success(), text, repo)
        })
        .await
        .unwrap()
    }

    pub async fn get<T: serde::de::DeserializeOwned>(&self, path: &str) -> T {
        reqwest::Client::new()
            .get(format!(
                "{}/api/v1/apps/{}/{path}",
                self.server.api_url, self.app.name
            ))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    pub async fn releases(&self) -> Vec<Release> {
        self.get("releases").await
    }

    /// Where the server's repository has `main`, if anywhere.
    pub fn remote_main(&self) -> Option<String> {
        let repo = self
            .server
            .data_dir()
            .join(format!("repos/{}.git", self.app.name));
        let output = Command::new("git")
            .arg("--git-dir")
            .arg(repo)
            .args(["rev-parse", "--verify", "-q", "refs/heads/main"])
            .output()
            .unwrap();
        output
            .status
            .success()
            .then(|| String::from_utf8(output.stdout).unwrap().trim().to_string())
    }

    /// Ids of the engine objects (`docker ps -a` or `docker images`) labelled with the app.
    pub fn engine_objects(&self, kind: &str) -> Vec<String> {
        let label = format!("label=berth.app={}", self.app.name);
        let args: &[&str] = match kind {
            "containers" => &["ps", "-aq", "--filter", &label],
            _ => &["images", "-q", "--filter", &label],
        };
        let output = Command::new("docker").args(args).output().unwrap();
        String::from_utf8(output.stdout)
            .unwrap()
            .lines()
            .map(String::from)
            .collect()
    }
}

/// Writes `bytes` zero bytes to `relative` in the work tree without holding them in memory.
pub(crate) fn write_zeros(repo: &AppRepo, relative: &str, bytes: u64) {
    let file = std::fs::File::create(repo.path().join(relative)).unwrap();
    file.set_len(bytes).unwrap();
}

#[tokio::test]
async fn a_push_over_the_size_limit_is_refused_before_anything_is_built() {
    let pusher = Pusher::start("pushcap", |settings| {
        settings.max_push_bytes = 4 << 20;
    })
    .await;
    let repo = AppRepo::from_fixture("cmd-only");
    write_zeros(&repo, "zeros.bin", 8 << 20);
    repo.commit("Eight MiB of zeros");

    let (ok, output, _repo) = pusher.push(repo).await;
    assert!(!ok, "the push should have been refused:\n{output}");
    assert!(
        output.contains("remote:") && output.contains("BERTH_MAX_PUSH_BYTES"),
        "the refusal names the limit on a remote: line:\n{output}"
    );
    assert_eq!(pusher.remote_main(), None, "the branch must not move");
    assert!(pusher.releases().await.is_empty(), "no release is made");
    assert!(
        pusher.engine_objects("images").is_empty(),
        "nothing is built"
    );
}

#[tokio::test]
async fn a_push_nesting_directories_too_deep_is_refused() {
    let pusher = Pusher::start("pushdeep", |_| {}).await;
    let repo = AppRepo::from_fixture("cmd-only");
    let deep = vec!["d"; 100].join("/");
    repo.write(&format!("{deep}/file"), "bottom\n");
    repo.commit("A hundred levels of directories");

    let (ok, output, _repo) = pusher.push(repo).await;
    assert!(!ok, "the push should have been refused:\n{output}");
    assert!(
        output.contains("more than 64 levels deep"),
        "the refusal says why:\n{output}"
    );
    assert_eq!(pusher.remote_main(), None);
    assert!(pusher.releases().await.is_empty());
}

#[tokio::test]
async fn a_gzip_bomb_request_body_is_refused() {
    let pusher = Pusher::start("gzipbomb", |settings| {
        settings.max_push_bytes = 1 << 20;
    })
    .await;
    // 16 MiB of zeros compress to about 16 KiB.
    let mut gzip = Command::new("gzip")
        .args(["-c", "-9"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = gzip.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        std::io::Write::write_all(&mut stdin, &vec![0u8; 16 << 20]).unwrap();
    });
    let output = gzip.wait_with_output().unwrap();
    writer.join().unwrap();
    let bomb = output.stdout;
    assert!(bomb.len() < 1 << 20);

    for service in ["git-upload-pack", "git-receive-pack"] {
        let response = reqwest::Client::new()
            .post(format!("{}/{service}", pusher.app.git_url))
            .basic_auth("git", Some(&pusher.token))
            .header("content-encoding", "gzip")
            .header("content-type", format!("application/x-{service}-request"))
            .body(bomb.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 413, "{service}");
        let text = response.text().await.unwrap();
        assert!(text.contains("once decoded"), "{service}: {text}");
    }
    assert_eq!(pusher.remote_main(), None);
}

#[tokio::test]
async fn release_output_past_the_limit_is_truncated_with_a_marker() {
    let pusher = Pusher::start("outcap", |settings| {
        settings.release_output_bytes = 4096;
    })
    .await;
    let repo = AppRepo::from_fixture("cmd-only");
    let dockerfile = std::fs::read_to_string(repo.path().join("Dockerfile")).unwrap();
    repo.write(
        "Dockerfile",
        &dockerfile.replace("COPY www /www", "RUN seq 1 5000\nCOPY www /www"),
    );
    repo.commit("A noisy build");

    let (ok, output, _repo) = pusher.push(repo).await;
    assert!(ok, "the push failed:\n{output}");
    assert!(
        output.contains("remote: 5000"),
        "the live stream shows everything:\n{output}"
    );
    let detail: ReleaseDetail = pusher.get("releases/1").await;
    assert!(
        detail.output.len() <= 4096,
        "{} bytes kept",
        detail.output.len()
    );
    assert!(
        detail
            .output
            .trim_end()
            .ends_with(berth_platform::OUTPUT_TRUNCATED_MARKER),
        "the kept output ends with the marker:\n{}",
        detail.output
    );
}
