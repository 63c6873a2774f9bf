//! Releases and processes of an app.

use axum::extract::{Path, State};
use axum::Json;
use berth_api_types::{Dyno, Release, ReleaseDetail};
use berth_platform::ReleaseRecord;

use super::extract::Authenticated;
use super::openapi::errors::{Invalid, NotFound, ServerError, Unauthorized, Unavailable};
use super::ApiError;
use crate::AppState;

/// The app's releases, oldest first.
#[utoipa::path(
    get,
    path = "/api/v1/apps/{name}/releases",
    operation_id = "list_releases",
    tag = "releases",
    params(
        ("name" = String, Path, description = "The app's name"),
    ),
    responses(
        (status = 200, description = "The releases", body = [Release]),
        Unauthorized, NotFound, ServerError,
    ),
    security(("token" = [])),
)]
pub(super) async fn list(
    State(state): State<AppState>,
    Authenticated(session): Authenticated,
    Path(name): Path<String>,
) -> Result<Json<Vec<Release>>, ApiError> {
    let app = state.platform.app(&session.actor, &name).await?;
    let releases = state.platform.releases(&session.actor, &name).await?;
    Ok(Json(
        releases
            .into_iter()
            .map(|release| {
                let current = app.current_release == Some(release.version);
                release_view(release, current)
            })
            .collect(),
    ))
}

/// A release in full, with its build and release-phase output.
#[utoipa::path(
    get,
    path = "/api/v1/apps/{name}/releases/{version}",
    operation_id = "show_release",
    tag = "releases",
    params(
        ("name" = String, Path, description = "The app's name"),
        ("version" = String, Path, description = "`v7`, `7`, or `current`"),
    ),
    responses(
        (status = 200, description = "The release", body = ReleaseDetail),
        Unauthorized, NotFound, Invalid, ServerError,
    ),
    security(("token" = [])),
)]
pub(super) async fn show(
    State(state): State<AppState>,
    Authenticated(session): Authenticated,
    Path((name, version)): Path<(String, String)>,
) -> Result<Json<ReleaseDetail>, ApiError> {
    let version = match version.as_str() {
        "current" => None,
        other => Some(
            other
                .trim_start_matches('v')
                .parse::<i64>()
                .map_err(|_| ApiError::invalid(format!("{other:?} is not a release: use vN")))?,
        ),
    };
    let (release, current) = state
        .platform
        .release(&session.actor, &name, version)
        .await?;
    let processes = release
        .processes
        .iter()
        .map(|p| (p.process_type.clone(), p.image.clone()))
        .collect();
    let (release_command, output) = (release.release_command.clone(), release.output.clone());
    Ok(Json(ReleaseDetail {
        release: release_view(release, current),
        processes,
        release_command,
        output,
    }))
}

pub(super) fn release_view(release: ReleaseRecord, current: bool) -> Release {
    Release {
        current,
        version: release.version,
        description: release.description,
        status: release.status.to_string(),
        commit: release.commit_sha,
        created_by: release.created_by,
        created_at: release.created_at,
        failure: release.failure,
    }
}

/// The app's dynos and how they are doing.
#[utoipa::path(
    get,
    path = "/api/v1/apps/{name}/dynos",
    operation_id = "list_dynos",
    tag = "dynos",
    params(
        ("name" = String, Path, description = "The app's name"),
    ),
    responses(
        (status = 200, description = "The dynos", body = [Dyno]),
        Unauthorized, NotFound, ServerError, Unavailable,
    ),
    security(("token" = [])),
)]
pub(super) async fn dynos(
    State(state): State<AppState>,
    Authenticated(session): Authenticated,
    Path(name): Path<String>,
) -> Result<Json<Vec<Dyno>>, ApiError> {
    let dynos = state.platform.dynos(&session.actor, &name).await?;
    Ok(Json(
        dynos
            .into_iter()
            .map(|dyno| Dyno {
                name: dyno.name,
                process_type: dyno.process_type,
                state: dyno.state,
                release: dyno.release,
                created_at: dyno.created_at,
                started_at: dyno.started_at,
                exit_code: dyno.exit_code,
                host: dyno.host,
                reason: dyno.reason,
                memory_limit_bytes: dyno.limits.memory_bytes,
                cpu_limit: dyno.limits.nano_cpus.map(|cpus| cpus as f64 / 1e9),
                memory_bytes: dyno.memory_bytes,
                cpu_percent: dyno.cpu_percent,
            })
            .collect(),
    ))
}
