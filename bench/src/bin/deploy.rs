//! How long a `git push` deploy takes, phase by phase.
//!
//! Starts a real `berthd` in-process (loopback only, temporary data
//! directory), pushes the `heroku-yml` test fixture with the real `git`
//! client, and timestamps each line git prints as it arrives: first a cold
//! push, then empty commits whose image layers are all in Docker's cache.
//! Prints figures; it never judges them.
//!
//! `cargo run --release -p berth-bench --bin deploy -- [--runs N] [--timeout SECS]`

use std::io::Read;
use std::process::{Child, ExitCode};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant};

use berth_bench::{
    create_app, interrupted, kill_group, not_an_option, positive, run_main, sign_up,
    watch_interrupts, Remote,
};
use berth_testkit::{unique_app_name, AppRepo, EngineCleanup, TestServer};

const USAGE: &str = "usage: deploy [--runs N] [--timeout SECS] [--show-output]

  --runs N          cached pushes to repeat for min/median/max (default 5)
  --timeout SECS    give up on a push (and kill git) after SECS (default 120)
  --show-output     print git's output, each line with its time in ms, to stderr";

struct Options {
    runs: usize,
    timeout: Duration,
    show_output: bool,
}

fn parse_options() -> Result<Options, String> {
    let mut options = Options {
        runs: 5,
        timeout: Duration::from_secs(120),
        show_output: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || positive(&mut args, &arg, USAGE);
        match arg.as_str() {
            "--runs" => options.runs = value()? as usize,
            "--timeout" => options.timeout = Duration::from_secs(value()?),
            "--show-output" => options.show_output = true,
            other => return Err(not_an_option(other, USAGE)),
        }
    }
    Ok(options)
}

fn main() -> ExitCode {
    run_main("deploy", parse_options(), run)
}

fn run(options: &Options) -> Result<(), String> {
    let app = unique_app_name("bench");
    // Declared before the server, so dropped after it: nothing is left that
    // could start a container once the guard has removed the app's.
    let _cleanup = EngineCleanup::new(&app);
    watch_interrupts(&app);

    let server = TestServer::start();
    let remote = create_app(&server, &sign_up(&server), &app)?;
    let repo = AppRepo::from_fixture("heroku-yml");

    let total_pushes = options.runs + 2;
    let mut number = 0;
    let mut next = |label: &str| -> Result<Timeline, String> {
        number += 1;
        eprintln!("push {number}/{total_pushes}: {label} …");
        let timeline = push(&remote, &repo, &app, options)?;
        eprintln!(
            "push {number}/{total_pushes}: done in {} ms",
            timeline.exit.as_millis()
        );
        Ok(timeline)
    };

    let cold = next("the fixture, nothing built yet")?;
    repo.commit("empty");
    let cached_first = next("an empty commit, every layer cached")?;
    let mut repeats = Vec::with_capacity(options.runs);
    for _ in 0..options.runs {
        repo.commit("empty");
        repeats.push(next("an empty commit again")?);
    }

    report(&app, &cold, &cached_first, &repeats);
    Ok(())
}

/// When each line that marks a phase arrived, counted from the moment
/// `git push` was spawned (the first occurrence of each).
#[derive(Debug, Default, Clone)]
struct Timeline {
    /// The first `remote:` line of any kind.
    first_remote: Option<Duration>,
    /// `-----> Building <app> vN from <sha> (<msg>)`
    building_app: Option<Duration>,
    /// Docker's `Step 1/…`
    first_step: Option<Duration>,
    /// `-----> Running release command: …`
    release_command: Option<Duration>,
    /// `-----> Starting processes`
    starting: Option<Duration>,
    /// `       web.1 started`
    web_started: Option<Duration>,
    /// `-----> Released vN`
    released: Option<Duration>,
    /// git exited.
    exit: Duration,
    /// Docker's steps (`Step 2/8 : COPY …` → `COPY …`) and whether each said `Using cache`.
    steps: Vec<(String, bool)>,
}

impl Timeline {
    fn note(&mut self, at: Duration, line: &str, app: &str) {
        let Some(remote) = line.strip_prefix("remote:") else {
            return;
        };
        // Without a terminal, git pads each remote line with spaces.
        let text = remote.trim();
        let mark = |slot: &mut Option<Duration>| {
            slot.get_or_insert(at);
        };
        mark(&mut self.first_remote);
        if text.starts_with(&format!("-----> Building {app} v")) {
            mark(&mut self.building_app);
        } else if text.starts_with("Step ") {
            if text.starts_with("Step 1/") {
                mark(&mut self.first_step);
            }
            let instruction = text.split_once(" : ").map_or(text, |(_, rest)| rest);
            self.steps.push((instruction.to_string(), false));
        } else if text.contains("Using cache") {
            if let Some(step) = self.steps.last_mut() {
                step.1 = true;
            }
        } else if text.starts_with("-----> Running release command") {
            mark(&mut self.release_command);
        } else if text == "-----> Starting processes" {
            mark(&mut self.starting);
        } else if text == "web.1 started" {
            mark(&mut self.web_started);
        } else if text.starts_with("-----> Released v") {
            mark(&mut self.released);
        }
    }
}

fn between(from: Option<Duration>, to: Option<Duration>) -> Option<Duration> {
    Some(to?.saturating_sub(from?))
}

/// `git push --progress <url> main`, with each stderr line timestamped as it arrives.
fn push(remote: &Remote, repo: &AppRepo, app: &str, options: &Options) -> Result<Timeline, String> {
    if interrupted() {
        return Err("interrupted".into());
    }
    let started = Instant::now();
    let (mut child, stderr) = remote.spawn_push(repo, &["--progress"])?;
    let (lines_tx, lines) = mpsc::channel::<(Instant, String)>();
    std::thread::spawn(move || read_lines(stderr, lines_tx));

    let deadline = started + options.timeout;
    let mut timeline = Timeline::default();
    let mut transcript = Vec::new();
    let said = |transcript: &[String]| {
        let lines: Vec<&str> = transcript.iter().map(|line| line.trim_end()).collect();
        remote.redact(&lines.join("\n"))
    };
    loop {
        let failure = if interrupted() {
            Some("interrupted".to_string())
        } else if Instant::now() >= deadline {
            Some(format!(
                "the push did not finish within {} s",
                options.timeout.as_secs()
            ))
        } else {
            None
        };
        if let Some(failure) = failure {
            kill_group(&mut child);
            return Err(format!("{failure}; git said:\n{}", said(&transcript)));
        }
        match lines.recv_timeout(Duration::from_millis(50)) {
            Ok((at, line)) => {
                let at = at.duration_since(started);
                if options.show_output {
                    let shown = remote.redact(&line);
                    eprintln!("{:>7} ms  {}", at.as_millis(), shown.trim_end());
                }
                timeline.note(at, &line, app);
                transcript.push(line);
            }
            Err(RecvTimeoutError::Timeout) => {}
            // git closed its stderr: it is exiting.
            Err(RecvTimeoutError::Disconnected) => break,
        }
    }
    let status = wait_bounded(&mut child, deadline)?;
    timeline.exit = started.elapsed();
    if !status.success() || timeline.released.is_none() {
        return Err(format!(
            "the push did not deploy ({status}); git said:\n{}",
            said(&transcript)
        ));
    }
    Ok(timeline)
}

/// Splits git's stderr at `\n` and `\r` (progress meters rewrite their line)
/// and sends each non-empty line with the time its bytes arrived.
fn read_lines(mut stderr: impl Read, lines: mpsc::Sender<(Instant, String)>) {
    let mut buffer = [0u8; 8192];
    let mut line = Vec::new();
    loop {
        let count = match stderr.read(&mut buffer) {
            Ok(0) | Err(_) => break,
            Ok(count) => count,
        };
        let at = Instant::now();
        for &byte in &buffer[..count] {
            if byte == b'\n' || byte == b'\r' {
                if !line.is_empty() {
                    let text = String::from_utf8_lossy(&line).into_owned();
                    if lines.send((at, text)).is_err() {
                        return;
                    }
                    line.clear();
                }
            } else {
                line.push(byte);
            }
        }
    }
    if !line.is_empty() {
        let _ = lines.send((Instant::now(), String::from_utf8_lossy(&line).into_owned()));
    }
}

/// git has closed stderr, so it is about to exit; still, never wait past the deadline.
fn wait_bounded(child: &mut Child, deadline: Instant) -> Result<std::process::ExitStatus, String> {
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Ok(status),
            Ok(None) if Instant::now() >= deadline => {
                kill_group(child);
                return Err("git closed its output but did not exit in time".into());
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(1)),
            Err(error) => return Err(format!("waiting for git: {error}")),
        }
    }
}

/// One row of the table: a name, how to read it off a push, and what it covers.
struct Row {
    name: &'static str,
    figure: fn(&Timeline) -> Option<Duration>,
    covers: &'static str,
}

const ROWS: &[Row] = &[
    Row {
        name: "first feedback",
        figure: |t| t.first_remote,
        covers: "push start -> first `remote:` line",
    },
    Row {
        name: "receive",
        figure: |t| t.building_app,
        covers: "push start -> `Building <app>`: git pack transfer, hook, manifest and context",
    },
    Row {
        name: "build",
        figure: |t| between(t.building_app, t.release_command.or(t.starting)),
        covers: "-> `Running release command`: docker build (Berth streams the context)",
    },
    Row {
        name: "  to Step 1",
        figure: |t| between(t.building_app, t.first_step),
        covers: "  part of build: `Building <app>` -> Docker's `Step 1/`",
    },
    Row {
        name: "release",
        figure: |t| between(t.release_command, t.starting),
        covers: "-> `Starting processes`: network, release container run to exit",
    },
    Row {
        name: "start",
        figure: |t| between(t.starting, t.released),
        covers: "-> `Released`: start web.1, record, stop the previous release",
    },
    Row {
        name: "  web.1 up",
        figure: |t| between(t.starting, t.web_started),
        covers: "  part of start: -> `web.1 started` (create, start, first HTTP answer)",
    },
    Row {
        name: "  after web.1",
        figure: |t| between(t.web_started, t.released),
        covers: "  part of start: `web.1 started` -> `Released`",
    },
    Row {
        name: "finish",
        figure: |t| between(t.released, Some(t.exit)),
        covers: "`Released` -> git exits",
    },
    Row {
        name: "total",
        figure: |t| Some(t.exit),
        covers: "push start -> git exits",
    },
    Row {
        name: "overhead est.",
        figure: overhead,
        covers: "total - build - release - start (see below)",
    },
];

/// "Berth's own overhead" as estimated here: total − build − release − start,
/// which, the phases being back to back, is receive + finish.
fn overhead(t: &Timeline) -> Option<Duration> {
    let build = between(t.building_app, t.release_command.or(t.starting))?;
    let release = between(t.release_command, t.starting).unwrap_or_default();
    let start = between(t.starting, t.released)?;
    Some(t.exit.saturating_sub(build + release + start))
}

fn millis(value: Option<Duration>) -> String {
    value.map_or_else(|| "-".to_string(), |d| d.as_millis().to_string())
}

fn median(sorted: &[Duration]) -> Duration {
    let middle = sorted.len() / 2;
    if sorted.len() % 2 == 1 {
        sorted[middle]
    } else {
        (sorted[middle - 1] + sorted[middle]) / 2
    }
}

fn report(app: &str, cold: &Timeline, cached_first: &Timeline, repeats: &[Timeline]) {
    let runs = repeats.len();
    let header = [
        "phase (ms)".to_string(),
        "cold".to_string(),
        "cached".to_string(),
        format!("min/{runs}"),
        format!("median/{runs}"),
        format!("max/{runs}"),
        "covers".to_string(),
    ];
    let mut table: Vec<[String; 7]> = vec![header];
    for row in ROWS {
        let mut values: Vec<Duration> = repeats.iter().filter_map(row.figure).collect();
        values.sort();
        let stats = if values.len() == runs && !values.is_empty() {
            [
                millis(values.first().copied()),
                millis(Some(median(&values))),
                millis(values.last().copied()),
            ]
        } else {
            ["-".to_string(), "-".to_string(), "-".to_string()]
        };
        let [min, mid, max] = stats;
        table.push([
            row.name.to_string(),
            millis((row.figure)(cold)),
            millis((row.figure)(cached_first)),
            min,
            mid,
            max,
            row.covers.to_string(),
        ]);
    }

    let widths: Vec<usize> = (0..table[0].len())
        .map(|column| {
            table
                .iter()
                .map(|r| r[column].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    println!();
    println!("Berth deploy benchmark: app {app}, fixture heroku-yml, loopback only");
    println!(
        "cold = first push; cached = the first empty-commit push; min/median/max over {runs} more"
    );
    println!();
    for row in &table {
        let mut line = String::new();
        for (column, cell) in row.iter().enumerate() {
            let width = widths[column];
            if column == 0 || column == row.len() - 1 {
                line.push_str(&format!("{cell:<width$}"));
            } else {
                line.push_str(&format!("{cell:>width$}"));
            }
            line.push_str("  ");
        }
        println!("{}", line.trim_end());
    }
    println!();
    // `FROM scratch` never reports a cache hit: leave it out of the count.
    let cache = |t: &Timeline| {
        let steps: Vec<&(String, bool)> = t
            .steps
            .iter()
            .filter(|(instruction, _)| !instruction.starts_with("FROM "))
            .collect();
        let missed: Vec<&str> = steps
            .iter()
            .filter(|(_, cached)| !cached)
            .map(|(instruction, _)| instruction.as_str())
            .collect();
        let mut text = format!(
            "{} of {} steps after FROM cached",
            steps.len() - missed.len(),
            steps.len()
        );
        if !missed.is_empty() && missed.len() < steps.len() {
            text.push_str(&format!(", rebuilt: {}", missed.join("; ")));
        }
        text
    };
    println!("Docker's layer cache, cold push: {}", cache(cold));
    println!("Docker's layer cache, cached push: {}", cache(cached_first));
    for (index, repeat) in repeats.iter().enumerate() {
        println!(
            "Docker's layer cache, repeat {}: {}",
            index + 1,
            cache(repeat)
        );
    }
    let pushes = || std::iter::once(cold).chain([cached_first]).chain(repeats);
    if pushes().all(|t| t.first_remote == t.building_app) {
        println!(
            "The first `remote:` line was `-----> Building <app>` on every push: \
             nothing reaches the user before it."
        );
    }
    let mut overheads: Vec<Duration> = repeats.iter().filter_map(overhead).collect();
    overheads.sort();
    println!(
        "Berth's own overhead (estimate), median of the cached repeats: {} ms",
        if overheads.is_empty() {
            "-".to_string()
        } else {
            median(&overheads).as_millis().to_string()
        }
    );
    println!(
        "
How to read it:
- Counted as Docker's: the `build` phase (docker build: on an empty commit, the
  cache lookups plus any step rebuilt, listed above), the `release` phase
  (create, start and wait for the release container) and the `start` phase
  (create and start web.1, wait for it to answer HTTP, stop the previous
  release). The estimate treats these three as Docker's time, `start` standing
  in for the container start time.
- Counted as Berth's: the rest, i.e. `receive` + `finish`: git's pack transfer
  and receive-pack on loopback, the pre-receive hook bridge, reading the commit,
  manifest and build context, the store writes before `Building`, and, after
  `Released`, the end of the push response and git's own exit.
- So the estimate is not exact either way: it counts git's own work (client and
  server side) as Berth's, and it leaves out Berth's work inside the three
  Docker phases: streaming the build context and relaying build output,
  creating the network and containers, store writes, waiting on the app's
  boot, and stopping the previous release (`after web.1`; nothing to stop on
  the cold push). The sub-rows (`to Step 1`, `web.1 up`, `after web.1`) show
  how big some of those parts are. Read it as a rough indication, not a
  measurement.
- Timestamps are when git's stderr lines reached this process, so every phase
  also includes Berth's progress relay and git's sideband latency (small on
  loopback). Figures from one machine; other builds may have been running."
    );
}
