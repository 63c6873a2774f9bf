//! Add-ons: listed per app or across apps, created, attached, detached,
//! rotated and destroyed.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use berth_api_types::{
    Addon, AddonAttachment, AddonCredentials, AddonInfo, AddonInfoQuery, AttachAddonRequest,
    Backup, CreateAddonRequest,
};
use berth_platform::Progress;

use super::extract::{Authenticated, JsonBody};
use super::ApiError;
use crate::AppState;

pub(crate) fn view(addon: berth_platform::Addon) -> Addon {
    Addon {
        name: addon.name,
        service: addon.service,
        plan: addon.plan,
        mode: addon.mode,
        app: addon.app,
        attachments: addon
            .attachments
            .into_iter()
            .map(|a| AddonAttachment {
                app: a.app,
                as_name: a.as_name,
                config_var: a.config_var,
            })
            .collect(),
        created_at: addon.created_at,
    }
}

pub(super) async fn list_all(
    State(state): State<AppState>,
    Authenticated(session): Authenticated,
) -> Result<Json<Vec<Addon>>, ApiError> {
    let addons = state.platform.addons(&session.actor, None).await?;
    Ok(Json(addons.into_iter().map(view).collect()))
}

pub(super) async fn list(
    State(state): State<AppState>,
    Authenticated(session): Authenticated,
    Path(name): Path<String>,
) -> Result<Json<Vec<Addon>>, ApiError> {
    let addons = state.platform.addons(&session.actor, Some(&name)).await?;
    Ok(Json(addons.into_iter().map(view).collect()))
}

pub(super) async fn create(
    State(state): State<AppState>,
    Authenticated(session): Authenticated,
    Path(name): Path<String>,
    JsonBody(request): JsonBody<CreateAddonRequest>,
) -> Result<(StatusCode, Json<Addon>), ApiError> {
    let (progress, _) = Progress::channel();
    let addon = state
        .platform
        .create_addon(
            &session.actor,
            &name,
            &request.service,
            request.as_name.as_deref(),
            request.name.as_deref(),
            &progress,
        )
        .await?;
    Ok((StatusCode::CREATED, Json(view(addon))))
}

pub(super) async fn info(
    State(state): State<AppState>,
    Authenticated(session): Authenticated,
    Path((name, addon)): Path<(String, String)>,
    query: Result<Query<AddonInfoQuery>, QueryRejection>,
) -> Result<Json<AddonInfo>, ApiError> {
    let Query(query) = query.map_err(|rejection| ApiError::invalid(rejection.body_text()))?;
    let (addon, credentials) = state
        .platform
        .addon_info(&session.actor, &name, &addon, query.reveal)
        .await?;
    Ok(Json(AddonInfo {
        addon: view(addon),
        credentials: credentials.map(|c| AddonCredentials {
            url: c.url,
            username: c.username,
            password: c.password,
            resource: c.resource,
        }),
    }))
}

pub(super) async fn destroy(
    State(state): State<AppState>,
    Authenticated(session): Authenticated,
    Path((name, addon)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let (progress, _) = Progress::channel();
    state
        .platform
        .destroy_addon(&session.actor, &name, &addon, &progress)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

pub(super) async fn attach(
    State(state): State<AppState>,
    Authenticated(session): Authenticated,
    Path((name, addon)): Path<(String, String)>,
    JsonBody(request): JsonBody<AttachAddonRequest>,
) -> Result<(StatusCode, Json<Addon>), ApiError> {
    let (progress, _) = Progress::channel();
    let addon = state
        .platform
        .attach_addon(
            &session.actor,
            &addon,
            &name,
            request.as_name.as_deref(),
            &progress,
        )
        .await?;
    Ok((StatusCode::CREATED, Json(view(addon))))
}

pub(super) async fn detach(
    State(state): State<AppState>,
    Authenticated(session): Authenticated,
    Path((name, addon)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let (progress, _) = Progress::channel();
    state
        .platform
        .detach_addon(&session.actor, &addon, &name, &progress)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

pub(super) async fn rotate(
    State(state): State<AppState>,
    Authenticated(session): Authenticated,
    Path((name, addon)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let (progress, _) = Progress::channel();
    state
        .platform
        .rotate_addon(&session.actor, &name, &addon, &progress)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

fn backup_view(backup: berth_platform::Backup) -> Backup {
    Backup {
        id: backup.id,
        addon: backup.addon,
        size_bytes: backup.size_bytes,
        created_at: backup.created_at,
    }
}

pub(super) async fn backups(
    State(state): State<AppState>,
    Authenticated(session): Authenticated,
    Path((name, addon)): Path<(String, String)>,
) -> Result<Json<Vec<Backup>>, ApiError> {
    let backups = state
        .platform
        .backups(&session.actor, &name, &addon)
        .await?;
    Ok(Json(backups.into_iter().map(backup_view).collect()))
}

pub(super) async fn capture(
    State(state): State<AppState>,
    Authenticated(session): Authenticated,
    Path((name, addon)): Path<(String, String)>,
) -> Result<(StatusCode, Json<Backup>), ApiError> {
    let backup = state
        .platform
        .capture_backup(&session.actor, &name, &addon)
        .await?;
    Ok((StatusCode::CREATED, Json(backup_view(backup))))
}

pub(super) async fn restore(
    State(state): State<AppState>,
    Authenticated(session): Authenticated,
    Path((name, addon, id)): Path<(String, String, String)>,
) -> Result<StatusCode, ApiError> {
    state
        .platform
        .restore_backup(&session.actor, &name, &addon, &id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
