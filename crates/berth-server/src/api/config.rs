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
use super::releases::release_view;
use super::ApiError;
use crate::AppState;

pub(super) async fn show(
    State(state): State<AppState>,
    Authenticated(session): Authenticated,
    Path(name): Path<String>,
) -> Result<Json<BTreeMap<String, String>>, ApiError> {
    Ok(Json(state.platform.config(&session.actor, &name).await?))
}

/// The names alone: what viewers, who may not read values, see.
pub(super) async fn names(
    State(state): State<AppState>,
    Authenticated(session): Authenticated,
    Path(name): Path<String>,
) -> Result<Json<Vec<String>>, ApiError> {
    Ok(Json(
        state.platform.config_names(&session.actor, &name).await?,
    ))
}

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

pub(super) async fn formation(
    State(state): State<AppState>,
    Authenticated(session): Authenticated,
    Path(name): Path<String>,
) -> Result<Json<Vec<FormationEntry>>, ApiError> {
    let formation = state.platform.formation(&session.actor, &name).await?;
    Ok(Json(entries(formation)))
}

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

pub(super) async fn limits(
    State(state): State<AppState>,
    Authenticated(session): Authenticated,
    Path(name): Path<String>,
) -> Result<Json<Vec<ProcessLimits>>, ApiError> {
    let limits = state.platform.limits(&session.actor, &name).await?;
    Ok(Json(limits_view(limits)))
}

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
