//! A worker's idle keep-alive connections to upstreams, newest first, so
//! the fast path reuses warm connections and old ones age out.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tokio::net::TcpStream;

/// How long an idle upstream connection is kept.
pub(crate) const IDLE_LIMIT: Duration = Duration::from_secs(60);
/// Idle connections kept per upstream.
const MAX_IDLE_PER_UPSTREAM: usize = 256;

/// Touched only by its worker's thread; the lock is never contended.
#[derive(Default)]
pub(crate) struct UpstreamPool {
    idle: Mutex<HashMap<SocketAddr, Vec<(TcpStream, Instant)>>>,
}

impl UpstreamPool {
    /// The most recently used idle connection to `address`, if one is fresh.
    pub fn take(&self, address: SocketAddr) -> Option<TcpStream> {
        let mut idle = self.idle.lock().expect("upstream pool lock");
        let connections = idle.get_mut(&address)?;
        while let Some((stream, since)) = connections.pop() {
            if since.elapsed() < IDLE_LIMIT {
                return Some(stream);
            }
        }
        None
    }

    pub fn put(&self, address: SocketAddr, stream: TcpStream) {
        let mut idle = self.idle.lock().expect("upstream pool lock");
        let connections = idle.entry(address).or_default();
        if connections.len() < MAX_IDLE_PER_UPSTREAM {
            connections.push((stream, Instant::now()));
        }
    }

    /// Closes connections idle for too long (those to stopped processes among them).
    pub fn prune(&self) {
        let mut idle = self.idle.lock().expect("upstream pool lock");
        for connections in idle.values_mut() {
            connections.retain(|(_, since)| since.elapsed() < IDLE_LIMIT);
        }
        idle.retain(|_, connections| !connections.is_empty());
    }
}
