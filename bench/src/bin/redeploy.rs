//! What users of an app see while it is redeployed: constant load through
//! Berth's router while empty commits are pushed one after another.
//!
//! Starts a real `berthd` in-process (loopback only, temporary data
//! directory), pushes the `cmd-only` test fixture once, then runs
//! `--concurrency` tasks sending `GET /` to `<app>.localhost` through the
//! router on keep-alive connections while `--redeploys` empty commits are
//! pushed with the real `git` client. The load goes on until at least
//! `--min-requests` requests were made and every push is done, and stops
//! after `--max-secs` regardless. Prints figures; it never judges them.
//!
//! `cargo run --release -p berth-bench --bin redeploy -- [--redeploys N] [--concurrency N]
//!  [--min-requests N] [--max-secs SECS]`

use std::io::Read;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use berth_bench::{
    create_app, interrupted, kill_group, not_an_option, positive, run_main, sign_up,
    watch_interrupts, Remote,
};
use berth_testkit::{unique_app_name, AppRepo, EngineCleanup, TestServer};

const USAGE: &str =
    "usage: redeploy [--redeploys N] [--concurrency N] [--min-requests N] [--max-secs SECS]

  --redeploys N      empty commits to push one after another under load (default 5)
  --concurrency N    tasks sending requests, each one at a time (default 8)
  --min-requests N   keep the load going until this many requests were made (default 20000)
  --max-secs SECS    stop load and pushes this long after the load began (default 300)";

/// How long one push may take before git is killed.
const PUSH_TIMEOUT: Duration = Duration::from_secs(180);
/// How long one request may take before it counts as failed.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Failures listed in full; the rest are only counted.
const LISTED_FAILURES: usize = 10;

struct Options {
    redeploys: usize,
    concurrency: usize,
    min_requests: u64,
    max_duration: Duration,
}

fn parse_options() -> Result<Options, String> {
    let mut options = Options {
        redeploys: 5,
        concurrency: 8,
        min_requests: 20_000,
        max_duration: Duration::from_secs(300),
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || positive(&mut args, &arg, USAGE);
        match arg.as_str() {
            "--redeploys" => options.redeploys = value()? as usize,
            "--concurrency" => options.concurrency = value()?.min(1024) as usize,
            "--min-requests" => options.min_requests = value()?,
            "--max-secs" => options.max_duration = Duration::from_secs(value()?),
            other => return Err(not_an_option(other, USAGE)),
        }
    }
    Ok(options)
}

fn main() -> ExitCode {
    run_main("redeploy", parse_options(), run)
}

fn run(options: &Options) -> Result<(), String> {
    let app = unique_app_name("redeploy");
    // Declared first, so dropped last: after the server, which could
    // otherwise still start a container once the guard has removed the app's.
    let _cleanup = EngineCleanup::new(&app);
    watch_interrupts(&app);

    let server = TestServer::start();
    // The load's runtime; the server runs on a runtime of its own.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("tokio runtime: {e}"))?;
    let remote = create_app(&server, &sign_up(&server), &app)?;
    let repo = AppRepo::from_fixture("cmd-only");
    eprintln!("first push of cmd-only …");
    let first = push(&remote, &repo, 1, Instant::now() + PUSH_TIMEOUT)?;
    eprintln!("first push: released v1 in {} ms", first.as_millis());

    let url = format!("{}/", server.http_url);
    let host = format!("{app}.localhost");
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(options.concurrency)
        .timeout(REQUEST_TIMEOUT)
        .build()
        .map_err(|e| format!("HTTP client: {e}"))?;
    runtime.block_on(wait_until_served(&client, &url, &host))?;

    let load = Arc::new(Load::default());
    let started = Instant::now();
    let deadline = started + options.max_duration;
    let tasks: Vec<_> = (0..options.concurrency)
        .map(|_| {
            runtime.spawn(load_task(
                load.clone(),
                client.clone(),
                url.clone(),
                host.clone(),
                started,
                deadline,
                options.min_requests,
            ))
        })
        .collect();

    // The pushes, one after another, on this thread while the load runs.
    let mut pushes = Vec::new();
    let mut push_error = None;
    let before_pushes = (started.elapsed(), load.total.load(Ordering::Relaxed));
    for round in 1..=options.redeploys {
        if interrupted() || Instant::now() >= deadline {
            break;
        }
        load.phase.store(round, Ordering::Relaxed);
        repo.commit(&format!("Redeploy {round}"));
        eprintln!("redeploy {round}/{} …", options.redeploys);
        match push(
            &remote,
            &repo,
            round + 1,
            deadline.min(Instant::now() + PUSH_TIMEOUT),
        ) {
            Ok(took) => {
                eprintln!(
                    "redeploy {round}: released v{} in {} ms",
                    round + 1,
                    took.as_millis()
                );
                pushes.push(took);
            }
            Err(error) => {
                push_error = Some(format!("redeploy {round}: {error}"));
                break;
            }
        }
    }
    let after_pushes = (started.elapsed(), load.total.load(Ordering::Relaxed));
    load.phase.store(usize::MAX, Ordering::Relaxed);
    load.pushes_done.store(true, Ordering::Relaxed);
    if push_error.is_some() {
        // Stop the load now: the figures are reported, but the run failed.
        load.stop.store(true, Ordering::Relaxed);
    }
    eprintln!(
        "pushes done; load continues until {} requests …",
        options.min_requests
    );

    let mut latencies = Vec::new();
    for task in tasks {
        match runtime.block_on(task) {
            Ok(mut task_latencies) => latencies.append(&mut task_latencies),
            Err(error) => return Err(format!("a load task failed: {error}")),
        }
    }
    let elapsed = started.elapsed();
    latencies.sort_unstable();

    report(&Report {
        options,
        app: &app,
        load: &load,
        latencies: &latencies,
        elapsed,
        pushes: &pushes,
        before_pushes,
        after_pushes,
        timed_out: Instant::now() >= deadline,
    });
    match push_error {
        Some(error) => Err(error),
        None if interrupted() => Err("interrupted".into()),
        None => Ok(()),
    }
}

/// Waits (at most 30 s) until the router answers 2xx for the app.
async fn wait_until_served(client: &reqwest::Client, url: &str, host: &str) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut last = String::new();
    while Instant::now() < deadline {
        match client.get(url).header("host", host).send().await {
            Ok(response) if response.status().is_success() => return Ok(()),
            Ok(response) => last = format!("status {}", response.status()),
            Err(error) => last = describe_error(&error),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(format!(
        "the app was not served through the router within 30 s: {last}"
    ))
}

/// Counters shared by the load tasks.
#[derive(Default)]
struct Load {
    /// Requests made (answered or failed).
    total: AtomicU64,
    ok: AtomicU64,
    non_2xx: AtomicU64,
    /// Could not connect to the router.
    connect_errors: AtomicU64,
    timeouts: AtomicU64,
    /// Anything else: reset, closed before a complete response, body errors.
    other_errors: AtomicU64,
    /// 0: before the first redeploy; k: during redeploy k; usize::MAX: after.
    phase: AtomicUsize,
    pushes_done: AtomicBool,
    stop: AtomicBool,
    failures: Mutex<Vec<String>>,
}

impl Load {
    fn fail(&self, started: Instant, what: String) {
        let mut failures = self.failures.lock().expect("failure list lock");
        if failures.len() < LISTED_FAILURES {
            let phase = match self.phase.load(Ordering::Relaxed) {
                0 => "before the redeploys".to_string(),
                usize::MAX => "after the redeploys".to_string(),
                round => format!("during redeploy {round}"),
            };
            failures.push(format!(
                "at {:.3} s ({phase}): {what}",
                started.elapsed().as_secs_f64()
            ));
        }
    }
}

/// One client sending requests one at a time; returns each request's latency (µs).
async fn load_task(
    load: Arc<Load>,
    client: reqwest::Client,
    url: String,
    host: String,
    started: Instant,
    deadline: Instant,
    min_requests: u64,
) -> Vec<u32> {
    let mut latencies = Vec::with_capacity(8192);
    loop {
        let done = load.pushes_done.load(Ordering::Relaxed)
            && load.total.load(Ordering::Relaxed) >= min_requests;
        if done || load.stop.load(Ordering::Relaxed) || interrupted() || Instant::now() >= deadline
        {
            break;
        }
        let sent = Instant::now();
        let outcome = match client.get(&url).header("host", &host).send().await {
            Ok(response) => {
                let status = response.status();
                // Read the whole body, so the connection goes back to the pool.
                match response.bytes().await {
                    Ok(_) if status.is_success() => Ok(()),
                    Ok(_) => Err(Failure::Status(status)),
                    Err(error) => Err(Failure::Transport(error)),
                }
            }
            Err(error) => Err(Failure::Transport(error)),
        };
        latencies.push(u32::try_from(sent.elapsed().as_micros()).unwrap_or(u32::MAX));
        load.total.fetch_add(1, Ordering::Relaxed);
        match outcome {
            Ok(()) => {
                load.ok.fetch_add(1, Ordering::Relaxed);
            }
            Err(Failure::Status(status)) => {
                load.non_2xx.fetch_add(1, Ordering::Relaxed);
                load.fail(started, format!("status {status}"));
            }
            Err(Failure::Transport(error)) => {
                let counter = if error.is_connect() {
                    &load.connect_errors
                } else if error.is_timeout() {
                    &load.timeouts
                } else {
                    &load.other_errors
                };
                counter.fetch_add(1, Ordering::Relaxed);
                load.fail(started, describe_error(&error));
            }
        }
    }
    latencies
}

enum Failure {
    Status(reqwest::StatusCode),
    Transport(reqwest::Error),
}

/// The error and its causes on one line (reqwest's own message hides the cause).
fn describe_error(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// `git push <url> main`; Ok with how long it took once git exits
/// successfully having said `Released v<release>`. Killed at `deadline`.
fn push(
    remote: &Remote,
    repo: &AppRepo,
    release: usize,
    deadline: Instant,
) -> Result<Duration, String> {
    let started = Instant::now();
    let (mut child, mut stderr) = remote.spawn_push(repo, &[])?;
    let reader = std::thread::spawn(move || {
        let mut text = Vec::new();
        let _ = stderr.read_to_end(&mut text);
        String::from_utf8_lossy(&text).into_owned()
    });
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Ok(status),
            Ok(None) if interrupted() => break Err("interrupted"),
            Ok(None) if Instant::now() >= deadline => break Err("the push did not finish in time"),
            Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            Err(_) => break Err("lost track of git"),
        }
    };
    let took = started.elapsed();
    if status.is_err() {
        kill_group(&mut child);
    }
    let output = remote.redact(&reader.join().unwrap_or_default());
    match status {
        Ok(status) if status.success() && output.contains(&format!("Released v{release}")) => {
            Ok(took)
        }
        Ok(status) => Err(format!(
            "the push did not release v{release} ({status}); git said:\n{output}"
        )),
        Err(reason) => Err(format!("{reason}; git said:\n{output}")),
    }
}

struct Report<'a> {
    options: &'a Options,
    app: &'a str,
    load: &'a Load,
    /// Sorted, µs.
    latencies: &'a [u32],
    elapsed: Duration,
    pushes: &'a [Duration],
    /// (time since the load began, requests made) when the first push began.
    before_pushes: (Duration, u64),
    /// The same when the last push ended.
    after_pushes: (Duration, u64),
    timed_out: bool,
}

fn percentile(sorted: &[u32], fraction: f64) -> String {
    if sorted.is_empty() {
        return "-".into();
    }
    let index = ((sorted.len() as f64 * fraction).ceil() as usize).clamp(1, sorted.len()) - 1;
    format!("{:.2} ms", f64::from(sorted[index]) / 1000.0)
}

fn per_second(requests: u64, over: Duration) -> String {
    if over.is_zero() {
        "-".into()
    } else {
        format!("{:.0}", requests as f64 / over.as_secs_f64())
    }
}

fn report(report: &Report<'_>) {
    let Report {
        options,
        load,
        latencies,
        ..
    } = report;
    let total = load.total.load(Ordering::Relaxed);
    let non_2xx = load.non_2xx.load(Ordering::Relaxed);
    let connect_errors = load.connect_errors.load(Ordering::Relaxed);
    let timeouts = load.timeouts.load(Ordering::Relaxed);
    let other_errors = load.other_errors.load(Ordering::Relaxed);
    let (pushes_from, requests_before) = report.before_pushes;
    let (pushes_to, requests_after) = report.after_pushes;
    let during = pushes_to.saturating_sub(pushes_from);

    println!();
    println!(
        "Berth redeploy-under-load benchmark: app {}, fixture cmd-only (busybox httpd), loopback only",
        report.app
    );
    println!(
        "load: {} tasks, one request at a time each, keep-alive reqwest client, GET / with \
         Host: {}.localhost through the router; {} s timeout per request",
        options.concurrency,
        report.app,
        REQUEST_TIMEOUT.as_secs()
    );
    let mut pushes: Vec<String> = report
        .pushes
        .iter()
        .map(|d| format!("{:.1}", d.as_secs_f64()))
        .collect();
    if pushes.is_empty() {
        pushes.push("none".into());
    }
    println!(
        "redeploys: {} of {} empty-commit pushes released (seconds each: {})",
        report.pushes.len(),
        options.redeploys,
        pushes.join(", ")
    );
    if report.timed_out {
        println!(
            "stopped at the {} s bound before the run was complete",
            options.max_duration.as_secs()
        );
    }
    println!();
    println!("requests made             {total}");
    println!(
        "  2xx                     {}",
        load.ok.load(Ordering::Relaxed)
    );
    println!("  non-2xx                 {non_2xx}");
    println!("  connection errors       {connect_errors}");
    println!("  timeouts                {timeouts}");
    println!("  other transport errors  {other_errors}  (reset, closed mid-response, …)");
    println!(
        "requests per second       {} over {:.1} s",
        per_second(total, report.elapsed),
        report.elapsed.as_secs_f64()
    );
    println!(
        "  while pushes ran        {} ({} requests in {:.1} s)",
        per_second(requests_after - requests_before, during),
        requests_after - requests_before,
        during.as_secs_f64()
    );
    let after = report.elapsed.saturating_sub(pushes_to);
    println!(
        "  after the last push     {} ({} requests in {:.1} s)",
        per_second(total - requests_after, after),
        total - requests_after,
        after.as_secs_f64()
    );
    println!(
        "latency                   p50 {}, p99 {}, p99.9 {}, max {}",
        percentile(latencies, 0.50),
        percentile(latencies, 0.99),
        percentile(latencies, 0.999),
        percentile(latencies, 1.0)
    );
    let failures = load.failures.lock().expect("failure list lock");
    if !failures.is_empty() {
        println!();
        println!(
            "first failures (of {}):",
            total - load.ok.load(Ordering::Relaxed)
        );
        for failure in failures.iter() {
            println!("  {failure}");
        }
    }
    println!();
    println!(
        "Figures from one machine, with berthd, Docker, git and the load generator sharing \
         its CPUs; the pushes (docker build, container start) compete with the load."
    );
}
