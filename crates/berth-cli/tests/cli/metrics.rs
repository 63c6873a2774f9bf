//! Metrics end to end: requests through the real router move the counters
//! and histogram buckets Prometheus scrapes (read back with Prometheus' own
//! parser), the real engine's figures for the dyno reach `berth ps` and
//! `berth metrics`, and `/metrics` answers only a platform admin or the
//! scraper's token.

use super::*;

const METRICS_TOKEN: &str = "scraper-0123456789abcdef";

/// One sample as Prometheus' parser read it.
#[derive(Debug, serde::Deserialize)]
struct Sample {
    name: String,
    labels: std::collections::BTreeMap<String, String>,
    value: f64,
}

/// Parses the exposition with the Python client's OpenMetrics parser (strict:
/// it refuses malformed lines, bad names, a missing `# EOF`).
fn parse_exposition(text: &str) -> Vec<Sample> {
    const PARSE: &str = "import json, sys\n\
        from prometheus_client.openmetrics.parser import text_string_to_metric_families\n\
        samples = [{'name': s.name, 'labels': s.labels, 'value': s.value}\n\
                   for family in text_string_to_metric_families(sys.stdin.read())\n\
                   for s in family.samples]\n\
        print(json.dumps(samples))\n";
    let mut parser = Command::new("python3")
        .args(["-c", PARSE])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 runs (script/test installs prometheus-client)");
    use std::io::Write;
    parser
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let output = parser.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "Prometheus' parser refused the exposition: {}\n{text}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    samples
        .iter()
        .find(|sample| {
            sample.name == name
                && labels
                    .iter()
                    .all(|(key, value)| sample.labels.get(*key).map(String::as_str) == Some(value))
        })
        .map(|sample| sample.value)
}

fn scrape(world: &World, token: Option<&str>) -> reqwest::blocking::Response {
    let mut request = reqwest::blocking::Client::new()
        .get(format!("{}/metrics", world.server.api_url))
        .timeout(Duration::from_secs(30));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().unwrap()
}

/// Polls `check` every half second for at most `within`.
#[track_caller]
fn eventually<T>(within: Duration, what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + within;
    loop {
        if let Some(found) = check() {
            return found;
        }
        assert!(Instant::now() < deadline, "{what} within {within:?}");
        std::thread::sleep(Duration::from_millis(500));
    }
}

#[test]
fn requests_and_dynos_are_measured_and_only_admins_and_the_scraper_read_them() {
    let world = World::with_settings(|settings| {
        settings.metrics_token = Some(METRICS_TOKEN.to_string());
    });
    let app = AppCheckout::new(&world, "metrics", None);
    app.push();
    let admin = world.server.create_user("root@example.com", true, None);
    let member = world.server.create_user("member@example.com", false, None);

    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let host = format!("{}.localhost", app.name);
    for (path, count, status) in [("/version.txt", 30, 200), ("/missing", 10, 404)] {
        for _ in 0..count {
            let response = client
                .get(format!("{}{path}", world.server.http_url))
                .header("host", &host)
                .send()
                .unwrap();
            assert_eq!(response.status().as_u16(), status, "{path}");
        }
    }

    // Nothing but an admin's token or the scraper's reads /metrics, and the
    // refusal says the same whatever the token was.
    for token in [None, Some(""), Some("not-a-token"), Some(member.as_str())] {
        let refused = scrape(&world, token);
        assert_eq!(refused.status().as_u16(), 401, "{token:?}");
        assert_eq!(
            refused.headers()["www-authenticate"],
            "Bearer realm=\"berth\""
        );
        let body = refused.text().unwrap();
        assert!(!body.contains("berth_"), "{body}");
    }
    let as_admin = scrape(&world, Some(&admin));
    assert_eq!(as_admin.status().as_u16(), 200);
    assert!(as_admin.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/openmetrics-text"));

    // The dyno's figures come from the engine through the sampler (every 10 s).
    let samples = eventually(
        Duration::from_secs(40),
        "the dyno's memory is scraped",
        || {
            let response = scrape(&world, Some(METRICS_TOKEN));
            assert_eq!(response.status().as_u16(), 200);
            let samples = parse_exposition(&response.text().unwrap());
            value(
                &samples,
                "berth_dyno_memory_bytes",
                &[("app", &app.name), ("dyno", "web.1")],
            )
            .is_some_and(|memory| memory > 0.0)
            .then_some(samples)
        },
    );
    let app_label = [("app", app.name.as_str())];
    let of_app = |name: &str, more: &[(&str, &str)]| {
        let labels: Vec<(&str, &str)> = app_label.iter().chain(more).copied().collect();
        value(&samples, name, &labels)
    };
    assert_eq!(
        of_app("berth_router_requests_total", &[("status", "2xx")]),
        Some(30.0)
    );
    assert_eq!(
        of_app("berth_router_requests_total", &[("status", "4xx")]),
        Some(10.0)
    );
    assert_eq!(
        of_app("berth_router_requests_total", &[("status", "5xx")]),
        Some(0.0)
    );
    assert_eq!(
        of_app("berth_router_request_duration_seconds_count", &[]),
        Some(40.0)
    );
    assert_eq!(
        of_app(
            "berth_router_request_duration_seconds_bucket",
            &[("le", "+Inf")]
        ),
        Some(40.0)
    );
    let within_5s = of_app(
        "berth_router_request_duration_seconds_bucket",
        &[("le", "5.0")],
    );
    assert_eq!(
        within_5s,
        Some(40.0),
        "loopback requests take well under 5 s"
    );
    assert!(of_app("berth_router_request_duration_seconds_sum", &[]).unwrap() > 0.0);
    assert_eq!(
        of_app("berth_router_upstream_errors_total", &[("kind", "connect")]),
        Some(0.0)
    );
    assert_eq!(
        of_app("berth_deploys_total", &[("result", "succeeded")]),
        Some(1.0)
    );
    assert_eq!(
        of_app("berth_deploy_duration_seconds_count", &[]),
        Some(1.0)
    );
    assert_eq!(
        of_app("berth_dynos", &[("process", "web"), ("state", "up")]),
        Some(1.0)
    );
    assert!(of_app("berth_log_lines_total", &[]).unwrap() > 0.0);
    assert!(of_app("berth_dyno_cpu_seconds_total", &[("dyno", "web.1")]).is_some());
    assert_eq!(
        value(&samples, "berth_hosts", &[("state", "ready")]),
        Some(1.0)
    );
    assert!(value(&samples, "process_resident_memory_bytes", &[]).unwrap() > 0.0);
    assert!(value(&samples, "process_cpu_seconds_total", &[]).is_some());
    for histogram in [
        "berth_engine_request_duration_seconds_count",
        "berth_store_query_duration_seconds_count",
    ] {
        let count: f64 = samples
            .iter()
            .filter(|sample| sample.name == histogram)
            .map(|sample| sample.value)
            .sum();
        assert!(count > 0.0, "{histogram}");
    }

    // People read the same through the CLI: ps with MEMORY and CPU (CPU
    // needs two measurements), and `berth metrics`.
    let dyno = eventually(Duration::from_secs(40), "ps shows memory and CPU", || {
        let dynos = app.berth(&["ps", "--json"]).json();
        let dyno = dynos[0].clone();
        (dyno["memory_bytes"].as_u64().is_some_and(|m| m > 0) && dyno["cpu_percent"].is_number())
            .then_some(dyno)
    });
    assert_eq!(dyno["name"], "web.1");
    let ps = app.berth(&["ps"]).ok();
    let header = ps.lines().next().unwrap();
    assert!(header.contains("MEMORY") && header.contains("CPU"), "{ps}");
    let row = ps.lines().nth(1).unwrap();
    assert!(
        [" B ", " KB ", " MB "]
            .iter()
            .any(|unit| row.contains(unit))
            && row.ends_with('%'),
        "{ps}"
    );

    let metrics = eventually(Duration::from_secs(30), "the samples are stored", || {
        let metrics = app.berth(&["metrics", "--json"]).json();
        (metrics["summary"]["requests"] == 40).then_some(metrics)
    });
    assert_eq!(metrics["app"], app.name.as_str());
    assert_eq!(metrics["resolution_seconds"], 10);
    assert!((metrics["summary"]["server_error_percent"].as_f64().unwrap() - 0.0).abs() < 1e-9);
    assert!(metrics["summary"]["p50_ms"].as_f64().unwrap() > 0.0);
    let points = metrics["requests"].as_array().unwrap();
    assert!(
        points.len() >= 360,
        "an hour of 10 s points: {}",
        points.len()
    );
    let counted: u64 = points
        .iter()
        .map(|p| p["status_2xx"].as_u64().unwrap() + p["status_4xx"].as_u64().unwrap())
        .sum();
    assert_eq!(counted, 40);
    assert_eq!(metrics["dynos"][0]["dyno"], "web.1");
    assert!(metrics["dynos"][0]["memory_bytes"].as_u64().unwrap() > 0);
    assert!(!metrics["dynos"][0]["points"].as_array().unwrap().is_empty());
    assert_eq!(metrics["events"][0]["kind"], "deploy");

    let text = app.berth(&["metrics", "--since", "24h"]).ok();
    assert!(text.contains("last 24h"), "{text}");
    assert!(text.contains("40 (") && text.contains("p95"), "{text}");
    assert!(text.contains("web.1"), "{text}");

    let refused = app.berth(&["metrics", "--since", "2w"]).fails();
    assert!(refused.contains("such as 30m, 1h, 24h or 7d"), "{refused}");
}
