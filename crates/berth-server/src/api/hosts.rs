//! The hosts dynos run on, for platform admins.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use berth_api_types::{AddHostRequest, Host};
use berth_platform::NewHost;

use super::extract::{Authenticated, JsonBody};
use super::openapi::errors::{
    BadRequest, Conflict, Forbidden, Invalid, NotFound, PayloadTooLarge, ServerError, Unauthorized,
    Unavailable,
};
use super::ApiError;
use crate::AppState;

/// The hosts dynos run on (platform admins).
#[utoipa::path(
    get,
    path = "/api/v1/hosts",
    operation_id = "list_hosts",
    tag = "hosts",
    responses(
        (status = 200, description = "The hosts", body = [Host]),
        Unauthorized, Forbidden, ServerError,
    ),
    security(("token" = [])),
)]
pub(super) async fn list(
    State(state): State<AppState>,
    Authenticated(session): Authenticated,
) -> Result<Json<Vec<Host>>, ApiError> {
    let hosts = state.platform.hosts(&session.actor).await?;
    Ok(Json(hosts.into_iter().map(wire).collect()))
}

/// Adds a managed host by its Docker engine's address (platform admins).
#[utoipa::path(
    post,
    path = "/api/v1/hosts",
    operation_id = "add_host",
    tag = "hosts",
    request_body = AddHostRequest,
    responses(
        (status = 201, description = "The host", body = Host),
        BadRequest, Unauthorized, Forbidden, Conflict, PayloadTooLarge, Invalid, ServerError,
        Unavailable,
    ),
    security(("token" = [])),
)]
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

/// Moves a host's dynos elsewhere and stops it taking new ones (platform admins).
#[utoipa::path(
    post,
    path = "/api/v1/hosts/{host}/drain",
    operation_id = "drain_host",
    tag = "hosts",
    params(
        ("host" = String, Path, description = "The host's name"),
    ),
    responses(
        (status = 200, description = "The host", body = Host),
        Unauthorized, Forbidden, NotFound, Conflict, ServerError, Unavailable,
    ),
    security(("token" = [])),
)]
pub(super) async fn drain(
    State(state): State<AppState>,
    Authenticated(session): Authenticated,
    Path(name): Path<String>,
) -> Result<Json<Host>, ApiError> {
    let host = state.platform.drain_host(&session.actor, &name).await?;
    Ok(Json(wire(host)))
}

/// Removes a drained host (platform admins).
#[utoipa::path(
    delete,
    path = "/api/v1/hosts/{host}",
    operation_id = "remove_host",
    tag = "hosts",
    params(
        ("host" = String, Path, description = "The host's name"),
    ),
    responses(
        (status = 204, description = "The host is removed"),
        Unauthorized, Forbidden, NotFound, Conflict, ServerError, Unavailable,
    ),
    security(("token" = [])),
)]
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
