//! Passive health of upstream addresses: one that could not be reached is
//! passed over for a while, so that requests stop waiting on a process
//! whose host died before the platform takes it out of the route table.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// How long an address that could not be reached is passed over. Long
/// enough that a host whose link was cut costs requests one connect
/// timeout per window rather than one per request, until the platform's
/// own health checks (a few seconds) take its processes out of the route
/// table; short enough that a process that was only restarting gets its
/// share of requests back soon.
const UNREACHABLE_FOR: Duration = Duration::from_secs(5);

/// Whether an upstream address could be reached lately. Read with one
/// atomic load per request and upstream; written only when that changes.
#[derive(Debug, Default)]
pub(crate) struct Health {
    /// Until when (milliseconds on `now_millis`) the address is passed
    /// over; 0 while it is not.
    unreachable_until: AtomicU64,
}

impl Health {
    /// Whether a request should try this address before the others that
    /// are left: yes unless it is marked unreachable. Once its mark has
    /// run out, one request tries it again, and the mark is renewed for
    /// the others meanwhile, so a host that is still gone holds up one
    /// request per window rather than every one.
    pub fn admits(&self) -> bool {
        let until = self.unreachable_until.load(Ordering::Relaxed);
        if until == 0 {
            return true;
        }
        let now = now_millis();
        now >= until
            && self
                .unreachable_until
                .compare_exchange(
                    until,
                    now + window_millis(),
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                )
                .is_ok()
    }

    /// The address could not be reached: pass it over for a while.
    pub fn mark_unreachable(&self) {
        self.unreachable_until
            .store(now_millis() + window_millis(), Ordering::Relaxed);
    }

    /// An exchange with the address succeeded.
    pub fn mark_reachable(&self) {
        // Only a change is written: the usual case costs a load, and no
        // cache line bounces between the workers.
        if self.unreachable_until.load(Ordering::Relaxed) != 0 {
            self.unreachable_until.store(0, Ordering::Relaxed);
        }
    }
}

fn window_millis() -> u64 {
    UNREACHABLE_FOR.as_millis() as u64
}

/// Milliseconds on a monotonic clock that starts at 1 (0 means "not marked").
fn now_millis() -> u64 {
    static START: OnceLock<Instant> = OnceLock::new();
    START.get_or_init(Instant::now).elapsed().as_millis() as u64 + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mark_passes_an_address_over_until_it_is_reached() {
        let health = Health::default();
        assert!(health.admits());
        health.mark_unreachable();
        assert!(!health.admits());
        assert!(!health.admits());
        health.mark_reachable();
        assert!(health.admits());
    }

    #[test]
    fn one_request_tries_again_once_a_mark_has_run_out() {
        let health = Health::default();
        health
            .unreachable_until
            .store(now_millis(), Ordering::Relaxed);
        assert!(health.admits(), "the first request after the window");
        assert!(!health.admits(), "the others, while it tries");
    }
}
