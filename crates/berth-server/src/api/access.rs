//! Who has access to an app, and the audit trails.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use berth_api_types::{AddMemberRequest, AuditEvent, Member, UpdateMemberRequest};
use berth_platform::{AppRole, Session};
use serde::Deserialize;

use super::extract::{Authenticated, JsonBody};
use super::ApiError;
use crate::AppState;

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
#[derive(Deserialize)]
pub(super) struct AuditPage {
    limit: Option<u32>,
    before: Option<i64>,
}

/// The largest page of the audit trail one request gets.
const MAX_AUDIT_PAGE: u32 = 1000;

pub(super) async fn app_audit(
    State(state): State<AppState>,
    Authenticated(session): Authenticated,
    Path(name): Path<String>,
    page: Result<Query<AuditPage>, QueryRejection>,
) -> Result<Json<Vec<AuditEvent>>, ApiError> {
    audit_page(&state, &session, Some(&name), page).await
}

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
