//! `GET /metrics`: everything the platform measures, in Prometheus' text
//! exposition format, for a platform admin or the scraper holding
//! `BERTH_METRICS_TOKEN`. Counters the platform keeps as it goes are
//! registered as they are; what is read at scrape time (router counts,
//! dynos, hosts, certificates, berthd itself) is a snapshot encoded by a
//! collector.

use std::collections::BTreeMap;
use std::fmt;

use berth_core::Action;
use berth_docker::{ContainerSelector, Runtime};
use berth_router::{AppTraffic, UpstreamErrorKind, LATENCY_BUCKETS};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric, NoLabelSet};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;
use subtle::ConstantTimeEq;

use super::process::ProcessFigures;
use super::sampler::DynoFigures;
use crate::{authorize_platform, Platform, PlatformError, Result};

/// The status classes every routed app reports, even at zero, so that
/// rates of each exist from the start.
const STATUS_CLASSES: [&str; 5] = ["1xx", "2xx", "3xx", "4xx", "5xx"];

impl Platform {
    /// Whether `bearer` may read `/metrics`: the metrics token, or the API
    /// token of a platform admin.
    pub async fn authorize_metrics_reader(&self, bearer: &str, source: &str) -> Result<()> {
        if let Some(token) = &self.metrics_token {
            if bool::from(token.as_bytes().ct_eq(bearer.as_bytes())) {
                return Ok(());
            }
        }
        let session = self.authenticate(bearer, source).await?;
        authorize_platform(&session.actor, Action::ReadPlatform)
    }

    /// The text exposition of every metric (call `authorize_metrics_reader` first).
    pub async fn prometheus_text(&self) -> Result<String> {
        let snapshot = self.metrics_snapshot().await;
        let mut registry = Registry::default();
        registry.register(
            "berth_deploys",
            "Pushes deployed, by app and result (succeeded or failed)",
            self.metrics.deploys.clone(),
        );
        registry.register(
            "berth_deploy_duration_seconds",
            "How long pushes took, from receiving them to the release serving or failing",
            self.metrics.deploy_durations.clone(),
        );
        let (lines, dropped) = self.logs.line_counts();
        registry.register(
            "berth_log_lines",
            "Log lines written to apps' logs",
            lines.clone(),
        );
        registry.register(
            "berth_log_lines_dropped",
            "Log lines lost: the log writer fell behind, or the log could not be stored",
            dropped.clone(),
        );
        registry.register(
            "berth_engine_request_duration_seconds",
            "Requests to the container engines, by operation",
            berth_docker::engine_request_durations().clone(),
        );
        registry.register(
            "berth_store_query_duration_seconds",
            "Operations on the store, by operation",
            berth_store::store_query_durations().clone(),
        );
        registry.register_collector(Box::new(snapshot));
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry)
            .map_err(|_| PlatformError::Internal("cannot encode the metrics".into()))?;
        Ok(text)
    }

    /// What is read at scrape time. Parts that cannot be read (the engine
    /// is away) are left out rather than failing the scrape.
    async fn metrics_snapshot(&self) -> Snapshot {
        let traffic = self
            .router
            .as_ref()
            .map(|router| router.traffic())
            .unwrap_or_default();
        let (dynos, restarts) = {
            let sampler = self.metrics.sampler();
            (
                sampler.dynos.values().cloned().collect(),
                sampler.restarts.clone(),
            )
        };
        let mut dyno_states = BTreeMap::new();
        if let Ok(runtime) = self.runtime() {
            match runtime
                .containers_of(ContainerSelector::platform(&self.platform_id))
                .await
            {
                Ok(containers) => {
                    for container in containers {
                        let Some(process) = &container.process else {
                            continue;
                        };
                        if process.dyno.is_none() || process.oneoff.is_some() {
                            continue;
                        }
                        let state = crate::release::dyno_state(&container.state);
                        *dyno_states
                            .entry((process.app.clone(), process.process_type.clone(), state))
                            .or_insert(0) += 1;
                    }
                }
                Err(error) => tracing::debug!(%error, "metrics: cannot list the dynos"),
            }
        }
        let certificates = match self.store.certificates(None).await {
            Ok(records) => records
                .into_iter()
                .map(|record| (record.hostname, record.not_after.timestamp()))
                .collect(),
            Err(error) => {
                tracing::debug!(%error, "metrics: cannot read the certificates");
                Vec::new()
            }
        };
        Snapshot {
            traffic,
            dynos,
            restarts,
            dyno_states,
            hosts: self.host_states().await,
            certificates,
            process: ProcessFigures::read(),
            started: self
                .metrics
                .started
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0.0, |since| since.as_secs_f64()),
        }
    }

    /// Hosts by state (`ready`, `down`, `unknown`, or `draining`), the
    /// default host included.
    async fn host_states(&self) -> BTreeMap<&'static str, u64> {
        let mut states =
            BTreeMap::from([("ready", 0), ("down", 0), ("unknown", 0), ("draining", 0)]);
        let Ok(engine) = self.engine() else {
            return states;
        };
        let default_state = match engine.info().await {
            Ok(_) => "ready",
            Err(_) => "down",
        };
        *states.entry(default_state).or_default() += 1;
        let records = self.store.hosts().await.unwrap_or_default();
        if records.is_empty() {
            return states;
        }
        let nodes = engine.swarm_nodes().await.unwrap_or_default();
        for record in records {
            let state = match nodes.iter().find(|node| node.id == record.node_id) {
                Some(node) if node.availability == "drain" => "draining",
                Some(node) => crate::hosts::node_state(&node.state),
                None => "unknown",
            };
            *states.entry(state).or_default() += 1;
        }
        states
    }
}

/// What one scrape reports beyond the registered counters.
#[derive(Debug)]
struct Snapshot {
    traffic: Vec<AppTraffic>,
    dynos: Vec<DynoFigures>,
    restarts: BTreeMap<(String, String), u64>,
    dyno_states: BTreeMap<(String, String, &'static str), u64>,
    hosts: BTreeMap<&'static str, u64>,
    certificates: Vec<(String, i64)>,
    process: Option<ProcessFigures>,
    /// When berthd started, in seconds since the epoch.
    started: f64,
}

/// One metric family: its descriptor, then each labelled value.
fn family<L: EncodeLabelSet, M: EncodeMetric>(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    metric_type: MetricType,
    series: impl IntoIterator<Item = (L, M)>,
) -> fmt::Result {
    let mut family = encoder.encode_descriptor(name, help, None, metric_type)?;
    for (labels, metric) in series {
        metric.encode(family.encode_family(&labels)?)?;
    }
    Ok(())
}

impl Collector for Snapshot {
    fn encode(&self, mut encoder: DescriptorEncoder) -> fmt::Result {
        family(
            &mut encoder,
            "berth_router_requests",
            "Requests the router answered for each app, by status class",
            MetricType::Counter,
            self.traffic.iter().flat_map(|app| {
                STATUS_CLASSES
                    .iter()
                    .zip(app.responses)
                    .filter(|(class, count)| **class != "1xx" || *count > 0)
                    .map(|(class, count)| {
                        (
                            [("app", app.app.as_str()), ("status", *class)],
                            ConstCounter::new(count),
                        )
                    })
            }),
        )?;
        let mut durations = encoder.encode_descriptor(
            "berth_router_request_duration_seconds",
            "Time from a request's arrival to its response's first byte, for each app",
            None,
            MetricType::Histogram,
        )?;
        for app in &self.traffic {
            let buckets: Vec<(f64, u64)> = LATENCY_BUCKETS
                .iter()
                .copied()
                .chain([f64::MAX])
                .zip(app.latency_buckets)
                .collect();
            durations
                .encode_family(&[("app", app.app.as_str())])?
                .encode_histogram::<NoLabelSet>(
                    app.latency_sum_seconds,
                    app.latency_buckets.iter().sum(),
                    &buckets,
                    None,
                )?;
        }
        family(
            &mut encoder,
            "berth_router_upstream_errors",
            "Requests the app's processes failed: could not connect, timed out, answered \
             malformed HTTP, or closed without answering",
            MetricType::Counter,
            self.traffic.iter().flat_map(|app| {
                UpstreamErrorKind::ALL
                    .iter()
                    .zip(app.upstream_errors)
                    .map(|(kind, count)| {
                        (
                            [("app", app.app.as_str()), ("kind", kind.as_str())],
                            ConstCounter::new(count),
                        )
                    })
            }),
        )?;

        let dyno_labels = |figures: &'_ DynoFigures| {
            [
                ("app", figures.stats.app.clone()),
                ("process", figures.stats.process_type.clone()),
                ("dyno", figures.stats.dyno.clone()),
                ("host", figures.stats.host.clone()),
            ]
        };
        family(
            &mut encoder,
            "berth_dyno_memory_bytes",
            "Memory each dyno uses (its page cache not counted), as last measured",
            MetricType::Gauge,
            self.dynos.iter().map(|figures| {
                (
                    dyno_labels(figures),
                    ConstGauge::new(figures.stats.memory_bytes as i64),
                )
            }),
        )?;
        family(
            &mut encoder,
            "berth_dyno_memory_limit_bytes",
            "Each dyno's memory limit, for dynos that have one",
            MetricType::Gauge,
            self.dynos.iter().filter_map(|figures| {
                let limit = figures.stats.memory_limit_bytes?;
                Some((dyno_labels(figures), ConstGauge::new(limit as i64)))
            }),
        )?;
        family(
            &mut encoder,
            "berth_dyno_cpu_seconds",
            "CPU time each dyno's container has used since it started",
            MetricType::Counter,
            self.dynos.iter().map(|figures| {
                (
                    dyno_labels(figures),
                    ConstCounter::new(figures.stats.cpu_seconds_total),
                )
            }),
        )?;
        family(
            &mut encoder,
            "berth_dyno_restarts",
            "Crashed dynos the platform started again, since berthd started",
            MetricType::Counter,
            self.restarts.iter().map(|((app, dyno), count)| {
                let process = dyno.split('.').next().unwrap_or(dyno);
                (
                    [
                        ("app", app.as_str()),
                        ("process", process),
                        ("dyno", dyno.as_str()),
                    ],
                    ConstCounter::new(*count),
                )
            }),
        )?;
        family(
            &mut encoder,
            "berth_dynos",
            "Dynos by app, process type and state (up, starting, crashed, down)",
            MetricType::Gauge,
            self.dyno_states
                .iter()
                .map(|((app, process, state), count)| {
                    (
                        [
                            ("app", app.as_str()),
                            ("process", process),
                            ("state", state),
                        ],
                        ConstGauge::new(*count as i64),
                    )
                }),
        )?;
        family(
            &mut encoder,
            "berth_certificate_expiry_timestamp_seconds",
            "When each hostname's certificate expires, in seconds since the epoch",
            MetricType::Gauge,
            self.certificates.iter().map(|(hostname, expires)| {
                ([("hostname", hostname.as_str())], ConstGauge::new(*expires))
            }),
        )?;
        family(
            &mut encoder,
            "berth_hosts",
            "Hosts dynos run on, by state",
            MetricType::Gauge,
            self.hosts
                .iter()
                .map(|(state, count)| ([("state", *state)], ConstGauge::new(*count as i64))),
        )?;

        let no_labels: [(&str, &str); 0] = [];
        if let Some(process) = self.process {
            family(
                &mut encoder,
                "process_resident_memory_bytes",
                "berthd's resident memory",
                MetricType::Gauge,
                [(
                    no_labels,
                    ConstGauge::new(process.resident_memory_bytes as i64),
                )],
            )?;
            family(
                &mut encoder,
                "process_cpu_seconds",
                "CPU time berthd has used",
                MetricType::Counter,
                [(no_labels, ConstCounter::new(process.cpu_seconds_total))],
            )?;
            family(
                &mut encoder,
                "process_open_fds",
                "File descriptors berthd has open",
                MetricType::Gauge,
                [(no_labels, ConstGauge::new(process.open_fds as i64))],
            )?;
        }
        family(
            &mut encoder,
            "process_start_time_seconds",
            "When berthd started, in seconds since the epoch",
            MetricType::Gauge,
            [(no_labels, ConstGauge::new(self.started))],
        )?;
        Ok(())
    }
}
