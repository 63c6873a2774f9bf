//! Berth on many hosts: a push's time on one host against three, the time
//! from `hosts:add` until a dyno runs on the new host, and what a host
//! that dies (cut off from the network) under load costs.
//!
//! Brings up three Docker engines in network namespaces with a registry
//! (`berth_testkit::Cluster`), starts a real `berthd` in-process driving
//! the first one, and pushes the `procfile` test fixture with the real
//! `git` client. Traffic goes only to loopback (the router, the API) and
//! to the cluster's own addresses. Prints figures; it never judges them.
//!
//! `cargo run --release -p berth-bench --bin hosts -- [--dynos N] [--load-secs SECS]`

use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use berth_api_types::Dyno;
use berth_bench::{create_app, kill_group, not_an_option, positive, run_main, sign_up, Remote};
use berth_testkit::{unique_app_name, AppRepo, Cluster, TestServer};

const USAGE: &str = "usage: hosts [--dynos N] [--load-secs SECS]

  --dynos N          web dynos of the app (default 3)
  --load-secs SECS   how long requests keep coming after a host dies (default 40)";

/// How long a push, a move or a recovery may take before the bench gives up.
const PATIENCE: Duration = Duration::from_secs(240);
/// Between two requests of the load.
const REQUEST_GAP: Duration = Duration::from_millis(10);

struct Options {
    dynos: u64,
    load: Duration,
}

fn parse_options() -> Result<Options, String> {
    let mut options = Options {
        dynos: 3,
        load: Duration::from_secs(40),
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || positive(&mut args, &arg, USAGE);
        match arg.as_str() {
            "--dynos" => options.dynos = value()?,
            "--load-secs" => options.load = Duration::from_secs(value()?),
            other => return Err(not_an_option(other, USAGE)),
        }
    }
    Ok(options)
}

fn main() -> ExitCode {
    run_main("hosts", parse_options(), run)
}

/// The API as one user, blocking.
struct Api<'s> {
    server: &'s TestServer,
    token: String,
    client: reqwest::blocking::Client,
}

impl Api<'_> {
    fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> Result<serde_json::Value, String> {
        let mut request = self
            .client
            .request(method, format!("{}/api/v1{path}", self.server.api_url))
            .bearer_auth(&self.token)
            .timeout(Duration::from_secs(120));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().map_err(|e| format!("{path}: {e}"))?;
        let status = response.status();
        let text = response.text().map_err(|e| format!("{path}: {e}"))?;
        if !status.is_success() {
            return Err(format!("{path}: {status}: {text}"));
        }
        Ok(serde_json::from_str(&text).unwrap_or(serde_json::Value::Null))
    }

    fn dynos(&self, app: &str) -> Result<Vec<Dyno>, String> {
        let listed = self.send(reqwest::Method::GET, &format!("/apps/{app}/dynos"), None)?;
        serde_json::from_value(listed).map_err(|e| format!("dynos: {e}"))
    }

    /// Polls until `done` holds of the app's dynos; how long that took.
    fn wait_for(
        &self,
        app: &str,
        what: &str,
        done: impl Fn(&[Dyno]) -> bool,
    ) -> Result<Duration, String> {
        let started = Instant::now();
        loop {
            let dynos = self.dynos(app)?;
            if done(&dynos) {
                return Ok(started.elapsed());
            }
            if started.elapsed() > PATIENCE {
                let seen: Vec<String> = dynos
                    .iter()
                    .map(|d| format!("{} {} on {}", d.name, d.state, d.host))
                    .collect();
                return Err(format!("{what}: still {seen:?} after {PATIENCE:?}"));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

fn all_up(dynos: &[Dyno], count: u64) -> bool {
    dynos.len() as u64 == count && dynos.iter().all(|d| d.state == "up")
}

fn push(remote: &Remote, repo: &AppRepo) -> Result<Duration, String> {
    repo.git(&["commit", "--allow-empty", "-q", "-m", "Deploy again"]);
    let started = Instant::now();
    let (mut child, mut stderr) = remote.spawn_push(repo, &[])?;
    let mut output = String::new();
    std::io::Read::read_to_string(&mut stderr, &mut output).map_err(|e| e.to_string())?;
    let status = child.wait().map_err(|e| e.to_string())?;
    if !status.success() {
        kill_group(&mut child);
        return Err(format!("the push failed: {}", remote.redact(&output)));
    }
    Ok(started.elapsed())
}

fn run(options: &Options) -> Result<(), String> {
    let app = unique_app_name("bench");
    let cluster = Cluster::start("bbh", 3);
    let server = TestServer::start_with(|settings| {
        settings.docker_host = Some(cluster.docker_host(0));
        settings.docker_cert_path = Some(cluster.cert_dir().to_path_buf());
        settings.registry = Some(cluster.registry().to_string());
    });
    let client = reqwest::blocking::Client::new();
    let admin = Api {
        server: &server,
        token: server.create_user("admin@example.com", true, None),
        client: client.clone(),
    };
    let user = Api {
        server: &server,
        token: sign_up(&server),
        client: client.clone(),
    };
    let remote = create_app(&server, &user.token, &app)?;
    let repo = AppRepo::from_fixture("procfile");
    let dynos = options.dynos;

    let cold = push(&remote, &repo)?;
    user.send(
        reqwest::Method::PATCH,
        &format!("/apps/{app}/formation"),
        Some(serde_json::json!({ "changes": [format!("web={dynos}")] })),
    )?;
    user.wait_for(&app, "scaled on one host", |d| all_up(d, dynos))?;
    let one_host = push(&remote, &repo)?;
    println!(
        "push, cold, one host:                    {:>8.2} s",
        cold.as_secs_f64()
    );
    println!(
        "push, {dynos} web dynos, one host:            {:>8.2} s",
        one_host.as_secs_f64()
    );

    let scale = |quantity: u64| {
        user.send(
            reqwest::Method::PATCH,
            &format!("/apps/{app}/formation"),
            Some(serde_json::json!({ "changes": [format!("web={quantity}")] })),
        )
    };
    for (index, name) in [(1, "h2"), (2, "h3")] {
        let added = Instant::now();
        admin.send(
            reqwest::Method::POST,
            "/hosts",
            Some(serde_json::json!({ "name": name, "docker_host": cluster.docker_host(index) })),
        )?;
        let joined = added.elapsed();
        // The first host added takes dynos as the app moves onto the swarm;
        // Swarm moves no running task after that, so one more dyno is asked for.
        let grown = index > 1;
        if grown {
            scale(dynos + 1)?;
        }
        user.wait_for(&app, "a dyno on the new host", |d| {
            d.iter().any(|d| d.host == name && d.state == "up")
        })?;
        let placed = added.elapsed();
        if grown {
            scale(dynos)?;
        }
        user.wait_for(&app, "every dyno up on the swarm", |d| all_up(d, dynos))?;
        println!(
            "hosts:add {name}: joined in {:.2} s, first dyno up there {:.2} s after the request{}",
            joined.as_secs_f64(),
            placed.as_secs_f64(),
            if grown {
                " (with one more dyno asked for)"
            } else {
                " (the app moving onto the swarm)"
            }
        );
    }
    let three_hosts = push(&remote, &repo)?;
    user.wait_for(&app, "every dyno up after the push", |d| all_up(d, dynos))?;
    let spread: Vec<String> = user
        .dynos(&app)?
        .iter()
        .map(|d| format!("{} on {}", d.name, d.host))
        .collect();
    println!(
        "push, {dynos} web dynos, three hosts:         {:>8.2} s  ({})",
        three_hosts.as_secs_f64(),
        spread.join(", ")
    );

    // A host dies under load: which requests fail, and how long until the
    // app has all its dynos again.
    let victim = user
        .dynos(&app)?
        .iter()
        .find(|d| d.host == "h3" || d.host == "h2")
        .map(|d| d.host.clone())
        .ok_or("no dyno runs on an added host")?;
    let victim_index = if victim == "h2" { 1 } else { 2 };
    let stop = AtomicBool::new(false);
    let url = format!("{}/version.txt", server.http_url);
    let host_header = format!("{app}.localhost");
    let (served, failed, first_failure, last_failure, recovered) = std::thread::scope(|scope| {
        let load = scope.spawn(|| {
            let (mut served, mut failed) = (0u64, 0u64);
            let (mut first, mut last) = (None, None);
            let started = Instant::now();
            let deadline = started + PATIENCE;
            while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
                let answer = client
                    .get(&url)
                    .header("host", &host_header)
                    .timeout(Duration::from_secs(5))
                    .send()
                    .map(|response| response.status().is_success());
                if answer.unwrap_or(false) {
                    served += 1;
                } else {
                    failed += 1;
                    let at = started.elapsed();
                    first.get_or_insert(at);
                    last = Some(at);
                }
                std::thread::sleep(REQUEST_GAP);
            }
            (served, failed, first, last)
        });
        std::thread::sleep(Duration::from_secs(2));
        // Its network goes, as when a machine dies: its containers can no
        // longer answer (killing only its engine would leave them running).
        cluster.cut_link(victim_index);
        let killed = Instant::now();
        let recovered = user.wait_for(&app, "every dyno up again", |d| {
            all_up(d, dynos) && d.iter().all(|d| d.host != victim)
        });
        let rest = options.load.saturating_sub(killed.elapsed());
        std::thread::sleep(rest);
        stop.store(true, Ordering::Relaxed);
        let (served, failed, first, last) = load.join().expect("the load thread");
        (served, failed, first, last, recovered)
    });
    let recovered = recovered?;
    println!(
        "{victim} cut off under load: {failed} of {} requests failed (from {:.1?} to {:.1?} into the load), \
         all {dynos} dynos up elsewhere {:.2} s after it was cut off",
        served + failed,
        first_failure.unwrap_or_default(),
        last_failure.unwrap_or_default(),
        recovered.as_secs_f64()
    );
    cluster.restore_link(victim_index);
    Ok(())
}
