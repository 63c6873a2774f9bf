//! Sign-in, the signed-in account, and its API tokens.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use berth_api_types::{Account, CreateTokenRequest, CreatedToken, ErrorBody, LoginRequest, Token};
use berth_core::Email;
use berth_platform::{IssuedToken, TokenRecord, TokenScope};

use super::extract::{Authenticated, JsonBody, Origin};
use super::openapi::errors::{
    BadRequest, Forbidden, Invalid, NotFound, PayloadTooLarge, ServerError, Throttled,
    Unauthorized, Unavailable,
};
use super::ApiError;
use crate::AppState;

/// Longest token lifetime accepted (ten years): beyond it, ask for none.
const MAX_TOKEN_LIFETIME_SECS: u64 = 10 * 365 * 24 * 3600;

/// Signs in with an email and password: a new API token.
#[utoipa::path(
    post,
    path = "/api/v1/login",
    operation_id = "login",
    tag = "account",
    request_body = LoginRequest,
    responses(
        (status = 201, description = "A new API token, shown this once", body = CreatedToken),
        BadRequest, PayloadTooLarge,
        (status = 401, description = "Wrong email or password", body = ErrorBody),
        Throttled, ServerError, Unavailable,
    ),
)]
pub(super) async fn login(
    State(state): State<AppState>,
    Origin(origin): Origin,
    JsonBody(request): JsonBody<LoginRequest>,
) -> Result<(StatusCode, Json<CreatedToken>), ApiError> {
    if request.email.len() > Email::MAX_LEN {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_request",
            format!("the email is longer than {} characters", Email::MAX_LEN),
        ));
    }
    let description = request
        .description
        .as_deref()
        .unwrap_or("signed in through the API");
    let issued = state
        .platform
        .login(&request.email, &request.password, description, &origin)
        .await?;
    Ok((StatusCode::CREATED, Json(created_token(issued))))
}

/// Signs out: revokes the token the request carries.
#[utoipa::path(
    post,
    path = "/api/v1/logout",
    operation_id = "logout",
    tag = "account",
    responses(
        (status = 204, description = "The token is revoked"),
        Unauthorized, ServerError,
    ),
    security(("token" = [])),
)]
pub(super) async fn logout(
    State(state): State<AppState>,
    Authenticated(session): Authenticated,
) -> Result<StatusCode, ApiError> {
    state.platform.logout(&session).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The signed-in account.
#[utoipa::path(
    get,
    path = "/api/v1/account",
    operation_id = "show_account",
    tag = "account",
    responses(
        (status = 200, description = "The account", body = Account),
        Unauthorized, ServerError,
    ),
    security(("token" = [])),
)]
pub(super) async fn show(
    State(state): State<AppState>,
    Authenticated(session): Authenticated,
) -> Result<Json<Account>, ApiError> {
    let user = state.platform.account(&session.actor).await?;
    Ok(Json(Account {
        email: user.email,
        admin: user.is_admin,
        created_at: user.created_at,
    }))
}

/// The account's API tokens, without their secrets.
#[utoipa::path(
    get,
    path = "/api/v1/tokens",
    operation_id = "list_tokens",
    tag = "account",
    responses(
        (status = 200, description = "The tokens", body = [Token]),
        Unauthorized, Forbidden, ServerError,
    ),
    security(("token" = [])),
)]
pub(super) async fn tokens(
    State(state): State<AppState>,
    Authenticated(session): Authenticated,
) -> Result<Json<Vec<Token>>, ApiError> {
    let tokens = state.platform.tokens(&session.actor).await?;
    Ok(Json(tokens.into_iter().map(token).collect()))
}

/// Creates an API token of the account.
#[utoipa::path(
    post,
    path = "/api/v1/tokens",
    operation_id = "create_token",
    tag = "account",
    request_body = CreateTokenRequest,
    responses(
        (status = 201, description = "The new token, shown this once", body = CreatedToken),
        BadRequest, Unauthorized, Forbidden, PayloadTooLarge, Invalid, ServerError,
    ),
    security(("token" = [])),
)]
pub(super) async fn create_token(
    State(state): State<AppState>,
    Authenticated(session): Authenticated,
    JsonBody(request): JsonBody<CreateTokenRequest>,
) -> Result<(StatusCode, Json<CreatedToken>), ApiError> {
    let scope = match request.scope.as_deref() {
        Some(scope) => scope.parse::<TokenScope>().map_err(ApiError::invalid)?,
        None => TokenScope::Full,
    };
    let expires_in = match request.expires_in_secs {
        Some(0) => return Err(ApiError::invalid("expires_in_secs must be positive")),
        Some(secs) if secs > MAX_TOKEN_LIFETIME_SECS => {
            return Err(ApiError::invalid(
                "expires_in_secs is over ten years: omit it for a token that does not expire",
            ))
        }
        Some(secs) => Some(chrono::Duration::seconds(secs as i64)),
        None => None,
    };
    let description = request.description.as_deref().unwrap_or("");
    let issued = state
        .platform
        .create_token(&session.actor, description, scope, expires_in)
        .await?;
    Ok((StatusCode::CREATED, Json(created_token(issued))))
}

/// Revokes one of the account's API tokens.
#[utoipa::path(
    delete,
    path = "/api/v1/tokens/{id}",
    operation_id = "revoke_token",
    tag = "account",
    params(
        ("id" = String, Path, description = "The token's id"),
    ),
    responses(
        (status = 204, description = "The token is revoked"),
        Unauthorized, Forbidden, NotFound, ServerError,
    ),
    security(("token" = [])),
)]
pub(super) async fn revoke_token(
    State(state): State<AppState>,
    Authenticated(session): Authenticated,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.platform.revoke_token(&session.actor, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

fn created_token(issued: IssuedToken) -> CreatedToken {
    CreatedToken {
        id: issued.id,
        token: issued.token,
        email: issued.email,
    }
}

fn token(record: TokenRecord) -> Token {
    Token {
        id: record.id,
        description: record.description,
        scope: record.scope,
        created_at: record.created_at,
        last_used_at: record.last_used_at,
        expires_at: record.expires_at,
    }
}
