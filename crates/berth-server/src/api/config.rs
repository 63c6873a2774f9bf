//! Config vars, rollbacks and the formation of an app.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::Json;
use berth_api_types::{
    ConfigChanged, ConfigUpdate, DynoSelection, FormationEntry, LimitsUpdate, ProcessLimits,
    Release, RollbackRequest, ScaleRequest,
};
use berth_platform::Progress;

use super::extract::{Authenticated, JsonBody};
use super::openapi::errors::{
    BadRequest, Conflict, Forbidden, Invalid, NotFound, PayloadTooLarge, ServerError, Unauthorized,
    Unavailable,
};
use super::releases::release_view;
use super::ApiError;
use crate::AppState;

/// The app's config vars.
#[utoipa::path(
    get,
    path = "/api/v1/apps/{name}/config",
    operation_id = "show_config",
    tag = "config",
    params(
        ("name" = String, Path, description = "The app's name"),
    ),
    responses(
        (status = 200, description = "Name to value", body = BTreeMap<String, String>),
        Unauthorized, Forbidden, NotFound, ServerError,
    ),
    security(("token" = [])),
)]
pub(super) async fn show(
    State(state): State<AppState>,
    Authenticated(session): Authenticated,
    Path(name): Path<String>,
) -> Result<Json<BTreeMap<String, String>>, ApiError> {
    Ok(Json(state.platform.config(&session.actor, &name).await?))
}

/// The names alone: what viewers, who may not read values, see.
#[utoipa::path(
    get,
    path = "/api/v1/apps/{name}/config/names",
    operation_id = "list_config_names",
    tag = "config",
    params(
        ("name" = String, Path, description = "The app's name"),
    ),
    responses(
        (status = 200, description = "The names", body = [String]),
        Unauthorized, NotFound, ServerError,
    ),
    security(("token" = [])),
)]
pub(super) async fn names(
    State(state): State<AppState>,
    Authenticated(session): Authenticated,
    Path(name): Path<String>,
) -> Result<Json<Vec<String>>, ApiError> {
    Ok(Json(
        state.platform.config_names(&session.actor, &name).await?,
    ))
}

/// Sets and unsets config vars (`null` unsets); a deployed app gets a new release.
#[utoipa::path(
    patch,
    path = "/api/v1/apps/{name}/config",
    operation_id = "update_config",
    tag = "config",
    params(
        ("name" = String, Path, description = "The app's name"),
    ),
    request_body = BTreeMap<String, Option<String>>,
    responses(
        (
            status = 200,
            description = "The config vars now, and the release made",
            body = ConfigChanged,
        ),
        BadRequest, Unauthorized, Forbidden, NotFound, Conflict, PayloadTooLarge, Invalid,
        ServerError, Unavailable,
    ),
    security(("token" = [])),
)]
pub(super) async fn update(
    State(state): State<AppState>,
    Authenticated(session): Authenticated,
    Path(name): Path<String>,
    JsonBody(changes): JsonBody<ConfigUpdate>,
) -> Result<Json<ConfigChanged>, ApiError> {
    let (progress, _) = Progress::channel();
    let change = state
        .platform
        .set_config(&session.actor, &name, changes, &progress)
        .await?;
    Ok(Json(ConfigChanged {
        config: change.config,
        release: change.release.map(|r| r.version),
    }))
}

/// Rolls back to an earlier release: a new release with its image and config.
#[utoipa::path(
    post,
    path = "/api/v1/apps/{name}/rollback",
    operation_id = "rollback",
    tag = "releases",
    params(
        ("name" = String, Path, description = "The app's name"),
    ),
    request_body = RollbackRequest,
    responses(
        (status = 200, description = "The new release", body = Release),
        BadRequest, Unauthorized, Forbidden, NotFound, Conflict, PayloadTooLarge, Invalid,
        ServerError, Unavailable,
    ),
    security(("token" = [])),
)]
pub(super) async fn rollback(
    State(state): State<AppState>,
    Authenticated(session): Authenticated,
    Path(name): Path<String>,
    JsonBody(request): JsonBody<RollbackRequest>,
) -> Result<Json<Release>, ApiError> {
    let (progress, _) = Progress::channel();
    let release = state
        .platform
        .rollback(&session.actor, &name, request.version, &progress)
        .await?;
    Ok(Json(release_view(release, true)))
}

/// How many processes of each type should run.
#[utoipa::path(
    get,
    path = "/api/v1/apps/{name}/formation",
    operation_id = "show_formation",
    tag = "dynos",
    params(
        ("name" = String, Path, description = "The app's name"),
    ),
    responses(
        (status = 200, description = "The formation", body = [FormationEntry]),
        Unauthorized, NotFound, ServerError,
    ),
    security(("token" = [])),
)]
pub(super) async fn formation(
    State(state): State<AppState>,
    Authenticated(session): Authenticated,
    Path(name): Path<String>,
) -> Result<Json<Vec<FormationEntry>>, ApiError> {
    let formation = state.platform.formation(&session.actor, &name).await?;
    Ok(Json(entries(formation)))
}

/// Scales process types: `web=2`, `worker+1`, `web-1`.
#[utoipa::path(
    patch,
    path = "/api/v1/apps/{name}/formation",
    operation_id = "scale",
    tag = "dynos",
    params(
        ("name" = String, Path, description = "The app's name"),
    ),
    request_body = ScaleRequest,
    responses(
        (status = 200, description = "The formation now", body = [FormationEntry]),
        BadRequest, Unauthorized, Forbidden, NotFound, Conflict, PayloadTooLarge, Invalid,
        ServerError, Unavailable,
    ),
    security(("token" = [])),
)]
pub(super) async fn scale(
    State(state): State<AppState>,
    Authenticated(session): Authenticated,
    Path(name): Path<String>,
    JsonBody(request): JsonBody<ScaleRequest>,
) -> Result<Json<Vec<FormationEntry>>, ApiError> {
    let formation = state
        .platform
        .scale(&session.actor, &name, &request.changes)
        .await?;
    Ok(Json(entries(formation)))
}

/// Restarts every dyno, those of one type, or one.
#[utoipa::path(
    post,
    path = "/api/v1/apps/{name}/dynos/restart",
    operation_id = "restart_dynos",
    tag = "dynos",
    params(
        ("name" = String, Path, description = "The app's name"),
    ),
    request_body = DynoSelection,
    responses(
        (status = 200, description = "The dynos restarted", body = [String]),
        BadRequest, Unauthorized, Forbidden, NotFound, PayloadTooLarge, Invalid, ServerError,
        Unavailable,
    ),
    security(("token" = [])),
)]
pub(super) async fn restart(
    State(state): State<AppState>,
    Authenticated(session): Authenticated,
    Path(name): Path<String>,
    JsonBody(request): JsonBody<DynoSelection>,
) -> Result<Json<Vec<String>>, ApiError> {
    let restarted = state
        .platform
        .restart(
            &session.actor,
            &name,
            request.process_type.as_deref(),
            request.dyno.as_deref(),
        )
        .await?;
    Ok(Json(restarted))
}

/// Stops one dyno, or every dyno of a type, and starts replacements, as Heroku does: the
/// formation does not change.
#[utoipa::path(
    post,
    path = "/api/v1/apps/{name}/dynos/stop",
    operation_id = "stop_dynos",
    tag = "dynos",
    params(
        ("name" = String, Path, description = "The app's name"),
    ),
    request_body = DynoSelection,
    responses(
        (status = 200, description = "The dynos replaced", body = [String]),
        BadRequest, Unauthorized, Forbidden, NotFound, PayloadTooLarge, Invalid, ServerError,
        Unavailable,
    ),
    security(("token" = [])),
)]
pub(super) async fn stop(
    State(state): State<AppState>,
    Authenticated(session): Authenticated,
    Path(name): Path<String>,
    JsonBody(request): JsonBody<DynoSelection>,
) -> Result<Json<Vec<String>>, ApiError> {
    if request.process_type.is_none() && request.dyno.is_none() {
        return Err(ApiError::invalid(
            "name a dyno (web.1) or a process type to stop",
        ));
    }
    let stopped = state
        .platform
        .stop_dynos(
            &session.actor,
            &name,
            request.process_type.as_deref(),
            request.dyno.as_deref(),
        )
        .await?;
    Ok(Json(stopped))
}

fn entries(formation: Vec<(String, i64)>) -> Vec<FormationEntry> {
    formation
        .into_iter()
        .map(|(process_type, quantity)| FormationEntry {
            process_type,
            quantity,
        })
        .collect()
}

/// What each process type may use.
#[utoipa::path(
    get,
    path = "/api/v1/apps/{name}/limits",
    operation_id = "show_limits",
    tag = "dynos",
    params(
        ("name" = String, Path, description = "The app's name"),
    ),
    responses(
        (status = 200, description = "The limits", body = [ProcessLimits]),
        Unauthorized, NotFound, ServerError,
    ),
    security(("token" = [])),
)]
pub(super) async fn limits(
    State(state): State<AppState>,
    Authenticated(session): Authenticated,
    Path(name): Path<String>,
) -> Result<Json<Vec<ProcessLimits>>, ApiError> {
    let limits = state.platform.limits(&session.actor, &name).await?;
    Ok(Json(limits_view(limits)))
}

/// Sets a process type's memory and CPU limits; its dynos restart with them.
#[utoipa::path(
    patch,
    path = "/api/v1/apps/{name}/limits/{process_type}",
    operation_id = "set_limits",
    tag = "dynos",
    params(
        ("name" = String, Path, description = "The app's name"),
        ("process_type" = String, Path, description = "The process type, e.g. `web`"),
    ),
    request_body = LimitsUpdate,
    responses(
        (status = 200, description = "The limits now", body = [ProcessLimits]),
        BadRequest, Unauthorized, Forbidden, NotFound, Conflict, PayloadTooLarge, Invalid,
        ServerError, Unavailable,
    ),
    security(("token" = [])),
)]
pub(super) async fn set_limits(
    State(state): State<AppState>,
    Authenticated(session): Authenticated,
    Path((name, process_type)): Path<(String, String)>,
    JsonBody(request): JsonBody<LimitsUpdate>,
) -> Result<Json<Vec<ProcessLimits>>, ApiError> {
    let invalid = |error: berth_core::LimitError| ApiError::invalid(error.to_string());
    let limits = berth_core::Limits {
        memory_bytes: request
            .memory
            .as_deref()
            .map(berth_core::limits::parse_memory)
            .transpose()
            .map_err(invalid)?,
        nano_cpus: request
            .cpus
            .as_deref()
            .map(berth_core::limits::parse_cpus)
            .transpose()
            .map_err(invalid)?,
    };
    let (progress, _) = Progress::channel();
    let limits = state
        .platform
        .set_limits(&session.actor, &name, &process_type, limits, &progress)
        .await?;
    Ok(Json(limits_view(limits)))
}

fn limits_view(limits: Vec<berth_platform::ProcessLimits>) -> Vec<ProcessLimits> {
    limits
        .into_iter()
        .map(|entry| ProcessLimits {
            process_type: entry.process_type,
            memory_bytes: entry.limits.memory_bytes,
            memory: entry
                .limits
                .memory_bytes
                .map(berth_core::limits::format_memory),
            cpus: entry.limits.nano_cpus.map(|cpus| cpus as f64 / 1e9),
        })
        .collect()
}
