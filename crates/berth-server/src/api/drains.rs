//! An app's log drains.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use berth_api_types::{Drain, DrainRequest};

use super::extract::{Authenticated, JsonBody};
use super::ApiError;
use crate::AppState;

fn view(drain: berth_platform::Drain) -> Drain {
    Drain {
        url: drain.url,
        token: drain.token,
        created_at: drain.created_at,
    }
}

pub(super) async fn list(
    State(state): State<AppState>,
    Authenticated(session): Authenticated,
    Path(name): Path<String>,
) -> Result<Json<Vec<Drain>>, ApiError> {
    let drains = state.platform.drains(&session.actor, &name).await?;
    Ok(Json(drains.into_iter().map(view).collect()))
}

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
