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
use super::openapi::errors::{
    AddonProviderFailed, BadRequest, Conflict, Forbidden, Invalid, NotFound, PayloadTooLarge,
    ServerError, Unauthorized, Unavailable,
};
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

/// The add-ons of every app the caller can see.
#[utoipa::path(
    get,
    path = "/api/v1/addons",
    operation_id = "list_all_addons",
    tag = "addons",
    responses(
        (status = 200, description = "The add-ons", body = [Addon]),
        Unauthorized, ServerError,
    ),
    security(("token" = [])),
)]
pub(super) async fn list_all(
    State(state): State<AppState>,
    Authenticated(session): Authenticated,
) -> Result<Json<Vec<Addon>>, ApiError> {
    let addons = state.platform.addons(&session.actor, None).await?;
    Ok(Json(addons.into_iter().map(view).collect()))
}

/// The add-ons an app owns or has attached.
#[utoipa::path(
    get,
    path = "/api/v1/apps/{name}/addons",
    operation_id = "list_addons",
    tag = "addons",
    params(
        ("name" = String, Path, description = "The app's name"),
    ),
    responses(
        (status = 200, description = "The add-ons", body = [Addon]),
        Unauthorized, NotFound, ServerError,
    ),
    security(("token" = [])),
)]
pub(super) async fn list(
    State(state): State<AppState>,
    Authenticated(session): Authenticated,
    Path(name): Path<String>,
) -> Result<Json<Vec<Addon>>, ApiError> {
    let addons = state.platform.addons(&session.actor, Some(&name)).await?;
    Ok(Json(addons.into_iter().map(view).collect()))
}

/// Provisions an add-on (a database or cache) and attaches it to the app.
#[utoipa::path(
    post,
    path = "/api/v1/apps/{name}/addons",
    operation_id = "create_addon",
    tag = "addons",
    params(
        ("name" = String, Path, description = "The app's name"),
    ),
    request_body = CreateAddonRequest,
    responses(
        (status = 201, description = "The new add-on", body = Addon),
        BadRequest, Unauthorized, Forbidden, NotFound, Conflict, PayloadTooLarge, Invalid,
        ServerError, AddonProviderFailed, Unavailable,
    ),
    security(("token" = [])),
)]
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

/// An add-on, with its credentials when `reveal=true` (and the caller may read them).
#[utoipa::path(
    get,
    path = "/api/v1/apps/{name}/addons/{addon}",
    operation_id = "show_addon",
    tag = "addons",
    params(
        ("name" = String, Path, description = "The app's name"),
        ("addon" = String, Path, description = "The add-on's name"),
        AddonInfoQuery,
    ),
    responses(
        (status = 200, description = "The add-on", body = AddonInfo),
        Unauthorized, Forbidden, NotFound, Invalid, ServerError,
    ),
    security(("token" = [])),
)]
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

/// Destroys an add-on and its data.
#[utoipa::path(
    delete,
    path = "/api/v1/apps/{name}/addons/{addon}",
    operation_id = "destroy_addon",
    tag = "addons",
    params(
        ("name" = String, Path, description = "The app's name"),
        ("addon" = String, Path, description = "The add-on's name"),
    ),
    responses(
        (status = 204, description = "The add-on is destroyed"),
        Unauthorized, Forbidden, NotFound, Conflict, ServerError, AddonProviderFailed, Unavailable,
    ),
    security(("token" = [])),
)]
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

/// Attaches another app's add-on to this app: its URL becomes one of this app's config vars.
#[utoipa::path(
    post,
    path = "/api/v1/apps/{name}/addons/{addon}/attachments",
    operation_id = "attach_addon",
    tag = "addons",
    params(
        ("name" = String, Path, description = "The app's name"),
        ("addon" = String, Path, description = "The add-on's name"),
    ),
    request_body = AttachAddonRequest,
    responses(
        (status = 201, description = "The add-on with its new attachment", body = Addon),
        BadRequest, Unauthorized, Forbidden, NotFound, Conflict, PayloadTooLarge, Invalid,
        ServerError, AddonProviderFailed,
    ),
    security(("token" = [])),
)]
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

/// Detaches an add-on from this app.
#[utoipa::path(
    delete,
    path = "/api/v1/apps/{name}/addons/{addon}/attachments",
    operation_id = "detach_addon",
    tag = "addons",
    params(
        ("name" = String, Path, description = "The app's name"),
        ("addon" = String, Path, description = "The add-on's name"),
    ),
    responses(
        (status = 204, description = "The add-on is detached"),
        Unauthorized, Forbidden, NotFound, Invalid, ServerError, AddonProviderFailed,
    ),
    security(("token" = [])),
)]
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

/// Gives an add-on new credentials and the apps it is attached to its new URL.
#[utoipa::path(
    post,
    path = "/api/v1/apps/{name}/addons/{addon}/rotate",
    operation_id = "rotate_addon_credentials",
    tag = "addons",
    params(
        ("name" = String, Path, description = "The app's name"),
        ("addon" = String, Path, description = "The add-on's name"),
    ),
    responses(
        (status = 204, description = "The credentials are rotated"),
        Unauthorized, Forbidden, NotFound, ServerError, AddonProviderFailed, Unavailable,
    ),
    security(("token" = [])),
)]
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

/// The backups of a Postgres add-on.
#[utoipa::path(
    get,
    path = "/api/v1/apps/{name}/addons/{addon}/backups",
    operation_id = "list_backups",
    tag = "addons",
    params(
        ("name" = String, Path, description = "The app's name"),
        ("addon" = String, Path, description = "The add-on's name"),
    ),
    responses(
        (status = 200, description = "The backups", body = [Backup]),
        Unauthorized, NotFound, Invalid, ServerError,
    ),
    security(("token" = [])),
)]
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

/// Captures a backup of a Postgres add-on.
#[utoipa::path(
    post,
    path = "/api/v1/apps/{name}/addons/{addon}/backups",
    operation_id = "capture_backup",
    tag = "addons",
    params(
        ("name" = String, Path, description = "The app's name"),
        ("addon" = String, Path, description = "The add-on's name"),
    ),
    responses(
        (status = 201, description = "The new backup", body = Backup),
        Unauthorized, Forbidden, NotFound, Invalid, ServerError, AddonProviderFailed, Unavailable,
    ),
    security(("token" = [])),
)]
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

/// Restores a Postgres add-on from one of its backups.
#[utoipa::path(
    post,
    path = "/api/v1/apps/{name}/addons/{addon}/backups/{backup}/restore",
    operation_id = "restore_backup",
    tag = "addons",
    params(
        ("name" = String, Path, description = "The app's name"),
        ("addon" = String, Path, description = "The add-on's name"),
        ("backup" = String, Path, description = "The backup's id, e.g. `b001`"),
    ),
    responses(
        (status = 204, description = "The add-on holds the backup's data"),
        Unauthorized, Forbidden, NotFound, Invalid, ServerError, AddonProviderFailed, Unavailable,
    ),
    security(("token" = [])),
)]
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
