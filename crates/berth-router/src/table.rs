//! The route table: data, swapped whole and atomically, so a request sees
//! either the old set of upstreams or the new one, never a mix.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

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

pub(crate) struct RouteEntry {
    pub app: String,
    pub upstreams: Vec<Upstream>,
    pub maintenance: bool,
    /// Round robin: even one client's sequential requests spread over the replicas.
    next: AtomicUsize,
}

impl RouteEntry {
    /// The upstreams in the order to try them for one request.
    pub fn rotation(&self) -> impl Iterator<Item = &Upstream> {
        let count = self.upstreams.len();
        let start = if count == 0 {
            0
        } else {
            self.next.fetch_add(1, Ordering::Relaxed) % count
        };
        (0..count).map(move |offset| &self.upstreams[(start + offset) % count])
    }
}

#[derive(Default)]
pub(crate) struct RouteTable {
    by_host: HashMap<String, Arc<RouteEntry>>,
}

impl RouteTable {
    pub fn new(routes: Vec<AppRoute>) -> Self {
        let mut by_host = HashMap::new();
        for route in routes {
            let entry = Arc::new(RouteEntry {
                app: route.app,
                upstreams: route.upstreams,
                maintenance: route.maintenance,
                next: AtomicUsize::new(0),
            });
            for host in route.hosts {
                by_host.insert(host.to_ascii_lowercase(), entry.clone());
            }
        }
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
        let table = RouteTable::new(vec![AppRoute {
            app: "demo".into(),
            hosts: vec!["demo.localhost".into(), "Shop.Example.com".into()],
            upstreams: vec![upstream(1)],
            maintenance: false,
        }]);
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
        let table = RouteTable::new(vec![AppRoute {
            app: "demo".into(),
            hosts: vec!["demo.localhost".into()],
            upstreams: vec![upstream(1), upstream(2), upstream(3)],
            maintenance: false,
        }]);
        let entry = table.lookup("demo.localhost").unwrap();
        let firsts: Vec<u16> = (0..6)
            .map(|_| entry.rotation().next().unwrap().address.port())
            .collect();
        assert_eq!(firsts, [1, 2, 3, 1, 2, 3]);
        let order: Vec<u16> = entry.rotation().map(|u| u.address.port()).collect();
        assert_eq!(
            order,
            [1, 2, 3],
            "a failed upstream is followed by the next"
        );
    }
}
