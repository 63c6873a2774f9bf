//! What handlers take from a request: the authenticated session, where the
//! request came from, the public address it was sent to, and JSON bodies
//! whose rejections read as wire errors.

use std::net::SocketAddr;

use axum::extract::rejection::JsonRejection;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::header::{AUTHORIZATION, HOST};
use axum::http::request::Parts;
use axum::http::{Method, StatusCode};
use berth_platform::Session;

use super::ApiError;
use crate::AppState;

/// A request authenticated with `Authorization: Bearer <token>`, or — for
/// reads only, such as the dashboard's live log tail, which a browser's
/// `EventSource` cannot give a header — with the dashboard's session cookie.
/// Changes always need the header, so no other site can forge them.
pub(crate) struct Authenticated(pub Session);

impl FromRequestParts<AppState> for Authenticated {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let header = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|value| value.to_str().ok());
        let cookie = (parts.method == Method::GET)
            .then(|| crate::dashboard::session_token(&parts.headers))
            .flatten();
        let token = header
            .and_then(|value| value.strip_prefix("Bearer "))
            .or(cookie)
            .ok_or_else(|| ApiError::unauthorized("missing API token: run `berth login`"))?;
        let session = state
            .platform
            .authenticate(token.trim(), &client_address(parts))
            .await?;
        Ok(Self(session))
    }
}

/// The client's address, for the audit trail.
pub(crate) struct Origin(pub String);

impl<S: Send + Sync> FromRequestParts<S> for Origin {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(client_address(parts)))
    }
}

/// The address the request came from, e.g. `127.0.0.1`.
pub(crate) fn client_address(parts: &Parts) -> String {
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map_or_else(|| "unknown".to_string(), |info| info.0.ip().to_string())
}

/// The scheme and host the client used to reach the API, e.g.
/// `http://127.0.0.1:7000`: git URLs are built on it, so they work from
/// wherever the client stands.
pub(crate) struct PublicBase(pub String);

impl<S: Send + Sync> FromRequestParts<S> for PublicBase {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        let host = parts
            .headers
            .get(HOST)
            .and_then(|value| value.to_str().ok())
            .filter(|host| !host.is_empty() && host.chars().all(|c| c.is_ascii_graphic()))
            .ok_or_else(|| ApiError::invalid("the request has no usable Host header"))?;
        let scheme = match parts
            .headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
        {
            Some("https") => "https",
            _ => "http",
        };
        Ok(Self(format!("{scheme}://{host}")))
    }
}

/// The largest JSON body a route takes unless it says otherwise: JSON
/// requests are small, and a large one would only cost memory to refuse.
pub(crate) const JSON_BODY_LIMIT: usize = 64 * 1024;

/// The limit of the routes that take whole files or many values at once:
/// certificate chains with their keys, and config vars.
pub(crate) const LARGE_BODY_LIMIT: usize = 1024 * 1024;

/// A JSON body; a malformed one is a 400, one over the route's body limit a
/// 413, in the wire error format.
pub(crate) struct JsonBody<T>(pub T);

impl<T, S> FromRequest<S> for JsonBody<T>
where
    axum::Json<T>: FromRequest<S, Rejection = JsonRejection>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        match axum::Json::<T>::from_request(request, state).await {
            Ok(axum::Json(value)) => Ok(Self(value)),
            Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                Err(ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "payload_too_large",
                    "the request body is larger than this endpoint accepts",
                ))
            }
            Err(rejection) => Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "bad_request",
                rejection.body_text(),
            )),
        }
    }
}
