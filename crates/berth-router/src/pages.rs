//! The router's own answers: small styled pages with distinct statuses,
//! saying what happened without leaking anything about the platform.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::header::{CACHE_CONTROL, CONTENT_TYPE};
use hyper::{Response, StatusCode};

use crate::ProxyBody;

const TEMPLATE: &str = include_str!("page.html");

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Page {
    NoSuchApp,
    NoWebProcess,
    AppError,
    Timeout,
    Maintenance,
    TooManyConnections,
    /// The client's request head did not arrive in time.
    HeadTimeout,
}

impl Page {
    fn parts(self) -> (StatusCode, &'static str, &'static str) {
        match self {
            Page::NoSuchApp => (
                StatusCode::NOT_FOUND,
                "No such app",
                "There is no app at this address. Check the URL, or add this domain to an app with berth domains:add.",
            ),
            Page::NoWebProcess => (
                StatusCode::SERVICE_UNAVAILABLE,
                "Application unavailable",
                "This app has no web process running. If it is yours, deploy it or scale it up with berth ps:scale web=1.",
            ),
            Page::AppError => (
                StatusCode::BAD_GATEWAY,
                "Application error",
                "The app did not answer. If it is yours, check its logs with berth logs --tail.",
            ),
            Page::Maintenance => (
                StatusCode::SERVICE_UNAVAILABLE,
                "Down for maintenance",
                "This app is undergoing maintenance and will be back shortly.",
            ),
            Page::TooManyConnections => (
                StatusCode::SERVICE_UNAVAILABLE,
                "Too many connections",
                "This server is serving as many connections as it can. Try again shortly.",
            ),
            Page::HeadTimeout => (
                StatusCode::REQUEST_TIMEOUT,
                "Request timeout",
                "The request did not arrive in time.",
            ),
            Page::Timeout => (
                StatusCode::SERVICE_UNAVAILABLE,
                "Request timeout",
                "The app took too long to answer. If it is yours, check its logs with berth logs --tail.",
            ),
        }
    }

    pub fn status(self) -> StatusCode {
        self.parts().0
    }

    fn html(self) -> String {
        let (_, title, message) = self.parts();
        TEMPLATE
            .replace("{title}", title)
            .replace("{message}", message)
    }

    /// The whole HTTP/1.1 response, for the fast path's raw connections.
    pub fn http1(self) -> Vec<u8> {
        self.http1_with("")
    }

    /// The whole HTTP/1.1 response, saying the connection closes after it.
    pub fn http1_closing(self) -> Vec<u8> {
        self.http1_with("connection: close\r\n")
    }

    fn http1_with(self, extra_headers: &str) -> Vec<u8> {
        let status = self.status();
        let html = self.html();
        let mut response = format!(
            "HTTP/1.1 {} {}\r\ncontent-type: text/html; charset=utf-8\r\ncache-control: no-store\r\n{extra_headers}content-length: {}\r\n\r\n",
            status.as_u16(),
            status.canonical_reason().unwrap_or(""),
            html.len()
        )
        .into_bytes();
        response.extend_from_slice(html.as_bytes());
        response
    }

    pub fn response(self) -> Response<ProxyBody> {
        let status = self.status();
        let html = self.html();
        let body = Full::new(Bytes::from(html))
            .map_err(|never| match never {})
            .boxed();
        let mut response = Response::new(body);
        *response.status_mut() = status;
        let headers = response.headers_mut();
        headers.insert(
            CONTENT_TYPE,
            "text/html; charset=utf-8".parse().expect("valid header"),
        );
        headers.insert(CACHE_CONTROL, "no-store".parse().expect("valid header"));
        response
    }
}
