//! berthd restarted (gracefully, or SIGKILLed) while it drives a swarm of
//! two hosts (issue 16): the real berthd on the first engine of a cluster
//! (engines in network namespaces of their own, mutual TLS, a registry),
//! a second engine added as host h2, the real git client. A deploy cut
//! short leaves nothing of itself on either host and the old release
//! serving with the very tasks it had; the output of dynos on both hosts
//! stays in the app's one log, each line once, across restarts.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use berth_api_types::{App, Dyno, LogEntry, Release};
use berth_testkit::{unique_app_name, AppRepo, BerthdProcess, Cluster};
use reqwest::StatusCode;

const BERTHD: &str = env!("CARGO_BIN_EXE_berthd");

/// A platform of two hosts: the default one (the cluster's first engine,
/// the swarm's manager) and h2.
struct TwoHosts {
    // Fields drop in order: berthd is gone before the engines it drives.
    berthd: BerthdProcess,
    cluster: Cluster,
    admin: String,
    client: reqwest::Client,
    /// berthd's own output, shown when a test fails.
    own_log: PathBuf,
    _data_dir: tempfile::TempDir,
}

/// A container of the app on one engine: (name, `berth.release`, state).
type Placed = (String, String, String);

impl TwoHosts {
    /// Starts the cluster and berthd on its first engine, and adds the
    /// second engine as host h2 (as a platform admin, through the API).
    async fn start(prefix: &str) -> Self {
        let cluster = Cluster::start(prefix, 2);
        let data_dir = tempfile::tempdir().unwrap();
        let own_log = data_dir.path().join("berthd.log");
        let docker_host = cluster.docker_host(0);
        let cert_dir = cluster.cert_dir().to_str().unwrap().to_string();
        let registry = cluster.registry().to_string();
        let berthd = BerthdProcess::start_logging_to(
            Path::new(BERTHD),
            data_dir.path(),
            &[
                ("BERTH_DOCKER_HOST", &docker_host),
                ("BERTH_DOCKER_CERT_PATH", &cert_dir),
                ("BERTH_REGISTRY", &registry),
                ("RUST_LOG", "warn,berth_platform=info"),
            ],
            &own_log,
        );
        let admin = berthd.create_admin("root@example.com");
        let platform = Self {
            berthd,
            cluster,
            admin,
            client: reqwest::Client::new(),
            own_log,
            _data_dir: data_dir,
        };
        platform.cluster.check_route(platform.cluster.address(1));
        let added = platform
            .client
            .post(platform.api("/hosts"))
            .bearer_auth(&platform.admin)
            .json(&serde_json::json!({
                "name": "h2",
                "docker_host": platform.cluster.docker_host(1),
            }))
            .send()
            .await
            .unwrap();
        let status = added.status();
        assert_eq!(
            status,
            StatusCode::CREATED,
            "hosts:add h2: {}",
            added.text().await.unwrap_or_default()
        );
        platform
    }

    fn api(&self, path: &str) -> String {
        format!("http://{}/api/v1{path}", self.berthd.api)
    }

    async fn create_app(&self, prefix: &str) -> App {
        let created = self
            .client
            .post(self.api("/apps"))
            .bearer_auth(&self.admin)
            .json(&serde_json::json!({ "name": unique_app_name(prefix) }))
            .send()
            .await
            .unwrap();
        assert_eq!(created.status(), StatusCode::CREATED);
        created.json().await.unwrap()
    }

    async fn get<T: serde::de::DeserializeOwned>(&self, path: &str) -> T {
        let response = self
            .client
            .get(self.api(path))
            .bearer_auth(&self.admin)
            .timeout(Duration::from_secs(30))
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success(), "GET {path}: {response:?}");
        response.json().await.unwrap()
    }

    async fn scale(&self, app: &str, change: &str) {
        let scaled = self
            .client
            .patch(self.api(&format!("/apps/{app}/formation")))
            .bearer_auth(&self.admin)
            .json(&serde_json::json!({ "changes": [change] }))
            .send()
            .await
            .unwrap();
        assert_eq!(scaled.status(), StatusCode::OK);
    }

    /// Polls (bounded) until `done` holds of the app's dynos.
    async fn wait_for_dynos(&self, app: &str, what: &str, done: impl Fn(&[Dyno]) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let dynos: Vec<Dyno> = self.get(&format!("/apps/{app}/dynos")).await;
            if done(&dynos) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{what}: still {dynos:?}\n{}",
                self.diagnosis(app).await
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    /// Scales web to two dynos and waits until each runs on a host of its own.
    async fn two_web_dynos_one_per_host(&self, app: &str) {
        self.scale(app, "web=2").await;
        self.wait_for_dynos(app, "web.1 and web.2 up, one on each host", |dynos| {
            let names: BTreeSet<&str> = dynos.iter().map(|d| d.name.as_str()).collect();
            let hosts: BTreeSet<&str> = dynos.iter().map(|d| d.host.as_str()).collect();
            dynos.len() == 2
                && dynos.iter().all(|d| d.state == "up")
                && names == BTreeSet::from(["web.1", "web.2"])
                && hosts == BTreeSet::from(["default", "h2"])
        })
        .await;
    }

    async fn releases(&self, app: &str) -> Vec<Release> {
        self.get(&format!("/apps/{app}/releases")).await
    }

    /// The releases once recovery has finished every interrupted deploy.
    async fn settled_releases(&self, app: &str) -> Vec<Release> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let releases = self.releases(app).await;
            if releases.iter().all(|release| release.status != "pending") {
                return releases;
            }
            assert!(
                Instant::now() < deadline,
                "a release stayed pending after the restart: {releases:?}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// SIGKILLs berthd while `pusher`'s push is under way, starts it again,
    /// and checks that v1 stays current and every later release (the
    /// interrupted one last) failed.
    async fn kill_mid_deploy(
        &mut self,
        app: &str,
        pusher: std::thread::JoinHandle<std::process::Output>,
    ) {
        self.berthd.kill();
        assert!(
            !pusher.join().unwrap().status.success(),
            "the push cannot succeed without berthd"
        );
        self.berthd.restart();
        let releases = self.settled_releases(app).await;
        let summary: Vec<_> = releases
            .iter()
            .map(|r| (r.version, r.status.as_str(), r.current))
            .collect();
        let expected: Vec<_> = (1..=releases.len() as i64)
            .map(|version| match version {
                1 => (1, "succeeded", true),
                version => (version, "failed", false),
            })
            .collect();
        assert_eq!(summary, expected);
        assert!(
            releases
                .last()
                .and_then(|release| release.failure.as_deref())
                .unwrap_or_default()
                .contains("interrupted"),
            "{releases:?}"
        );
    }

    /// `GET /` of the app through berthd's router.
    async fn visit(&self, app: &str) -> Result<String, String> {
        let response = self
            .client
            .get(format!("http://{}/", self.berthd.http))
            .header("host", format!("{app}.localhost"))
            .timeout(Duration::from_secs(5))
            .send()
            .await
            .map_err(|error| error.to_string())?;
        if !response.status().is_success() {
            return Err(response.status().to_string());
        }
        response.text().await.map_err(|error| error.to_string())
    }

    /// The app's stored log, oldest line first.
    async fn log(&self, app: &str) -> Vec<LogEntry> {
        self.get(&format!("/apps/{app}/logs?lines=10000&source=app"))
            .await
    }

    /// The docker CLI against engine `index` (mutual TLS).
    fn docker(&self, index: usize, args: &[&str]) -> String {
        self.cluster.check_route(self.cluster.address(index));
        let output = Command::new("docker")
            .env("DOCKER_HOST", self.cluster.docker_host(index))
            .env("DOCKER_TLS_VERIFY", "1")
            .env("DOCKER_CERT_PATH", self.cluster.cert_dir())
            .env_remove("DOCKER_CONTEXT")
            .args(args)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "docker {args:?} on host {index}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    }

    /// The swarm's services of the app as (name, `berth.release`), asked of
    /// the manager.
    fn services(&self, app: &str) -> Vec<(String, String)> {
        let app_label = format!("label=berth.app={app}");
        let ids = self.docker(0, &["service", "ls", "-q", "--filter", &app_label]);
        let ids: Vec<&str> = ids.split_whitespace().collect();
        if ids.is_empty() {
            return Vec::new();
        }
        let mut args = vec![
            "service",
            "inspect",
            "--format",
            "{{.Spec.Name}} {{index .Spec.Labels \"berth.release\"}}",
        ];
        args.extend(ids);
        let mut services: Vec<(String, String)> = self
            .docker(0, &args)
            .lines()
            .filter_map(|line| {
                let (name, release) = line.split_once(' ')?;
                Some((name.to_string(), release.to_string()))
            })
            .collect();
        services.sort();
        services
    }

    /// Every container (running or not) of the app on engine `index`.
    async fn containers(&self, index: usize, app: &str) -> Vec<Placed> {
        let engine = self.cluster.engine(index).await;
        let mut containers: Vec<Placed> = engine
            .containers(&[("berth.app", app)])
            .await
            .unwrap()
            .into_iter()
            .map(|c| {
                let release = c.labels.get("berth.release").cloned().unwrap_or_default();
                (c.name, release, c.state)
            })
            .collect();
        containers.sort();
        containers
    }

    /// What runs where, and the end of berthd's own log.
    async fn diagnosis(&self, app: &str) -> String {
        let own_log = std::fs::read_to_string(&self.own_log).unwrap_or_default();
        let tail: Vec<&str> = own_log.lines().rev().take(40).collect();
        format!(
            "services: {:?}\ndefault host: {:?}\nh2: {:?}\nberthd's log (end):\n{}",
            self.services(app),
            self.containers(0, app).await,
            self.containers(1, app).await,
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        )
    }

    /// Waits (bounded) until the router serves `body` and, on both hosts,
    /// the app has exactly `running` (its running containers, one per
    /// host), all of the current release, and nothing else: no service,
    /// task or container of another release, running or not.
    async fn only_these_run(&self, app: &str, release: &str, body: &str, running: &[Placed]) {
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            let served = self.visit(app).await;
            let services = self.services(app);
            let on_default = self.containers(0, app).await;
            let on_h2 = self.containers(1, app).await;
            let mut all: Vec<Placed> = on_default.iter().chain(&on_h2).cloned().collect();
            all.sort();
            let services_ok = services.len() == running.len()
                && services.iter().all(|(_, version)| version == release);
            let one_per_host = on_default.len() == 1 && on_h2.len() == 1;
            if served.as_deref() == Ok(body) && services_ok && one_per_host && all == running {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "expected only {running:?} of {release} serving {body:?}; the router served \
                 {served:?}\n{}",
                self.diagnosis(app).await
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    /// The running containers of the app on both hosts.
    async fn running(&self, app: &str) -> Vec<Placed> {
        let mut running: Vec<Placed> = self
            .containers(0, app)
            .await
            .into_iter()
            .chain(self.containers(1, app).await)
            .filter(|(_, _, state)| state == "running")
            .collect();
        running.sort();
        running
    }

    /// Waits (bounded) until a container of `release` runs on some host.
    async fn wait_running(&self, app: &str, release: &str, what: &str) {
        let deadline = Instant::now() + Duration::from_secs(180);
        loop {
            if self
                .running(app)
                .await
                .iter()
                .any(|(_, version, _)| version == release)
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{what} did not start\n{}",
                self.diagnosis(app).await
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// Pushes `repo`'s main in a thread, so that berthd can be killed meanwhile.
fn push_in_background(
    repo: &Arc<AppRepo>,
    app: &App,
    token: &str,
) -> std::thread::JoinHandle<std::process::Output> {
    let (repo, url, token) = (repo.clone(), app.git_url.clone(), token.to_string());
    std::thread::spawn(move || repo.push(&url, &token, "main", &[]))
}

const WEB_ONLY: &str = "build:\n  docker:\n    web: Dockerfile\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn berthd_killed_mid_release_or_mid_start_on_two_hosts_fails_the_deploy_and_leaves_nothing_of_it(
) {
    let started = Instant::now();
    let mut platform = TwoHosts::start("mhk").await;
    let app = platform.create_app("mhkill").await;
    let name = app.name.as_str();
    let repo = Arc::new(AppRepo::from_fixture("cmd-only"));
    repo.write("heroku.yml", WEB_ONLY);
    repo.write("www/index.html", "release one\n");
    repo.commit("v1");
    let pushed = push_in_background(&repo, &app, &platform.admin)
        .join()
        .unwrap();
    assert!(
        pushed.status.success(),
        "{}",
        String::from_utf8_lossy(&pushed.stderr)
    );
    platform.two_web_dynos_one_per_host(name).await;
    let v1 = platform.running(name).await;
    assert_eq!(v1.len(), 2, "{v1:?}");
    platform
        .only_these_run(name, "v1", "release one\n", &v1)
        .await;
    eprintln!("v1 runs on both hosts {:.1?} in", started.elapsed());

    // v2's release command runs (on the manager) when berthd is killed.
    repo.write(
        "heroku.yml",
        &format!("{WEB_ONLY}release:\n  command: sleep 60\n"),
    );
    repo.write("www/index.html", "release two\n");
    repo.commit("v2: a slow release phase");
    let pusher = push_in_background(&repo, &app, &platform.admin);
    platform
        .wait_running(name, "v2", "v2's release command")
        .await;
    platform.kill_mid_deploy(name, pusher).await;
    // The very tasks of v1 still serve: adopted, not started again.
    platform
        .only_these_run(name, "v1", "release one\n", &v1)
        .await;
    eprintln!("killed mid-release: recovered {:.1?} in", started.elapsed());

    // v3's dynos are being started (a web process that takes its time to
    // listen) when berthd is killed: their services exist on the swarm.
    repo.write(
        "heroku.yml",
        &format!("{WEB_ONLY}run:\n  web: sleep 300; exec httpd -f -p $PORT -h /www\n"),
    );
    repo.write("www/index.html", "release three\n");
    repo.commit("v3: slow to boot");
    let pusher = push_in_background(&repo, &app, &platform.admin);
    platform.wait_running(name, "v3", "a dyno of v3").await;
    assert!(
        platform.services(name).iter().any(|(_, r)| r == "v3"),
        "{}",
        platform.diagnosis(name).await
    );
    platform.kill_mid_deploy(name, pusher).await;
    platform
        .only_these_run(name, "v1", "release one\n", &v1)
        .await;
    // And it stays so over a few passes of the reconciler (every 2 s).
    tokio::time::sleep(Duration::from_secs(6)).await;
    platform
        .only_these_run(name, "v1", "release one\n", &v1)
        .await;
    eprintln!("killed mid-start: recovered {:.1?} in", started.elapsed());
}

/// One line of a ticking dyno: (the dyno it says it is, its container's
/// hostname, its count).
type Tick = (String, String, u64);

/// Each dyno prints a numbered line ten times a second, saying which dyno it is
/// and which container runs it.
const TICKING: &str = "build:\n  docker:\n    web: Dockerfile\nrun:\n  web: '(i=0; while true; do i=$((i+1)); echo \"tick $DYNO $(hostname) $i\"; sleep 0.1; done) & exec httpd -f -p $PORT -h /www'\n";

/// The ticks in the app's log, by the dyno the log files them under.
fn ticks(log: &[LogEntry]) -> BTreeMap<String, Vec<Tick>> {
    let mut ticks: BTreeMap<String, Vec<Tick>> = BTreeMap::new();
    for entry in log.iter().filter(|e| e.source == "app") {
        let mut words = entry.message.split_whitespace();
        if words.next() != Some("tick") {
            continue;
        }
        let (Some(dyno), Some(container), Some(count)) = (words.next(), words.next(), words.next())
        else {
            panic!("a mangled tick: {entry:?}");
        };
        ticks.entry(entry.dyno.clone()).or_default().push((
            dyno.to_string(),
            container.to_string(),
            count.parse().unwrap(),
        ));
    }
    ticks
}

/// Checks that the log holds, for web.1 and web.2 each, every tick of one
/// container from the first to its last exactly once, filed under the dyno
/// the process says it is; returns each dyno's last tick.
fn every_tick_once(log: &[LogEntry], context: &str) -> BTreeMap<String, u64> {
    let ticks = ticks(log);
    assert_eq!(
        ticks.keys().map(String::as_str).collect::<Vec<_>>(),
        ["web.1", "web.2"],
        "{context}"
    );
    let mut last = BTreeMap::new();
    for (dyno, seen) in &ticks {
        let containers: BTreeSet<&str> = seen.iter().map(|(_, c, _)| c.as_str()).collect();
        assert_eq!(
            containers.len(),
            1,
            "{dyno} ran in {containers:?}: {context}"
        );
        assert!(
            seen.iter().all(|(said, _, _)| said == dyno),
            "a line of another dyno filed under {dyno}: {context}"
        );
        let mut counts: Vec<u64> = seen.iter().map(|(_, _, n)| *n).collect();
        counts.sort_unstable();
        let max = *counts.last().unwrap();
        let expected: Vec<u64> = (1..=max).collect();
        if counts != expected {
            let mut tally: BTreeMap<u64, usize> = BTreeMap::new();
            for n in &counts {
                *tally.entry(*n).or_default() += 1;
            }
            let twice: Vec<u64> = tally
                .iter()
                .filter(|(_, c)| **c > 1)
                .map(|(n, _)| *n)
                .collect();
            let missing: Vec<u64> = (1..=max).filter(|n| !tally.contains_key(n)).collect();
            let lines: Vec<String> = log
                .iter()
                .filter(|e| e.dyno == *dyno && e.message.starts_with("tick "))
                .map(|e| format!("{} {}", e.at.to_rfc3339(), e.message))
                .collect();
            panic!(
                "{dyno}'s ticks up to {max}: duplicated {twice:?}, missing {missing:?}: \
                 {context}\n{}",
                lines.join("\n")
            );
        }
        last.insert(dyno.clone(), max);
    }
    last
}

impl TwoHosts {
    /// Waits (bounded) until each dyno's last tick in the log is past
    /// `beyond`'s; checks every tick once; returns the last ticks.
    async fn ticks_past(
        &self,
        app: &str,
        beyond: &BTreeMap<String, u64>,
        what: &str,
    ) -> BTreeMap<String, u64> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let log = self.log(app).await;
            let last: BTreeMap<String, u64> = ticks(&log)
                .into_iter()
                .map(|(dyno, seen)| (dyno, seen.iter().map(|t| t.2).max().unwrap_or(0)))
                .collect();
            let past = ["web.1", "web.2"].iter().all(|dyno| {
                last.get(*dyno).copied().unwrap_or(0) > beyond.get(*dyno).copied().unwrap_or(0)
            });
            if past {
                return every_tick_once(&log, what);
            }
            assert!(
                Instant::now() < deadline,
                "{what}: the log's last ticks are {last:?}, not past {beyond:?}\n{}",
                self.diagnosis(app).await
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn output_of_dynos_on_both_hosts_lands_in_the_one_log_once_across_berthd_restarts() {
    let started = Instant::now();
    let mut platform = TwoHosts::start("mhl").await;
    let app = platform.create_app("mhlogs").await;
    let name = app.name.as_str();
    let repo = Arc::new(AppRepo::from_fixture("cmd-only"));
    repo.write("heroku.yml", TICKING);
    repo.commit("ticking dynos");
    let pushed = push_in_background(&repo, &app, &platform.admin)
        .join()
        .unwrap();
    assert!(
        pushed.status.success(),
        "{}",
        String::from_utf8_lossy(&pushed.stderr)
    );
    platform.two_web_dynos_one_per_host(name).await;
    let running = platform.running(name).await;
    let last = platform
        .ticks_past(
            name,
            &BTreeMap::from([("web.1".into(), 3), ("web.2".into(), 3)]),
            "before any restart",
        )
        .await;
    eprintln!(
        "both dynos tick in the log {:.1?} in: {last:?}",
        started.elapsed()
    );

    // A graceful stop (SIGTERM), a few ticks while berthd is away, a start.
    let last = every_tick_once(&platform.log(name).await, "just before a graceful stop");
    let pid = platform.berthd.pid().unwrap();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while platform.berthd.is_running() {
        assert!(Instant::now() < deadline, "berthd did not stop on SIGTERM");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    platform.berthd.kill();
    tokio::time::sleep(Duration::from_secs(3)).await;
    platform.berthd.restart();
    let last = platform
        .ticks_past(name, &add(&last, 6), "after a graceful restart")
        .await;
    eprintln!("after a graceful restart: {last:?}");

    // SIGKILL, a few ticks while berthd is away, a start.
    let last = every_tick_once(&platform.log(name).await, "just before a SIGKILL");
    platform.berthd.kill();
    tokio::time::sleep(Duration::from_secs(3)).await;
    platform.berthd.restart();
    let last = platform
        .ticks_past(name, &add(&last, 6), "after berthd was killed")
        .await;
    eprintln!("after a SIGKILL: {last:?}");
    // The same two processes ticked throughout, one on each host.
    assert_eq!(platform.running(name).await, running);
    eprintln!("done {:.1?} in", started.elapsed());
}

/// Each dyno's count `more` ticks on.
fn add(last: &BTreeMap<String, u64>, more: u64) -> BTreeMap<String, u64> {
    last.iter()
        .map(|(dyno, count)| (dyno.clone(), count + more))
        .collect()
}

/// A deploy makes sure of the app's overlay network twice in a row (the
/// release phase, then the add-ons joining it): the manager listed the
/// network it had just made without a driver, which was taken for a
/// network of another kind, and the first push of a new app onto the swarm
/// was rejected about half the time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_overlay_network_made_sure_of_again_right_after_it_was_made_is_found() {
    let cluster = Cluster::start("mhn", 1);
    let engine = cluster.engine(0).await;
    engine
        .init_swarm(&cluster.address(0).to_string())
        .await
        .unwrap();
    let labels = std::collections::HashMap::from([("berth.test".to_string(), "yes".to_string())]);
    for round in 0..10 {
        let name = format!("berth-mhn-{round}_swarm");
        engine
            .ensure_overlay_network(&name, labels.clone())
            .await
            .unwrap();
        engine
            .ensure_overlay_network(&name, labels.clone())
            .await
            .unwrap_or_else(|error| panic!("round {round}: {error}"));
    }
}
