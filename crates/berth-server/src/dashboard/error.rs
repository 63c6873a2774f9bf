//! The one mapping from what can go wrong on a page to what the browser
//! sees: a redirect to sign in, or an error page with its status.

use askama::Template;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use berth_platform::PlatformError;

use super::browser::Chrome;

#[derive(Debug, thiserror::Error)]
pub(crate) enum DashboardError {
    #[error("sign in first")]
    SignInFirst,
    #[error("this form has expired or did not come from this site: reload the page and try again")]
    Csrf,
    #[error("this change came from another site, not from the dashboard's own pages")]
    ForeignOrigin,
    #[error("the form was not filled in as expected")]
    BadForm,
    #[error("the page failed to render")]
    Render,
    #[error(
        "you have {} live pages open already: close some tabs of this dashboard, then reload",
        super::live::STREAMS_PER_USER
    )]
    TooManyStreams,
    #[error(transparent)]
    Platform(#[from] PlatformError),
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    chrome: Chrome,
    status: u16,
    title: &'static str,
    message: String,
}

impl IntoResponse for DashboardError {
    fn into_response(self) -> Response {
        let (status, title) = match &self {
            DashboardError::SignInFirst
            | DashboardError::Platform(PlatformError::Unauthorized(_)) => {
                return Redirect::to("/").into_response()
            }
            DashboardError::Csrf | DashboardError::ForeignOrigin => {
                (StatusCode::FORBIDDEN, "Form refused")
            }
            DashboardError::BadForm => (StatusCode::BAD_REQUEST, "Bad form"),
            DashboardError::Platform(PlatformError::NotFound(_)) => {
                (StatusCode::NOT_FOUND, "Not found")
            }
            DashboardError::TooManyStreams => {
                (StatusCode::TOO_MANY_REQUESTS, "Too many live pages")
            }
            DashboardError::Platform(PlatformError::Throttled { .. }) => {
                (StatusCode::TOO_MANY_REQUESTS, "Slow down")
            }
            DashboardError::Platform(PlatformError::Busy(_)) => {
                (StatusCode::SERVICE_UNAVAILABLE, "Busy")
            }
            DashboardError::Platform(PlatformError::EngineUnavailable { detail }) => {
                tracing::warn!(error = %detail, "the container engine does not answer");
                (StatusCode::SERVICE_UNAVAILABLE, "Engine unavailable")
            }
            DashboardError::Platform(PlatformError::Forbidden(_)) => {
                (StatusCode::FORBIDDEN, "Not allowed")
            }
            DashboardError::Platform(
                PlatformError::Invalid(_)
                | PlatformError::Conflict(_)
                | PlatformError::DeployFailed(_),
            ) => (StatusCode::UNPROCESSABLE_ENTITY, "That did not work"),
            DashboardError::Render | DashboardError::Platform(_) => {
                (StatusCode::INTERNAL_SERVER_ERROR, "Something went wrong")
            }
        };
        let message = if status == StatusCode::INTERNAL_SERVER_ERROR {
            // The details are for the operator's log, not for the browser.
            tracing::error!(error = %self, "a page failed");
            "The server failed to handle this request; its log has the details.".to_string()
        } else {
            super::session::capitalized(&self.to_string())
        };
        let page = ErrorPage {
            chrome: Chrome {
                email: None,
                csrf: String::new(),
                flash: None,
                version: env!("CARGO_PKG_VERSION"),
            },
            status: status.as_u16(),
            title,
            message,
        };
        match page.render() {
            Ok(html) => (status, Html(html)).into_response(),
            Err(_) => (status, title).into_response(),
        }
    }
}
