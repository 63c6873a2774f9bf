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

    pub fn response(self) -> Response<ProxyBody> {
        let (status, title, message) = self.parts();
        let html = TEMPLATE
            .replace("{title}", title)
            .replace("{message}", message);
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
