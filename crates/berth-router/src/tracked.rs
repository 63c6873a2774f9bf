//! A proxied response body that keeps its request counted as in flight
//! until the body has been sent, and writes the router's log line then,
//! with the bytes that went out.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;

use crate::table::InFlight;
use crate::RouterLog;

/// The router's log line for one request, written when its response ends.
pub(crate) struct AccessLog {
    pub log: RouterLog,
    pub app: String,
    /// Everything up to `status=` (method, path, host, request id, fwd, dyno, service).
    pub line: String,
    pub status: u16,
}

pub(crate) struct TrackedBody {
    inner: Incoming,
    bytes: u64,
    access: Option<AccessLog>,
    _in_flight: InFlight,
}

impl TrackedBody {
    pub fn new(inner: Incoming, access: AccessLog, in_flight: InFlight) -> Self {
        Self {
            inner,
            bytes: 0,
            access: Some(access),
            _in_flight: in_flight,
        }
    }

    fn finish(&mut self) {
        if let Some(access) = self.access.take() {
            let line = format!(
                "{} status={} bytes={}",
                access.line, access.status, self.bytes
            );
            (access.log)(&access.app, line);
        }
    }
}

impl Body for TrackedBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    self.bytes += data.len() as u64;
                }
            }
            Poll::Ready(None) => self.finish(),
            _ => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for TrackedBody {
    fn drop(&mut self) {
        self.finish();
    }
}
