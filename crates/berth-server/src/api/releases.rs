//! Releases and processes of an app.

use axum::extract::{Path, State};
use axum::Json;
use berth_api_types::{Dyno, Release, ReleaseDetail};
use berth_platform::ReleaseRecord;

use super::extract::Authenticated;
use super::ApiError;
use crate::AppState;

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
