//! The stored samples as people read them: an app's requests, response
//! times and dynos over a window, with gaps filled and percentiles worked
//! out from the response-time buckets.

use std::collections::{BTreeMap, HashMap};

use berth_api_types::{
    AppMetrics, DynoMetrics, DynoPoint, MetricsEvent, MetricsSummary, RequestPoint,
};
use berth_core::{Action, Actor, MetricsWindow};
use berth_router::LATENCY_BUCKETS;
use berth_store::{AppSampleRow, DynoSampleRow};
use chrono::{DateTime, TimeZone, Utc};

use super::sampler::DynoFigures;
use crate::release::dyno_order;
use crate::{Platform, Result};

/// Points in the app list's sparkline: requests per minute over the last hour.
pub const SPARKLINE_POINTS: usize = 60;

impl Platform {
    /// How the app behaved over `window` (ending now).
    pub async fn app_metrics(
        &self,
        actor: &Actor,
        app_name: &str,
        window: MetricsWindow,
    ) -> Result<AppMetrics> {
        let app = self.authorize_app(actor, app_name, Action::ReadApp).await?;
        let resolution = window.resolution_seconds();
        let until = Utc::now();
        let since = bucket_start(until - window.length(), resolution);
        let requests = self
            .store
            .app_metric_samples(app.id, resolution, since)
            .await?;
        let dynos = self
            .store
            .dyno_metric_samples(app.id, resolution, since)
            .await?;
        let deploys = self
            .store
            .releases(app.id)
            .await?
            .into_iter()
            .filter(|release| release.created_at >= since)
            .map(|release| MetricsEvent {
                at: release.created_at,
                kind: "deploy".into(),
                description: format!("v{}: {}", release.version, release.description),
            })
            .collect();
        let latest = self.metrics.sampler().dynos_of(&app.name);
        Ok(assemble(
            &app.name,
            Window {
                since,
                until,
                resolution,
            },
            &requests,
            &dynos,
            deploys,
            &latest,
        ))
    }

    /// Requests per minute over the last hour of every app the actor may
    /// see that had any, for the app list's sparklines.
    pub async fn request_sparklines(&self, actor: &Actor) -> Result<HashMap<String, Vec<u64>>> {
        let apps = self.apps(actor).await?;
        let since = bucket_start(
            Utc::now() - chrono::Duration::minutes(SPARKLINE_POINTS as i64 - 1),
            60,
        );
        let names: HashMap<i64, String> = apps.into_iter().map(|app| (app.id, app.name)).collect();
        let mut lines: HashMap<String, Vec<u64>> = HashMap::new();
        for (app_id, at, count) in self.store.response_counts_by_app(since).await? {
            let Some(name) = names.get(&app_id) else {
                continue;
            };
            let index = ((at - since).num_seconds() / 60) as usize;
            if let Some(slot) = lines
                .entry(name.clone())
                .or_insert_with(|| vec![0; SPARKLINE_POINTS])
                .get_mut(index)
            {
                *slot += count;
            }
        }
        Ok(lines)
    }
}

fn bucket_start(at: DateTime<Utc>, resolution: u32) -> DateTime<Utc> {
    let seconds = at.timestamp();
    let start = seconds - seconds.rem_euclid(i64::from(resolution));
    Utc.timestamp_opt(start, 0).single().unwrap_or(at)
}

#[derive(Debug, Clone, Copy)]
struct Window {
    since: DateTime<Utc>,
    until: DateTime<Utc>,
    resolution: u32,
}

fn assemble(
    app: &str,
    window: Window,
    requests: &[AppSampleRow],
    dynos: &[DynoSampleRow],
    deploys: Vec<MetricsEvent>,
    latest: &HashMap<String, DynoFigures>,
) -> AppMetrics {
    let by_time: HashMap<DateTime<Utc>, &AppSampleRow> =
        requests.iter().map(|row| (row.at, row)).collect();
    let step = chrono::Duration::seconds(i64::from(window.resolution));
    let mut points = Vec::new();
    let mut at = window.since;
    while at <= window.until {
        points.push(match by_time.get(&at) {
            Some(row) => request_point(row),
            None => RequestPoint {
                at,
                status_2xx: 0,
                status_3xx: 0,
                status_4xx: 0,
                status_5xx: 0,
                p50_ms: None,
                p95_ms: None,
                p99_ms: None,
            },
        });
        at += step;
    }

    let mut responses = [0u64; 5];
    let mut buckets = vec![0u64; LATENCY_BUCKETS.len() + 1];
    for row in requests {
        add(&mut responses, &row.responses);
        add(&mut buckets, &row.latency_buckets);
    }
    let total: u64 = responses.iter().sum();
    let minutes = (window.until - window.since).num_seconds().max(60) as f64 / 60.0;
    let summary = MetricsSummary {
        requests: total,
        requests_per_minute: total as f64 / minutes,
        p50_ms: percentile_ms(&buckets, 0.50),
        p95_ms: percentile_ms(&buckets, 0.95),
        p99_ms: percentile_ms(&buckets, 0.99),
        server_error_percent: if total == 0 {
            0.0
        } else {
            responses[4] as f64 * 100.0 / total as f64
        },
        deploys: deploys.len() as u64,
        restarts: requests.iter().map(|row| row.restarts).sum(),
    };

    let mut events = deploys;
    events.extend(
        requests
            .iter()
            .filter(|row| row.restarts > 0)
            .map(|row| MetricsEvent {
                at: row.at,
                kind: "restart".into(),
                description: match row.restarts {
                    1 => "1 restart".to_string(),
                    count => format!("{count} restarts"),
                },
            }),
    );
    events.sort_by_key(|event| event.at);

    AppMetrics {
        app: app.to_string(),
        since: window.since,
        until: window.until,
        resolution_seconds: window.resolution,
        summary,
        requests: points,
        dynos: dyno_series(dynos, window.resolution, latest),
        events,
    }
}

fn add(into: &mut [u64], counts: &[u64]) {
    for (total, count) in into.iter_mut().zip(counts) {
        *total += count;
    }
}

fn request_point(row: &AppSampleRow) -> RequestPoint {
    RequestPoint {
        at: row.at,
        status_2xx: row.responses[0] + row.responses[1],
        status_3xx: row.responses[2],
        status_4xx: row.responses[3],
        status_5xx: row.responses[4],
        p50_ms: percentile_ms(&row.latency_buckets, 0.50),
        p95_ms: percentile_ms(&row.latency_buckets, 0.95),
        p99_ms: percentile_ms(&row.latency_buckets, 0.99),
    }
}

/// The `quantile` of the response times counted in `buckets` (the router's
/// buckets, the last unbounded), in milliseconds: interpolated within the
/// bucket it falls in, as Prometheus' `histogram_quantile` does; in the
/// unbounded bucket, the last bound.
fn percentile_ms(buckets: &[u64], quantile: f64) -> Option<f64> {
    let total: u64 = buckets.iter().sum();
    if total == 0 {
        return None;
    }
    let rank = quantile * total as f64;
    let mut below = 0u64;
    for (index, &count) in buckets.iter().enumerate() {
        if count > 0 && (below + count) as f64 >= rank {
            let Some(&upper) = LATENCY_BUCKETS.get(index) else {
                return LATENCY_BUCKETS.last().map(|last| last * 1000.0);
            };
            let lower = if index == 0 {
                0.0
            } else {
                LATENCY_BUCKETS[index - 1]
            };
            let within = ((rank - below as f64) / count as f64).clamp(0.0, 1.0);
            return Some((lower + (upper - lower) * within) * 1000.0);
        }
        below += count;
    }
    LATENCY_BUCKETS.last().map(|last| last * 1000.0)
}

fn dyno_series(
    rows: &[DynoSampleRow],
    resolution: u32,
    latest: &HashMap<String, DynoFigures>,
) -> Vec<DynoMetrics> {
    let mut by_dyno: BTreeMap<(String, u32), DynoMetrics> = BTreeMap::new();
    for row in rows {
        let series = by_dyno
            .entry(dyno_order(&row.dyno))
            .or_insert_with(|| unmeasured(&row.dyno, &row.process_type, &row.host));
        series.host.clone_from(&row.host);
        series.memory_limit_bytes = row.memory_limit_bytes;
        series.points.push(DynoPoint {
            at: row.at,
            memory_bytes: row.memory_bytes_avg,
            memory_bytes_max: row.memory_bytes_max,
            cpu_percent: row.cpu_seconds / f64::from(resolution) * 100.0,
        });
    }
    for (dyno, figures) in latest {
        let series = by_dyno
            .entry(dyno_order(dyno))
            .or_insert_with(|| unmeasured(dyno, &figures.stats.process_type, &figures.stats.host));
        series.memory_bytes = Some(figures.stats.memory_bytes);
        series.cpu_percent = figures.cpu_percent;
        series.memory_limit_bytes = figures.stats.memory_limit_bytes;
    }
    by_dyno.into_values().collect()
}

/// A dyno's series before any point or measurement is added.
fn unmeasured(dyno: &str, process_type: &str, host: &str) -> DynoMetrics {
    DynoMetrics {
        dyno: dyno.to_string(),
        process_type: process_type.to_string(),
        host: host.to_string(),
        memory_limit_bytes: None,
        memory_bytes: None,
        cpu_percent: None,
        points: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(at: DateTime<Utc>, ok: u64, server_errors: u64, bucket: usize) -> AppSampleRow {
        let mut latency_buckets = vec![0; LATENCY_BUCKETS.len() + 1];
        latency_buckets[bucket] = ok + server_errors;
        AppSampleRow {
            at,
            responses: [0, ok, 0, 0, server_errors],
            latency_buckets,
            latency_sum_seconds: 0.0,
            restarts: 0,
        }
    }

    #[test]
    fn percentiles_interpolate_within_the_bucket_they_fall_in() {
        let mut buckets = vec![0; LATENCY_BUCKETS.len() + 1];
        assert_eq!(percentile_ms(&buckets, 0.5), None);
        // 100 requests, all between 50 and 100 ms.
        buckets[4] = 100;
        assert!((percentile_ms(&buckets, 0.5).unwrap() - 75.0).abs() < 1e-9);
        assert!((percentile_ms(&buckets, 0.99).unwrap() - 99.5).abs() < 1e-9);
        // One slow outlier beyond the last bound shows as the last bound.
        buckets[4] = 99;
        buckets[LATENCY_BUCKETS.len()] = 1;
        assert_eq!(percentile_ms(&buckets, 1.0), Some(30_000.0));
        assert!(percentile_ms(&buckets, 0.95).unwrap() < 100.0);
    }

    #[test]
    fn a_window_has_a_point_per_interval_with_gaps_as_zeros_and_a_summary() {
        let since = Utc.timestamp_opt(1_800_000_000, 0).unwrap();
        let window = Window {
            since,
            until: since + chrono::Duration::seconds(3600),
            resolution: 10,
        };
        let at = |seconds| since + chrono::Duration::seconds(seconds);
        let mut restarted = row(at(20), 0, 0, 0);
        restarted.restarts = 2;
        let rows = vec![row(at(0), 90, 10, 2), restarted, row(at(600), 100, 0, 3)];
        let deploys = vec![MetricsEvent {
            at: at(300),
            kind: "deploy".into(),
            description: "v2: Deploy abc1234".into(),
        }];
        let metrics = assemble("shop", window, &rows, &[], deploys, &HashMap::new());
        assert_eq!(metrics.requests.len(), 361);
        assert_eq!(metrics.requests[0].status_2xx, 90);
        assert_eq!(metrics.requests[0].status_5xx, 10);
        assert_eq!(metrics.requests[1].status_2xx, 0);
        assert_eq!(metrics.requests[1].p50_ms, None);
        assert_eq!(metrics.requests[60].status_2xx, 100);
        assert_eq!(metrics.summary.requests, 200);
        assert!((metrics.summary.requests_per_minute - 200.0 / 60.0).abs() < 1e-9);
        assert!((metrics.summary.server_error_percent - 5.0).abs() < 1e-9);
        assert_eq!((metrics.summary.deploys, metrics.summary.restarts), (1, 2));
        assert!(metrics.summary.p50_ms.unwrap() > 10.0);
        let kinds: Vec<_> = metrics
            .events
            .iter()
            .map(|e| (e.kind.as_str(), e.description.as_str()))
            .collect();
        assert_eq!(
            kinds,
            [("restart", "2 restarts"), ("deploy", "v2: Deploy abc1234")]
        );
    }

    #[test]
    fn dynos_are_ordered_by_type_and_number_with_cpu_as_a_share_of_the_interval() {
        let at = Utc.timestamp_opt(1_800_000_000, 0).unwrap();
        let dyno = |name: &str, cpu: f64| DynoSampleRow {
            at,
            dyno: name.into(),
            process_type: name.split('.').next().unwrap().into(),
            host: "local".into(),
            memory_bytes_max: 30 << 20,
            memory_bytes_avg: 20 << 20,
            cpu_seconds: cpu,
            memory_limit_bytes: Some(512 << 20),
        };
        let rows = vec![
            dyno("web.10", 1.0),
            dyno("web.2", 5.0),
            dyno("clock.1", 0.0),
        ];
        let series = dyno_series(&rows, 10, &HashMap::new());
        let names: Vec<_> = series.iter().map(|s| s.dyno.as_str()).collect();
        assert_eq!(names, ["clock.1", "web.2", "web.10"]);
        assert!((series[1].points[0].cpu_percent - 50.0).abs() < 1e-9);
        assert_eq!(series[1].memory_limit_bytes, Some(512 << 20));
        assert_eq!(series[1].memory_bytes, None, "not running now");
    }
}
