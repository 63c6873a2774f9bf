//! The hosts dynos run on, for platform admins.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use berth_api_types::{AddHostRequest, Host};
use berth_platform::NewHost;

use super::extract::{Authenticated, JsonBody};
use super::ApiError;
use crate::AppState;

pub(super) async fn list(
    State(state): State<AppState>,
    Authenticated(session): Authenticated,
) -> Result<Json<Vec<Host>>, ApiError> {
    let hosts = state.platform.hosts(&session.actor).await?;
    Ok(Json(hosts.into_iter().map(wire).collect()))
}

pub(super) async fn add(
    State(state): State<AppState>,
    Authenticated(session): Authenticated,
    JsonBody(request): JsonBody<AddHostRequest>,
) -> Result<(StatusCode, Json<Host>), ApiError> {
    let host = state
        .platform
        .add_host(
            &session.actor,
            NewHost {
                name: request.name,
                docker_host: request.docker_host,
                labels: request.labels,
            },
        )
        .await?;
    Ok((StatusCode::CREATED, Json(wire(host))))
}

pub(super) async fn drain(
    State(state): State<AppState>,
    Authenticated(session): Authenticated,
    Path(name): Path<String>,
) -> Result<Json<Host>, ApiError> {
    let host = state.platform.drain_host(&session.actor, &name).await?;
    Ok(Json(wire(host)))
}

pub(super) async fn remove(
    State(state): State<AppState>,
    Authenticated(session): Authenticated,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.platform.remove_host(&session.actor, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}

fn wire(host: berth_platform::Host) -> Host {
    Host {
        name: host.name,
        address: host.address,
        role: host.role.to_string(),
        state: host.state.to_string(),
        availability: host.availability.to_string(),
        labels: host.labels,
        dynos: host.dynos,
    }
}
