//! Every ten seconds: the router's counts and each dyno's memory and CPU
//! become deltas, added to the app's samples in the store (which keeps them
//! at three resolutions for a week); the latest dyno figures stay in memory
//! for `ps` and the Prometheus endpoint.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use berth_router::AppTraffic;
use berth_store::{AppSample, DynoSample};
use chrono::Utc;

use crate::dyno_stats::DynoStats;
use crate::{Platform, Result};

/// How often the sampler runs: the finest resolution samples are kept at.
pub const SAMPLE_EVERY: Duration = Duration::from_secs(10);

/// One dyno as last measured.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct DynoFigures {
    pub stats: DynoStats,
    /// Over the time since the measurement before; none on the first.
    pub cpu_percent: Option<f64>,
    measured: Instant,
}

/// What the sampler remembers from one tick to the next.
#[derive(Debug, Default)]
pub(crate) struct SamplerState {
    /// Each app's cumulative counts at the last tick.
    traffic: HashMap<String, AppTraffic>,
    /// Each running dyno at the last tick, by app and dyno name.
    pub(super) dynos: BTreeMap<(String, String), DynoFigures>,
    /// Restarts by app and dyno since berthd started (a Prometheus counter).
    pub(super) restarts: BTreeMap<(String, String), u64>,
    /// Restarts by app not yet in a stored sample.
    unsampled_restarts: HashMap<String, u64>,
}

impl SamplerState {
    pub(super) fn count_restart(&mut self, app: &str, dyno: &str) {
        *self
            .restarts
            .entry((app.to_string(), dyno.to_string()))
            .or_default() += 1;
        *self.unsampled_restarts.entry(app.to_string()).or_default() += 1;
    }

    pub(super) fn forget_app(&mut self, app: &str) {
        self.traffic.remove(app);
        self.dynos.retain(|(dyno_app, _), _| dyno_app != app);
        self.restarts.retain(|(dyno_app, _), _| dyno_app != app);
        self.unsampled_restarts.remove(app);
    }

    /// Turns one tick's readings into the deltas to store, remembering them
    /// for the next. `app_ids` maps app names to store ids; readings of
    /// apps not in it (just destroyed) are dropped.
    pub(super) fn tick(
        &mut self,
        traffic: Vec<AppTraffic>,
        stats: Vec<DynoStats>,
        app_ids: &HashMap<String, i64>,
        now: Instant,
    ) -> (Vec<AppSample>, Vec<DynoSample>) {
        let mut app_samples: HashMap<String, AppSample> = HashMap::new();
        let mut seen = HashMap::new();
        for current in traffic {
            let delta = match self.traffic.get(&current.app) {
                Some(previous) => traffic_delta(previous, &current),
                None => current.clone(),
            };
            if let Some(&app_id) = app_ids.get(&current.app) {
                if delta.responses.iter().any(|&count| count > 0) {
                    app_samples.insert(
                        current.app.clone(),
                        AppSample {
                            app_id,
                            responses: delta.responses,
                            latency_buckets: delta.latency_buckets.to_vec(),
                            latency_sum_seconds: delta.latency_sum_seconds,
                            restarts: 0,
                        },
                    );
                }
            }
            seen.insert(current.app.clone(), current);
        }
        self.traffic = seen;
        for (app, restarts) in self.unsampled_restarts.drain() {
            let Some(&app_id) = app_ids.get(&app) else {
                continue;
            };
            app_samples
                .entry(app)
                .or_insert_with(|| AppSample {
                    app_id,
                    responses: [0; 5],
                    latency_buckets: vec![0; berth_router::LATENCY_BUCKETS.len() + 1],
                    latency_sum_seconds: 0.0,
                    restarts: 0,
                })
                .restarts += restarts;
        }

        let mut dyno_samples = Vec::new();
        let mut measured = BTreeMap::new();
        for stats in stats {
            let key = (stats.app.clone(), stats.dyno.clone());
            let used_since = self
                .dynos
                .get(&key)
                .filter(|previous| previous.stats.container_id == stats.container_id)
                .map(|previous| {
                    let cpu = (stats.cpu_seconds_total - previous.stats.cpu_seconds_total).max(0.0);
                    (cpu, now.saturating_duration_since(previous.measured))
                });
            let cpu_percent = used_since
                .filter(|(_, elapsed)| !elapsed.is_zero())
                .map(|(cpu, elapsed)| cpu / elapsed.as_secs_f64() * 100.0);
            if let Some(&app_id) = app_ids.get(&stats.app) {
                dyno_samples.push(DynoSample {
                    app_id,
                    dyno: stats.dyno.clone(),
                    process_type: stats.process_type.clone(),
                    host: stats.host.clone(),
                    memory_bytes: stats.memory_bytes,
                    memory_limit_bytes: stats.memory_limit_bytes,
                    cpu_seconds: used_since.map_or(0.0, |(cpu, _)| cpu),
                });
            }
            measured.insert(
                key,
                DynoFigures {
                    stats,
                    cpu_percent,
                    measured: now,
                },
            );
        }
        self.dynos = measured;
        let mut app_samples: Vec<AppSample> = app_samples.into_values().collect();
        app_samples.sort_by_key(|sample| sample.app_id);
        (app_samples, dyno_samples)
    }

    /// The app's dynos as last measured, by dyno name.
    pub(super) fn dynos_of(&self, app: &str) -> HashMap<String, DynoFigures> {
        self.dynos
            .iter()
            .filter(|((dyno_app, _), _)| dyno_app == app)
            .map(|((_, dyno), figures)| (dyno.clone(), figures.clone()))
            .collect()
    }
}

/// What happened between two readings of an app's counts. Counts that went
/// down were reset (the app left the route table and came back): the whole
/// current reading is new then.
fn traffic_delta(previous: &AppTraffic, current: &AppTraffic) -> AppTraffic {
    let reset = current
        .responses
        .iter()
        .zip(&previous.responses)
        .any(|(now, before)| now < before)
        || current
            .latency_buckets
            .iter()
            .zip(&previous.latency_buckets)
            .any(|(now, before)| now < before);
    if reset {
        return current.clone();
    }
    let mut delta = current.clone();
    for (count, before) in delta.responses.iter_mut().zip(&previous.responses) {
        *count -= before;
    }
    for (count, before) in delta
        .latency_buckets
        .iter_mut()
        .zip(&previous.latency_buckets)
    {
        *count -= before;
    }
    for (count, before) in delta
        .upstream_errors
        .iter_mut()
        .zip(&previous.upstream_errors)
    {
        *count = count.saturating_sub(*before);
    }
    delta.latency_sum_seconds =
        (current.latency_sum_seconds - previous.latency_sum_seconds).max(0.0);
    delta
}

impl Platform {
    /// One tick of the sampler: reads the router and every dyno's engine,
    /// stores the deltas. Run every [`SAMPLE_EVERY`].
    pub async fn sample_metrics(&self) -> Result<()> {
        let traffic = self
            .router
            .as_ref()
            .map(|router| router.traffic())
            .unwrap_or_default();
        let stats = self.dyno_stats().await;
        let app_ids: HashMap<String, i64> = self
            .store
            .apps_visible_to(0, true)
            .await?
            .into_iter()
            .map(|app| (app.name, app.id))
            .collect();
        let (apps, dynos) = self
            .metrics
            .sampler()
            .tick(traffic, stats, &app_ids, Instant::now());
        self.store
            .record_metric_samples(Utc::now(), &apps, &dynos)
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn traffic(app: &str, ok: u64, errors: u64, fast: u64, slow: u64) -> AppTraffic {
        let mut latency_buckets = [0; 13];
        latency_buckets[0] = fast;
        latency_buckets[8] = slow;
        AppTraffic {
            app: app.to_string(),
            responses: [0, ok, 0, 0, errors],
            latency_buckets,
            latency_sum_seconds: fast as f64 * 0.001 + slow as f64 * 2.0,
            upstream_errors: [0; 4],
        }
    }

    fn stats(app: &str, dyno: &str, container: &str, cpu: f64) -> DynoStats {
        DynoStats {
            app: app.to_string(),
            process_type: "web".into(),
            dyno: dyno.to_string(),
            host: "local".into(),
            container_id: container.to_string(),
            memory_bytes: 10 << 20,
            memory_limit_bytes: Some(64 << 20),
            cpu_seconds_total: cpu,
        }
    }

    #[test]
    fn counts_become_deltas_between_ticks_and_quiet_apps_store_nothing() {
        let ids = HashMap::from([("shop".to_string(), 1), ("quiet".to_string(), 2)]);
        let mut state = SamplerState::default();
        let start = Instant::now();
        let (apps, _) = state.tick(
            vec![traffic("shop", 5, 1, 6, 0), traffic("quiet", 0, 0, 0, 0)],
            vec![],
            &ids,
            start,
        );
        assert_eq!(apps.len(), 1, "an app without requests stores no row");
        assert_eq!(apps[0].responses, [0, 5, 0, 0, 1]);

        let (apps, _) = state.tick(
            vec![traffic("shop", 8, 1, 7, 2), traffic("quiet", 0, 0, 0, 0)],
            vec![],
            &ids,
            start + SAMPLE_EVERY,
        );
        assert_eq!(apps[0].responses, [0, 3, 0, 0, 0]);
        assert_eq!(apps[0].latency_buckets[0], 1);
        assert_eq!(apps[0].latency_buckets[8], 2);
        assert!((apps[0].latency_sum_seconds - 4.001).abs() < 1e-9);
    }

    #[test]
    fn a_reset_counter_counts_from_zero_and_unknown_apps_are_dropped() {
        let ids = HashMap::from([("shop".to_string(), 1)]);
        let mut state = SamplerState::default();
        let start = Instant::now();
        state.tick(vec![traffic("shop", 9, 0, 9, 0)], vec![], &ids, start);
        let (apps, _) = state.tick(
            vec![traffic("shop", 2, 0, 2, 0), traffic("gone", 4, 0, 4, 0)],
            vec![],
            &ids,
            start + SAMPLE_EVERY,
        );
        assert_eq!(apps.len(), 1);
        assert_eq!(apps[0].responses, [0, 2, 0, 0, 0]);
    }

    #[test]
    fn cpu_is_the_share_of_one_cpu_between_two_measurements_of_the_same_container() {
        let ids = HashMap::from([("shop".to_string(), 1)]);
        let mut state = SamplerState::default();
        let start = Instant::now();
        let (_, dynos) = state.tick(vec![], vec![stats("shop", "web.1", "a", 3.0)], &ids, start);
        assert_eq!(
            dynos[0].cpu_seconds, 0.0,
            "the first reading has nothing to compare with"
        );
        assert_eq!(state.dynos_of("shop")["web.1"].cpu_percent, None);

        let (_, dynos) = state.tick(
            vec![],
            vec![stats("shop", "web.1", "a", 8.0)],
            &ids,
            start + SAMPLE_EVERY,
        );
        assert!((dynos[0].cpu_seconds - 5.0).abs() < 1e-9);
        let percent = state.dynos_of("shop")["web.1"].cpu_percent.unwrap();
        assert!((percent - 50.0).abs() < 1e-6, "{percent}");

        // A new container under the same dyno name starts over.
        let (_, dynos) = state.tick(
            vec![],
            vec![stats("shop", "web.1", "b", 1.0)],
            &ids,
            start + SAMPLE_EVERY * 2,
        );
        assert_eq!(dynos[0].cpu_seconds, 0.0);
        assert_eq!(state.dynos_of("shop")["web.1"].cpu_percent, None);
    }

    #[test]
    fn restarts_are_stored_once_with_the_next_tick_and_forgotten_with_the_app() {
        let ids = HashMap::from([("shop".to_string(), 1)]);
        let mut state = SamplerState::default();
        state.count_restart("shop", "worker.1");
        state.count_restart("shop", "worker.1");
        let (apps, _) = state.tick(vec![], vec![], &ids, Instant::now());
        assert_eq!(apps[0].restarts, 2);
        assert_eq!(apps[0].responses, [0; 5]);
        let (apps, _) = state.tick(vec![], vec![], &ids, Instant::now());
        assert!(apps.is_empty());
        assert_eq!(state.restarts[&("shop".into(), "worker.1".into())], 2);
        state.forget_app("shop");
        assert!(state.restarts.is_empty());
    }
}
