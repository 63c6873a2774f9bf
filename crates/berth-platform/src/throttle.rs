//! Sign-in throttling: after too many failed sign-ins for one account or
//! from one address within a window, further attempts are refused until
//! the oldest failure leaves the window. An attempt is counted as a failure
//! when it begins, in the same step that checks the limit, so parallel
//! attempts cannot all pass the check before any of them fails; a correct
//! password takes its attempt back. Kept in memory: a restart forgets it,
//! which costs an attacker a restart of berthd per window.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failures allowed per account and per source address within `WINDOW`.
pub const MAX_FAILURES: usize = 5;
pub const WINDOW: Duration = Duration::from_secs(15 * 60);

/// Past this many tracked accounts or addresses, a failure first forgets
/// every one whose failures all left the window: sign-ins sprayed over
/// many names cannot grow the maps without bound.
const SWEEP_ABOVE: usize = 1024;

#[derive(Default)]
pub(crate) struct SignInThrottle {
    failures: Mutex<Failures>,
}

#[derive(Default)]
struct Failures {
    by_account: HashMap<String, VecDeque<Instant>>,
    by_source: HashMap<String, VecDeque<Instant>>,
}

impl SignInThrottle {
    /// Begins an attempt of `account` signing in from `source`: refused
    /// with how long to wait, or counted as a failure until `succeeded`.
    pub(crate) fn begin(&self, account: &str, source: &str, now: Instant) -> Result<(), Duration> {
        let mut failures = self.failures.lock().expect("throttle lock");
        let account_wait = wait_for(&mut failures.by_account, account, now);
        let source_wait = wait_for(&mut failures.by_source, source, now);
        if let Some(wait) = account_wait.max(source_wait) {
            return Err(wait);
        }
        record_failure(&mut failures, account, source, now);
        Ok(())
    }

    /// How long the attempt would wait, without beginning it.
    #[cfg(test)]
    fn wait(&self, account: &str, source: &str, now: Instant) -> Option<Duration> {
        let mut failures = self.failures.lock().expect("throttle lock");
        let account = wait_for(&mut failures.by_account, account, now);
        let source = wait_for(&mut failures.by_source, source, now);
        account.max(source)
    }

    #[cfg(test)]
    fn failed(&self, account: &str, source: &str, now: Instant) {
        let mut failures = self.failures.lock().expect("throttle lock");
        record_failure(&mut failures, account, source, now);
    }

    /// A correct password clears the account's failures and takes back the
    /// attempt counted against the address, whose earlier failures stay: one
    /// valid account does not reset guessing at others.
    pub(crate) fn succeeded(&self, account: &str, source: &str, began: Instant) {
        let mut failures = self.failures.lock().expect("throttle lock");
        failures.by_account.remove(account);
        if let Some(times) = failures.by_source.get_mut(source) {
            if let Some(position) = times.iter().rposition(|at| *at == began) {
                times.remove(position);
            }
        }
    }
}

fn record_failure(failures: &mut Failures, account: &str, source: &str, now: Instant) {
    for (map, key) in [
        (&mut failures.by_account, account),
        (&mut failures.by_source, source),
    ] {
        if map.len() > SWEEP_ABOVE {
            map.retain(|_, times| {
                forget_old(times, now);
                !times.is_empty()
            });
        }
        let times = map.entry(key.to_string()).or_default();
        forget_old(times, now);
        times.push_back(now);
    }
}

fn wait_for(
    map: &mut HashMap<String, VecDeque<Instant>>,
    key: &str,
    now: Instant,
) -> Option<Duration> {
    let times = map.get_mut(key)?;
    forget_old(times, now);
    if times.is_empty() {
        map.remove(key);
        return None;
    }
    if times.len() < MAX_FAILURES {
        return None;
    }
    // The oldest failure that still counts leaves the window first.
    let oldest = times[times.len() - MAX_FAILURES];
    Some(WINDOW.saturating_sub(now.duration_since(oldest)))
}

fn forget_old(times: &mut VecDeque<Instant>, now: Instant) {
    while times
        .front()
        .is_some_and(|at| now.duration_since(*at) >= WINDOW)
    {
        times.pop_front();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_account_is_held_back_after_too_many_failures_until_they_age_out() {
        let throttle = SignInThrottle::default();
        let start = Instant::now();
        for i in 0..MAX_FAILURES {
            assert_eq!(throttle.wait("a@example.com", "10.0.0.1", start), None);
            // Each attempt from a different address: the account limit alone applies.
            throttle.failed("a@example.com", &format!("10.0.1.{i}"), start);
        }
        assert_eq!(
            throttle.wait("a@example.com", "10.0.0.2", start),
            Some(WINDOW)
        );
        assert_eq!(throttle.wait("b@example.com", "10.0.0.2", start), None);
        let later = start + WINDOW;
        assert_eq!(throttle.wait("a@example.com", "10.0.0.2", later), None);
    }

    #[test]
    fn an_address_is_held_back_across_accounts() {
        let throttle = SignInThrottle::default();
        let start = Instant::now();
        for i in 0..MAX_FAILURES {
            throttle.failed(&format!("user{i}@example.com"), "10.0.0.1", start);
        }
        let wait = throttle
            .wait(
                "new@example.com",
                "10.0.0.1",
                start + Duration::from_secs(60),
            )
            .unwrap();
        assert_eq!(wait, WINDOW - Duration::from_secs(60));
        assert_eq!(throttle.wait("new@example.com", "10.0.0.2", start), None);
    }

    #[test]
    fn accounts_and_addresses_whose_failures_aged_out_are_forgotten() {
        let throttle = SignInThrottle::default();
        let start = Instant::now();
        for i in 0..=SWEEP_ABOVE {
            throttle.failed(&format!("user{i}@example.com"), &format!("10.0.{i}"), start);
        }
        throttle.failed("late@example.com", "10.9.9.9", start + WINDOW);
        let failures = throttle.failures.lock().unwrap();
        assert_eq!(failures.by_account.len(), 1);
        assert_eq!(failures.by_source.len(), 1);
    }

    #[test]
    fn attempts_count_when_they_begin_so_no_more_than_the_allowance_proceed() {
        let throttle = SignInThrottle::default();
        let start = Instant::now();
        let begun = (0..3 * MAX_FAILURES)
            .filter(|_| throttle.begin("a@example.com", "10.0.0.1", start).is_ok())
            .count();
        assert_eq!(begun, MAX_FAILURES);
    }

    #[test]
    fn a_success_takes_back_its_own_attempt_from_the_address() {
        let throttle = SignInThrottle::default();
        let start = Instant::now();
        for i in 0..2 * MAX_FAILURES as u64 {
            let at = start + Duration::from_secs(i);
            throttle.begin("a@example.com", "10.0.0.1", at).unwrap();
            throttle.succeeded("a@example.com", "10.0.0.1", at);
        }
        assert_eq!(throttle.wait("b@example.com", "10.0.0.1", start), None);
    }

    #[test]
    fn success_clears_the_account_but_not_the_address() {
        let throttle = SignInThrottle::default();
        let start = Instant::now();
        for _ in 0..MAX_FAILURES - 1 {
            throttle.failed("a@example.com", "10.0.0.1", start);
        }
        throttle.succeeded("a@example.com", "10.0.0.9", start);
        for _ in 0..MAX_FAILURES - 1 {
            throttle.failed("a@example.com", "10.0.0.1", start);
        }
        assert_eq!(throttle.wait("a@example.com", "10.0.0.9", start), None);
        assert!(throttle.wait("a@example.com", "10.0.0.1", start).is_some());
    }
}
