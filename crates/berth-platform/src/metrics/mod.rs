//! What the platform measures, for two audiences: operators' Prometheus
//! (`GET /metrics`, text exposition encoded by prometheus-client), and
//! people (`berth metrics`, `ps`, the dashboard), who read per-app samples
//! the sampler stores every ten seconds.

mod exposition;
mod process;
mod sampler;
mod series;

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};

use sampler::SamplerState;
pub use sampler::SAMPLE_EVERY;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DeployLabels {
    app: String,
    /// `succeeded` or `failed`.
    result: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AppLabels {
    app: String,
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

/// The platform's own counters, and what the sampler remembers between ticks.
pub(crate) struct Metrics {
    deploys: Family<DeployLabels, Counter>,
    deploy_durations: HistogramFamily<AppLabels>,
    sampler: Mutex<SamplerState>,
    started: std::time::SystemTime,
}

impl Default for Metrics {
    fn default() -> Self {
        Self {
            deploys: Family::default(),
            deploy_durations: Family::new_with_constructor(deploy_duration_histogram),
            sampler: Mutex::default(),
            started: std::time::SystemTime::now(),
        }
    }
}

/// Deploys take from seconds (a cached build) to the build timeout.
fn deploy_duration_histogram() -> Histogram {
    Histogram::new(exponential_buckets(1.0, 2.0, 12))
}

impl Metrics {
    pub(crate) fn deploy_finished(&self, app: &str, succeeded: bool, took: Duration) {
        let result = if succeeded { "succeeded" } else { "failed" };
        self.deploys
            .get_or_create(&DeployLabels {
                app: app.to_string(),
                result,
            })
            .inc();
        self.deploy_durations
            .get_or_create(&AppLabels {
                app: app.to_string(),
            })
            .observe(took.as_secs_f64());
    }

    /// A crashed dyno was started again by the reconciler.
    pub(crate) fn dyno_restarted(&self, app: &str, dyno: &str) {
        self.sampler().count_restart(app, dyno);
    }

    /// The app's dynos as last measured: memory in bytes and CPU in percent
    /// of one CPU, by dyno name.
    pub(crate) fn latest_dynos(&self, app: &str) -> HashMap<String, (u64, Option<f64>)> {
        self.sampler()
            .dynos_of(app)
            .into_iter()
            .map(|(dyno, figures)| (dyno, (figures.stats.memory_bytes, figures.cpu_percent)))
            .collect()
    }

    /// How often each of the app's dynos was restarted after a crash since
    /// berthd started, by dyno name.
    pub(crate) fn restarts_of(&self, app: &str) -> HashMap<String, u64> {
        self.sampler()
            .restarts
            .iter()
            .filter(|((dyno_app, _), _)| dyno_app == app)
            .map(|((_, dyno), count)| (dyno.clone(), *count))
            .collect()
    }

    /// Forgets an app that was destroyed, so its series end.
    pub(crate) fn forget_app(&self, app: &str) {
        for result in ["succeeded", "failed"] {
            self.deploys.remove(&DeployLabels {
                app: app.to_string(),
                result,
            });
        }
        self.deploy_durations.remove(&AppLabels {
            app: app.to_string(),
        });
        self.sampler().forget_app(app);
    }

    fn sampler(&self) -> std::sync::MutexGuard<'_, SamplerState> {
        self.sampler.lock().expect("metrics sampler lock")
    }
}
