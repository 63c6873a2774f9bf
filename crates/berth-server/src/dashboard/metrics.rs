//! An app's Metrics tab: a summary of the window and server-rendered charts
//! of requests, response times, and each dyno's memory and CPU, with deploys
//! and restarts marked. `?fragment=charts` answers only the charts, which
//! `static/berth.js` fetches every 10 s to refresh an open page.

use std::collections::BTreeSet;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use berth_api_types::{AppMetrics, DynoMetrics, DynoPoint, RequestPoint};
use berth_core::MetricsWindow;
use berth_platform::PlatformError;
use chrono::Duration;
use serde::Deserialize;

use super::apps::AppHeader;
use super::browser::{Chrome, SignedIn};
use super::charts::{Chart, Mark, Series, Threshold, Unit};
use super::error::DashboardError;
use super::render;
use crate::AppState;

/// The windows the page offers, as (`?since=`, label).
const WINDOWS: [(&str, &str); 3] = [("1h", "Last hour"), ("24h", "24 hours"), ("7d", "7 days")];

/// Colours of dynos' lines, taken in turn.
const DYNO_CLASSES: [&str; 6] = ["s-d0", "s-d1", "s-d2", "s-d3", "s-d4", "s-d5"];

#[derive(Deserialize)]
pub(super) struct MetricsQuery {
    since: Option<String>,
    /// `charts`: only the charts' container, for the page's own refresh.
    fragment: Option<String>,
}

struct WindowLink {
    since: &'static str,
    label: &'static str,
    current: bool,
}

/// The figures and charts of one window: the part of the page that refreshes.
struct MetricsView {
    requests_per_minute: String,
    p50: String,
    p95: String,
    p99: String,
    server_errors: String,
    requests_chart: String,
    latency_chart: String,
    memory_chart: String,
    cpu_chart: String,
    /// `one point per 10 s · updated 10:04:05 UTC`.
    footnote: String,
}

#[derive(Template)]
#[template(path = "app_metrics.html")]
struct MetricsPage {
    chrome: Chrome,
    app: AppHeader,
    windows: Vec<WindowLink>,
    view: MetricsView,
}

#[derive(Template)]
#[template(path = "app_metrics_charts.html")]
struct MetricsCharts {
    view: MetricsView,
}

pub(super) async fn show(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Query(query): Query<MetricsQuery>,
    signed_in: SignedIn,
) -> Result<Response, DashboardError> {
    let actor = &signed_in.session.actor;
    // The app first: someone who may not read it learns nothing from a bad window.
    let app = state.platform.app(actor, &name).await?;
    let since = query.since.as_deref().unwrap_or("1h");
    let window =
        MetricsWindow::parse(since).map_err(|error| PlatformError::Invalid(error.to_string()))?;
    let metrics = state.platform.app_metrics(actor, &name, window).await?;
    let view = MetricsView::new(&metrics);
    let html = if query.fragment.as_deref() == Some("charts") {
        render(&MetricsCharts { view })?
    } else {
        let current = window.to_string();
        render(&MetricsPage {
            chrome: signed_in.chrome,
            app: AppHeader::new(&state, &app, "Metrics"),
            windows: WINDOWS
                .into_iter()
                .map(|(since, label)| WindowLink {
                    since,
                    label,
                    current: MetricsWindow::parse(since).is_ok_and(|w| w.to_string() == current),
                })
                .collect(),
            view,
        })?
    };
    Ok(([(header::CACHE_CONTROL, "no-store")], html).into_response())
}

impl MetricsView {
    fn new(metrics: &AppMetrics) -> Self {
        let summary = &metrics.summary;
        let milliseconds = |value: Option<f64>| {
            value.map_or_else(|| "—".to_string(), |ms| Unit::Milliseconds.format(ms))
        };
        let step = Duration::seconds(i64::from(metrics.resolution_seconds.max(1)));
        let marks: Vec<Mark> = metrics
            .events
            .iter()
            .map(|event| Mark {
                at: event.at,
                kind: event.kind.clone(),
                description: event.description.clone(),
            })
            .collect();
        let chart = |title: &str, unit, series, thresholds, empty| Chart {
            title: title.to_string(),
            unit,
            from: metrics.since,
            until: metrics.until,
            step,
            series,
            thresholds,
            marks: marks.clone(),
            empty,
        };
        let no_requests = "No requests in this window";
        let no_dyno = "No dyno measured yet";
        let requests = if summary.requests == 0 {
            Vec::new()
        } else {
            request_series(metrics)
        };
        let latency = if summary.requests == 0 {
            Vec::new()
        } else {
            latency_series(metrics)
        };
        Self {
            requests_per_minute: trimmed_rate(summary.requests_per_minute),
            p50: milliseconds(summary.p50_ms),
            p95: milliseconds(summary.p95_ms),
            p99: milliseconds(summary.p99_ms),
            server_errors: format!("{:.1} %", summary.server_error_percent),
            requests_chart: chart(
                "Requests per minute by status",
                Unit::PerMinute,
                requests,
                Vec::new(),
                no_requests,
            )
            .render(),
            latency_chart: chart(
                "Response time percentiles",
                Unit::Milliseconds,
                latency,
                Vec::new(),
                no_requests,
            )
            .render(),
            memory_chart: chart(
                "Memory per dyno",
                Unit::Bytes,
                dyno_series(&metrics.dynos, |point| point.memory_bytes as f64),
                memory_limits(&metrics.dynos),
                no_dyno,
            )
            .render(),
            cpu_chart: chart(
                "CPU per dyno, in percent of one CPU",
                Unit::Percent,
                dyno_series(&metrics.dynos, |point| point.cpu_percent),
                Vec::new(),
                no_dyno,
            )
            .render(),
            footnote: format!(
                "One point per {} · updated {}",
                resolution_text(metrics.resolution_seconds),
                metrics.until.format("%H:%M:%S UTC")
            ),
        }
    }
}

/// Requests per minute of each status class: a point counts an interval
/// of `resolution_seconds`.
fn request_series(metrics: &AppMetrics) -> Vec<Series> {
    let per_minute = 60.0 / f64::from(metrics.resolution_seconds.max(1));
    let by_status = |name: &str, class, count: fn(&RequestPoint) -> u64| Series {
        name: name.to_string(),
        class,
        points: metrics
            .requests
            .iter()
            .map(|point| (point.at, Some(count(point) as f64 * per_minute)))
            .collect(),
    };
    vec![
        by_status("2xx", "s-2xx", |point| point.status_2xx),
        by_status("3xx", "s-3xx", |point| point.status_3xx),
        by_status("4xx", "s-4xx", |point| point.status_4xx),
        by_status("5xx", "s-5xx", |point| point.status_5xx),
    ]
}

fn latency_series(metrics: &AppMetrics) -> Vec<Series> {
    let percentile = |name: &str, class, value: fn(&RequestPoint) -> Option<f64>| Series {
        name: name.to_string(),
        class,
        points: metrics
            .requests
            .iter()
            .map(|point| (point.at, value(point)))
            .collect(),
    };
    vec![
        percentile("p50", "s-p50", |point| point.p50_ms),
        percentile("p95", "s-p95", |point| point.p95_ms),
        percentile("p99", "s-p99", |point| point.p99_ms),
    ]
}

fn dyno_series(dynos: &[DynoMetrics], value: fn(&DynoPoint) -> f64) -> Vec<Series> {
    dynos
        .iter()
        .zip(DYNO_CLASSES.into_iter().cycle())
        .map(|(dyno, class)| Series {
            name: dyno.dyno.clone(),
            class,
            points: dyno
                .points
                .iter()
                .map(|point| (point.at, Some(value(point))))
                .collect(),
        })
        .collect()
}

/// A dashed line per distinct limit, named by the process types it holds
/// for when they differ.
fn memory_limits(dynos: &[DynoMetrics]) -> Vec<Threshold> {
    let limits: BTreeSet<(u64, &str)> = dynos
        .iter()
        .filter_map(|dyno| Some((dyno.memory_limit_bytes?, dyno.process_type.as_str())))
        .collect();
    let distinct: BTreeSet<u64> = limits.iter().map(|(bytes, _)| *bytes).collect();
    let several = distinct.len() > 1;
    distinct
        .into_iter()
        .map(|bytes| {
            let formatted = Unit::Bytes.format(bytes as f64);
            let label = if several {
                let types: Vec<&str> = limits
                    .iter()
                    .filter(|(limit, _)| *limit == bytes)
                    .map(|(_, process_type)| *process_type)
                    .collect();
                format!("{} limit {formatted}", types.join(", "))
            } else {
                format!("limit {formatted}")
            };
            Threshold {
                label,
                value: bytes as f64,
            }
        })
        .collect()
}

fn trimmed_rate(per_minute: f64) -> String {
    let text = format!("{per_minute:.1}");
    text.trim_end_matches(".0").to_string()
}

fn resolution_text(seconds: u32) -> String {
    match seconds {
        s if s % 60 == 0 && s >= 60 => format!("{} min", s / 60),
        s => format!("{s} s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use berth_api_types::{MetricsEvent, MetricsSummary};
    use chrono::{DateTime, TimeZone, Utc};

    fn at(minute: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 22, 10, 0, 0).unwrap() + Duration::minutes(minute)
    }

    fn dyno(name: &str, process_type: &str, limit: Option<u64>) -> DynoMetrics {
        DynoMetrics {
            dyno: name.to_string(),
            process_type: process_type.to_string(),
            host: "default".to_string(),
            memory_limit_bytes: limit,
            memory_bytes: Some(12 << 20),
            cpu_percent: Some(3.0),
            points: vec![DynoPoint {
                at: at(1),
                memory_bytes: 12 << 20,
                memory_bytes_max: 13 << 20,
                cpu_percent: 3.0,
            }],
        }
    }

    fn metrics(requests: u64) -> AppMetrics {
        AppMetrics {
            app: "shop".to_string(),
            since: at(0),
            until: at(60),
            resolution_seconds: 10,
            summary: MetricsSummary {
                requests,
                requests_per_minute: requests as f64 / 60.0,
                p50_ms: (requests > 0).then_some(4.0),
                p95_ms: (requests > 0).then_some(20.0),
                p99_ms: (requests > 0).then_some(250.0),
                server_error_percent: 0.0,
                deploys: 1,
                restarts: 0,
            },
            requests: (0..360)
                .map(|i| RequestPoint {
                    at: at(0) + Duration::seconds(10 * i),
                    status_2xx: if i == 6 { requests } else { 0 },
                    status_3xx: 0,
                    status_4xx: 0,
                    status_5xx: 0,
                    p50_ms: (i == 6 && requests > 0).then_some(4.0),
                    p95_ms: None,
                    p99_ms: None,
                })
                .collect(),
            dynos: vec![
                dyno("web.1", "web", Some(64 << 20)),
                dyno("worker.1", "worker", None),
            ],
            events: vec![MetricsEvent {
                at: at(5),
                kind: "deploy".to_string(),
                description: "Deploy v2".to_string(),
            }],
        }
    }

    #[test]
    fn the_view_counts_requests_per_minute_from_the_resolution() {
        let view = MetricsView::new(&metrics(5));
        // Five requests in ten seconds are 30 a minute.
        assert!(
            view.requests_chart.contains(">30/min</text>"),
            "{}",
            view.requests_chart
        );
        assert_eq!(view.p99, "250 ms");
        assert_eq!(view.requests_per_minute, "0.1");
        assert!(
            view.memory_chart.contains("limit 64 MiB"),
            "{}",
            view.memory_chart
        );
        assert!(view.cpu_chart.contains("worker.1"), "{}", view.cpu_chart);
        assert!(
            view.requests_chart.contains("Deploy v2"),
            "{}",
            view.requests_chart
        );
        assert_eq!(view.footnote, "One point per 10 s · updated 11:00:00 UTC");
    }

    #[test]
    fn a_window_without_requests_says_so_in_both_request_charts() {
        let view = MetricsView::new(&metrics(0));
        assert!(view.requests_chart.contains("No requests in this window"));
        assert!(view.latency_chart.contains("No requests in this window"));
        assert_eq!(view.p50, "—");
        let mut unmeasured = metrics(0);
        unmeasured.dynos.clear();
        let view = MetricsView::new(&unmeasured);
        assert!(view.memory_chart.contains("No dyno measured yet"));
        assert!(view.cpu_chart.contains("No dyno measured yet"));
    }

    #[test]
    fn limits_that_differ_by_process_type_say_whose_they_are() {
        let same = memory_limits(&[
            dyno("web.1", "web", Some(64 << 20)),
            dyno("web.2", "web", Some(64 << 20)),
        ]);
        assert_eq!(same.len(), 1);
        assert_eq!(same[0].label, "limit 64 MiB");
        let differ = memory_limits(&[
            dyno("web.1", "web", Some(64 << 20)),
            dyno("worker.1", "worker", Some(1 << 30)),
        ]);
        let labels: Vec<&str> = differ.iter().map(|t| t.label.as_str()).collect();
        assert_eq!(labels, ["web limit 64 MiB", "worker limit 1 GiB"]);
    }
}
