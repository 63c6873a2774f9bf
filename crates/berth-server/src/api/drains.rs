//! An app's log drains.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use berth_api_types::{Drain, DrainRequest};

use super::extract::{Authenticated, JsonBody};
use super::openapi::errors::{
    BadRequest, Conflict, Forbidden, Invalid, NotFound, PayloadTooLarge, ServerError, Unauthorized,
};
use super::ApiError;
use crate::AppState;

fn view(drain: berth_platform::Drain) -> Drain {
    Drain {
        url: drain.url,
        token: drain.token,
        created_at: drain.created_at,
    }
}

/// The app's log drains.
#[utoipa::path(
    get,
    path = "/api/v1/apps/{name}/drains",
    operation_id = "list_drains",
    tag = "logs",
    params(
        ("name" = String, Path, description = "The app's name"),
    ),
    responses(
        (status = 200, description = "The drains", body = [Drain]),
        Unauthorized, Forbidden, NotFound, ServerError,
    ),
    security(("token" = [])),
)]
pub(super) async fn list(
    State(state): State<AppState>,
    Authenticated(session): Authenticated,
    Path(name): Path<String>,
) -> Result<Json<Vec<Drain>>, ApiError> {
    let drains = state.platform.drains(&session.actor, &name).await?;
    Ok(Json(drains.into_iter().map(view).collect()))
}

/// Adds a log drain: the app's log is forwarded there.
#[utoipa::path(
    post,
    path = "/api/v1/apps/{name}/drains",
    operation_id = "add_drain",
    tag = "logs",
    params(
        ("name" = String, Path, description = "The app's name"),
    ),
    request_body = DrainRequest,
    responses(
        (status = 201, description = "The drain", body = Drain),
        BadRequest, Unauthorized, Forbidden, NotFound, Conflict, PayloadTooLarge, Invalid,
        ServerError,
    ),
    security(("token" = [])),
)]
pub(super) async fn add(
    State(state): State<AppState>,
    Authenticated(session): Authenticated,
    Path(name): Path<String>,
    JsonBody(request): JsonBody<DrainRequest>,
) -> Result<(StatusCode, Json<Drain>), ApiError> {
    let drain = state
        .platform
        .add_drain(&session.actor, &name, &request.url)
        .await?;
    Ok((StatusCode::CREATED, Json(view(drain))))
}

/// Removes a log drain, named by its URL.
#[utoipa::path(
    delete,
    path = "/api/v1/apps/{name}/drains",
    operation_id = "remove_drain",
    tag = "logs",
    params(
        ("name" = String, Path, description = "The app's name"),
    ),
    request_body = DrainRequest,
    responses(
        (status = 204, description = "The drain is removed"),
        BadRequest, Unauthorized, Forbidden, NotFound, PayloadTooLarge, ServerError,
    ),
    security(("token" = [])),
)]
pub(super) async fn remove(
    State(state): State<AppState>,
    Authenticated(session): Authenticated,
    Path(name): Path<String>,
    JsonBody(request): JsonBody<DrainRequest>,
) -> Result<StatusCode, ApiError> {
    state
        .platform
        .remove_drain(&session.actor, &name, &request.url)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
