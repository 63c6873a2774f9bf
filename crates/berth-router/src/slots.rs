//! The cap on client connections open at once: each connection holds a
//! slot for as long as it is served (tunnels after an upgrade included);
//! one over the cap gets a 503 and is closed, so a flood of connections
//! cannot take every file descriptor from the ones already served.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::pages::Page;

/// How long a refused connection is kept to let the client read the 503
/// (closing with its request unread would reset the connection and could
/// discard the answer before the client reads it).
const REFUSAL_LINGER: Duration = Duration::from_secs(1);
/// The most bytes read (and dropped) from a refused connection while lingering.
const REFUSAL_DRAIN_BYTES: usize = 64 * 1024;

pub(crate) struct ConnectionSlots {
    open: Arc<AtomicUsize>,
    max: usize,
    /// The whole 503 answer, made once.
    refusal: Arc<[u8]>,
}

/// One open client connection's place under the cap, given back when dropped.
pub(crate) struct ConnectionSlot {
    open: Arc<AtomicUsize>,
}

impl ConnectionSlots {
    pub fn new(max: usize) -> Self {
        Self {
            open: Arc::new(AtomicUsize::new(0)),
            max,
            refusal: Page::TooManyConnections.http1_closing().into(),
        }
    }

    /// A slot for a new connection, unless `max` are open already.
    pub fn take(&self) -> Option<ConnectionSlot> {
        self.open
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |open| {
                (open < self.max).then_some(open + 1)
            })
            .ok()
            .map(|_| ConnectionSlot {
                open: self.open.clone(),
            })
    }

    /// Answers a connection over the cap with a 503 and closes it (on its
    /// own task, bounded in time and bytes).
    pub fn refuse(&self, mut stream: TcpStream) {
        let refusal = self.refusal.clone();
        tokio::spawn(async move {
            let lingering = async {
                stream.write_all(&refusal).await?;
                stream.shutdown().await?;
                let mut drained = 0;
                let mut sink = [0u8; 4096];
                while drained < REFUSAL_DRAIN_BYTES {
                    match stream.read(&mut sink).await? {
                        0 => break,
                        read => drained += read,
                    }
                }
                Ok::<_, std::io::Error>(())
            };
            let _ = tokio::time::timeout(REFUSAL_LINGER, lingering).await;
        });
    }
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        self.open.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_capped_and_given_back() {
        let slots = ConnectionSlots::new(2);
        let first = slots.take().expect("one");
        let second = slots.take().expect("two");
        assert!(slots.take().is_none(), "a third is over the cap");
        drop(first);
        let third = slots.take().expect("a slot given back is free again");
        drop((second, third));
        assert_eq!(slots.open.load(Ordering::Acquire), 0);
    }
}
