//! `berth metrics`: how an app behaved over a window, in one screen.

use berth_api_types::AppMetrics;

use super::Context;
use crate::cli::MetricsArgs;
use crate::error::Result;
use crate::output;

pub fn show(context: &Context, args: MetricsArgs) -> Result<()> {
    let name = context.app_name(&args.app)?;
    let metrics = context
        .client()?
        .app_metrics(&name, args.since.as_deref())?;
    if args.json {
        output::print_json(&metrics);
    } else {
        let window = args.since.as_deref().unwrap_or("1h");
        crate::out!("{}", render(&metrics, window));
    }
    Ok(())
}

/// The summary, then a row per dyno; `window` as it was asked for (`1h`).
fn render(metrics: &AppMetrics, window: &str) -> String {
    let summary = &metrics.summary;
    let mut out = format!(
        "=== {}: last {window}, since {}\n",
        metrics.app,
        output::time(&metrics.since)
    );
    out.push_str(&output::key_values(&[
        (
            "Requests",
            format!(
                "{} ({:.1}/min)",
                summary.requests, summary.requests_per_minute
            ),
        ),
        (
            "Response time",
            format!(
                "p50 {}  p95 {}  p99 {}",
                milliseconds(summary.p50_ms),
                milliseconds(summary.p95_ms),
                milliseconds(summary.p99_ms)
            ),
        ),
        ("5xx", format!("{:.1} %", summary.server_error_percent)),
        ("Deploys", summary.deploys.to_string()),
        ("Restarts", summary.restarts.to_string()),
    ]));
    if metrics.dynos.is_empty() {
        out.push_str("\nNo dyno was measured in this window.\n");
        return out;
    }
    let rows: Vec<Vec<String>> = metrics
        .dynos
        .iter()
        .map(|dyno| {
            let peak = dyno.points.iter().map(|p| p.memory_bytes_max).max();
            let memory = match (dyno.memory_bytes, dyno.memory_limit_bytes) {
                (Some(now), Some(limit)) => {
                    format!("{} of {}", output::size(now), output::size(limit))
                }
                (Some(now), None) => output::size(now),
                (None, _) => "-".to_string(),
            };
            vec![
                dyno.dyno.clone(),
                dyno.host.clone(),
                memory,
                peak.map_or_else(|| "-".to_string(), output::size),
                dyno.cpu_percent
                    .map_or_else(|| "-".to_string(), |cpu| format!("{cpu:.1} %")),
            ]
        })
        .collect();
    out.push('\n');
    out.push_str(&output::table(
        &["DYNO", "HOST", "MEMORY", "PEAK", "CPU"],
        &rows,
    ));
    out
}

fn milliseconds(value: Option<f64>) -> String {
    match value {
        None => "-".to_string(),
        Some(ms) if ms < 10.0 => format!("{ms:.1} ms"),
        Some(ms) => format!("{ms:.0} ms"),
    }
}
