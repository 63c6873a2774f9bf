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
    idle: Mutex<HashMap<SocketAddr, Vec<Idle>>>,
}

struct Idle {
    stream: TcpStream,
    since: Instant,
    /// Ask the socket itself whether bytes came after the last answer.
    recheck: bool,
}

impl UpstreamPool {
    /// The most recently used idle connection to `address`, if one is
    /// fresh and quiet: a connection with bytes waiting (an answer the app
    /// sent where none was due) would hand them to the next request as its
    /// answer, and one the app closed would fail it.
    pub fn take(&self, address: SocketAddr) -> Option<TcpStream> {
        let mut idle = self.idle.lock().expect("upstream pool lock");
        let connections = idle.get_mut(&address)?;
        while let Some(idle) = connections.pop() {
            if idle.since.elapsed() < IDLE_LIMIT && is_quiet(&idle.stream, idle.recheck) {
                return Some(idle.stream);
            }
        }
        None
    }

    /// Keeps `stream` for reuse; `recheck` when its last answer could not
    /// have a body (one the app sends anyway may still be arriving).
    pub fn put(&self, address: SocketAddr, stream: TcpStream, recheck: bool) {
        let mut idle = self.idle.lock().expect("upstream pool lock");
        let connections = idle.entry(address).or_default();
        if connections.len() < MAX_IDLE_PER_UPSTREAM {
            connections.push(Idle {
                stream,
                since: Instant::now(),
                recheck,
            });
        }
    }

    /// Closes connections idle for too long (those to stopped processes among them).
    pub fn prune(&self) {
        let mut idle = self.idle.lock().expect("upstream pool lock");
        for connections in idle.values_mut() {
            connections.retain(|idle| idle.since.elapsed() < IDLE_LIMIT);
        }
        idle.retain(|_, connections| !connections.is_empty());
    }
}

/// Whether nothing is waiting on an idle upstream connection: neither
/// bytes nor its end. What the event loop has already seen costs no system
/// call; `recheck` asks the socket (bytes may have arrived unseen so far).
fn is_quiet(stream: &TcpStream, recheck: bool) -> bool {
    let mut probe = [0u8; 1];
    match stream.try_read(&mut probe) {
        Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => {}
        _ => return false,
    }
    if !recheck {
        return true;
    }
    let mut peeked = [std::mem::MaybeUninit::uninit(); 1];
    matches!(
        socket2::SockRef::from(stream).peek(&mut peeked),
        Err(error) if error.kind() == std::io::ErrorKind::WouldBlock
    )
}
