//! An app's persistent volumes.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use berth_api_types::{CreateVolumeRequest, DestroyVolumeQuery, Volume};

use super::extract::{Authenticated, JsonBody};
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

pub(super) async fn list(
    State(state): State<AppState>,
    Authenticated(session): Authenticated,
    Path(name): Path<String>,
) -> Result<Json<Vec<Volume>>, ApiError> {
    let volumes = state.platform.volumes(&session.actor, &name).await?;
    Ok(Json(volumes.into_iter().map(view).collect()))
}

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
