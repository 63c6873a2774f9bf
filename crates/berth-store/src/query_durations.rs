//! How long the store's operations take, as one process-wide histogram
//! (`berth_store_query_duration_seconds{operation}`) that the platform
//! registers in its Prometheus registry.

use std::sync::LazyLock;
use std::time::Instant;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{exponential_buckets_range, Histogram};

/// The label of a store operation: the name of the `Store` method.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct StoreOperationLabels {
    pub operation: &'static str,
}

pub type StoreQueryDurations = Family<StoreOperationLabels, Histogram>;

static STORE_QUERY_DURATIONS: LazyLock<StoreQueryDurations> = LazyLock::new(|| {
    // 0.1 ms (an indexed read of a warm page) to 5 s (a writer waiting out
    // another's lock under the busy timeout).
    Family::new_with_constructor(|| Histogram::new(exponential_buckets_range(0.0001, 5.0, 16)))
});

/// Durations of every `Store` operation in this process, by operation.
pub fn store_query_durations() -> &'static StoreQueryDurations {
    &STORE_QUERY_DURATIONS
}

/// Records, when dropped, the time since it was made under `operation`:
/// held for the body of a `Store` method, it times every way out of it
/// (`?` included, and a caller giving up on the future).
pub(crate) struct QueryTimer {
    operation: &'static str,
    started: Instant,
}

pub(crate) fn timed(operation: &'static str) -> QueryTimer {
    QueryTimer {
        operation,
        started: Instant::now(),
    }
}

impl Drop for QueryTimer {
    fn drop(&mut self) {
        store_query_durations()
            .get_or_create(&StoreOperationLabels {
                operation: self.operation,
            })
            .observe(self.started.elapsed().as_secs_f64());
    }
}
