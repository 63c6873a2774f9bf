//! `GET /metrics` for Prometheus, and `GET /api/v1/apps/{name}/metrics` for
//! `berth metrics` and scripts.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE, WWW_AUTHENTICATE};
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use berth_api_types::{AppMetrics, MetricsQuery};
use berth_core::MetricsWindow;

use super::extract::{Authenticated, Origin};
use super::openapi::errors::{Invalid, NotFound, ServerError, Unauthorized};
use super::ApiError;
use crate::AppState;

/// What Prometheus is told it scrapes: prometheus-client writes OpenMetrics.
const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Every metric, for a platform admin's token or `BERTH_METRICS_TOKEN`.
/// Anything else gets the same 401, so nothing tells a wrong token from a
/// right one without the role.
pub(crate) async fn prometheus(
    State(state): State<AppState>,
    Origin(source): Origin,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let bearer = headers
        .get(AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .map(str::trim);
    let authorized = match bearer {
        Some(token) if !token.is_empty() => state
            .platform
            .authorize_metrics_reader(token, &source)
            .await
            .is_ok(),
        _ => false,
    };
    if !authorized {
        let mut response = ApiError::unauthorized(
            "reading metrics needs the API token of a platform admin, or BERTH_METRICS_TOKEN, \
             as `Authorization: Bearer <token>`",
        )
        .into_response();
        response.headers_mut().insert(
            WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"berth\""),
        );
        return Ok(response);
    }
    let text = state.platform.prometheus_text().await?;
    Ok(([(CONTENT_TYPE, OPENMETRICS)], text).into_response())
}

/// How the app behaved over a window: requests, response times, memory and CPU.
#[utoipa::path(
    get,
    path = "/api/v1/apps/{name}/metrics",
    operation_id = "show_app_metrics",
    tag = "metrics",
    params(
        ("name" = String, Path, description = "The app's name"),
        MetricsQuery,
    ),
    responses(
        (status = 200, description = "The metrics", body = AppMetrics),
        Unauthorized, NotFound, Invalid, ServerError,
    ),
    security(("token" = [])),
)]
pub(super) async fn app_metrics(
    State(state): State<AppState>,
    Authenticated(session): Authenticated,
    Path(name): Path<String>,
    query: Result<Query<MetricsQuery>, QueryRejection>,
) -> Result<Json<AppMetrics>, ApiError> {
    let Query(query) = query.map_err(|rejection| ApiError::invalid(rejection.body_text()))?;
    let window = match query.since.as_deref() {
        Some(since) => {
            MetricsWindow::parse(since).map_err(|error| ApiError::invalid(error.to_string()))?
        }
        None => MetricsWindow::default(),
    };
    Ok(Json(
        state
            .platform
            .app_metrics(&session.actor, &name, window)
            .await?,
    ))
}
