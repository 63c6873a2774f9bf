//! Faults from outside Berth's code: berthd killed at any moment of a push
//! or of a config change.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use berth_api_types::{App, Release};
use berth_testkit::{unique_app_name, AppRepo, BerthdProcess, EngineCleanup};
use rand::{rngs::StdRng, Rng, SeedableRng};

const BERTHD: &str = env!("CARGO_BIN_EXE_berthd");

/// How many pushes are interrupted in a row.
const KILLS: usize = 10;

/// A deploy with a release phase, so that a kill can land in every phase.
const MANIFEST: &str = "build:\n  docker:\n    web: Dockerfile\nrelease:\n  command: sleep 1\n";

/// The seed of this run's kill moments: `BERTH_FAULT_SEED` repeats a run.
fn fault_seed() -> u64 {
    std::env::var("BERTH_FAULT_SEED")
        .ok()
        .and_then(|seed| seed.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        })
}

struct Deployed {
    berthd: BerthdProcess,
    token: String,
    name: String,
    client: reqwest::Client,
    _data_dir: tempfile::TempDir,
}

impl Deployed {
    /// A real berthd with a user and one app named after `prefix`.
    async fn start(prefix: &str) -> (Self, App, EngineCleanup) {
        let data_dir = tempfile::tempdir().unwrap();
        let berthd = BerthdProcess::start(Path::new(BERTHD), data_dir.path(), &[]);
        let token = berthd.create_user("ops@example.com");
        let name = unique_app_name(prefix);
        let cleanup = EngineCleanup::new(&name);
        let deployed = Deployed {
            berthd,
            token,
            name,
            client: reqwest::Client::new(),
            _data_dir: data_dir,
        };
        let app: App = deployed
            .client
            .post(format!("http://{}/api/v1/apps", deployed.berthd.api))
            .bearer_auth(&deployed.token)
            .json(&serde_json::json!({ "name": deployed.name }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        (deployed, app, cleanup)
    }

    async fn releases(&self) -> Vec<Release> {
        self.client
            .get(format!(
                "http://{}/api/v1/apps/{}/releases",
                self.berthd.api, self.name
            ))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// The releases once recovery has finished every interrupted deploy.
    async fn settled_releases(&self) -> Vec<Release> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let releases = self.releases().await;
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

    /// Names of every container (running or not) labelled with the app.
    fn containers(&self) -> Vec<String> {
        let output = Command::new("docker")
            .args([
                "ps",
                "-a",
                "--format",
                "{{.Names}}",
                "--filter",
                &format!("label=berth.app={}", self.name),
            ])
            .output()
            .unwrap();
        let mut names: Vec<String> = String::from_utf8(output.stdout)
            .unwrap()
            .lines()
            .map(str::to_string)
            .collect();
        names.sort();
        names
    }

    /// Waits (bounded) until the router serves `body` and the app's
    /// containers are exactly `web.1` of release `version`.
    async fn serving(&self, version: i64, body: &str) {
        let expected = vec![format!("berth-{}.v{version}.web.1", self.name)];
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let served = match self
                .client
                .get(format!("http://{}/", self.berthd.http))
                .header("host", format!("{}.localhost", self.name))
                .timeout(Duration::from_secs(5))
                .send()
                .await
            {
                Ok(response) => response.text().await.unwrap_or_default(),
                Err(error) => error.to_string(),
            };
            let containers = self.containers();
            if served == body && containers == expected {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "v{version} is not what runs: the router served {served:?}, \
                 the engine holds {containers:?}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// How many config changes are interrupted in a row.
const CONFIG_KILLS: usize = 5;

/// A web process that serves its `GREETING` config var.
const GREETER: &str = "FROM scratch\n\
COPY busybox /bin/busybox\n\
RUN [\"/bin/busybox\", \"--install\", \"-s\", \"/bin\"]\n\
CMD [\"/bin/sh\", \"-c\", \"mkdir -p /srv && echo \\\"$GREETING\\\" > /srv/index.html && exec httpd -f -p $PORT -h /srv\"]\n";

impl Deployed {
    fn config_url(&self) -> String {
        format!(
            "http://{}/api/v1/apps/{}/config",
            self.berthd.api, self.name
        )
    }

    /// The config vars berthd has stored for the app.
    async fn config(&self) -> std::collections::BTreeMap<String, String> {
        self.client
            .get(self.config_url())
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// Sets `GREETING` in the background; whether berthd said it was done.
    fn set_greeting(&self, greeting: &str) -> tokio::task::JoinHandle<bool> {
        let request = self
            .client
            .patch(self.config_url())
            .bearer_auth(&self.token)
            .json(&serde_json::json!({ "GREETING": greeting }));
        tokio::spawn(async move {
            matches!(request.send().await, Ok(response) if response.status().is_success())
        })
    }
}

/// Pushes `repo`'s main in a thread, so that berthd can be killed meanwhile.
fn push_in_background(
    repo: &Arc<AppRepo>,
    app: &App,
    token: &str,
) -> std::thread::JoinHandle<bool> {
    let (repo, url, token) = (repo.clone(), app.git_url.clone(), token.to_string());
    std::thread::spawn(move || repo.push(&url, &token, "main", &[]).status.success())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn berthd_killed_at_random_moments_of_pushes_keeps_the_old_release_and_fails_the_new() {
    let seed = fault_seed();
    eprintln!("kill moments from seed {seed} (BERTH_FAULT_SEED={seed} repeats them)");
    let mut rng = StdRng::seed_from_u64(seed);
    let (mut deployed, app, _cleanup) = Deployed::start("sigkill").await;
    let repo = Arc::new(AppRepo::from_fixture("cmd-only"));
    // Commit → what its release serves.
    let mut bodies = std::collections::BTreeMap::new();
    let commit = |bodies: &mut std::collections::BTreeMap<String, String>, text: &str| {
        let body = format!("{text}\n");
        repo.write("heroku.yml", MANIFEST);
        repo.write("www/index.html", &body);
        bodies.insert(repo.commit(text), body);
    };
    commit(&mut bodies, "v1");
    let started = Instant::now();
    assert!(push_in_background(&repo, &app, &deployed.token)
        .join()
        .unwrap());
    let push_time = started.elapsed();
    deployed.serving(1, "v1\n").await;

    for round in 1..=KILLS {
        commit(&mut bodies, &format!("round {round}"));
        // Anywhere from before the push reaches berthd to just after it finished.
        let delay = Duration::from_millis(rng.gen_range(0..=push_time.as_millis() as u64 * 5 / 4));
        let pusher = push_in_background(&repo, &app, &deployed.token);
        tokio::time::sleep(delay).await;
        deployed.berthd.kill();
        let pushed = pusher.join().unwrap();
        deployed.berthd.restart();

        let releases = deployed.settled_releases().await;
        let context = format!("round {round}, killed after {delay:?}: {releases:?}");
        let current: Vec<&Release> = releases.iter().filter(|release| release.current).collect();
        assert_eq!(current.len(), 1, "{context}");
        let current = current[0];
        assert_eq!(current.status, "succeeded", "{context}");
        for release in &releases {
            if release.status == "failed" {
                assert!(
                    release
                        .failure
                        .as_deref()
                        .unwrap_or_default()
                        .contains("interrupted"),
                    "{context}"
                );
            }
        }
        let latest = releases
            .iter()
            .max_by_key(|release| release.version)
            .unwrap();
        if pushed {
            assert!(latest.current, "a push that succeeded deployed: {context}");
        } else if !latest.current {
            assert_eq!(latest.status, "failed", "{context}");
        }
        let body = bodies
            .iter()
            .find(|(sha, _)| current.commit.as_deref() == Some(sha.as_str()))
            .map(|(_, body)| body.clone())
            .unwrap_or_else(|| panic!("the current release is no pushed commit: {context}"));
        deployed.serving(current.version, &body).await;
    }

    commit(&mut bodies, "after the kills");
    assert!(
        push_in_background(&repo, &app, &deployed.token)
            .join()
            .unwrap(),
        "the push after the kills deployed"
    );
    let latest = deployed
        .releases()
        .await
        .into_iter()
        .max_by_key(|release| release.version)
        .unwrap();
    assert!(latest.current && latest.status == "succeeded", "{latest:?}");
    deployed.serving(latest.version, "after the kills\n").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn berthd_killed_during_config_changes_keeps_the_stored_config_that_of_the_current_release() {
    let seed = fault_seed();
    eprintln!("kill moments from seed {seed} (BERTH_FAULT_SEED={seed} repeats them)");
    let mut rng = StdRng::seed_from_u64(seed);
    let (mut deployed, app, _cleanup) = Deployed::start("cfgkill").await;
    assert!(deployed.set_greeting("hello 0").await.unwrap());
    let repo = Arc::new(AppRepo::from_fixture("cmd-only"));
    repo.write("Dockerfile", GREETER);
    repo.commit("serve the greeting");
    assert!(push_in_background(&repo, &app, &deployed.token)
        .join()
        .unwrap());
    deployed.serving(1, "hello 0\n").await;
    let started = Instant::now();
    assert!(deployed.set_greeting("hello 1").await.unwrap());
    let change_time = started.elapsed();
    deployed.serving(2, "hello 1\n").await;

    for round in 2..2 + CONFIG_KILLS {
        let delay =
            Duration::from_millis(rng.gen_range(0..=change_time.as_millis() as u64 * 5 / 4));
        let change = deployed.set_greeting(&format!("hello {round}"));
        tokio::time::sleep(delay).await;
        deployed.berthd.kill();
        let answered = change.await.unwrap();
        deployed.berthd.restart();

        let releases = deployed.settled_releases().await;
        let config = deployed.config().await;
        let context = format!("round {round}, killed after {delay:?}: {config:?} {releases:?}");
        let current = releases
            .iter()
            .find(|release| release.current)
            .unwrap_or_else(|| panic!("no current release: {context}"));
        let greeting = &config["GREETING"];
        eprintln!(
            "round {round}: killed after {delay:?}, answered {answered}, v{} serves {greeting:?}",
            current.version
        );
        if answered {
            assert_eq!(greeting, &format!("hello {round}"), "{context}");
        }
        // What runs is what is stored: the next change starts from it.
        deployed
            .serving(current.version, &format!("{greeting}\n"))
            .await;
    }

    assert!(deployed.set_greeting("after the kills").await.unwrap());
    let latest = deployed
        .releases()
        .await
        .into_iter()
        .max_by_key(|release| release.version)
        .unwrap();
    assert!(latest.current && latest.status == "succeeded", "{latest:?}");
    deployed.serving(latest.version, "after the kills\n").await;
}

/// The push that once kept a killed berthd from coming back for up to a
/// minute: 700 MiB of zeros, a few MB once packed. berthd wrote its build
/// context to a temporary file, and on SIGKILL the kernel had to drop the
/// file's pages (waiting for those under writeback) before the process's
/// listening sockets were closed.
const BIG_PUSH_BYTES: u64 = 700 << 20;

/// How soon a killed berthd must answer again.
const BACK_WITHIN: Duration = Duration::from_secs(20);

/// Bytes a process (and its reaped children) has had written to storage,
/// counted when it dirties pages: `write_bytes` of `/proc/PID/io`.
fn bytes_written(pid: u32) -> u64 {
    let io = std::fs::read_to_string(format!("/proc/{pid}/io")).unwrap();
    io.lines()
        .find_map(|line| line.strip_prefix("write_bytes: "))
        .and_then(|bytes| bytes.trim().parse().ok())
        .expect("write_bytes in /proc/PID/io")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn berthd_building_a_700_mib_push_writes_no_copy_of_it_and_answers_at_once_after_sigkill() {
    let (mut deployed, app, _cleanup) = Deployed::start("bigkill").await;
    let repo = Arc::new(AppRepo::from_fixture("cmd-only"));
    crate::push_limits::write_zeros(&repo, "www/zeros.bin", BIG_PUSH_BYTES);
    repo.commit("700 MiB of zeros");

    let pid = deployed.berthd.pid().unwrap();
    let written_before = bytes_written(pid);
    let pusher = push_in_background(&repo, &app, &deployed.token);
    // The release exists from the moment its build starts.
    let deadline = Instant::now() + Duration::from_secs(120);
    while deployed.releases().await.is_empty() {
        assert!(
            Instant::now() < deadline && !pusher.is_finished(),
            "the push never started building"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Well into sending the context to the engine.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let written = bytes_written(pid) - written_before;
    eprintln!(
        "berthd wrote {} KiB while receiving and building the push",
        written >> 10
    );
    assert!(
        written < BIG_PUSH_BYTES / 8,
        "berthd wrote {written} bytes for a push of {BIG_PUSH_BYTES}: \
         the build context must go to the engine without a copy on disk"
    );
    let killed = Instant::now();
    deployed.berthd.kill();
    deployed.berthd.restart();
    let apps = deployed
        .client
        .get(format!("http://{}/api/v1/apps", deployed.berthd.api))
        .bearer_auth(&deployed.token)
        .timeout(BACK_WITHIN)
        .send()
        .await
        .expect("the restarted berthd answers");
    let back_after = killed.elapsed();
    assert!(apps.status().is_success(), "{}", apps.status());
    eprintln!("berthd answered {back_after:?} after SIGKILL");
    assert!(
        back_after < BACK_WITHIN,
        "berthd took {back_after:?} to come back after SIGKILL during the build"
    );
    assert!(
        !pusher.join().unwrap(),
        "the interrupted push did not deploy"
    );

    let releases = deployed.settled_releases().await;
    assert_eq!(releases.len(), 1, "{releases:?}");
    assert_eq!(releases[0].status, "failed", "{releases:?}");
    assert!(
        deployed.containers().is_empty(),
        "{:?}",
        deployed.containers()
    );

    std::fs::remove_file(repo.path().join("www/zeros.bin")).unwrap();
    repo.write("www/index.html", "small again\n");
    repo.commit("small again");
    assert!(
        push_in_background(&repo, &app, &deployed.token)
            .join()
            .unwrap(),
        "the next push deploys"
    );
    deployed.serving(2, "small again\n").await;
}
