//! Faults from outside Berth's code: the Docker engine restarts (or dies and
//! is started again) under a running berthd and its apps.
//!
//! The engine is a private one in a network namespace of the test's own
//! (the shared engine is never touched); berthd runs in that namespace too,
//! since the ports the engine publishes live on 127.0.0.1 there, and the
//! test reaches it over the namespace's veth pair.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use berth_api_types::{App, Dyno, ErrorBody, LogEntry};
use berth_testkit::{unique_app_name, AppRepo, BerthdProcess, InNetns, PrivateEngine};
use chrono::{DateTime, Utc};

const BERTHD: &str = env!("CARGO_BIN_EXE_berthd");
/// berthd's ports on the namespace's address (nothing else listens there).
const API_PORT: u16 = 7000;
const ROUTER_PORT: u16 = 8080;
/// How long berthd may take to run the whole formation and serve the app
/// again once the engine answers.
const RECOVERY: Duration = Duration::from_secs(60);
/// How long any answer of berthd may take while the engine is away.
const ANSWER_WITHIN: Duration = Duration::from_secs(5);
/// The formation the app runs: two web processes and a worker.
const FORMATION: [(&str, usize); 2] = [("web", 2), ("worker", 1)];

/// What the engine holds of one container.
#[derive(Debug)]
struct Container {
    name: String,
    state: String,
    labels: BTreeMap<String, String>,
}

/// A berthd on a private engine, running one app with [`FORMATION`].
/// Fields drop in order: berthd stops before its engine goes.
struct Deployed {
    berthd: BerthdProcess,
    engine: PrivateEngine,
    data_dir: tempfile::TempDir,
    berthd_log: PathBuf,
    platform_id: String,
    token: String,
    /// A platform admin's, to list the hosts.
    admin_token: String,
    name: String,
    client: reqwest::Client,
}

impl Deployed {
    /// A private engine, berthd beside it, and an app pushed and scaled to
    /// [`FORMATION`], serving.
    async fn start(prefix: &str) -> Self {
        let engine = PrivateEngine::start();
        let data_dir = tempfile::tempdir().unwrap();
        let berthd_log = data_dir.path().with_extension("berthd.log");
        let inside = engine.inside_address();
        let berthd = BerthdProcess::start_in_netns(
            Path::new(BERTHD),
            data_dir.path(),
            &[
                ("BERTH_DOCKER_HOST", &engine.docker_host()),
                ("RUST_LOG", "info"),
            ],
            InNetns {
                netns: engine.netns_path(),
                api: format!("{inside}:{API_PORT}"),
                http: format!("{inside}:{ROUTER_PORT}"),
            },
            &berthd_log,
        );
        let token = berthd.create_user("ops@example.com");
        let admin_token = berthd.create_admin("root@example.com");
        let platform_id = berth_platform::identity::read(data_dir.path())
            .unwrap()
            .expect("berthd stored its platform id");
        let deployed = Self {
            berthd,
            engine,
            data_dir,
            berthd_log,
            platform_id,
            token,
            admin_token,
            name: unique_app_name(prefix),
            client: reqwest::Client::builder().no_proxy().build().unwrap(),
        };
        let app: App = deployed
            .client
            .post(deployed.api("/apps"))
            .bearer_auth(&deployed.token)
            .json(&serde_json::json!({ "name": deployed.name }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let repo = AppRepo::from_fixture("heroku-yml");
        let pushed = repo.push(&app.git_url, &deployed.token, "main", &[]);
        assert!(
            pushed.status.success(),
            "the push deploys: {}",
            String::from_utf8_lossy(&pushed.stderr)
        );
        let changes: Vec<String> = FORMATION
            .iter()
            .map(|(process_type, quantity)| format!("{process_type}={quantity}"))
            .collect();
        let scaled = deployed
            .client
            .patch(deployed.api(&format!("/apps/{}/formation", deployed.name)))
            .bearer_auth(&deployed.token)
            .json(&serde_json::json!({ "changes": changes }))
            .send()
            .await
            .unwrap();
        assert!(
            scaled.status().is_success(),
            "{}",
            scaled.text().await.unwrap()
        );
        deployed.formation_runs("after the first deploy").await;
        deployed
    }

    fn api(&self, path: &str) -> String {
        format!("http://{}/api/v1{path}", self.berthd.api)
    }

    /// The app's dynos as the API lists them, or the API's error.
    async fn dynos(&self) -> Result<Vec<Dyno>, (u16, String)> {
        let response = self
            .client
            .get(self.api(&format!("/apps/{}/dynos", self.name)))
            .bearer_auth(&self.token)
            .timeout(ANSWER_WITHIN)
            .send()
            .await
            .map_err(|error| (0, format!("no answer: {error}")))?;
        let status = response.status().as_u16();
        let body = response.text().await.unwrap_or_default();
        if status == 200 {
            Ok(serde_json::from_str(&body).unwrap())
        } else {
            Err((status, body))
        }
    }

    /// What the router answers for the app's `/version.txt` (a dyno's
    /// name and release), or why it did not.
    async fn served(&self) -> Result<String, String> {
        let response = self
            .client
            .get(format!("http://{}/version.txt", self.berthd.http))
            .header("host", format!("{}.localhost", self.name))
            .timeout(ANSWER_WITHIN)
            .send()
            .await
            .map_err(|error| format!("no answer: {error}"))?;
        let status = response.status();
        let body = response.text().await.unwrap_or_default();
        if status.is_success() {
            Ok(body)
        } else {
            Err(format!("{status}: {body}"))
        }
    }

    /// Every container the private engine holds, whoever made it.
    fn containers(&self) -> Result<Vec<Container>, String> {
        let listed = self.engine.docker().args(["ps", "-aq"]).output().unwrap();
        if !listed.status.success() {
            return Err(String::from_utf8_lossy(&listed.stderr).into_owned());
        }
        let ids: Vec<String> = String::from_utf8_lossy(&listed.stdout)
            .split_whitespace()
            .map(str::to_string)
            .collect();
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let inspected = self
            .engine
            .docker()
            .arg("inspect")
            .args(&ids)
            .output()
            .unwrap();
        // A container removed between the two calls: look again next time.
        if !inspected.status.success() {
            return Err(String::from_utf8_lossy(&inspected.stderr).into_owned());
        }
        let inspected: Vec<serde_json::Value> = serde_json::from_slice(&inspected.stdout).unwrap();
        let mut containers: Vec<Container> = inspected
            .iter()
            .map(|container| Container {
                name: container["Name"]
                    .as_str()
                    .unwrap_or_default()
                    .trim_start_matches('/')
                    .to_string(),
                state: container["State"]["Status"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                labels: serde_json::from_value(container["Config"]["Labels"].clone())
                    .unwrap_or_default(),
            })
            .collect();
        containers.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(containers)
    }

    /// Why the engine does not hold exactly the formation of release v1,
    /// running and labelled as Berth labels it; `None` when it does.
    fn formation_mismatch(&self, containers: &[Container]) -> Option<String> {
        let mut expected = Vec::new();
        for (process_type, quantity) in FORMATION {
            for index in 1..=quantity {
                expected.push((process_type, format!("{process_type}.{index}")));
            }
        }
        let names: Vec<&str> = containers.iter().map(|c| c.name.as_str()).collect();
        let mut expected_names: Vec<String> = expected
            .iter()
            .map(|(_, dyno)| format!("berth-{}.v1.{dyno}", self.name))
            .collect();
        expected_names.sort();
        if names != expected_names {
            return Some(format!(
                "the engine holds {names:?}, not {expected_names:?}"
            ));
        }
        for (process_type, dyno) in &expected {
            let container = containers
                .iter()
                .find(|c| c.name == format!("berth-{}.v1.{dyno}", self.name))
                .unwrap();
            if container.state != "running" {
                return Some(format!("{} is {}", container.name, container.state));
            }
            let label = |key: &str| container.labels.get(key).map(String::as_str);
            let wanted = [
                ("berth.platform", self.platform_id.as_str()),
                ("berth.app", self.name.as_str()),
                ("berth.release", "v1"),
                ("berth.process", process_type),
                ("berth.dyno", dyno.as_str()),
            ];
            for (key, value) in wanted {
                if label(key) != Some(value) {
                    return Some(format!(
                        "{} has {key}={:?}, not {value:?}",
                        container.name,
                        label(key)
                    ));
                }
            }
        }
        None
    }

    /// Waits (bounded by [`RECOVERY`]) until the engine holds exactly the
    /// formation, running; the API lists each dyno up; and the router
    /// serves the app from both web processes. Returns how long it took.
    async fn formation_runs(&self, context: &str) -> Duration {
        let started = Instant::now();
        let deadline = started + RECOVERY;
        let mut served_by = std::collections::BTreeSet::new();
        loop {
            let containers = self.containers();
            let engine = match &containers {
                Ok(containers) => self.formation_mismatch(containers),
                Err(error) => Some(format!("the engine did not list: {error}")),
            };
            let dynos = self.dynos().await;
            let api = match &dynos {
                Ok(dynos) => {
                    let up: Vec<&str> = dynos
                        .iter()
                        .filter(|d| d.state == "up" && d.release == "v1")
                        .map(|d| d.name.as_str())
                        .collect();
                    (up != ["web.1", "web.2", "worker.1"] || dynos.len() != 3)
                        .then(|| format!("the API lists {dynos:?}"))
                }
                Err(error) => Some(format!("the API answered {error:?}")),
            };
            let served = self.served().await;
            if engine.is_none() && api.is_none() {
                if let Ok(body) = &served {
                    served_by.insert(body.trim().to_string());
                }
            }
            let router = (served_by.len() < 2)
                .then(|| format!("the router served {served:?} (so far from {served_by:?})"));
            if engine.is_none() && api.is_none() && router.is_none() {
                return started.elapsed();
            }
            if Instant::now() > deadline {
                self.print_berthd_log();
                panic!(
                    "{context}: the formation did not run again within {RECOVERY:?}: {}",
                    [engine, api, router]
                        .into_iter()
                        .flatten()
                        .collect::<Vec<_>>()
                        .join("; ")
                );
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// What the API answers `token` at `path` (under /api/v1), as JSON.
    async fn get_json<T: serde::de::DeserializeOwned>(&self, path: &str, token: &str) -> T {
        self.client
            .get(self.api(path))
            .bearer_auth(token)
            .timeout(ANSWER_WITHIN)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// The one host, as a platform admin lists it.
    async fn host(&self) -> berth_api_types::Host {
        let hosts: Vec<berth_api_types::Host> = self.get_json("/hosts", &self.admin_token).await;
        assert_eq!(hosts.len(), 1, "{hosts:?}");
        hosts.into_iter().next().unwrap()
    }

    /// While the engine is away, berthd answers at once: what needs no
    /// engine as usual, the app's processes with a clear 503, and the
    /// router with an error rather than a hang. Keeps asking for `during`,
    /// so that several reconciler passes meet the missing engine.
    async fn answers_without_the_engine(&self, during: Duration) {
        let until = Instant::now() + during;
        let mut rounds = 0;
        while rounds == 0 || Instant::now() < until {
            rounds += 1;
            let asked = Instant::now();
            let app = self
                .client
                .get(self.api(&format!("/apps/{}", self.name)))
                .bearer_auth(&self.token)
                .timeout(ANSWER_WITHIN)
                .send()
                .await
                .expect("berthd answers about the app without the engine");
            assert_eq!(app.status(), 200, "{}", app.text().await.unwrap());

            let dynos = self.dynos().await;
            let (status, body) = dynos.expect_err("no dynos are listed without the engine");
            assert_eq!(status, 503, "the dynos without the engine: {body}");
            let error: ErrorBody = serde_json::from_str(&body).unwrap();
            assert_eq!(error.id, "engine_unavailable", "{body}");
            assert!(
                error.message.contains("container engine"),
                "the message says what is missing: {body}"
            );

            let served = self.served().await;
            assert!(
                served
                    .as_ref()
                    .is_err_and(|error| !error.starts_with("no answer")),
                "the router answers (an error) without the engine: {served:?}"
            );
            assert!(
                asked.elapsed() < ANSWER_WITHIN,
                "berthd took {:?} to answer without the engine",
                asked.elapsed()
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    /// Waits (bounded) until the app's log has a line of the worker's
    /// output written after `after`: its output is followed again.
    async fn worker_output_followed_since(&self, after: DateTime<Utc>) {
        let deadline = Instant::now() + RECOVERY;
        loop {
            let path = format!("/apps/{}/logs?dyno=worker.1&source=app&lines=20", self.name);
            let lines: Vec<LogEntry> = self.get_json(&path, &self.token).await;
            if lines
                .iter()
                .any(|line| line.at > after && line.message.contains("worker worker.1 working"))
            {
                return;
            }
            if Instant::now() > deadline {
                self.print_berthd_log();
                panic!("no output of worker.1 reached the log after {after}: {lines:?}");
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    /// Berth's own lines in the app's log written after `after`.
    async fn berth_lines_since(&self, after: DateTime<Utc>) -> Vec<LogEntry> {
        let path = format!("/apps/{}/logs?source=berth&lines=500", self.name);
        let lines: Vec<LogEntry> = self.get_json(&path, &self.token).await;
        lines.into_iter().filter(|line| line.at > after).collect()
    }

    fn print_berthd_log(&self) {
        let log = std::fs::read_to_string(&self.berthd_log).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        eprintln!(
            "--- the end of berthd's log ({}):\n{}",
            self.data_dir.path().display(),
            lines[lines.len().saturating_sub(40)..].join("\n")
        );
    }
}

impl Drop for Deployed {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.print_berthd_log();
        }
        let _ = std::fs::remove_file(&self.berthd_log);
    }
}

/// How the engine goes away.
#[derive(Debug, Clone, Copy)]
enum Fault {
    /// SIGTERM: the engine stops its containers, then exits.
    GracefulRestart,
    /// SIGKILL: the containers live on under their shims; the engine
    /// started again stops them.
    Killed,
}

async fn the_formation_runs_again_after(fault: Fault) {
    let mut deployed = Deployed::start("engine-restart").await;
    let fault_at = Utc::now();
    match fault {
        Fault::GracefulRestart => deployed.engine.stop(),
        Fault::Killed => deployed.engine.kill(),
    }
    assert!(!deployed.engine.answers());
    deployed
        .answers_without_the_engine(Duration::from_secs(6))
        .await;
    let host = deployed.host().await;
    assert_eq!((host.state.as_str(), host.dynos), ("down", 0), "{host:?}");
    let back_at = Utc::now();
    deployed.engine.start_again();
    let took = deployed.formation_runs(&format!("{fault:?}")).await;
    eprintln!("{fault:?}: the formation ran and served again {took:?} after the engine was back");
    deployed.worker_output_followed_since(back_at).await;
    // berthd noticed the engine restart: each process was started again
    // as stopped by the engine, none was reported (and backed off) as crashed.
    let lines = deployed.berth_lines_since(fault_at).await;
    for dyno in ["web.1", "web.2", "worker.1"] {
        assert!(
            lines
                .iter()
                .any(|line| line.dyno == dyno
                    && line.message.contains("the container engine restarted")),
            "{fault:?}: no line says {dyno} was started again after the engine restart: {lines:?}"
        );
    }
    assert!(
        !lines.iter().any(|line| line.message.contains("crashed")),
        "{fault:?}: an engine restart is no crash: {lines:?}"
    );
    // And stays so: nothing is started twice once it has converged.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let containers = deployed.containers().unwrap();
    assert_eq!(deployed.formation_mismatch(&containers), None);
    let host = deployed.host().await;
    assert_eq!((host.state.as_str(), host.dynos), ("ready", 3), "{host:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_graceful_docker_engine_restart_leaves_berthd_answering_and_runs_the_formation_again() {
    the_formation_runs_again_after(Fault::GracefulRestart).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_docker_engine_started_again_leaves_berthd_answering_and_runs_the_formation_again()
{
    the_formation_runs_again_after(Fault::Killed).await;
}
