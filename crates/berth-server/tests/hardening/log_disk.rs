//! A full disk under the log directory (`BERTH_LOG_DIR` on a small tmpfs,
//! filled to the last byte): berthd goes on serving the API, the dashboard,
//! the router and pushes, live tails go on showing new lines (from memory),
//! the failure is said once in berthd's own log, lines that cannot be
//! stored are dropped and counted (no busy loop, no memory growth), and
//! once space is freed the log is written again, with the count, without a
//! restart.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use berth_api_types::{App, LogEntry};
use berth_testkit::{unique_app_name, AppRepo, BerthdProcess, EngineCleanup};
use reqwest::StatusCode;

use super::csrf::Browser;

const BERTHD: &str = env!("CARGO_BIN_EXE_berthd");

/// Requests sent through the router while the disk is full, each with a
/// path of [`BURST_PATH_BYTES`] that its `berth[router]` line carries: about
/// 35 MB of log, far more than berthd may keep in memory.
const BURST_REQUESTS: usize = 5_000;
const BURST_PATH_BYTES: usize = 7_000;
/// How much berthd's resident memory may grow while it takes that burst
/// with the disk full (and no tail open, whose backlog would hold lines).
const BURST_GROWTH_LIMIT: u64 = 20 << 20;

/// The web process: a line every 100 ms (`tick vR N` and 100 bytes of
/// padding) beside httpd.
const PROCFILE: &str = "web: p=xxxxxxxxxx; p=$p$p$p$p$p$p$p$p$p$p; \
(i=0; while true; do i=$((i+1)); echo \"tick $BERTH_RELEASE_VERSION $i $p\"; sleep 0.1; done) & \
exec httpd -f -v -p $PORT -h /www\n";

/// The padding of a tick line, as the web process makes it.
fn tick_pad() -> String {
    "x".repeat(100)
}

/// A small tmpfs mounted on a temporary directory, unmounted when dropped
/// (also when the test panics).
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    fn mount(size: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let output = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0700"),
                "tmpfs",
            ])
            .arg(dir.path())
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "mounting a tmpfs (this test runs as root): {}",
            String::from_utf8_lossy(&output.stderr)
        );
        Self { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn filler(&self) -> PathBuf {
        self.path().join("filler")
    }

    /// Writes zeros until the filesystem has no byte left.
    fn fill(&self) {
        let mut file = std::fs::File::create(self.filler()).unwrap();
        let chunk = vec![0u8; 4096];
        for _ in 0..100_000 {
            match file.write(&chunk) {
                Ok(0) => break,
                Ok(_) => {}
                Err(error) => {
                    assert_eq!(error.kind(), std::io::ErrorKind::StorageFull, "{error}");
                    return;
                }
            }
        }
        panic!("the tmpfs did not fill up");
    }

    fn free(&self) {
        std::fs::remove_file(self.filler()).unwrap();
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let unmounted = Command::new("umount")
            .arg(self.dir.path())
            .status()
            .is_ok_and(|status| status.success());
        if !unmounted {
            // Still busy (a process holds a file open): detach it now, it
            // goes when the last file closes.
            let _ = Command::new("umount")
                .arg("-l")
                .arg(self.dir.path())
                .status();
        }
    }
}

/// Reads the app's live tail (server-sent events) in the background: the
/// ticks it has shown so far, and the task reading it (abort it to close).
async fn follow_tail(
    berthd: &BerthdProcess,
    app: &str,
    token: &str,
) -> (Arc<Mutex<BTreeSet<Tick>>>, tokio::task::JoinHandle<()>) {
    let mut response = reqwest::Client::new()
        .get(format!(
            "http://{}/api/v1/apps/{app}/logs?tail=true&lines=0&source=app&dyno=web.1",
            berthd.api
        ))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let seen = Arc::new(Mutex::new(BTreeSet::new()));
    let shown = seen.clone();
    let reading = tokio::spawn(async move {
        let mut pending = Vec::new();
        while let Ok(Some(chunk)) = response.chunk().await {
            pending.extend_from_slice(&chunk);
            while let Some(end) = pending.iter().position(|byte| *byte == b'\n') {
                let line: Vec<u8> = pending.drain(..=end).collect();
                let Some(data) = line.strip_prefix(b"data: ") else {
                    continue;
                };
                let Ok(entry) = serde_json::from_slice::<LogEntry>(data) else {
                    continue;
                };
                if let Some(tick) = tick_of(&entry.message) {
                    shown.lock().unwrap().insert(tick);
                }
            }
        }
    });
    (seen, reading)
}

/// A tick line's release and number: in the order they were printed.
type Tick = (u64, u64);

fn tick_of(message: &str) -> Option<Tick> {
    let mut words = message.strip_prefix("tick v")?.split(' ');
    Some((words.next()?.parse().ok()?, words.next()?.parse().ok()?))
}

struct Platform {
    berthd: BerthdProcess,
    log: PathBuf,
    token: String,
    name: String,
    client: reqwest::Client,
}

impl Platform {
    fn api(&self, path: &str) -> String {
        format!("http://{}/api/v1{path}", self.berthd.api)
    }

    /// The app's stored log: its newest lines, as `berth logs -n` reads them.
    async fn history(&self) -> Vec<LogEntry> {
        let response = self
            .client
            .get(self.api(&format!("/apps/{}/logs?lines=10000", self.name)))
            .bearer_auth(&self.token)
            .timeout(Duration::from_secs(10))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        response.json().await.unwrap()
    }

    async fn stored_ticks(&self) -> BTreeSet<Tick> {
        self.history()
            .await
            .iter()
            .filter(|entry| entry.dyno == "web.1")
            .filter_map(|entry| tick_of(&entry.message))
            .collect()
    }

    /// What the router answers for the app.
    async fn served(&self) -> String {
        match self
            .client
            .get(format!("http://{}/", self.berthd.http))
            .header("host", format!("{}.localhost", self.name))
            .timeout(Duration::from_secs(5))
            .send()
            .await
        {
            Ok(response) => response.text().await.unwrap_or_default(),
            Err(error) => error.to_string(),
        }
    }

    /// Waits (bounded) until the router serves `body`.
    async fn serving(&self, body: &str) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let served = self.served().await;
            if served == body {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the router serves {served:?}, not {body:?}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Lines of berthd's own log that contain `text`.
    fn logged(&self, text: &str) -> Vec<String> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .filter(|line| line.contains(text))
            .map(str::to_string)
            .collect()
    }

    /// Waits (bounded) until berthd's own log has a line containing `text`.
    async fn wait_logged(&self, text: &str, within: Duration) {
        let deadline = Instant::now() + within;
        while self.logged(text).is_empty() {
            assert!(
                Instant::now() < deadline,
                "berthd's log never said {text:?}:\n{}",
                std::fs::read_to_string(&self.log).unwrap_or_default()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The app's containers and their last output, and berthd's own log:
    /// what a failure message needs.
    fn diagnosis(&self) -> String {
        let docker = |args: &[&str]| {
            let output = Command::new("docker").args(args).output().unwrap();
            format!(
                "{}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            )
        };
        let label = format!("label=berth.app={}", self.name);
        let containers = docker(&[
            "ps",
            "-a",
            "--filter",
            &label,
            "--format",
            "{{.Names}} {{.Status}}",
        ]);
        let mut text = format!("containers:\n{containers}");
        for line in containers.lines() {
            let container = line.split(' ').next().unwrap_or_default();
            text += &format!(
                "last output of {container}:\n{}",
                docker(&["logs", "--tail", "3", container])
            );
        }
        text + &format!(
            "berthd's log:\n{}",
            std::fs::read_to_string(&self.log).unwrap_or_default()
        )
    }

    fn pid(&self) -> u32 {
        self.berthd.pid().expect("berthd runs")
    }
}

/// `git push` of the repository's main, off the async threads.
async fn push(repo: &Arc<AppRepo>, app: &App, token: &str) -> std::process::Output {
    let (repo, url, token) = (repo.clone(), app.git_url.clone(), token.to_string());
    tokio::task::spawn_blocking(move || repo.push(&url, &token, "main", &[]))
        .await
        .unwrap()
}

/// User plus system CPU time the process has used so far.
fn cpu_time(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // The fields after the command name (which may hold spaces) in parentheses.
    let fields: Vec<&str> = stat.rsplit_once(") ").unwrap().1.split(' ').collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    // USER_HZ is 100 on Linux.
    Duration::from_millis(ticks * 10)
}

/// The process's resident memory in bytes.
fn resident_bytes(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kib: u64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    kib * 1024
}

/// `berthd admin create-user EMAIL --password-stdin` (the dashboard needs a
/// password; setting one later would revoke the token): the user's API token.
fn create_user(data_dir: &Path, log_dir: &Path, email: &str, password: &str) -> String {
    let mut child = Command::new(BERTHD)
        .args(["admin", "create-user", email, "--password-stdin"])
        .env("BERTH_DATA_DIR", data_dir)
        .env("BERTH_LOG_DIR", log_dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(child.stdin.take().unwrap(), "{password}").unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let token = String::from_utf8(output.stdout).unwrap();
    token.lines().last().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_log_disk_keeps_berthd_serving_and_tails_live_says_so_once_and_heals_without_restart(
) {
    let name = unique_app_name("logdisk");
    // Dropped last: berthd (which holds the log files open) is gone first.
    let log_disk = Tmpfs::mount("2m");
    let _cleanup = EngineCleanup::new(&name);
    let data_dir = tempfile::tempdir().unwrap();
    let own_log = data_dir.path().join("berthd.log");
    let log_dir = log_disk.path().to_str().unwrap().to_string();
    let berthd = BerthdProcess::start_logging_to(
        Path::new(BERTHD),
        data_dir.path(),
        &[("BERTH_LOG_DIR", &log_dir)],
        &own_log,
    );
    let token = create_user(
        data_dir.path(),
        log_disk.path(),
        "ops@example.com",
        "correct horse",
    );
    let mut platform = Platform {
        berthd,
        log: own_log,
        token,
        name,
        client: reqwest::Client::new(),
    };
    let created = platform
        .client
        .post(platform.api("/apps"))
        .bearer_auth(&platform.token)
        .json(&serde_json::json!({ "name": platform.name }))
        .send()
        .await
        .unwrap();
    let status = created.status();
    let body = created.text().await.unwrap();
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let app: App = serde_json::from_str(&body).unwrap();
    let repo = Arc::new(AppRepo::from_fixture("procfile"));
    repo.write("Procfile", PROCFILE);
    repo.write("www/index.html", "v1\n");
    repo.commit("v1");
    let pushed = push(&repo, &app, &platform.token).await;
    assert!(
        pushed.status.success(),
        "{}",
        String::from_utf8_lossy(&pushed.stderr)
    );
    platform.serving("v1\n").await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while platform.stored_ticks().await.is_empty() {
        assert!(Instant::now() < deadline, "no tick reached the log");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (tail, reading) = follow_tail(&platform.berthd, &platform.name, &platform.token).await;

    // The disk fills up; within a page's worth of lines berthd cannot write.
    log_disk.fill();
    let full_since = Instant::now();
    platform
        .wait_logged("No space left on device", Duration::from_secs(30))
        .await;

    // Everything that does not need the log disk goes on.
    assert_eq!(platform.served().await, "v1\n");
    let shown = platform
        .client
        .get(platform.api(&format!("/apps/{}", platform.name)))
        .bearer_auth(&platform.token)
        .send()
        .await
        .unwrap();
    assert_eq!(shown.status(), StatusCode::OK);
    let mut browser = Browser::at(&format!("http://{}", platform.berthd.api));
    let (status, _) = browser.sign_in("ops@example.com", "correct horse").await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (status, _, page) = browser.get(&format!("/apps/{}/logs", platform.name)).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    repo.write("www/index.html", "v2\n");
    repo.commit("v2");
    let pushed = push(&repo, &app, &platform.token).await;
    assert!(
        pushed.status.success(),
        "a push with the log disk full: {}",
        String::from_utf8_lossy(&pushed.stderr)
    );
    platform.serving("v2\n").await;

    // The live tail goes on showing the app's new lines, from memory.
    let stored = platform.stored_ticks().await;
    let newest_stored = stored.last().copied().unwrap_or_default();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let shown = tail.lock().unwrap().range(newest_stored..).count();
        if shown > 10 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the live tail shows no new lines: the newest stored tick is \
             {newest_stored:?}, the tail is at {:?}",
            tail.lock().unwrap().last()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    reading.abort();
    let _ = reading.await;
    let live: BTreeSet<Tick> = tail.lock().unwrap().clone();

    // A burst of log far larger than the memory berthd may grow by: it is
    // dropped, not kept.
    let before_burst = resident_bytes(platform.pid());
    let path = format!("/{}", "p".repeat(BURST_PATH_BYTES - 1));
    let senders: Vec<_> = (0..4)
        .map(|_| {
            let (client, url, host, path) = (
                platform.client.clone(),
                format!("http://{}", platform.berthd.http),
                format!("{}.localhost", platform.name),
                path.clone(),
            );
            tokio::spawn(async move {
                for _ in 0..BURST_REQUESTS / 4 {
                    let sent = client
                        .get(format!("{url}{path}"))
                        .header("host", &host)
                        .timeout(Duration::from_secs(10))
                        .send()
                        .await;
                    if let Ok(response) = sent {
                        let _ = response.bytes().await;
                    }
                }
            })
        })
        .collect();
    let started = Instant::now();
    for sender in senders {
        sender.await.unwrap();
    }
    eprintln!("{BURST_REQUESTS} requests in {:?}", started.elapsed());
    let after_burst = resident_bytes(platform.pid());
    eprintln!(
        "berthd's resident memory: {before_burst} bytes before the burst, {after_burst} after"
    );
    assert!(
        after_burst.saturating_sub(before_burst) < BURST_GROWTH_LIMIT,
        "berthd grew from {before_burst} to {after_burst} bytes taking a burst it cannot store"
    );

    // No busy loop while nothing can be written: a quiet spell costs
    // berthd little CPU.
    let (cpu_before, quiet) = (cpu_time(platform.pid()), Instant::now());
    tokio::time::sleep(Duration::from_secs(3)).await;
    let cpu = cpu_time(platform.pid()) - cpu_before;
    eprintln!(
        "berthd's CPU time in a quiet {:?}: {cpu:?}",
        quiet.elapsed()
    );
    assert!(
        cpu < quiet.elapsed() / 2,
        "berthd used {cpu:?} of CPU in {:?} with the log disk full",
        quiet.elapsed()
    );

    // Said once, not once per line or per try.
    let reports = platform.logged("No space left on device");
    assert_eq!(
        reports.len(),
        1,
        "the full disk was reported {} times in {:?}:\n{}",
        reports.len(),
        full_since.elapsed(),
        reports.join("\n")
    );

    // Space comes back: the log is written again, without a restart, and
    // says how many lines it lacks.
    log_disk.free();
    let freed_at_tick = live.last().copied().unwrap_or_default();
    let deadline = Instant::now() + Duration::from_secs(30);
    let history = loop {
        let history = platform.history().await;
        let resumed = history
            .iter()
            .filter_map(|entry| tick_of(&entry.message))
            .any(|tick| tick > freed_at_tick);
        if resumed {
            break history;
        }
        assert!(
            Instant::now() < deadline,
            "no line reached the log after space was freed (after {freed_at_tick:?}): {}",
            platform.diagnosis()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(platform.berthd.is_running(), "berthd exited");
    let stored: BTreeSet<Tick> = history
        .iter()
        .filter(|entry| entry.dyno == "web.1")
        .filter_map(|entry| tick_of(&entry.message))
        .collect();
    let missing = live.difference(&stored).count() as u64;
    assert!(missing > 0, "no tick went missing: was the disk full?");
    let counted: u64 = history
        .iter()
        .filter(|entry| entry.source == "berth" && entry.dyno == "logs")
        .filter_map(|entry| {
            let (count, rest) = entry.message.split_once(' ')?;
            rest.starts_with("lines were not stored")
                .then(|| count.parse::<u64>().ok())
                .flatten()
        })
        .sum();
    assert!(
        counted >= missing,
        "the log says {counted} lines were not stored, but {missing} ticks are missing"
    );
    // What was stored is whole lines: no half-written line runs into the next.
    let tick_pad = tick_pad();
    for entry in history.iter().filter(|entry| entry.dyno == "web.1") {
        assert!(!entry.message.contains("+00:00 "), "{entry:?}");
        if let Some((release, tick)) = tick_of(&entry.message) {
            assert_eq!(entry.message, format!("tick v{release} {tick} {tick_pad}"));
        }
    }
    let recoveries = platform.logged("app logs are stored again");
    assert_eq!(recoveries.len(), 1, "{recoveries:?}");
    eprintln!("berthd said:\n{}\n{}", reports[0], recoveries[0]);
    assert_eq!(platform.logged("No space left on device").len(), 1);
}
