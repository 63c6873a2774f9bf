//! The route table: data, swapped whole and atomically, so a request sees
//! either the old set of upstreams or the new one, never a mix.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use hyper::http::uri::Authority;

use crate::health::Health;
use crate::traffic::{AppCounterSets, AppCounters, AppTraffic};

/// One web process an app's traffic can go to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upstream {
    pub address: SocketAddr,
    /// `web.1`, for the router's log lines.
    pub dyno: String,
}

/// An app's route: the hostnames it answers and its healthy web processes
/// (none: the app has no running web process and gets a 503).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppRoute {
    pub app: String,
    pub hosts: Vec<String>,
    pub upstreams: Vec<Upstream>,
    /// Answer with the maintenance page instead of the app.
    pub maintenance: bool,
}

/// An upstream as requests use it: its address already in URI form, and
/// what the router knows of that address across every table that names it.
pub(crate) struct Target {
    pub dyno: String,
    pub address: SocketAddr,
    pub authority: Authority,
    pub state: Arc<UpstreamState>,
}

impl Target {
    pub fn health(&self) -> &Health {
        &self.state.health
    }
}

/// What the router knows of one upstream address.
#[derive(Default)]
pub(crate) struct UpstreamState {
    in_flight: AtomicUsize,
    health: Health,
}

/// Per upstream address: the requests in flight and its health. They
/// outlive table swaps, so a cutover can wait for requests that began under
/// the previous table, and an address that could not be reached stays
/// passed over when the table is replaced.
#[derive(Default)]
pub(crate) struct UpstreamStates {
    by_address: Mutex<HashMap<SocketAddr, Arc<UpstreamState>>>,
}

impl UpstreamStates {
    fn state(&self, address: SocketAddr) -> Arc<UpstreamState> {
        let mut states = self.by_address.lock().expect("upstream states lock");
        states.entry(address).or_default().clone()
    }

    /// Requests to `address` in flight.
    pub fn in_flight(&self, address: SocketAddr) -> usize {
        let states = self.by_address.lock().expect("upstream states lock");
        states
            .get(&address)
            .map_or(0, |state| state.in_flight.load(Ordering::Acquire))
    }

    /// Forgets addresses nothing else holds and with nothing in flight.
    fn prune(&self) {
        let mut states = self.by_address.lock().expect("upstream states lock");
        states.retain(|_, state| {
            Arc::strong_count(state) > 1 || state.in_flight.load(Ordering::Acquire) > 0
        });
    }
}

/// One request in flight to an upstream; counted until dropped.
pub(crate) struct InFlight(Arc<UpstreamState>);

impl InFlight {
    pub fn start(target: &Target) -> Self {
        target.state.in_flight.fetch_add(1, Ordering::AcqRel);
        Self(target.state.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// How many upstreams one request may go to: a second only when the first
/// failed before answering.
pub(crate) const TRIES: usize = 2;

pub(crate) struct RouteEntry {
    pub app: String,
    pub targets: Vec<Target>,
    pub maintenance: bool,
    /// The app's traffic counts, the same across table swaps.
    pub traffic: Arc<AppCounters>,
    /// Round robin: even one client's sequential requests spread over the replicas.
    next: AtomicUsize,
}

impl RouteEntry {
    /// The upstreams to try for one request, in order.
    pub fn tries(&self) -> Tries<'_> {
        let count = self.targets.len();
        let start = if count == 0 {
            0
        } else {
            self.next.fetch_add(1, Ordering::Relaxed) % count
        };
        Tries {
            targets: &self.targets,
            start,
            offset: 0,
            fallback: false,
            given: 0,
            given_first: None,
        }
    }
}

/// Up to `TRIES` upstreams, in turn from where the round robin has got to:
/// first those not marked unreachable; then, only when none of those is
/// left, marked ones (so a one-process app, or one whose processes were all
/// marked, still gets its tries). Health is looked at only as each is
/// asked for, so no other upstream is judged for a request the first one
/// answered.
pub(crate) struct Tries<'entry> {
    targets: &'entry [Target],
    start: usize,
    /// The next offset from `start` to look at, in the current pass.
    offset: usize,
    /// In the second pass, over the marked ones.
    fallback: bool,
    given: usize,
    /// The offset given in the first pass: the second pass, if it comes
    /// at all, follows a first that gave one at most.
    given_first: Option<usize>,
}

impl<'entry> Iterator for Tries<'entry> {
    type Item = &'entry Target;

    fn next(&mut self) -> Option<&'entry Target> {
        let count = self.targets.len();
        while self.given < TRIES {
            if self.offset == count {
                if self.fallback {
                    return None;
                }
                self.fallback = true;
                self.offset = 0;
                continue;
            }
            let offset = self.offset;
            self.offset += 1;
            let target = &self.targets[(self.start + offset) % count];
            let take = if self.fallback {
                self.given_first != Some(offset)
            } else {
                target.health().admits()
            };
            if take {
                if !self.fallback {
                    self.given_first = Some(offset);
                }
                self.given += 1;
                return Some(target);
            }
        }
        None
    }
}

#[derive(Default)]
pub(crate) struct RouteTable {
    by_host: HashMap<String, Arc<RouteEntry>>,
    /// One entry per route, in the order given.
    routes: Vec<Arc<RouteEntry>>,
}

impl RouteTable {
    pub fn new(routes: Vec<AppRoute>, states: &UpstreamStates, counters: &AppCounterSets) -> Self {
        let mut by_host = HashMap::new();
        let mut entries = Vec::with_capacity(routes.len());
        let traffic = counters.keep_only(routes.iter().map(|route| route.app.as_str()));
        for (route, traffic) in routes.into_iter().zip(traffic) {
            let targets = route
                .upstreams
                .into_iter()
                .filter_map(|upstream| {
                    Some(Target {
                        authority: Authority::try_from(upstream.address.to_string()).ok()?,
                        state: states.state(upstream.address),
                        address: upstream.address,
                        dyno: upstream.dyno,
                    })
                })
                .collect();
            let entry = Arc::new(RouteEntry {
                app: route.app,
                targets,
                maintenance: route.maintenance,
                traffic,
                next: AtomicUsize::new(0),
            });
            for host in route.hosts {
                by_host.insert(host.to_ascii_lowercase(), entry.clone());
            }
            entries.push(entry);
        }
        states.prune();
        Self {
            by_host,
            routes: entries,
        }
    }

    /// Every app's traffic counts, by app name.
    pub fn traffic(&self) -> Vec<AppTraffic> {
        let mut traffic: Vec<AppTraffic> = self
            .routes
            .iter()
            .map(|entry| entry.traffic.snapshot(&entry.app))
            .collect();
        traffic.sort_by(|a, b| a.app.cmp(&b.app));
        traffic.dedup_by(|a, b| a.app == b.app);
        traffic
    }

    /// The route for a `Host` header value: case-insensitive, port ignored.
    pub fn lookup(&self, host: &str) -> Option<&Arc<RouteEntry>> {
        let name = match host.rsplit_once(':') {
            Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
            _ => host,
        };
        let name = name.trim_end_matches('.');
        if name.bytes().any(|b| b.is_ascii_uppercase()) {
            self.by_host.get(&name.to_ascii_lowercase())
        } else {
            self.by_host.get(name)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn upstream(port: u16) -> Upstream {
        Upstream {
            address: SocketAddr::from(([127, 0, 0, 1], port)),
            dyno: format!("web.{port}"),
        }
    }

    #[test]
    fn hosts_match_without_case_or_port() {
        let table = RouteTable::new(
            vec![AppRoute {
                app: "demo".into(),
                hosts: vec!["demo.localhost".into(), "Shop.Example.com".into()],
                upstreams: vec![upstream(1)],
                maintenance: false,
            }],
            &UpstreamStates::default(),
            &AppCounterSets::default(),
        );
        for host in [
            "demo.localhost",
            "DEMO.localhost:8080",
            "shop.example.com",
            "shop.example.com.",
        ] {
            assert_eq!(
                table.lookup(host).map(|e| e.app.as_str()),
                Some("demo"),
                "{host}"
            );
        }
        assert!(table.lookup("other.localhost").is_none());
    }

    #[test]
    fn sequential_requests_rotate_over_replicas() {
        let table = RouteTable::new(
            vec![AppRoute {
                app: "demo".into(),
                hosts: vec!["demo.localhost".into()],
                upstreams: vec![upstream(1), upstream(2), upstream(3)],
                maintenance: false,
            }],
            &UpstreamStates::default(),
            &AppCounterSets::default(),
        );
        let entry = table.lookup("demo.localhost").unwrap();
        let firsts: Vec<u16> = (0..6)
            .map(|_| entry.tries().next().unwrap().authority.port_u16().unwrap())
            .collect();
        assert_eq!(firsts, [1, 2, 3, 1, 2, 3]);
        assert_eq!(
            ports(entry.tries()),
            [1, 2],
            "a failed upstream is followed by the next, once"
        );
    }

    fn ports<'a>(tries: impl Iterator<Item = &'a Target>) -> Vec<u16> {
        tries.map(|target| target.address.port()).collect()
    }

    #[test]
    fn unreachable_upstreams_are_tried_last() {
        let table = RouteTable::new(
            vec![AppRoute {
                app: "demo".into(),
                hosts: vec!["demo.localhost".into()],
                upstreams: vec![upstream(1), upstream(2), upstream(3)],
                maintenance: false,
            }],
            &UpstreamStates::default(),
            &AppCounterSets::default(),
        );
        let entry = table.lookup("demo.localhost").unwrap();
        entry.targets[0].health().mark_unreachable();
        entry.targets[1].health().mark_unreachable();
        let orders: Vec<Vec<u16>> = (0..3).map(|_| ports(entry.tries())).collect();
        assert_eq!(
            orders,
            [[3, 1], [3, 2], [3, 1]],
            "the one left first, then a marked one in turn"
        );
        entry.targets[2].health().mark_unreachable();
        assert_eq!(ports(entry.tries()), [1, 2], "all marked: tried in turn");
        entry.targets[0].health().mark_reachable();
        assert_eq!(
            ports(entry.tries()),
            [1, 2],
            "out of turn while the others are marked"
        );
    }

    #[test]
    fn a_one_upstream_app_tries_its_upstream_even_when_marked() {
        let table = RouteTable::new(
            vec![AppRoute {
                app: "demo".into(),
                hosts: vec!["demo.localhost".into()],
                upstreams: vec![upstream(1)],
                maintenance: false,
            }],
            &UpstreamStates::default(),
            &AppCounterSets::default(),
        );
        let entry = table.lookup("demo.localhost").unwrap();
        entry.targets[0].health().mark_unreachable();
        assert_eq!(ports(entry.tries()), [1]);
    }

    #[test]
    fn upstream_states_survive_a_table_swap() {
        let states = UpstreamStates::default();
        let counters = AppCounterSets::default();
        let route = AppRoute {
            app: "demo".into(),
            hosts: vec!["demo.localhost".into()],
            upstreams: vec![upstream(1)],
            maintenance: false,
        };
        let old = RouteTable::new(vec![route.clone()], &states, &counters);
        let request = InFlight::start(&old.lookup("demo.localhost").unwrap().targets[0]);
        old.lookup("demo.localhost").unwrap().targets[0]
            .health()
            .mark_unreachable();
        drop(old);
        let new = RouteTable::new(vec![route], &states, &counters);
        let target = &new.lookup("demo.localhost").unwrap().targets[0];
        assert!(!target.health().admits(), "still marked");
        drop(new);
        let _empty = RouteTable::new(Vec::new(), &states, &counters);
        assert_eq!(states.in_flight(upstream(1).address), 1);
        drop(request);
        assert_eq!(states.in_flight(upstream(1).address), 0);
        RouteTable::new(Vec::new(), &states, &counters);
        assert!(states.by_address.lock().unwrap().is_empty());
    }
}
