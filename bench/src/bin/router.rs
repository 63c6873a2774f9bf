//! How fast Berth's router forwards requests, next to nginx doing the same.
//!
//! One backend (nginx serving a 6-byte static file) and three ways to reach
//! it, each loaded by `wrk` in turn, back to back in the same run:
//! - `direct`: straight to the backend;
//! - `nginx proxy`: through nginx as a reverse proxy (upstream `keepalive 64`,
//!   HTTP/1.1 to the backend);
//! - `Berth router`: through `berth_router::Router` running in this process.
//!
//! Everything listens on 127.0.0.1 ports picked at start; both nginx
//! processes run from a temporary directory (own configuration, pid file,
//! temp paths and error logs) and are stopped when the run ends, fails,
//! panics or is interrupted with Ctrl-C. Prints figures; it never judges them.
//!
//! Besides wrk's figures it prints the CPU time each proxy spent per request
//! (nginx's worker processes; this process, for Berth's router): on a busy
//! machine throughput follows whoever gets the CPU, while CPU per request
//! is what the proxy itself costs.
//!
//! `cargo run --release -p berth-bench --bin router -- [--connections 10,50,200] [--duration SECS]`

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use berth_router::{AppRoute, Router, RouterConfig, Upstream};
use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const USAGE: &str = "usage: router [--connections N,N,...] [--duration SECS] [--warmup SECS]

  --connections N,...  wrk connection counts to run, in order (default 10,50,200)
  --duration SECS      length of each wrk run (default 8)
  --warmup SECS        one unreported wrk run per path first (default 2; 0: none)";

/// What every request asks for, on every path: the 6-byte static file.
const PATH: &str = "/hello.txt";
const BODY: &str = "hello\n";
const HOST: &str = "bench.localhost";

struct Options {
    connections: Vec<u32>,
    duration: u64,
    warmup: u64,
}

fn parse_options() -> Result<Options, String> {
    let mut options = Options {
        connections: vec![10, 50, 200],
        duration: 8,
        warmup: 2,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| {
            args.next()
                .ok_or_else(|| format!("{name} needs a value\n\n{USAGE}"))
        };
        let number = |name: &str, text: &str, zero_ok: bool| -> Result<u64, String> {
            text.trim()
                .parse::<u64>()
                .ok()
                .filter(|n| *n > 0 || zero_ok)
                .ok_or_else(|| format!("{name}: {text:?} is not a valid number"))
        };
        match arg.as_str() {
            "--connections" => {
                let list = value("--connections")?;
                options.connections = list
                    .split(',')
                    .map(|n| {
                        number("--connections", n, false)
                            .and_then(|n| u32::try_from(n).map_err(|e| e.to_string()))
                    })
                    .collect::<Result<_, _>>()?;
            }
            "--duration" => options.duration = number("--duration", &value("--duration")?, false)?,
            "--warmup" => options.warmup = number("--warmup", &value("--warmup")?, true)?,
            "-h" | "--help" => return Err(USAGE.to_string()),
            other => return Err(format!("unknown argument {other:?}\n\n{USAGE}")),
        }
    }
    if options.duration > 600 || options.warmup > 600 {
        return Err("--duration and --warmup are at most 600 s".into());
    }
    Ok(options)
}

#[tokio::main]
async fn main() -> ExitCode {
    let options = match parse_options() {
        Ok(options) => options,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    // Dropping `run` (on Ctrl-C) drops its guards: both nginx and any wrk.
    let outcome = tokio::select! {
        outcome = run(&options) => outcome,
        _ = tokio::signal::ctrl_c() => Err("interrupted".to_string()),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("router bench failed: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run(options: &Options) -> Result<(), String> {
    let dir = tempfile::Builder::new()
        .prefix("berth-router-bench-")
        .tempdir()
        .map_err(|e| format!("temporary directory: {e}"))?;
    // nginx's workers run as `nobody` when it is started as root: let them read.
    set_mode(dir.path(), 0o755)?;
    let www = dir.path().join("www");
    std::fs::create_dir(&www).map_err(|e| format!("{}: {e}", www.display()))?;
    set_mode(&www, 0o755)?;
    std::fs::write(www.join("hello.txt"), BODY).map_err(|e| format!("hello.txt: {e}"))?;
    set_mode(&www.join("hello.txt"), 0o644)?;

    let backend_port = free_port()?;
    let proxy_port = free_port()?;
    let backend_addr = SocketAddr::from(([127, 0, 0, 1], backend_port));
    let proxy_addr = SocketAddr::from(([127, 0, 0, 1], proxy_port));

    let mut backend = Nginx::start(
        dir.path(),
        "backend",
        &format!(
            "server {{
        listen 127.0.0.1:{backend_port} default_server;
        root {www};
        location / {{ }}
    }}",
            www = www.display()
        ),
    )?;
    backend.wait_ready(backend_addr).await?;
    let mut proxy = Nginx::start(
        dir.path(),
        "proxy",
        &format!(
            "upstream backend {{
        server 127.0.0.1:{backend_port};
        keepalive 64;
    }}
    server {{
        listen 127.0.0.1:{proxy_port} default_server;
        location / {{
            proxy_pass http://backend;
            proxy_http_version 1.1;
            proxy_set_header Connection \"\";
        }}
    }}"
        ),
    )?;
    proxy.wait_ready(proxy_addr).await?;

    let log_lines = Arc::new(AtomicU64::new(0));
    let counted = log_lines.clone();
    let router = Router::new(
        RouterConfig::default(),
        Arc::new(move |_app: &str, _line: String| {
            counted.fetch_add(1, Ordering::Relaxed);
        }),
    );
    router.set_routes(vec![AppRoute {
        app: "bench".into(),
        hosts: vec![HOST.into()],
        upstreams: vec![Upstream {
            address: backend_addr,
            dyno: "web.1".into(),
        }],
        maintenance: false,
    }]);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| format!("binding the router: {e}"))?;
    let router_addr = listener
        .local_addr()
        .map_err(|e| format!("router address: {e}"))?;
    let (stop_router, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(router.clone().serve(listener, async {
        let _ = stopped.await;
    }));
    let _router_guard = AbortOnDrop(serving.abort_handle());
    wait_ready(router_addr, || None).await?;

    let nginx_workers = proxy.workers();
    let paths = [
        ("direct", backend_addr, Vec::new()),
        ("nginx proxy", proxy_addr, nginx_workers),
        ("Berth router", router_addr, vec![std::process::id()]),
    ];
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    eprintln!(
        "backend {backend_addr}, nginx proxy {proxy_addr}, Berth router {router_addr}; {cpus} CPUs; load {}",
        load_average()
    );
    if options.warmup > 0 {
        for (name, address, _) in &paths {
            let address = *address;
            eprintln!("warm-up: {name}, 50 connections, {} s …", options.warmup);
            wrk(address, 50, options.warmup).await?;
        }
    }
    let log_lines_before = log_lines.load(Ordering::Relaxed);
    let mut berth_requests = 0;
    let mut results = Vec::new();
    for &connections in &options.connections {
        let mut row = Vec::new();
        for (name, address, cpu_pids) in &paths {
            let name = *name;
            eprintln!(
                "{name}: {connections} connections, {} s …",
                options.duration
            );
            let cpu_before = cpu_seconds(cpu_pids);
            let mut result = wrk(*address, connections, options.duration).await?;
            if let (Some(before), Some(after)) = (cpu_before, cpu_seconds(cpu_pids)) {
                if result.requests > 0 {
                    result.cpu_us_per_request =
                        Some((after - before) * 1e6 / result.requests as f64);
                }
            }
            if name == "Berth router" {
                berth_requests += result.requests;
            }
            row.push((name, result));
        }
        results.push((connections, row));
    }
    let load_after = load_average();
    let log_lines_counted = log_lines.load(Ordering::Relaxed) - log_lines_before;

    let _ = stop_router.send(());
    if tokio::time::timeout(Duration::from_secs(15), serving)
        .await
        .is_err()
    {
        eprintln!("the router did not stop within 15 s");
    }
    drop(proxy);
    drop(backend);

    report(options, &results, cpus, &load_after);
    println!(
        "Router log: a closure that only counts the lines (no per-app log sink, no I/O): \
         {log_lines_counted} lines for the {berth_requests} requests wrk counted through Berth \
         (wrk leaves out those still in flight when it stops)."
    );
    Ok(())
}

fn set_mode(path: &Path, mode: u32) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .map_err(|e| format!("chmod {}: {e}", path.display()))
}

/// A loopback port nothing listens on right now (there is a short race
/// until nginx binds it; nothing else here binds ports meanwhile).
fn free_port() -> Result<u16, String> {
    let listener =
        std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| format!("free port: {e}"))?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| format!("free port: {e}"))
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|text| {
            text.split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_else(|_| "unknown".into())
}

/// Aborts the router's task if the run ends early (its shutdown is otherwise graceful).
struct AbortOnDrop(tokio::task::AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// An nginx master process (and its workers) started from `dir` with a
/// configuration of its own; stopped, workers included, when dropped.
struct Nginx {
    name: &'static str,
    child: Child,
    error_log: PathBuf,
}

impl Nginx {
    fn start(dir: &Path, name: &'static str, servers: &str) -> Result<Self, String> {
        let temp = dir.join(format!("{name}-temp"));
        std::fs::create_dir(&temp).map_err(|e| format!("{}: {e}", temp.display()))?;
        let config_path = dir.join(format!("{name}.conf"));
        let error_log = dir.join(format!("{name}-error.log"));
        let temp = temp.display();
        let config = format!(
            "# Written by berth-bench's router benchmark.
daemon off;
worker_processes auto;
pid {pid};
error_log {error_log} warn;
events {{
    worker_connections 4096;
}}
http {{
    access_log off;
    default_type text/plain;
    client_body_temp_path {temp}/client_body;
    proxy_temp_path {temp}/proxy;
    fastcgi_temp_path {temp}/fastcgi;
    uwsgi_temp_path {temp}/uwsgi;
    scgi_temp_path {temp}/scgi;
    {servers}
}}
",
            pid = dir.join(format!("{name}.pid")).display(),
            error_log = error_log.display(),
        );
        std::fs::write(&config_path, config)
            .map_err(|e| format!("{}: {e}", config_path.display()))?;
        let mut command = Command::new("nginx");
        command
            .arg("-p")
            .arg(dir)
            .arg("-e")
            .arg(&error_log)
            .arg("-c")
            .arg(&config_path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // Its own process group: stopping it reaches the workers as well.
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        let child = command.spawn().map_err(|e| {
            format!("cannot run nginx ({e}); install it with `apt-get install -y nginx-light`")
        })?;
        Ok(Self {
            name,
            child,
            error_log,
        })
    }

    /// The worker processes' ids (the master's children).
    fn workers(&self) -> Vec<u32> {
        let master = self.child.id();
        std::fs::read_to_string(format!("/proc/{master}/task/{master}/children"))
            .unwrap_or_default()
            .split_whitespace()
            .filter_map(|pid| pid.parse().ok())
            .collect()
    }

    async fn wait_ready(&mut self, address: SocketAddr) -> Result<(), String> {
        let (name, error_log) = (self.name, self.error_log.clone());
        let child = &mut self.child;
        wait_ready(address, || {
            // Gone already (a configuration error, say): say why.
            matches!(child.try_wait(), Ok(Some(_))).then(|| {
                format!(
                    "nginx ({name}) exited: {}",
                    std::fs::read_to_string(&error_log).unwrap_or_default()
                )
            })
        })
        .await
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let group = Pid::from_raw(self.child.id() as i32);
        // Fast shutdown first, then make sure: nothing of it may outlive the bench.
        let _ = killpg(group, Signal::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = killpg(group, Signal::SIGKILL);
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits (at most 10 s) until `GET /hello.txt` at `address` answers 200 with
/// the file; `gone` says whether the server has died meanwhile, and why.
async fn wait_ready(
    address: SocketAddr,
    mut gone: impl FnMut() -> Option<String>,
) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut last = String::from("no answer");
    while Instant::now() < deadline {
        if let Some(reason) = gone() {
            return Err(reason);
        }
        match tokio::time::timeout(Duration::from_secs(2), get_once(address)).await {
            Ok(Ok(response)) => {
                if response.starts_with("HTTP/1.1 200") && response.ends_with(BODY) {
                    return Ok(());
                }
                last = format!("unexpected answer: {response:?}");
            }
            Ok(Err(error)) => last = error,
            Err(_) => last = "no answer within 2 s".into(),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Err(format!(
        "{address} did not serve {PATH} within 10 s: {last}"
    ))
}

/// One `GET /hello.txt` with `Connection: close`; the whole answer as text.
async fn get_once(address: SocketAddr) -> Result<String, String> {
    let mut stream = tokio::net::TcpStream::connect(address)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let request = format!("GET {PATH} HTTP/1.1\r\nHost: {HOST}\r\nConnection: close\r\n\r\n");
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(|e| format!("write: {e}"))?;
    let mut response = Vec::new();
    stream
        .read_to_end(&mut response)
        .await
        .map_err(|e| format!("read: {e}"))?;
    Ok(String::from_utf8_lossy(&response).into_owned())
}

/// User and system CPU seconds the processes `pids` have used so far (all
/// their threads); `None` when there are none or one cannot be read.
fn cpu_seconds(pids: &[u32]) -> Option<f64> {
    if pids.is_empty() {
        return None;
    }
    let ticks_per_second = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()? as f64;
    let mut ticks = 0u64;
    for pid in pids {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // Fields after the command's closing parenthesis; utime and stime are 14 and 15.
        let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
        ticks += fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    }
    Some(ticks as f64 / ticks_per_second)
}

/// What one wrk run reported, and the proxy's CPU time per request.
#[derive(Debug, Clone, Default)]
struct WrkResult {
    cpu_us_per_request: Option<f64>,
    requests: u64,
    requests_per_sec: f64,
    p50_us: f64,
    p99_us: f64,
    max_us: f64,
    non_2xx: u64,
    socket_errors: u64,
}

/// `wrk -t1 -c<connections> -d<seconds>s --latency`, killed if it overruns.
async fn wrk(address: SocketAddr, connections: u32, seconds: u64) -> Result<WrkResult, String> {
    let url = format!("http://{address}{PATH}");
    let mut command = tokio::process::Command::new("wrk");
    command
        .args(["-t1", &format!("-c{connections}"), &format!("-d{seconds}s")])
        .args([
            "--latency",
            "--timeout",
            "2s",
            "-H",
            &format!("Host: {HOST}"),
        ])
        .arg(&url)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let child = command
        .spawn()
        .map_err(|e| format!("cannot run wrk ({e}); install it with `apt-get install -y wrk`"))?;
    let output = tokio::time::timeout(Duration::from_secs(seconds + 30), child.wait_with_output())
        .await
        .map_err(|_| format!("wrk against {url} did not finish in time"))?
        .map_err(|e| format!("wrk: {e}"))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        return Err(format!(
            "wrk against {url} failed ({}): {stdout}{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    parse_wrk(&stdout).ok_or_else(|| format!("cannot read wrk's output:\n{stdout}"))
}

/// Reads wrk 4's report (`--latency`).
fn parse_wrk(text: &str) -> Option<WrkResult> {
    let mut result = WrkResult::default();
    let mut seen = (false, false, false);
    for line in text.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["Latency", _avg, _stdev, max, ..] => result.max_us = duration_us(max)?,
            ["50%", value] => {
                result.p50_us = duration_us(value)?;
                seen.0 = true;
            }
            ["99%", value] => {
                result.p99_us = duration_us(value)?;
                seen.1 = true;
            }
            [count, "requests", "in", ..] => result.requests = count.parse().ok()?,
            ["Requests/sec:", value] => {
                result.requests_per_sec = value.parse().ok()?;
                seen.2 = true;
            }
            ["Non-2xx", "or", "3xx", "responses:", count] => result.non_2xx = count.parse().ok()?,
            ["Socket", "errors:", rest @ ..] => {
                // `connect 0, read 0, write 0, timeout 0`
                result.socket_errors = rest
                    .iter()
                    .filter_map(|word| word.trim_end_matches(',').parse::<u64>().ok())
                    .sum();
            }
            _ => {}
        }
    }
    (seen == (true, true, true)).then_some(result)
}

/// `823.12us`, `4.90ms`, `1.02s`, `1.00m` → microseconds.
fn duration_us(text: &str) -> Option<f64> {
    let split = text.find(|c: char| c.is_ascii_alphabetic())?;
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().ok()?;
    let scale = match unit {
        "us" => 1.0,
        "ms" => 1e3,
        "s" => 1e6,
        "m" => 60e6,
        "h" => 3600e6,
        _ => return None,
    };
    Some(number * scale)
}

fn millis(us: f64) -> String {
    format!("{:.2} ms", us / 1000.0)
}

fn thousands(value: f64) -> String {
    let digits = format!("{:.0}", value);
    let mut out = String::new();
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index) % 3 == 0 {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

fn ratio(numerator: f64, denominator: f64) -> String {
    if denominator > 0.0 {
        format!("{:.2}x", numerator / denominator)
    } else {
        "-".into()
    }
}

fn report(
    options: &Options,
    results: &[(u32, Vec<(&str, WrkResult)>)],
    cpus: usize,
    load_after: &str,
) {
    println!();
    println!(
        "Berth router benchmark: wrk -t1 -c<N> -d{}s --latency, GET {PATH} (a {}-byte file), \
         Host: {HOST}, loopback only",
        options.duration,
        BODY.len()
    );
    println!(
        "backend: nginx static, worker_processes auto; nginx proxy: worker_processes auto, \
         upstream keepalive 64, HTTP/1.1; Berth router: release build, in this process, \
         {cpus} worker threads (one event loop and upstream pool each, as nginx's workers); \
         access logs off in both nginx"
    );
    println!(
        "wrk, backend and proxy share the machine's {cpus} CPUs; load average after the runs: {load_after}"
    );
    println!();
    let mut table = vec![[
        "connections".to_string(),
        "path".to_string(),
        "req/s".to_string(),
        "p50".to_string(),
        "p99".to_string(),
        "max".to_string(),
        "requests".to_string(),
        "CPU/request".to_string(),
        "errors".to_string(),
    ]];
    for (connections, row) in results {
        for (name, result) in row {
            table.push([
                connections.to_string(),
                name.to_string(),
                thousands(result.requests_per_sec),
                millis(result.p50_us),
                millis(result.p99_us),
                millis(result.max_us),
                result.requests.to_string(),
                result
                    .cpu_us_per_request
                    .map_or("-".to_string(), |us| format!("{us:.2} us")),
                if result.non_2xx + result.socket_errors == 0 {
                    "0".to_string()
                } else {
                    format!(
                        "{} non-2xx, {} socket",
                        result.non_2xx, result.socket_errors
                    )
                },
            ]);
        }
    }
    print_table(&table);
    println!();
    let mut ratios = vec![[
        "connections".to_string(),
        "Berth/nginx".to_string(),
        "Berth/direct".to_string(),
        "nginx/direct".to_string(),
        "p99 Berth/nginx".to_string(),
        "CPU/request Berth/nginx".to_string(),
    ]];
    for (connections, row) in results {
        let figure = |path: &str| {
            row.iter()
                .find(|(name, _)| *name == path)
                .map(|(_, result)| result.clone())
                .unwrap_or_default()
        };
        let (direct, nginx, berth) = (
            figure("direct"),
            figure("nginx proxy"),
            figure("Berth router"),
        );
        ratios.push([
            connections.to_string(),
            ratio(berth.requests_per_sec, nginx.requests_per_sec),
            ratio(berth.requests_per_sec, direct.requests_per_sec),
            ratio(nginx.requests_per_sec, direct.requests_per_sec),
            ratio(berth.p99_us, nginx.p99_us),
            ratio(
                berth.cpu_us_per_request.unwrap_or(0.0),
                nginx.cpu_us_per_request.unwrap_or(0.0),
            ),
        ]);
    }
    println!("ratios (p99 and CPU/request: lower is better):");
    print_table(&ratios);
    println!();
}

fn print_table<const N: usize>(rows: &[[String; N]]) {
    let widths: Vec<usize> = (0..N)
        .map(|column| {
            rows.iter()
                .map(|r| r[column].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    for row in rows {
        let mut line = String::new();
        for (column, cell) in row.iter().enumerate() {
            let width = widths[column];
            if column == 1 || column == N - 1 {
                line.push_str(&format!("{cell:<width$}"));
            } else {
                line.push_str(&format!("{cell:>width$}"));
            }
            line.push_str("  ");
        }
        println!("{}", line.trim_end());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_wrk_report() {
        let text = "Running 8s test @ http://127.0.0.1:1/hello.txt
  1 threads and 50 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   823.12us    1.02ms  31.40ms   93.10%
    Req/Sec    60.58k     2.10k   64.00k    80.00%
  Latency Distribution
     50%  698.00us
     75%  812.00us
     90%    1.01ms
     99%    4.90ms
  482112 requests in 8.00s, 69.42MB read
  Non-2xx or 3xx responses: 3
  Socket errors: connect 0, read 2, write 0, timeout 1
Requests/sec:  60264.00
Transfer/sec:      8.68MB
";
        let result = parse_wrk(text).unwrap();
        assert_eq!(result.requests, 482_112);
        assert!((result.requests_per_sec - 60_264.0).abs() < 1e-6);
        assert!((result.p50_us - 698.0).abs() < 1e-6);
        assert!((result.p99_us - 4_900.0).abs() < 1e-6);
        assert!((result.max_us - 31_400.0).abs() < 1e-6);
        assert_eq!((result.non_2xx, result.socket_errors), (3, 3));
        assert_eq!(thousands(60_264.4), "60,264");
        assert_eq!(thousands(999.0), "999");
    }
}
