//! Per-app traffic counts: responses by status class, response times in
//! buckets, upstream errors by kind. A request adds to its app's counters
//! with a few relaxed atomic additions and no lookup (the route entry holds
//! them); the platform reads them as cumulative figures for Prometheus and
//! its charts.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Upper bounds, in seconds, of the response-time buckets (a last, unbounded bucket follows).
pub const LATENCY_BUCKETS: [f64; 12] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// `LATENCY_BUCKETS` in microseconds, as requests are timed.
const LATENCY_BUCKET_MICROS: [u64; 12] = [
    5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000, 1_000_000, 2_500_000, 5_000_000,
    10_000_000, 30_000_000,
];

/// Why an upstream gave no answer the router could pass on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UpstreamErrorKind {
    /// No connection could be made (counted even when another process then answered).
    Connect,
    /// No first response byte within the first-byte timeout (Heroku's H12).
    Timeout,
    /// A response that is not valid HTTP/1.1 or frames its body ambiguously (H17).
    BadResponse,
    /// The connection ended without a response (H13).
    Closed,
}

impl UpstreamErrorKind {
    pub const ALL: [UpstreamErrorKind; 4] = [
        UpstreamErrorKind::Connect,
        UpstreamErrorKind::Timeout,
        UpstreamErrorKind::BadResponse,
        UpstreamErrorKind::Closed,
    ];

    /// The kind as a metric label value.
    pub fn as_str(self) -> &'static str {
        match self {
            UpstreamErrorKind::Connect => "connect",
            UpstreamErrorKind::Timeout => "timeout",
            UpstreamErrorKind::BadResponse => "bad_response",
            UpstreamErrorKind::Closed => "closed",
        }
    }

    /// Its index in `ALL` (and in `AppTraffic::upstream_errors`).
    fn index(self) -> usize {
        self as usize
    }
}

/// One app's counts since the router started counting it (cumulative, never reset while the app is routed).
#[derive(Debug, Clone, PartialEq)]
pub struct AppTraffic {
    pub app: String,
    /// Responses by status class: index 0 = 1xx … 4 = 5xx.
    pub responses: [u64; 5],
    /// Response times (to the first response byte), per bucket of LATENCY_BUCKETS, NOT cumulative;
    /// the 13th entry counts those above the last bound.
    pub latency_buckets: [u64; 13],
    pub latency_sum_seconds: f64,
    /// Per kind, indexed like UpstreamErrorKind::ALL.
    pub upstream_errors: [u64; 4],
}

/// One app's live counters. Aligned to a cache line so that no unrelated
/// data shares the lines every request of the app writes to.
#[derive(Default)]
#[repr(align(64))]
pub(crate) struct AppCounters {
    responses: [AtomicU64; 5],
    latency_buckets: [AtomicU64; 13],
    latency_sum_micros: AtomicU64,
    upstream_errors: [AtomicU64; 4],
}

impl AppCounters {
    /// Counts a response of `status` whose head was ready `elapsed` after
    /// the request started.
    pub fn response(&self, status: u16, elapsed: Duration) {
        let class = usize::from(status / 100).clamp(1, 5) - 1;
        self.responses[class].fetch_add(1, Ordering::Relaxed);
        let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        let bucket = LATENCY_BUCKET_MICROS
            .iter()
            .position(|&bound| micros <= bound)
            .unwrap_or(LATENCY_BUCKET_MICROS.len());
        self.latency_buckets[bucket].fetch_add(1, Ordering::Relaxed);
        self.latency_sum_micros.fetch_add(micros, Ordering::Relaxed);
    }

    pub fn upstream_error(&self, kind: UpstreamErrorKind) {
        self.upstream_errors[kind.index()].fetch_add(1, Ordering::Relaxed);
    }

    /// The figures so far, for `app`.
    pub fn snapshot(&self, app: &str) -> AppTraffic {
        let load = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        AppTraffic {
            app: app.to_string(),
            responses: self.responses.each_ref().map(load),
            latency_buckets: self.latency_buckets.each_ref().map(load),
            latency_sum_seconds: load(&self.latency_sum_micros) as f64 / 1e6,
            upstream_errors: self.upstream_errors.each_ref().map(load),
        }
    }
}

/// Every routed app's counters, by app name. A table build hands each
/// route its app's counters (the same ones across table swaps) and forgets
/// those of apps the new table no longer has.
#[derive(Default)]
pub(crate) struct AppCounterSets {
    by_app: Mutex<HashMap<String, Arc<AppCounters>>>,
}

impl AppCounterSets {
    /// The counters of exactly `apps`, in their order: kept ones for apps
    /// already counted, new ones for the rest; other apps are forgotten.
    pub fn keep_only<'app>(
        &self,
        apps: impl IntoIterator<Item = &'app str>,
    ) -> Vec<Arc<AppCounters>> {
        let mut by_app = self.by_app.lock().expect("app counters lock");
        let mut kept = HashMap::with_capacity(by_app.len());
        let counters = apps
            .into_iter()
            .map(|app| {
                let counters = kept
                    .entry(app.to_string())
                    .or_insert_with(|| by_app.remove(app).unwrap_or_default());
                Arc::clone(counters)
            })
            .collect();
        *by_app = kept;
        counters
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_bounds_say_the_same_in_both_units() {
        for (seconds, micros) in LATENCY_BUCKETS.iter().zip(LATENCY_BUCKET_MICROS) {
            assert_eq!((seconds * 1e6).round() as u64, micros);
        }
    }

    #[test]
    fn responses_go_to_their_class_and_bucket() {
        let counters = AppCounters::default();
        counters.response(101, Duration::from_micros(5_000));
        counters.response(200, Duration::from_micros(5_001));
        counters.response(302, Duration::from_millis(60));
        counters.response(404, Duration::from_secs(30));
        counters.response(503, Duration::from_secs(31));
        counters.upstream_error(UpstreamErrorKind::Closed);
        let traffic = counters.snapshot("demo");
        assert_eq!(traffic.responses, [1, 1, 1, 1, 1]);
        assert_eq!(
            traffic.latency_buckets,
            [1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 1],
            "a bound belongs to its own bucket"
        );
        assert!((traffic.latency_sum_seconds - 61.070_001).abs() < 1e-9);
        assert_eq!(traffic.upstream_errors, [0, 0, 0, 1]);
        assert_eq!(
            UpstreamErrorKind::ALL.map(UpstreamErrorKind::as_str),
            ["connect", "timeout", "bad_response", "closed"]
        );
    }

    #[test]
    fn counters_stay_with_their_app_and_go_with_it() {
        let sets = AppCounterSets::default();
        let first = sets.keep_only(["a", "b"]);
        first[0].upstream_error(UpstreamErrorKind::Connect);
        let second = sets.keep_only(["b", "a", "a"]);
        assert!(Arc::ptr_eq(&first[0], &second[1]));
        assert!(Arc::ptr_eq(&second[1], &second[2]), "one set per app");
        sets.keep_only(["b"]);
        let again = sets.keep_only(["a"]);
        assert_eq!(
            again[0].snapshot("a").upstream_errors,
            [0; 4],
            "counted anew"
        );
    }
}
