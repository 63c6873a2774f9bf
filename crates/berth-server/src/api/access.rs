//! Who has access to an app, and the audit trails.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use berth_api_types::{AddMemberRequest, AuditEvent, Member, UpdateMemberRequest};
use berth_platform::{AppRole, Session};
use serde::Deserialize;
use utoipa::IntoParams;

use super::extract::{Authenticated, JsonBody};
use super::openapi::errors::{
    BadRequest, Conflict, Forbidden, Invalid, NotFound, PayloadTooLarge, ServerError, Unauthorized,
};
use super::ApiError;
use crate::AppState;

/// Who has a role on the app.
#[utoipa::path(
    get,
    path = "/api/v1/apps/{name}/access",
    operation_id = "list_members",
    tag = "access",
    params(
        ("name" = String, Path, description = "The app's name"),
    ),
    responses(
        (status = 200, description = "The members", body = [Member]),
        Unauthorized, NotFound, ServerError,
    ),
    security(("token" = [])),
)]
pub(super) async fn list(
    State(state): State<AppState>,
    Authenticated(session): Authenticated,
    Path(name): Path<String>,
) -> Result<Json<Vec<Member>>, ApiError> {
    let members = state.platform.members(&session.actor, &name).await?;
    Ok(Json(
        members
            .into_iter()
            .map(|member| Member {
                email: member.email,
                role: member.role.to_string(),
                created_at: member.created_at,
            })
            .collect(),
    ))
}

/// Gives an existing user a role on the app.
#[utoipa::path(
    post,
    path = "/api/v1/apps/{name}/access",
    operation_id = "add_member",
    tag = "access",
    params(
        ("name" = String, Path, description = "The app's name"),
    ),
    request_body = AddMemberRequest,
    responses(
        (status = 201, description = "The user has the role"),
        BadRequest, Unauthorized, Forbidden, NotFound, Conflict, PayloadTooLarge, Invalid,
        ServerError,
    ),
    security(("token" = [])),
)]
pub(super) async fn add(
    State(state): State<AppState>,
    Authenticated(session): Authenticated,
    Path(name): Path<String>,
    JsonBody(request): JsonBody<AddMemberRequest>,
) -> Result<StatusCode, ApiError> {
    let role = role(&request.role)?;
    state
        .platform
        .add_member(&session.actor, &name, &request.email, role)
        .await?;
    Ok(StatusCode::CREATED)
}

/// Changes a member's role.
#[utoipa::path(
    patch,
    path = "/api/v1/apps/{name}/access/{email}",
    operation_id = "update_member",
    tag = "access",
    params(
        ("name" = String, Path, description = "The app's name"),
        ("email" = String, Path, description = "The member's email"),
    ),
    request_body = UpdateMemberRequest,
    responses(
        (status = 204, description = "The member has the new role"),
        BadRequest, Unauthorized, Forbidden, NotFound, Conflict, PayloadTooLarge, Invalid,
        ServerError,
    ),
    security(("token" = [])),
)]
pub(super) async fn update(
    State(state): State<AppState>,
    Authenticated(session): Authenticated,
    Path((name, email)): Path<(String, String)>,
    JsonBody(request): JsonBody<UpdateMemberRequest>,
) -> Result<StatusCode, ApiError> {
    let role = role(&request.role)?;
    state
        .platform
        .change_member(&session.actor, &name, &email, Some(role))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Takes a member's role away.
#[utoipa::path(
    delete,
    path = "/api/v1/apps/{name}/access/{email}",
    operation_id = "remove_member",
    tag = "access",
    params(
        ("name" = String, Path, description = "The app's name"),
        ("email" = String, Path, description = "The member's email"),
    ),
    responses(
        (status = 204, description = "The user has no role on the app"),
        Unauthorized, Forbidden, NotFound, Conflict, ServerError,
    ),
    security(("token" = [])),
)]
pub(super) async fn remove(
    State(state): State<AppState>,
    Authenticated(session): Authenticated,
    Path((name, email)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    state
        .platform
        .change_member(&session.actor, &name, &email, None)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Which page of an audit trail: without either, the whole trail (as
/// retention keeps it); `limit` newest entries older than entry `before`.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct AuditPage {
    /// At most this many entries, the newest (1 to 1000).
    limit: Option<u32>,
    /// Only entries older than this one (an entry's `id`).
    before: Option<i64>,
}

/// The largest page of the audit trail one request gets.
const MAX_AUDIT_PAGE: u32 = 1000;

/// The app's audit trail, oldest first.
#[utoipa::path(
    get,
    path = "/api/v1/apps/{name}/audit",
    operation_id = "show_app_audit",
    tag = "audit",
    params(
        ("name" = String, Path, description = "The app's name"),
        AuditPage,
    ),
    responses(
        (status = 200, description = "The trail", body = [AuditEvent]),
        Unauthorized, NotFound, Invalid, ServerError,
    ),
    security(("token" = [])),
)]
pub(super) async fn app_audit(
    State(state): State<AppState>,
    Authenticated(session): Authenticated,
    Path(name): Path<String>,
    page: Result<Query<AuditPage>, QueryRejection>,
) -> Result<Json<Vec<AuditEvent>>, ApiError> {
    audit_page(&state, &session, Some(&name), page).await
}

/// The whole platform's audit trail, oldest first (platform admins).
#[utoipa::path(
    get,
    path = "/api/v1/audit",
    operation_id = "show_platform_audit",
    tag = "audit",
    params(
        AuditPage,
    ),
    responses(
        (status = 200, description = "The trail", body = [AuditEvent]),
        Unauthorized, Forbidden, Invalid, ServerError,
    ),
    security(("token" = [])),
)]
pub(super) async fn platform_audit(
    State(state): State<AppState>,
    Authenticated(session): Authenticated,
    page: Result<Query<AuditPage>, QueryRejection>,
) -> Result<Json<Vec<AuditEvent>>, ApiError> {
    audit_page(&state, &session, None, page).await
}

async fn audit_page(
    state: &AppState,
    session: &Session,
    app: Option<&str>,
    page: Result<Query<AuditPage>, QueryRejection>,
) -> Result<Json<Vec<AuditEvent>>, ApiError> {
    let Query(page) = page.map_err(|rejection| ApiError::invalid(rejection.body_text()))?;
    if page
        .limit
        .is_some_and(|limit| limit == 0 || limit > MAX_AUDIT_PAGE)
    {
        return Err(ApiError::invalid(format!(
            "limit must be between 1 and {MAX_AUDIT_PAGE}"
        )));
    }
    let trail = state
        .platform
        .audit_page(&session.actor, app, page.before, page.limit)
        .await?;
    Ok(Json(trail.into_iter().map(audit_event).collect()))
}

fn role(text: &str) -> Result<AppRole, ApiError> {
    text.parse().map_err(ApiError::invalid)
}

fn audit_event(event: berth_platform::AuditEvent) -> AuditEvent {
    AuditEvent {
        id: event.id,
        at: event.at,
        actor: event.entry.actor_email,
        source: event.entry.source,
        app: event.entry.app_name,
        action: event.entry.action,
        detail: event.entry.detail,
    }
}
