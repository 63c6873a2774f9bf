//! Who has access to an app, and the audit trails.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use berth_api_types::{AddMemberRequest, AuditEvent, Member, UpdateMemberRequest};
use berth_platform::AppRole;

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

pub(super) async fn app_audit(
    State(state): State<AppState>,
    Authenticated(session): Authenticated,
    Path(name): Path<String>,
) -> Result<Json<Vec<AuditEvent>>, ApiError> {
    let trail = state
        .platform
        .audit_trail(&session.actor, Some(&name))
        .await?;
    Ok(Json(trail.into_iter().map(audit_event).collect()))
}

pub(super) async fn platform_audit(
    State(state): State<AppState>,
    Authenticated(session): Authenticated,
) -> Result<Json<Vec<AuditEvent>>, ApiError> {
    let trail = state.platform.audit_trail(&session.actor, None).await?;
    Ok(Json(trail.into_iter().map(audit_event).collect()))
}

fn role(text: &str) -> Result<AppRole, ApiError> {
    text.parse().map_err(ApiError::invalid)
}

fn audit_event(event: berth_platform::AuditEvent) -> AuditEvent {
    AuditEvent {
        at: event.at,
        actor: event.entry.actor_email,
        source: event.entry.source,
        app: event.entry.app_name,
        action: event.entry.action,
        detail: event.entry.detail,
    }
}
