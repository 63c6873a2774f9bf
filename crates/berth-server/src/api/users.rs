//! The platform's users, for platform admins.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use berth_api_types::{CreateUserRequest, CreatedToken, RemoveUserQuery, RemovedUser, User};

use super::extract::{Authenticated, JsonBody};
use super::openapi::errors::{
    BadRequest, Conflict, Forbidden, Invalid, NotFound, PayloadTooLarge, ServerError, Unauthorized,
    Unavailable,
};
use super::ApiError;
use crate::AppState;

/// The platform's users (platform admins).
#[utoipa::path(
    get,
    path = "/api/v1/users",
    operation_id = "list_users",
    tag = "users",
    responses(
        (status = 200, description = "The users", body = [User]),
        Unauthorized, Forbidden, ServerError,
    ),
    security(("token" = [])),
)]
pub(super) async fn list(
    State(state): State<AppState>,
    Authenticated(session): Authenticated,
) -> Result<Json<Vec<User>>, ApiError> {
    let users = state.platform.users(&session.actor).await?;
    Ok(Json(
        users
            .into_iter()
            .map(|user| User {
                email: user.email,
                admin: user.is_admin,
                created_at: user.created_at,
            })
            .collect(),
    ))
}

/// Creates a user, who gets a first API token (platform admins).
#[utoipa::path(
    post,
    path = "/api/v1/users",
    operation_id = "create_user",
    tag = "users",
    request_body = CreateUserRequest,
    responses(
        (
            status = 201,
            description = "The user's first token, shown this once",
            body = CreatedToken,
        ),
        BadRequest, Unauthorized, Forbidden, Conflict, PayloadTooLarge, Invalid, ServerError,
        Unavailable,
    ),
    security(("token" = [])),
)]
pub(super) async fn create(
    State(state): State<AppState>,
    Authenticated(session): Authenticated,
    JsonBody(request): JsonBody<CreateUserRequest>,
) -> Result<(StatusCode, Json<CreatedToken>), ApiError> {
    let issued = state
        .platform
        .add_user(
            &session.actor,
            &request.email,
            request.admin,
            request.password.as_deref(),
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedToken {
            id: issued.id,
            token: issued.token,
            email: issued.email,
        }),
    ))
}

/// Removes a user; apps they alone own pass to `reassign_to` (platform admins).
#[utoipa::path(
    delete,
    path = "/api/v1/users/{email}",
    operation_id = "remove_user",
    tag = "users",
    params(
        ("email" = String, Path, description = "The user's email"),
        RemoveUserQuery,
    ),
    responses(
        (status = 200, description = "What the removal did", body = RemovedUser),
        Unauthorized, Forbidden, NotFound, Conflict, Invalid, ServerError,
    ),
    security(("token" = [])),
)]
pub(super) async fn remove(
    State(state): State<AppState>,
    Authenticated(session): Authenticated,
    Path(email): Path<String>,
    query: Result<Query<RemoveUserQuery>, QueryRejection>,
) -> Result<Json<RemovedUser>, ApiError> {
    let Query(query) = query.map_err(|rejection| ApiError::invalid(rejection.body_text()))?;
    let reassigned_apps = state
        .platform
        .remove_user(&session.actor, &email, query.reassign_to.as_deref())
        .await?;
    Ok(Json(RemovedUser {
        email,
        reassigned_apps,
    }))
}
