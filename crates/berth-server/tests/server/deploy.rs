//! `git push` deploys, with the real git client against a real engine.

use std::io::{BufRead, BufReader};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use berth_api_types::{App, Dyno, LogEntry, Release};
use berth_testkit::{
    unique_app_name, with_credentials, AppRepo, BerthdProcess, EngineCleanup, TestServer,
};
use reqwest::StatusCode;

/// A server, a user and an app, and the cleanup of what the app leaves in the engine.
struct Deployment {
    server: TestServer,
    token: String,
    app: App,
    _cleanup: EngineCleanup,
}

impl Deployment {
    async fn new(prefix: &str) -> Self {
        Self::on(TestServer::start(), prefix).await
    }

    async fn on(server: TestServer, prefix: &str) -> Self {
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

    fn push(&self, repo: &AppRepo, refspec: &str) -> Pushed {
        Pushed::from(repo.push(&self.app.git_url, &self.token, refspec, &[]))
    }

    async fn get<T: serde::de::DeserializeOwned>(&self, path: &str) -> T {
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

    async fn releases(&self) -> Vec<Release> {
        self.get("releases").await
    }

    async fn dynos(&self) -> Vec<Dyno> {
        self.get("dynos").await
    }

    /// GETs `path` from a dyno through the port it publishes on 127.0.0.1.
    async fn fetch(&self, release: i64, dyno: &str, path: &str) -> String {
        let container = format!("berth-{}.v{release}.{dyno}", self.app.name);
        let output = Command::new("docker")
            .args(["port", &container, "5000/tcp"])
            .output()
            .unwrap();
        let address = String::from_utf8(output.stdout).unwrap();
        let address = address
            .lines()
            .find(|line| line.starts_with("127.0.0.1:"))
            .unwrap_or_else(|| {
                panic!(
                    "{container} publishes no loopback port: {}",
                    String::from_utf8_lossy(&output.stderr)
                )
            });
        // docker-proxy accepts before the app listens: retry a bounded number of times.
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let response = reqwest::get(format!("http://{address}{path}")).await;
            match response.and_then(|r| r.error_for_status()) {
                Ok(response) => return response.text().await.unwrap(),
                Err(error) if Instant::now() > deadline => {
                    panic!("{container} did not answer: {error}")
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    }

    /// GETs `path` through the router, as a visitor of the app's URL would.
    async fn visit(
        &self,
        client: &reqwest::Client,
        path: &str,
    ) -> reqwest::Result<reqwest::Response> {
        client
            .get(format!("{}{path}", self.server.http_url))
            .header("host", format!("{}.localhost", self.app.name))
            .timeout(Duration::from_secs(10))
            .send()
            .await
    }

    fn running_containers(&self) -> Vec<String> {
        let output = Command::new("docker")
            .args(["ps", "--format", "{{.Names}}", "--filter"])
            .arg(format!("label=berth.app={}", self.app.name))
            .output()
            .unwrap();
        let mut names: Vec<String> = String::from_utf8(output.stdout)
            .unwrap()
            .lines()
            .map(String::from)
            .collect();
        names.sort();
        names
    }

    fn remote_main(&self) -> Option<String> {
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

    /// The app's log once it holds `needle` (lines reach the file through a queue).
    async fn log_with(&self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let log = self.log().await;
            if log.contains(needle) || Instant::now() > deadline {
                return log;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The app's whole log, as `berth logs` prints it.
    async fn log(&self) -> String {
        let entries: Vec<LogEntry> = self
            .get(&format!("logs?lines={}", berth_platform::MAX_LOG_LINES))
            .await;
        entries
            .iter()
            .map(|entry| {
                format!(
                    "{} {}[{}]: {}\n",
                    entry.at.format("%Y-%m-%dT%H:%M:%S%.6f+00:00"),
                    entry.source,
                    entry.dyno,
                    entry.message
                )
            })
            .collect()
    }
}

struct Pushed {
    ok: bool,
    /// Everything git printed (stdout and stderr).
    output: String,
}

impl From<Output> for Pushed {
    fn from(output: Output) -> Self {
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        Self {
            ok: output.status.success(),
            output: text,
        }
    }
}

impl Pushed {
    #[track_caller]
    fn succeeded(self) -> String {
        assert!(self.ok, "the push failed:\n{}", self.output);
        self.output
    }

    #[track_caller]
    fn rejected(self) -> String {
        assert!(
            !self.ok,
            "the push should have been rejected:\n{}",
            self.output
        );
        self.output
    }
}

#[tokio::test]
async fn a_heroku_yml_app_deploys_releases_and_serves() {
    let deployment = Deployment::new("yml").await;
    let repo = AppRepo::from_fixture("heroku-yml");
    let output = deployment.push(&repo, "main").succeeded();

    for expected in [
        "remote: -----> Building",
        "remote: Step 1/",
        &format!("remote: release phase of {} v1", deployment.app.name),
        "remote: -----> Released v1",
        &format!(
            "remote:        {} deployed to Berth",
            deployment.app.web_url
        ),
    ] {
        assert!(
            output.contains(expected),
            "missing {expected:?} in:\n{output}"
        );
    }
    assert_eq!(
        deployment.remote_main(),
        Some(repo.head()),
        "the ref moved after the deploy"
    );

    let releases = deployment.releases().await;
    assert_eq!(releases.len(), 1);
    assert_eq!(
        (releases[0].status.as_str(), releases[0].current),
        ("succeeded", true)
    );
    assert_eq!(releases[0].commit.as_deref(), Some(repo.head().as_str()));
    assert_eq!(
        releases[0].description,
        format!("Deploy {}", &repo.head()[..7])
    );

    let dynos = deployment.dynos().await;
    let names: Vec<_> = dynos
        .iter()
        .map(|d| (d.name.as_str(), d.release.as_str()))
        .collect();
    assert_eq!(
        names,
        [("web.1", "v1")],
        "web=1 and worker=0 on the first deploy"
    );
    assert_eq!(
        deployment.fetch(1, "web.1", "/version.txt").await,
        "web.1 v1\n"
    );
    let visited = deployment
        .visit(&reqwest::Client::new(), "/version.txt")
        .await
        .unwrap();
    assert_eq!(
        visited.text().await.unwrap(),
        "web.1 v1\n",
        "the router serves the app"
    );

    let log = deployment.log_with(" berth[router]: at=info").await;
    assert!(
        log.contains(" berth[router]: at=info method=GET path=\"/version.txt\""),
        "{log}"
    );
    assert!(log.contains(" app[build]: Step 1/"), "{log}");
    assert!(log.contains(" app[release]: release phase of"), "{log}");
    assert!(
        log.contains(" berth[api]: Release v1 created by dev@example.com"),
        "{log}"
    );

    // The app's code can be cloned back.
    let clone_dir = tempfile::tempdir().unwrap();
    let clone = berth_testkit::git_command(clone_dir.path())
        .args([
            "clone",
            "-q",
            &with_credentials(&deployment.app.git_url, &deployment.token),
            "copy",
        ])
        .output()
        .unwrap();
    assert!(
        clone.status.success(),
        "{}",
        String::from_utf8_lossy(&clone.stderr)
    );
    assert!(clone_dir.path().join("copy/heroku.yml").exists());

    // An empty commit is a new release, built from the layer cache; the old containers go.
    repo.commit("Nothing changed");
    let output = deployment.push(&repo, "main").succeeded();
    assert!(output.contains("Using cache"), "{output}");
    assert!(output.contains("-----> Released v2"), "{output}");
    assert_eq!(
        deployment.fetch(2, "web.1", "/version.txt").await,
        "web.1 v2\n"
    );
    let running = deployment.running_containers();
    assert_eq!(running, [format!("berth-{}.v2.web.1", deployment.app.name)]);
}

#[tokio::test]
async fn a_failing_release_command_rejects_the_push_and_keeps_the_running_release() {
    let deployment = Deployment::new("relfail").await;
    let repo = AppRepo::from_fixture("heroku-yml");
    deployment.push(&repo, "main").succeeded();
    let deployed = repo.head();

    let yml = std::fs::read_to_string(repo.path().join("heroku.yml")).unwrap();
    repo.write(
        "heroku.yml",
        &yml.replace(
            "&& test -n \"$BERTH_SLUG_COMMIT\"",
            "&& echo failing && exit 3",
        ),
    );
    repo.commit("Break the release phase");
    let output = deployment.push(&repo, "main").rejected();
    assert!(output.contains("remote: failing"), "{output}");
    assert!(
        output.contains("Push rejected: the release command failed with exit status 3"),
        "{output}"
    );
    assert!(
        output.contains("[remote rejected]") || output.contains("!\trefs/heads/main"),
        "{output}"
    );

    assert_eq!(
        deployment.remote_main(),
        Some(deployed),
        "the ref did not move"
    );
    let releases = deployment.releases().await;
    let summary: Vec<_> = releases
        .iter()
        .map(|r| (r.version, r.status.as_str(), r.current))
        .collect();
    assert_eq!(summary, [(1, "succeeded", true), (2, "failed", false)]);
    assert_eq!(
        deployment.running_containers(),
        [format!("berth-{}.v1.web.1", deployment.app.name)]
    );
    assert_eq!(
        deployment.fetch(1, "web.1", "/version.txt").await,
        "web.1 v1\n"
    );
}

#[tokio::test]
async fn a_broken_manifest_or_build_is_refused_with_where_and_why() {
    let deployment = Deployment::new("badyml").await;
    let repo = AppRepo::from_fixture("heroku-yml");
    repo.write(
        "heroku.yml",
        "build:\n  docker:\n    web: Dockerfile\ndeploy:\n  web: x\n",
    );
    repo.commit("Unknown key");
    let output = deployment.push(&repo, "main").rejected();
    assert!(
        output.contains("remote:  !     Push rejected: heroku.yml:4:1:"),
        "{output}"
    );

    repo.write("heroku.yml", "build:\n  docker:\n    web: Dockerfile\n");
    repo.write(
        "Dockerfile",
        "FROM scratch\nCOPY busybox /bin/busybox\nRUN [\"/bin/busybox\", \"false\"]\n",
    );
    repo.commit("A failing RUN");
    let output = deployment.push(&repo, "main").rejected();
    assert!(
        output.contains("Push rejected: the build of web failed:"),
        "{output}"
    );
    assert!(
        output.contains("non-zero code"),
        "Docker's own words: {output}"
    );

    assert_eq!(deployment.remote_main(), None);
    assert!(deployment.running_containers().is_empty());
    let statuses: Vec<_> = deployment
        .releases()
        .await
        .into_iter()
        .map(|r| r.status)
        .collect();
    assert_eq!(
        statuses,
        ["failed"],
        "the manifest error made no release; the build failure did"
    );
}

#[tokio::test]
async fn only_main_or_master_deploy() {
    let deployment = Deployment::new("branch").await;
    let repo = AppRepo::from_fixture("cmd-only");
    let before = deployment
        .visit(&reqwest::Client::new(), "/")
        .await
        .unwrap();
    assert_eq!(
        before.status(),
        StatusCode::SERVICE_UNAVAILABLE,
        "no web process yet"
    );
    let output = deployment.push(&repo, "main:feature").rejected();
    assert!(
        output.contains("heads/feature is not deployed: push to main or master"),
        "{output}"
    );
    repo.git(&["tag", "v1"]);
    let output = deployment.push(&repo, "v1").rejected();
    assert!(output.contains("tags/v1 is not deployed"), "{output}");
    assert!(deployment.releases().await.is_empty());

    deployment.push(&repo, "main:master").succeeded();
    assert_eq!(
        deployment.fetch(1, "web.1", "/").await,
        "<h1>cmd-only</h1>\n"
    );
    let output = deployment.push(&repo, ":master").rejected();
    assert!(
        output.contains("the deploy branch cannot be deleted"),
        "{output}"
    );
}

#[tokio::test]
async fn a_dockerfile_and_procfile_app_runs_its_release_line() {
    let deployment = Deployment::new("procfile").await;
    let repo = AppRepo::from_fixture("procfile");
    let output = deployment.push(&repo, "main").succeeded();
    assert!(
        output.contains("remote: procfile release phase"),
        "{output}"
    );
    assert_eq!(
        deployment.fetch(1, "web.1", "/version.txt").await,
        "web.1 v1\n"
    );
}

#[tokio::test]
async fn git_requires_a_token_with_access() {
    let deployment = Deployment::new("auth").await;
    let client = reqwest::Client::new();
    let refs = format!(
        "{}/info/refs?service=git-receive-pack",
        deployment.app.git_url
    );

    let anonymous = client.get(&refs).send().await.unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        anonymous.headers()["www-authenticate"],
        "Basic realm=\"Berth\""
    );
    let wrong = client
        .get(&refs)
        .basic_auth("x", Some("berth_wrong"))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);

    let stranger = deployment
        .server
        .create_user("stranger@example.com", false, None);
    let hidden = client
        .get(&refs)
        .basic_auth("x", Some(&stranger))
        .send()
        .await
        .unwrap();
    let missing = client
        .get(refs.replace(&deployment.app.name, "no-such-app"))
        .basic_auth("x", Some(&deployment.token))
        .send()
        .await
        .unwrap();
    assert_eq!(
        (hidden.status(), missing.status()),
        (StatusCode::NOT_FOUND, StatusCode::NOT_FOUND)
    );
    assert_eq!(hidden.text().await.unwrap(), missing.text().await.unwrap());

    let repo = AppRepo::from_fixture("cmd-only");
    let output =
        Pushed::from(repo.push(&deployment.app.git_url, "berth_wrong", "main", &[])).rejected();
    assert!(
        output.contains("Authentication failed") || output.contains("401"),
        "{output}"
    );
    let output =
        Pushed::from(repo.push(&deployment.app.git_url, &stranger, "main", &[])).rejected();
    assert!(output.contains("not found"), "{output}");
}

#[tokio::test]
async fn concurrent_pushes_to_one_app_never_interleave() {
    let deployment = Deployment::new("turns").await;
    let first = AppRepo::from_fixture("cmd-only");
    let second = AppRepo::from_fixture("cmd-only");
    second.commit("A second history");

    let mut pushing = berth_testkit::git_command(first.path())
        .args([
            "push",
            &with_credentials(&deployment.app.git_url, &deployment.token),
            "main",
        ])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first_output = String::new();
    let mut lines = BufReader::new(pushing.stderr.take().unwrap());
    while !first_output.contains("-----> Building") {
        let mut line = String::new();
        assert!(
            lines.read_line(&mut line).unwrap() > 0,
            "the first push ended early: {first_output}"
        );
        first_output.push_str(&line);
    }
    let waiting = deployment.push(&second, "main");
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut lines, &mut rest).unwrap();
    assert!(pushing.wait().unwrap().success(), "{first_output}{rest}");

    // The second push waited its turn, then found main moved under it: deploying
    // it would run code the branch does not hold, so it is refused, as git
    // refuses a push that is not based on the remote's branch.
    let output = waiting.rejected();
    assert!(output.contains("Another deploy or change of"), "{output}");
    assert!(
        output.contains("main moved while this push waited"),
        "{output}"
    );
    let releases = deployment.releases().await;
    assert_eq!(releases.len(), 1, "{releases:?}");
    assert_eq!(deployment.remote_main(), Some(first.head()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redeploys_under_constant_load_drop_no_request() {
    let server = TestServer::start_with(|settings| settings.image_retention = 2);
    let deployment = Deployment::on(server, "zerodown").await;
    let repo = AppRepo::from_fixture("cmd-only");
    deployment.push(&repo, "main").succeeded();

    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let load = {
        let (stop, host) = (stop.clone(), format!("{}.localhost", deployment.app.name));
        let url = format!("{}/", deployment.server.http_url);
        tokio::spawn(async move {
            let client = reqwest::Client::new();
            let (mut ok, mut failures) = (0u32, Vec::new());
            let deadline = Instant::now() + Duration::from_secs(180);
            while !stop.load(std::sync::atomic::Ordering::Relaxed) && Instant::now() < deadline {
                let response = client
                    .get(&url)
                    .header("host", &host)
                    .timeout(Duration::from_secs(10))
                    .send()
                    .await;
                match response {
                    Ok(response) if response.status().is_success() => ok += 1,
                    Ok(response) => failures.push(format!("status {}", response.status())),
                    Err(error) => failures.push(format!("error {error}")),
                }
            }
            (ok, failures)
        })
    };
    for round in 1..=3 {
        repo.commit(&format!("Redeploy {round}"));
        let output = tokio::task::block_in_place(|| deployment.push(&repo, "main")).succeeded();
        assert!(
            output.contains(&format!("Released v{}", round + 1)),
            "{output}"
        );
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (ok, failures) = load.await.unwrap();
    assert!(ok > 50, "the load loop ran: {ok} requests");
    assert!(
        failures.is_empty(),
        "{} of {} requests failed: {:?}",
        failures.len(),
        ok as usize + failures.len(),
        &failures[..failures.len().min(5)]
    );
    assert_eq!(
        deployment.running_containers(),
        [format!("berth-{}.v4.web.1", deployment.app.name)]
    );
    // Only the last two releases keep their images.
    let images = Command::new("docker")
        .args([
            "images",
            "--format",
            "{{.Tag}}",
            &format!("berth/{}", deployment.app.name),
        ])
        .output()
        .unwrap();
    let mut tags: Vec<String> = String::from_utf8(images.stdout)
        .unwrap()
        .lines()
        .map(String::from)
        .collect();
    tags.sort();
    assert_eq!(tags, ["v3-web", "v4-web"]);
}

#[tokio::test]
async fn a_web_process_that_never_answers_fails_the_deploy_and_the_old_one_serves_on() {
    let server = TestServer::start_with(|settings| settings.boot_timeout = 3);
    let deployment = Deployment::on(server, "noboot").await;
    let repo = AppRepo::from_fixture("procfile");
    deployment.push(&repo, "main").succeeded();

    repo.write("Procfile", "web: sleep 600\n");
    repo.commit("A web process that never listens");
    let output = deployment.push(&repo, "main").rejected();
    assert!(
        output.contains("web.1 did not answer HTTP on $PORT within 3 s"),
        "{output}"
    );
    assert_eq!(
        deployment.running_containers(),
        [format!("berth-{}.v1.web.1", deployment.app.name)]
    );
    let visited = deployment
        .visit(&reqwest::Client::new(), "/version.txt")
        .await
        .unwrap();
    assert_eq!(visited.text().await.unwrap(), "web.1 v1\n");
}

#[tokio::test]
async fn a_declared_health_check_must_pass_before_traffic_moves() {
    let server = TestServer::start_with(|settings| settings.boot_timeout = 3);
    let deployment = Deployment::on(server, "health").await;
    let repo = AppRepo::from_fixture("cmd-only");
    let manifest = |path: &str| {
        format!(
            "build:\n  docker:\n    web: Dockerfile\nrun:\n  web:\n    command: exec httpd -f -p $PORT -h /www\n    healthcheck: {path}\n"
        )
    };
    repo.write("heroku.yml", &manifest("/missing"));
    repo.commit("A health check that fails");
    let output = deployment.push(&repo, "main").rejected();
    assert!(
        output.contains("web.1 answered its health check /missing with 404"),
        "{output}"
    );
    assert!(deployment.running_containers().is_empty());

    repo.write("heroku.yml", &manifest("/index.html"));
    repo.commit("A health check that passes");
    deployment.push(&repo, "main").succeeded();
    let visited = deployment
        .visit(&reqwest::Client::new(), "/")
        .await
        .unwrap();
    assert_eq!(visited.text().await.unwrap(), "<h1>cmd-only</h1>\n");
}

/// A real `berthd` on a fresh data directory, an operator's token, and an
/// app called after a prefix with the `cmd-only` fixture deployed: what the
/// tests that kill berthd start from.
struct RealBerthd {
    data_dir: tempfile::TempDir,
    api: String,
    http: String,
    berthd: BerthdProcess,
    token: String,
    name: String,
    cleanup: EngineCleanup,
    client: reqwest::Client,
    app: App,
    repo: AppRepo,
}

impl RealBerthd {
    async fn with_app(prefix: &str) -> Self {
        let data_dir = tempfile::tempdir().unwrap();
        let berthd = BerthdProcess::start(
            std::path::Path::new(env!("CARGO_BIN_EXE_berthd")),
            data_dir.path(),
            &[],
        );
        let (api, http) = (berthd.api.clone(), berthd.http.clone());
        let token = berthd.create_user("ops@example.com");
        let name = unique_app_name(prefix);
        let _cleanup = EngineCleanup::new(&name);
        let client = reqwest::Client::new();
        let app: App = client
            .post(format!("http://{api}/api/v1/apps"))
            .bearer_auth(&token)
            .json(&serde_json::json!({ "name": name }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let repo = AppRepo::from_fixture("cmd-only");
        assert!(repo
            .push(&app.git_url, &token, "main", &[])
            .status
            .success());
        Self {
            data_dir,
            api,
            http,
            berthd,
            token,
            name,
            cleanup: _cleanup,
            client,
            app,
            repo,
        }
    }
}

/// `GET /` of the app at `name` through the router at `http`.
async fn visit_app(client: &reqwest::Client, http: &str, name: &str) -> reqwest::Response {
    client
        .get(format!("http://{http}/"))
        .header("host", format!("{name}.localhost"))
        .send()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_berthd_killed_mid_deploy_recovers_on_restart() {
    let RealBerthd {
        data_dir: _data_dir,
        api,
        http,
        mut berthd,
        token,
        name,
        cleanup: _cleanup,
        client,
        app,
        repo,
    } = RealBerthd::with_app("killed").await;

    // A deploy whose release command takes a while; berthd dies during it.
    repo.write(
        "heroku.yml",
        "build:\n  docker:\n    web: Dockerfile\nrelease:\n  command: sleep 60\n",
    );
    repo.commit("A slow release phase");
    let pusher = {
        let (url, token, path) = (
            app.git_url.clone(),
            token.clone(),
            repo.path().to_path_buf(),
        );
        std::thread::spawn(move || {
            berth_testkit::git_command(&path)
                .args(["push", &with_credentials(&url, &token), "main"])
                .output()
                .unwrap()
        })
    };
    let release_container = format!("berth-{name}.v2.release");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let running = Command::new("docker")
            .args(["ps", "--format", "{{.Names}}"])
            .output()
            .unwrap();
        if String::from_utf8_lossy(&running.stdout)
            .lines()
            .any(|n| n == release_container)
        {
            break;
        }
        assert!(Instant::now() < deadline, "the release phase did not start");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    berthd.kill();
    assert!(
        !pusher.join().unwrap().status.success(),
        "the push cannot succeed without berthd"
    );

    berthd.restart();
    let releases: Vec<Release> = client
        .get(format!("http://{api}/api/v1/apps/{name}/releases"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let summary: Vec<_> = releases
        .iter()
        .map(|r| (r.version, r.status.as_str(), r.current))
        .collect();
    assert_eq!(summary, [(1, "succeeded", true), (2, "failed", false)]);
    assert!(releases[1]
        .failure
        .as_deref()
        .unwrap()
        .contains("interrupted"));
    let running = Command::new("docker")
        .args([
            "ps",
            "-a",
            "--format",
            "{{.Names}}",
            "--filter",
            &format!("label=berth.app={name}"),
        ])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8(running.stdout).unwrap().trim(),
        format!("berth-{name}.v1.web.1"),
        "the interrupted release's containers are gone, v1 was adopted"
    );
    let visited = visit_app(&client, &http, &name).await;
    assert_eq!(visited.text().await.unwrap(), "<h1>cmd-only</h1>\n");
}

#[tokio::test]
async fn a_crashing_process_is_restarted_with_backoff_and_its_output_still_reaches_the_log() {
    let deployment = Deployment::new("crashy").await;
    let repo = AppRepo::from_fixture("procfile");
    repo.write(
        "Procfile",
        "web: exec httpd -f -p $PORT -h /www\nworker: echo \"worker run\"; sleep 1; exit 3\n",
    );
    repo.commit("A worker that crashes");
    deployment.push(&repo, "main").succeeded();
    let scaled = reqwest::Client::new()
        .patch(format!(
            "{}/api/v1/apps/{}/formation",
            deployment.server.api_url, deployment.app.name
        ))
        .bearer_auth(&deployment.token)
        .json(&serde_json::json!({ "changes": ["worker=1"] }))
        .send()
        .await
        .unwrap();
    assert_eq!(scaled.status(), StatusCode::OK);

    // Crashes 1, 2 and 3 wait 1, 2 and 4 s before the restart.
    let third_crash =
        " berth[worker.1]: State changed from up to crashed (exit code 3); restarting in 4 s";
    let deadline = Instant::now() + Duration::from_secs(60);
    let log = loop {
        let log = deployment.log().await;
        if log.contains(third_crash) {
            break log;
        }
        assert!(Instant::now() < deadline, "no third crash seen:\n{log}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let crashes: Vec<&str> = log
        .lines()
        .filter(|line| line.contains(" berth[worker.1]: State changed from up to crashed"))
        .map(|line| line.rsplit(' ').nth(1).unwrap())
        .collect();
    assert_eq!(crashes[..3], ["1", "2", "4"], "{log}");
    // The third restart is 4 s away: ps shows the dyno down, with its exit code.
    let dynos = deployment.dynos().await;
    let worker = dynos.iter().find(|dyno| dyno.name == "worker.1").unwrap();
    assert_eq!(
        (worker.state.as_str(), worker.exit_code),
        ("crashed", Some(3))
    );

    // Each run's output was copied once, restarts included.
    let stamps: Vec<&str> = log
        .lines()
        .filter(|line| line.ends_with(" app[worker.1]: worker run"))
        .map(|line| line.split(' ').next().unwrap())
        .collect();
    assert!(stamps.len() >= 3, "{log}");
    let distinct: std::collections::BTreeSet<_> = stamps.iter().collect();
    assert_eq!(
        distinct.len(),
        stamps.len(),
        "a restart does not copy old lines again:\n{log}"
    );
}

#[tokio::test]
async fn a_process_removed_behind_berths_back_is_started_again() {
    let deployment = Deployment::new("removed").await;
    let repo = AppRepo::from_fixture("procfile");
    deployment.push(&repo, "main").succeeded();
    let web = format!("berth-{}.v1.web.1", deployment.app.name);
    assert_eq!(deployment.running_containers(), std::slice::from_ref(&web));
    let removed = Command::new("docker")
        .args(["rm", "-f", &web])
        .output()
        .unwrap();
    assert!(removed.status.success());

    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let serving = match deployment.visit(&client, "/").await {
            Ok(response) => response.status() == StatusCode::OK,
            Err(_) => false,
        };
        if serving && deployment.running_containers() == std::slice::from_ref(&web) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "web.1 was not started again: {:?}",
            deployment.running_containers()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let dynos = deployment.dynos().await;
    assert_eq!(dynos.len(), 1);
    assert_eq!(
        (dynos[0].name.as_str(), dynos[0].state.as_str()),
        ("web.1", "up")
    );
    let started = dynos[0].started_at.expect("an up dyno has an uptime");
    assert!(started >= dynos[0].created_at);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_berthd_removes_attached_one_offs_and_watches_detached_ones_again() {
    let RealBerthd {
        data_dir: _data_dir,
        api,
        http: _,
        mut berthd,
        token,
        name,
        cleanup: _cleanup,
        client,
        app: _app,
        repo: _repo,
    } = RealBerthd::with_app("oneoffs").await;
    // The app's log through the logs API, once it holds `needle`.
    let log_with = |needle: String| {
        let (client, api, name, token) = (client.clone(), api.clone(), name.clone(), token.clone());
        async move {
            let deadline = Instant::now() + Duration::from_secs(30);
            loop {
                let entries: Vec<LogEntry> = client
                    .get(format!(
                        "http://{api}/api/v1/apps/{name}/logs?lines={}",
                        berth_platform::MAX_LOG_LINES
                    ))
                    .bearer_auth(&token)
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                let log: String = entries
                    .iter()
                    .map(|entry| format!("{}[{}]: {}\n", entry.source, entry.dyno, entry.message))
                    .collect();
                if log.contains(&needle) {
                    return log;
                }
                assert!(Instant::now() < deadline, "{needle:?} not in:\n{log}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    };
    let oneoffs = |kind: &str| {
        let output = Command::new("docker")
            .args([
                "ps",
                "-aq",
                "--filter",
                &format!("label=berth.app={name}"),
                "--filter",
                &format!("label=berth.oneoff={kind}"),
            ])
            .output()
            .unwrap();
        String::from_utf8(output.stdout).unwrap()
    };

    let detached: berth_api_types::DetachedRun = client
        .post(format!(
            "http://{api}/api/v1/apps/{name}/dynos/run/detached"
        ))
        .bearer_auth(&token)
        .json(&serde_json::json!({
            "command": "echo before; sleep 3; echo during; sleep 4; echo after"
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let dyno = detached.dyno;
    // An attached run whose client is berthd's request: it dies with berthd.
    let attached = tokio::spawn(
        client
            .post(format!("http://{api}/api/v1/apps/{name}/dynos/run"))
            .bearer_auth(&token)
            .json(&serde_json::json!({ "command": "sleep 100" }))
            .send(),
    );
    log_with(format!("app[{dyno}]: before")).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while oneoffs("attached").is_empty() {
        assert!(Instant::now() < deadline, "the attached run did not start");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    berthd.kill();
    let _ = attached.await;
    // The detached dyno prints `during` while no berthd watches it.
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert!(
        !oneoffs("attached").is_empty(),
        "without berthd nobody removed it"
    );

    berthd.restart();
    // The listener is bound before recovery runs: give it a moment.
    let deadline = Instant::now() + Duration::from_secs(30);
    while !oneoffs("attached").is_empty() {
        assert!(
            Instant::now() < deadline,
            "an attached one-off whose client is gone was not removed"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let log = log_with(format!("berth[{dyno}]: Process exited with status 0")).await;
    for line in ["before", "during", "after"] {
        assert_eq!(
            log.matches(&format!("app[{dyno}]: {line}\n")).count(),
            1,
            "{line} logged once:\n{log}"
        );
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while !oneoffs("detached").is_empty() {
        assert!(
            Instant::now() < deadline,
            "the detached dyno was not removed"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_apps_metrics_survive_a_berthd_restart() {
    let RealBerthd {
        data_dir: _data_dir,
        http,
        mut berthd,
        api,
        token,
        name,
        cleanup: _cleanup,
        client,
        ..
    } = RealBerthd::with_app("samples").await;
    for _ in 0..12 {
        assert!(visit_app(&client, &http, &name).await.status().is_success());
    }
    let requests = || async {
        let metrics: berth_api_types::AppMetrics = client
            .get(format!("http://{api}/api/v1/apps/{name}/metrics?since=1h"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        metrics.summary.requests
    };
    // The sampler stores them within its 10 s tick.
    let deadline = Instant::now() + Duration::from_secs(30);
    while requests().await != 12 {
        assert!(Instant::now() < deadline, "the requests were not sampled");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    berthd.kill();
    berthd.restart();
    assert_eq!(
        requests().await,
        12,
        "the samples are read back after a restart"
    );
}
