//! How the log stream keeps up: ingest from one chatty container, latency
//! to a live tail, and memory while many apps log at once.
//!
//! Starts a real `berthd` in-process (loopback only, temporary data
//! directory), pushes the `procfile` test fixture with the real `git`
//! client and scales process types that print:
//! - ingest: `seq 1 N` in one container, as fast as it can; the lines are
//!   counted where they are kept (the app's log segments) and at a live tail;
//! - latency: a process printing a line every 20 ms; for each line, the time
//!   from the engine's timestamp to its arrival at a server-sent-events tail;
//! - memory: the resident memory of this process (berthd, plus the bench's
//!   small client) while `--apps` apps each print 100 lines a second.
//!
//! Prints figures; it never judges them.
//!
//! `cargo run --release -p berth-bench --bin logs -- [--lines N] [--samples N] [--apps N] [--seconds S]`

use std::io::BufRead;
use std::process::ExitCode;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use berth_api_types::LogEntry;
use berth_bench::{
    create_app, interrupted, not_an_option, positive, run_main, sign_up, watch_interrupts, Remote,
};
use berth_testkit::{unique_app_name, AppRepo, EngineCleanup, TestServer};
use chrono::{DateTime, Utc};

const USAGE: &str = "usage: logs [--lines N] [--samples N] [--apps N] [--seconds S]

  --lines N     lines the chatty container prints for the ingest run (default 200000)
  --samples N   lines timed for the tail latency (default 500)
  --apps N      apps logging at once for the memory run (default 20)
  --seconds S   how long they log (default 30)";

struct Options {
    lines: u64,
    samples: u64,
    apps: u64,
    seconds: u64,
}

fn parse_options() -> Result<Options, String> {
    let mut options = Options {
        lines: 200_000,
        samples: 500,
        apps: 20,
        seconds: 30,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || positive(&mut args, &arg, USAGE);
        match arg.as_str() {
            "--lines" => options.lines = value()?,
            "--samples" => options.samples = value()?,
            "--apps" => options.apps = value()?,
            "--seconds" => options.seconds = value()?,
            other => return Err(not_an_option(other, USAGE)),
        }
    }
    Ok(options)
}

fn main() -> ExitCode {
    run_main("logs", parse_options(), run)
}

/// The process types every bench app has; each is scaled up when needed.
fn procfile(lines: u64) -> String {
    format!(
        "web: exec httpd -f -p $PORT -h /www\n\
         chatty: seq 1 {lines}; exec sleep 100000\n\
         ticker: while true; do echo tick; usleep 20000; done\n\
         steady: while true; do echo \"$DYNO says something worth keeping, line $RANDOM\"; usleep 10000; done\n"
    )
}

fn run(options: &Options) -> Result<(), String> {
    let names: Vec<String> = (0..options.apps)
        .map(|_| unique_app_name("bench-logs"))
        .collect();
    // Declared before the server, so dropped after it.
    let _cleanup: Vec<EngineCleanup> = names.iter().map(|name| EngineCleanup::new(name)).collect();
    watch_interrupts(&names[0]);
    let keep = usize::try_from(options.lines).unwrap_or(usize::MAX) + 100_000;
    let server = TestServer::start_with(|settings| settings.log_retention_lines = keep);
    let token = sign_up(&server);
    let repo = AppRepo::from_fixture("procfile");
    repo.write("Procfile", &procfile(options.lines));
    repo.commit("Processes that print");
    let api = Api {
        url: server.api_url.clone(),
        token: token.clone(),
        http: reqwest::blocking::Client::new(),
    };

    let first = &names[0];
    deploy(&server, &token, &repo, first)?;
    let ingest = ingest(&server, &api, first, options.lines)?;
    let latency = latency(&api, first, options.samples)?;
    api.scale(first, "ticker=0")?;

    eprintln!("memory: deploying {} more apps …", options.apps - 1);
    for name in &names[1..] {
        deploy(&server, &token, &repo, name)?;
    }
    let memory = memory(&server, &api, &names, options.seconds)?;

    println!("Berth log stream benchmark (berthd in-process, release build, loopback only)");
    println!();
    println!("ingest, one container printing `seq 1 {}`:", options.lines);
    println!(
        "  kept in the log: {} of {} lines ({} dropped)",
        ingest.kept,
        options.lines,
        options.lines.saturating_sub(ingest.kept)
    );
    println!(
        "  engine timestamps, first to last line: {:.2} s = {:.0} lines/s printed",
        ingest.printed_in.as_secs_f64(),
        options.lines as f64 / ingest.printed_in.as_secs_f64().max(1e-6)
    );
    println!(
        "  at the live tail, first to last line: {:.2} s = {:.0} lines/s; tail saw {} lines, {} marked dropped",
        ingest.tailed_in.as_secs_f64(),
        options.lines as f64 / ingest.tailed_in.as_secs_f64().max(1e-6),
        ingest.tail_lines,
        ingest.tail_dropped
    );
    println!();
    println!(
        "latency, engine timestamp → arrival at an SSE tail, {} lines 20 ms apart:",
        latency.len()
    );
    println!(
        "  p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        percentile(&latency, 0.50),
        percentile(&latency, 0.99),
        percentile(&latency, 1.0)
    );
    println!();
    println!(
        "memory, {} apps each printing 100 lines/s for {} s (resident set of this process):",
        options.apps, options.seconds
    );
    println!(
        "  before {:.1} MiB, peak {:.1} MiB, at the end {:.1} MiB; {} lines kept meanwhile",
        memory.before_kib as f64 / 1024.0,
        memory.peak_kib as f64 / 1024.0,
        memory.end_kib as f64 / 1024.0,
        memory.lines
    );
    Ok(())
}

struct Api {
    url: String,
    token: String,
    http: reqwest::blocking::Client,
}

impl Api {
    fn scale(&self, app: &str, change: &str) -> Result<(), String> {
        let response = self
            .http
            .patch(format!("{}/api/v1/apps/{app}/formation", self.url))
            .bearer_auth(&self.token)
            .json(&serde_json::json!({ "changes": [change] }))
            .timeout(Duration::from_secs(120))
            .send()
            .map_err(|e| format!("scaling {app} {change}: {e}"))?;
        if !response.status().is_success() {
            return Err(format!(
                "scaling {app} {change}: {}",
                response.text().unwrap_or_default()
            ));
        }
        Ok(())
    }

    /// A live tail of `dyno`'s lines, from now on, in a thread: each entry
    /// with the moment it arrived, until the receiver is dropped.
    fn tail(
        &self,
        app: &str,
        dyno: &str,
    ) -> Result<mpsc::Receiver<(DateTime<Utc>, LogEntry)>, String> {
        let response = reqwest::blocking::Client::builder()
            .timeout(None)
            .build()
            .map_err(|e| e.to_string())?
            .get(format!("{}/api/v1/apps/{app}/logs", self.url))
            .query(&[("tail", "true"), ("lines", "0"), ("dyno", dyno)])
            .bearer_auth(&self.token)
            .send()
            .map_err(|e| format!("tailing {app}: {e}"))?;
        if !response.status().is_success() {
            return Err(format!("tailing {app}: {}", response.status()));
        }
        let (entries, received) = mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(response).lines() {
                let Ok(line) = line else { return };
                let Some(data) = line.strip_prefix("data:") else {
                    continue;
                };
                let Ok(entry) = serde_json::from_str::<LogEntry>(data.trim_start()) else {
                    continue;
                };
                if entries.send((Utc::now(), entry)).is_err() {
                    return;
                }
            }
        });
        Ok(received)
    }
}

fn deploy(server: &TestServer, token: &str, repo: &AppRepo, name: &str) -> Result<Remote, String> {
    if interrupted() {
        return Err("interrupted".into());
    }
    let remote = create_app(server, token, name)?;
    let (mut child, mut stderr) = remote.spawn_push(repo, &[])?;
    let mut said = String::new();
    std::io::Read::read_to_string(&mut stderr, &mut said).map_err(|e| e.to_string())?;
    let status = child.wait().map_err(|e| e.to_string())?;
    if !status.success() {
        return Err(format!("pushing {name} failed:\n{}", remote.redact(&said)));
    }
    Ok(remote)
}

struct Ingest {
    kept: u64,
    printed_in: Duration,
    tailed_in: Duration,
    tail_lines: u64,
    tail_dropped: u64,
}

fn ingest(server: &TestServer, api: &Api, app: &str, lines: u64) -> Result<Ingest, String> {
    eprintln!("ingest: {lines} lines from one container …");
    let tail = api.tail(app, "chatty.1")?;
    api.scale(app, "chatty=1")?;
    let last = lines.to_string();
    let deadline = Instant::now() + Duration::from_secs(300);
    let (mut first, mut tail_lines, mut tail_dropped) = (None, 0u64, 0u64);
    let mut first_at = None;
    let (tailed_in, last_at) = loop {
        if interrupted() || Instant::now() > deadline {
            return Err("the last line never reached the tail".into());
        }
        let Ok((arrived, entry)) = tail.recv_timeout(Duration::from_millis(200)) else {
            continue;
        };
        if entry.source == "berth" {
            tail_dropped += entry
                .message
                .trim_start_matches("… ")
                .split(' ')
                .next()
                .and_then(|n| n.parse::<u64>().ok())
                .unwrap_or(0);
            continue;
        }
        tail_lines += 1;
        first.get_or_insert(arrived);
        first_at.get_or_insert(entry.at);
        if entry.message == last {
            let tailed = (arrived - first.unwrap_or(arrived))
                .to_std()
                .unwrap_or_default();
            break (tailed, entry.at);
        }
    };
    let printed_in = (last_at - first_at.unwrap_or(last_at))
        .to_std()
        .unwrap_or_default();
    // Kept: counted in the segments on disk, once the writer has caught up.
    let logs = server.data_dir().join("logs");
    let mut kept = 0;
    for _ in 0..50 {
        kept = count_lines(&logs, app, " app[chatty.1]: ")?;
        if kept >= lines {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    api.scale(app, "chatty=0")?;
    Ok(Ingest {
        kept,
        printed_in,
        tailed_in,
        tail_lines,
        tail_dropped,
    })
}

/// Lines holding `needle` in every segment of `app`'s log.
fn count_lines(logs: &std::path::Path, app: &str, needle: &str) -> Result<u64, String> {
    let mut count = 0;
    let entries = std::fs::read_dir(logs).map_err(|e| format!("{}: {e}", logs.display()))?;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        if name == format!("{app}.log") || name.starts_with(&format!("{app}.log.")) {
            let text = std::fs::read_to_string(entry.path()).map_err(|e| e.to_string())?;
            count += text.lines().filter(|line| line.contains(needle)).count() as u64;
        }
    }
    Ok(count)
}

/// Milliseconds from each line's engine timestamp to its arrival at a tail.
fn latency(api: &Api, app: &str, samples: u64) -> Result<Vec<f64>, String> {
    eprintln!("latency: {samples} lines to a live tail …");
    let tail = api.tail(app, "ticker.1")?;
    api.scale(app, "ticker=1")?;
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut latencies = Vec::new();
    while (latencies.len() as u64) < samples {
        if interrupted() || Instant::now() > deadline {
            return Err(format!("only {} lines reached the tail", latencies.len()));
        }
        let Ok((arrived, entry)) = tail.recv_timeout(Duration::from_millis(200)) else {
            continue;
        };
        if entry.source != "app" {
            continue;
        }
        let delay = arrived - entry.at;
        latencies.push(delay.num_microseconds().unwrap_or(0) as f64 / 1000.0);
    }
    latencies.sort_by(f64::total_cmp);
    Ok(latencies)
}

fn percentile(sorted: &[f64], fraction: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let index = ((sorted.len() - 1) as f64 * fraction).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

struct Memory {
    before_kib: u64,
    peak_kib: u64,
    end_kib: u64,
    lines: u64,
}

fn memory(server: &TestServer, api: &Api, apps: &[String], seconds: u64) -> Result<Memory, String> {
    eprintln!("memory: {} apps logging for {seconds} s …", apps.len());
    let logs = server.data_dir().join("logs");
    let before_kib = resident_kib()?;
    let lines_before: u64 = apps
        .iter()
        .map(|app| count_lines(&logs, app, " app[steady.1]: "))
        .sum::<Result<u64, String>>()?;
    for app in apps {
        api.scale(app, "steady=1")?;
    }
    let mut peak_kib = before_kib;
    for _ in 0..seconds {
        if interrupted() {
            return Err("interrupted".into());
        }
        std::thread::sleep(Duration::from_secs(1));
        peak_kib = peak_kib.max(resident_kib()?);
    }
    let end_kib = resident_kib()?;
    let lines_after: u64 = apps
        .iter()
        .map(|app| count_lines(&logs, app, " app[steady.1]: "))
        .sum::<Result<u64, String>>()?;
    for app in apps {
        api.scale(app, "steady=0")?;
    }
    Ok(Memory {
        before_kib,
        peak_kib,
        end_kib,
        lines: lines_after - lines_before,
    })
}

/// `VmRSS` of this process, in KiB.
fn resident_kib() -> Result<u64, String> {
    let status = std::fs::read_to_string("/proc/self/status").map_err(|e| e.to_string())?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| "no VmRSS in /proc/self/status".to_string())
}
