//! An app's persistent volumes.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use berth_api_types::{CreateVolumeRequest, DestroyVolumeQuery, Volume};

use super::extract::{Authenticated, JsonBody};
use super::openapi::errors::{
    BadRequest, Conflict, Forbidden, Invalid, NotFound, PayloadTooLarge, ServerError, Unauthorized,
    Unavailable,
};
use super::ApiError;
use crate::AppState;

fn view(volume: berth_platform::Volume) -> Volume {
    Volume {
        name: volume.name,
        process: volume.process_type,
        path: volume.path,
        size_bytes: volume.size_bytes,
        host: volume.host,
        created_at: volume.created_at,
    }
}

/// The app's persistent volumes.
#[utoipa::path(
    get,
    path = "/api/v1/apps/{name}/volumes",
    operation_id = "list_volumes",
    tag = "volumes",
    params(
        ("name" = String, Path, description = "The app's name"),
    ),
    responses(
        (status = 200, description = "The volumes", body = [Volume]),
        Unauthorized, NotFound, ServerError,
    ),
    security(("token" = [])),
)]
pub(super) async fn list(
    State(state): State<AppState>,
    Authenticated(session): Authenticated,
    Path(name): Path<String>,
) -> Result<Json<Vec<Volume>>, ApiError> {
    let volumes = state.platform.volumes(&session.actor, &name).await?;
    Ok(Json(volumes.into_iter().map(view).collect()))
}

/// Creates a volume mounted into every dyno of one process type.
#[utoipa::path(
    post,
    path = "/api/v1/apps/{name}/volumes",
    operation_id = "create_volume",
    tag = "volumes",
    params(
        ("name" = String, Path, description = "The app's name"),
    ),
    request_body = CreateVolumeRequest,
    responses(
        (status = 201, description = "The volume", body = Volume),
        BadRequest, Unauthorized, Forbidden, NotFound, Conflict, PayloadTooLarge, Invalid,
        ServerError, Unavailable,
    ),
    security(("token" = [])),
)]
pub(super) async fn create(
    State(state): State<AppState>,
    Authenticated(session): Authenticated,
    Path(name): Path<String>,
    JsonBody(request): JsonBody<CreateVolumeRequest>,
) -> Result<(StatusCode, Json<Volume>), ApiError> {
    let volume = state
        .platform
        .create_volume(
            &session.actor,
            &name,
            &request.name,
            &request.path,
            &request.process_type,
        )
        .await?;
    Ok((StatusCode::CREATED, Json(view(volume))))
}

/// Destroys a volume and its data; `confirm` must be the app's name.
#[utoipa::path(
    delete,
    path = "/api/v1/apps/{name}/volumes/{volume}",
    operation_id = "destroy_volume",
    tag = "volumes",
    params(
        ("name" = String, Path, description = "The app's name"),
        ("volume" = String, Path, description = "The volume's name"),
        DestroyVolumeQuery,
    ),
    responses(
        (status = 204, description = "The volume is destroyed"),
        Unauthorized, Forbidden, NotFound, Conflict, Invalid, ServerError, Unavailable,
    ),
    security(("token" = [])),
)]
pub(super) async fn destroy(
    State(state): State<AppState>,
    Authenticated(session): Authenticated,
    Path((name, volume)): Path<(String, String)>,
    query: Result<Query<DestroyVolumeQuery>, QueryRejection>,
) -> Result<StatusCode, ApiError> {
    let Query(query) = query.map_err(|rejection| ApiError::invalid(rejection.body_text()))?;
    state
        .platform
        .destroy_volume(&session.actor, &name, &volume, query.confirm.as_deref())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
