//! Apps.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use berth_api_types::{App, CreateAppRequest, DestroyAppQuery, MaintenanceRequest};
use berth_platform::AppRecord;

use super::extract::{Authenticated, JsonBody, PublicBase};
use super::openapi::errors::{
    AddonProviderFailed, BadRequest, Conflict, Forbidden, Invalid, NotFound, PayloadTooLarge,
    ServerError, Unauthorized, Unavailable,
};
use super::ApiError;
use crate::AppState;

/// The apps the caller can see, oldest first.
#[utoipa::path(
    get,
    path = "/api/v1/apps",
    operation_id = "list_apps",
    tag = "apps",
    responses(
        (status = 200, description = "The apps", body = [App]),
        Unauthorized, ServerError,
    ),
    security(("token" = [])),
)]
pub(super) async fn list(
    State(state): State<AppState>,
    PublicBase(base): PublicBase,
    Authenticated(session): Authenticated,
) -> Result<Json<Vec<App>>, ApiError> {
    let apps = state.platform.apps(&session.actor).await?;
    Ok(Json(
        apps.into_iter()
            .map(|app| view(&state, &base, app))
            .collect(),
    ))
}

/// Creates an app, optionally set up from a `heroku.yml` (add-ons, config vars).
#[utoipa::path(
    post,
    path = "/api/v1/apps",
    operation_id = "create_app",
    tag = "apps",
    request_body = CreateAppRequest,
    responses(
        (status = 201, description = "The new app", body = App),
        BadRequest, Unauthorized, Forbidden, Conflict, PayloadTooLarge, Invalid, ServerError,
        AddonProviderFailed, Unavailable,
    ),
    security(("token" = [])),
)]
pub(super) async fn create(
    State(state): State<AppState>,
    PublicBase(base): PublicBase,
    Authenticated(session): Authenticated,
    JsonBody(request): JsonBody<CreateAppRequest>,
) -> Result<(StatusCode, Json<App>), ApiError> {
    let app = match &request.manifest {
        Some(manifest) => {
            let (progress, _) = berth_platform::Progress::channel();
            state
                .platform
                .create_app_from_manifest(
                    &session.actor,
                    request.name.as_deref(),
                    manifest,
                    &progress,
                )
                .await?
        }
        None => {
            state
                .platform
                .create_app(&session.actor, request.name.as_deref())
                .await?
        }
    };
    Ok((StatusCode::CREATED, Json(view(&state, &base, app))))
}

/// An app.
#[utoipa::path(
    get,
    path = "/api/v1/apps/{name}",
    operation_id = "show_app",
    tag = "apps",
    params(
        ("name" = String, Path, description = "The app's name"),
    ),
    responses(
        (status = 200, description = "The app", body = App),
        Unauthorized, NotFound, ServerError,
    ),
    security(("token" = [])),
)]
pub(super) async fn show(
    State(state): State<AppState>,
    PublicBase(base): PublicBase,
    Authenticated(session): Authenticated,
    Path(name): Path<String>,
) -> Result<Json<App>, ApiError> {
    let app = state.platform.app(&session.actor, &name).await?;
    Ok(Json(view(&state, &base, app)))
}

/// Turns maintenance mode on or off: visitors get a maintenance page.
#[utoipa::path(
    put,
    path = "/api/v1/apps/{name}/maintenance",
    operation_id = "set_maintenance",
    tag = "apps",
    params(
        ("name" = String, Path, description = "The app's name"),
    ),
    request_body = MaintenanceRequest,
    responses(
        (status = 200, description = "The app", body = App),
        BadRequest, Unauthorized, Forbidden, NotFound, PayloadTooLarge, ServerError,
    ),
    security(("token" = [])),
)]
pub(super) async fn maintenance(
    State(state): State<AppState>,
    PublicBase(base): PublicBase,
    Authenticated(session): Authenticated,
    Path(name): Path<String>,
    JsonBody(request): JsonBody<MaintenanceRequest>,
) -> Result<Json<App>, ApiError> {
    state
        .platform
        .set_maintenance(&session.actor, &name, request.enabled)
        .await?;
    let app = state.platform.app(&session.actor, &name).await?;
    Ok(Json(view(&state, &base, app)))
}

/// Destroys an app: its dynos, releases, domains and repository.
#[utoipa::path(
    delete,
    path = "/api/v1/apps/{name}",
    operation_id = "destroy_app",
    tag = "apps",
    params(
        ("name" = String, Path, description = "The app's name"),
        DestroyAppQuery,
    ),
    responses(
        (status = 200, description = "The app destroyed", body = App),
        Unauthorized, Forbidden, NotFound, Conflict, Invalid, ServerError, Unavailable,
    ),
    security(("token" = [])),
)]
pub(super) async fn destroy(
    State(state): State<AppState>,
    PublicBase(base): PublicBase,
    Authenticated(session): Authenticated,
    Path(name): Path<String>,
    query: Result<Query<DestroyAppQuery>, QueryRejection>,
) -> Result<Json<App>, ApiError> {
    let Query(query) = query.map_err(|rejection| ApiError::invalid(rejection.body_text()))?;
    let app = state
        .platform
        .destroy_app_with(&session.actor, &name, query.volumes)
        .await?;
    Ok(Json(view(&state, &base, app)))
}

fn view(state: &AppState, base: &str, app: AppRecord) -> App {
    App {
        web_url: state.web_url(&app.name),
        git_url: format!("{base}/{}.git", app.name),
        name: app.name,
        owner: app.owner_email,
        created_at: app.created_at,
        maintenance: app.maintenance,
    }
}
