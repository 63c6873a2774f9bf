//! A request body that comes back to the router as long as nothing has
//! read from it: when the connection for its request could not be made,
//! the request goes to another process with the same body.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;

/// The body as the upstream request carries it. The client's body stays
/// in the shared slot until it is first read, and moves out then: from
/// that moment some of it may have reached the app, and it can no longer
/// be reclaimed.
pub(crate) struct ReclaimableBody {
    unread: Arc<Mutex<Option<Incoming>>>,
    reading: Option<Incoming>,
}

/// The router's claim on a body it handed to an upstream request.
pub(crate) struct Reclaim(Arc<Mutex<Option<Incoming>>>);

impl ReclaimableBody {
    pub fn new(body: Incoming) -> (Self, Reclaim) {
        let unread = Arc::new(Mutex::new(Some(body)));
        let reclaim = Reclaim(unread.clone());
        (
            Self {
                unread,
                reading: None,
            },
            reclaim,
        )
    }

    /// Asks the client's body, wherever it is now.
    fn ask<T>(&self, question: impl FnOnce(&Incoming) -> T, otherwise: T) -> T {
        match &self.reading {
            Some(body) => question(body),
            None => match &*self.unread.lock().expect("request body lock") {
                Some(body) => question(body),
                None => otherwise,
            },
        }
    }
}

impl Reclaim {
    /// The body, if nothing has read from it.
    pub fn take(self) -> Option<Incoming> {
        self.0.lock().expect("request body lock").take()
    }
}

impl Body for ReclaimableBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        if self.reading.is_none() {
            let body = self.unread.lock().expect("request body lock").take();
            self.reading = body;
        }
        match &mut self.reading {
            Some(body) => Pin::new(body).poll_frame(cx),
            None => Poll::Ready(None),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.ask(Incoming::is_end_stream, true)
    }

    fn size_hint(&self) -> SizeHint {
        self.ask(Incoming::size_hint, SizeHint::with_exact(0))
    }
}
