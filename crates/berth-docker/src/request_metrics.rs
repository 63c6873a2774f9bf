//! How long engines take to answer Berth's requests: one histogram for the
//! whole process, every engine and host alike, labelled by the engine API
//! call. Streams (logs, events, builds, pushes, waits) are not requests
//! with an answer time, and are left out.

use std::future::Future;
use std::sync::LazyLock;
use std::time::Instant;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};

/// The engine API call a request made: `inspect`, `list`, `stats`,
/// `service_update`, … (a container's calls bare, others' prefixed by what
/// they act on).
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct EngineRequestLabels {
    pub operation: &'static str,
}

/// The durations of every engine request of this process, for the
/// platform to register as `berth_engine_request_duration_seconds`.
pub fn engine_request_durations() -> &'static Family<EngineRequestLabels, Histogram> {
    static DURATIONS: LazyLock<Family<EngineRequestLabels, Histogram>> = LazyLock::new(|| {
        // 1 ms to 32 s, doubling: a cached inspect to a slow remote stop.
        Family::new_with_constructor(|| Histogram::new(exponential_buckets(0.001, 2.0, 16)))
    });
    &DURATIONS
}

/// Awaits `request`, an engine call, and records how long it took under
/// `operation`, whatever its outcome.
pub(crate) async fn timed<T>(operation: &'static str, request: impl Future<Output = T>) -> T {
    let started = Instant::now();
    let answer = request.await;
    engine_request_durations()
        .get_or_create(&EngineRequestLabels { operation })
        .observe(started.elapsed().as_secs_f64());
    answer
}

#[cfg(test)]
mod tests {
    use super::*;
    use prometheus_client::encoding::text::encode;
    use prometheus_client::registry::Registry;

    #[tokio::test]
    async fn a_timed_call_lands_in_the_histogram() {
        let answer = timed("unit_test_call", async {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            7
        })
        .await;
        assert_eq!(answer, 7);
        let mut registry = Registry::default();
        registry.register(
            "berth_engine_request_duration_seconds",
            "Engine request durations",
            engine_request_durations().clone(),
        );
        let mut text = String::new();
        encode(&mut text, &registry).unwrap();
        assert!(
            text.contains("# TYPE berth_engine_request_duration_seconds histogram"),
            "{text}"
        );
        assert!(
            text.contains(
                "berth_engine_request_duration_seconds_count{operation=\"unit_test_call\"} 1"
            ),
            "{text}"
        );
        // 5 ms or more: in none of the buckets up to 4 ms.
        assert!(
            text.contains(
                "berth_engine_request_duration_seconds_bucket{le=\"0.004\",operation=\"unit_test_call\"} 0"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "berth_engine_request_duration_seconds_bucket{le=\"+Inf\",operation=\"unit_test_call\"} 1"
            ),
            "{text}"
        );
    }
}
