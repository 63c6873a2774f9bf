//! The one mapping from the platform's errors to the wire error
//! `{"id": "...", "message": "..."}` with its status code.

use axum::http::header::RETRY_AFTER;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use berth_api_types::ErrorBody;
use berth_platform::PlatformError;

/// What a client is told to wait before asking again while the container
/// engine does not answer (the reconciler looks every 2 s).
const ENGINE_RETRY_AFTER_SECS: u64 = 5;

#[derive(Debug)]
pub(crate) struct ApiError {
    status: StatusCode,
    id: &'static str,
    message: String,
    /// Seconds for a `Retry-After` header.
    retry_after: Option<u64>,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, id: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            id,
            message: message.into(),
            retry_after: None,
        }
    }

    pub(crate) fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_params", message)
    }

    pub(crate) fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }
}

impl From<PlatformError> for ApiError {
    fn from(error: PlatformError) -> Self {
        let message = error.to_string();
        match error {
            PlatformError::Unauthorized(_) => Self::unauthorized(message),
            PlatformError::Forbidden(_) => Self::new(StatusCode::FORBIDDEN, "forbidden", message),
            PlatformError::NotFound(_) => Self::not_found(message),
            PlatformError::Conflict(_) => Self::new(StatusCode::CONFLICT, "conflict", message),
            PlatformError::Invalid(_) | PlatformError::DeployFailed(_) => Self::invalid(message),
            PlatformError::AddonProvider(_) => {
                Self::new(StatusCode::BAD_GATEWAY, "addon_provider_failed", message)
            }
            PlatformError::Busy(_) => Self {
                retry_after: Some(1),
                ..Self::new(StatusCode::SERVICE_UNAVAILABLE, "busy", message)
            },
            PlatformError::EngineUnavailable { detail } => {
                tracing::warn!(error = %detail, "the container engine does not answer");
                Self {
                    retry_after: Some(ENGINE_RETRY_AFTER_SECS),
                    ..Self::new(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "engine_unavailable",
                        message,
                    )
                }
            }
            PlatformError::Throttled { retry_after_secs } => Self {
                retry_after: Some(retry_after_secs),
                ..Self::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited", message)
            },
            PlatformError::Store(_)
            | PlatformError::Git(_)
            | PlatformError::Secrets(_)
            | PlatformError::Docker(_)
            | PlatformError::Io { .. }
            | PlatformError::Internal(_) => {
                // The details are for the operator's log, not for API clients.
                tracing::error!(error = %message, "request failed");
                Self::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal_error",
                    "the server failed to handle this request; its log has the details",
                )
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            id: self.id.to_string(),
            message: self.message,
        };
        let mut response = (self.status, Json(body)).into_response();
        if let Some(secs) = self.retry_after {
            response
                .headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}
