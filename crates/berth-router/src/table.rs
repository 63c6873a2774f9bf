//! The route table: data, swapped whole and atomically, so a request sees
//! either the old set of upstreams or the new one, never a mix.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use hyper::http::uri::Authority;

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

/// An upstream as requests use it: its address already in URI form, and the
/// count of requests in flight to it, shared by every table that names it.
pub(crate) struct Target {
    pub dyno: String,
    pub address: SocketAddr,
    pub authority: Authority,
    pub in_flight: Arc<AtomicUsize>,
}

/// Requests in flight per upstream address. Counters outlive table swaps,
/// so a cutover can wait for requests that began under the previous table.
#[derive(Default)]
pub(crate) struct InFlightCounters {
    by_address: Mutex<HashMap<SocketAddr, Arc<AtomicUsize>>>,
}

impl InFlightCounters {
    fn counter(&self, address: SocketAddr) -> Arc<AtomicUsize> {
        let mut counters = self.by_address.lock().expect("in-flight counters lock");
        counters.entry(address).or_default().clone()
    }

    pub fn get(&self, address: SocketAddr) -> usize {
        let counters = self.by_address.lock().expect("in-flight counters lock");
        counters
            .get(&address)
            .map_or(0, |count| count.load(Ordering::Acquire))
    }

    /// Forgets counters nothing else holds and that count nothing.
    fn prune(&self) {
        let mut counters = self.by_address.lock().expect("in-flight counters lock");
        counters
            .retain(|_, count| Arc::strong_count(count) > 1 || count.load(Ordering::Acquire) > 0);
    }
}

/// One request in flight to an upstream; counted until dropped.
pub(crate) struct InFlight(Arc<AtomicUsize>);

impl InFlight {
    pub fn start(target: &Target) -> Self {
        target.in_flight.fetch_add(1, Ordering::AcqRel);
        Self(target.in_flight.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

pub(crate) struct RouteEntry {
    pub app: String,
    pub targets: Vec<Target>,
    pub maintenance: bool,
    /// Round robin: even one client's sequential requests spread over the replicas.
    next: AtomicUsize,
}

impl RouteEntry {
    /// The upstreams in the order to try them for one request.
    pub fn rotation(&self) -> impl Iterator<Item = &Target> {
        let count = self.targets.len();
        let start = if count == 0 {
            0
        } else {
            self.next.fetch_add(1, Ordering::Relaxed) % count
        };
        (0..count).map(move |offset| &self.targets[(start + offset) % count])
    }
}

#[derive(Default)]
pub(crate) struct RouteTable {
    by_host: HashMap<String, Arc<RouteEntry>>,
}

impl RouteTable {
    pub fn new(routes: Vec<AppRoute>, counters: &InFlightCounters) -> Self {
        let mut by_host = HashMap::new();
        for route in routes {
            let targets = route
                .upstreams
                .into_iter()
                .filter_map(|upstream| {
                    Some(Target {
                        authority: Authority::try_from(upstream.address.to_string()).ok()?,
                        in_flight: counters.counter(upstream.address),
                        address: upstream.address,
                        dyno: upstream.dyno,
                    })
                })
                .collect();
            let entry = Arc::new(RouteEntry {
                app: route.app,
                targets,
                maintenance: route.maintenance,
                next: AtomicUsize::new(0),
            });
            for host in route.hosts {
                by_host.insert(host.to_ascii_lowercase(), entry.clone());
            }
        }
        counters.prune();
        Self { by_host }
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
            &InFlightCounters::default(),
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
            &InFlightCounters::default(),
        );
        let entry = table.lookup("demo.localhost").unwrap();
        let firsts: Vec<u16> = (0..6)
            .map(|_| {
                entry
                    .rotation()
                    .next()
                    .unwrap()
                    .authority
                    .port_u16()
                    .unwrap()
            })
            .collect();
        assert_eq!(firsts, [1, 2, 3, 1, 2, 3]);
        let order: Vec<u16> = entry
            .rotation()
            .map(|u| u.authority.port_u16().unwrap())
            .collect();
        assert_eq!(
            order,
            [1, 2, 3],
            "a failed upstream is followed by the next"
        );
    }

    #[test]
    fn in_flight_counts_survive_a_table_swap() {
        let counters = InFlightCounters::default();
        let route = AppRoute {
            app: "demo".into(),
            hosts: vec!["demo.localhost".into()],
            upstreams: vec![upstream(1)],
            maintenance: false,
        };
        let old = RouteTable::new(vec![route], &counters);
        let request = InFlight::start(&old.lookup("demo.localhost").unwrap().targets[0]);
        drop(old);
        let _new = RouteTable::new(Vec::new(), &counters);
        assert_eq!(counters.get(upstream(1).address), 1);
        drop(request);
        assert_eq!(counters.get(upstream(1).address), 0);
        RouteTable::new(Vec::new(), &counters);
        assert!(counters.by_address.lock().unwrap().is_empty());
    }
}
