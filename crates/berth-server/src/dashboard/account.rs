//! The signed-in account: its password and its API tokens.

use askama::Template;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use berth_platform::{IssuedToken, TokenScope};
use serde::Deserialize;

use super::browser::{CheckedForm, Chrome, NoFields, SignedIn};
use super::error::DashboardError;
use super::moments::Moment;
use super::{after_action, render};
use crate::api::Origin;
use crate::AppState;

struct TokenRow {
    id: String,
    description: String,
    scope: String,
    created: Moment,
    /// None for a token never used.
    last_used: Option<Moment>,
    /// None for a token that never expires.
    expires: Option<Moment>,
    /// The token this browser is signed in with.
    this_session: bool,
}

#[derive(Template)]
#[template(path = "account.html")]
struct AccountPage {
    chrome: Chrome,
    email: String,
    admin: bool,
    tokens: Vec<TokenRow>,
    /// A token just created: the only time its secret is shown.
    created: Option<IssuedToken>,
}

pub(super) async fn show(
    State(state): State<AppState>,
    signed_in: SignedIn,
) -> Result<Response, DashboardError> {
    page(&state, signed_in, None).await
}

async fn page(
    state: &AppState,
    signed_in: SignedIn,
    created: Option<IssuedToken>,
) -> Result<Response, DashboardError> {
    let actor = &signed_in.session.actor;
    let user = state.platform.account(actor).await?;
    let tokens = state
        .platform
        .tokens(actor)
        .await?
        .into_iter()
        .map(|token| TokenRow {
            this_session: token.id == signed_in.session.token_id,
            created: Moment::of(token.created_at),
            last_used: token.last_used_at.map(Moment::of),
            expires: token.expires_at.map(Moment::of),
            id: token.id,
            description: token.description,
            scope: token.scope,
        })
        .collect();
    let page = AccountPage {
        chrome: signed_in.chrome,
        email: user.email,
        admin: user.is_admin,
        tokens,
        created,
    };
    Ok(render(&page)?.into_response())
}

#[derive(Deserialize)]
pub(super) struct PasswordForm {
    current: String,
    new: String,
    confirm: String,
}

pub(super) async fn change_password(
    State(state): State<AppState>,
    Origin(origin): Origin,
    signed_in: SignedIn,
    CheckedForm(form): CheckedForm<PasswordForm>,
) -> Result<Response, DashboardError> {
    let result = if form.new != form.confirm {
        Err(berth_platform::PlatformError::Invalid(
            "the new password and its confirmation differ".into(),
        ))
    } else {
        state
            .platform
            .change_password(&signed_in.session, &form.current, &form.new, &origin)
            .await
            .map(|()| "Password changed.".to_string())
    };
    after_action("/account", result)
}

#[derive(Deserialize)]
pub(super) struct TokenForm {
    #[serde(default)]
    description: String,
    scope: String,
}

/// Answers with the account page itself, not a redirect: the new secret
/// is shown this once and never travels in a URL or cookie.
pub(super) async fn create_token(
    State(state): State<AppState>,
    signed_in: SignedIn,
    CheckedForm(form): CheckedForm<TokenForm>,
) -> Result<Response, DashboardError> {
    let scope = match form.scope.parse::<TokenScope>() {
        Ok(scope) => scope,
        Err(message) => {
            return after_action(
                "/account",
                Err(berth_platform::PlatformError::Invalid(message)),
            )
        }
    };
    let description = form.description.trim();
    let description = if description.is_empty() {
        "created in the dashboard"
    } else {
        description
    };
    match state
        .platform
        .create_token(&signed_in.session.actor, description, scope, None)
        .await
    {
        Ok(issued) => page(&state, signed_in, Some(issued)).await,
        Err(error) => after_action("/account", Err(error)),
    }
}

pub(super) async fn revoke_token(
    State(state): State<AppState>,
    Path(id): Path<String>,
    signed_in: SignedIn,
    CheckedForm(NoFields {}): CheckedForm<NoFields>,
) -> Result<Response, DashboardError> {
    let result = state
        .platform
        .revoke_token(&signed_in.session.actor, &id)
        .await
        .map(|()| format!("Revoked token {id}."));
    after_action("/account", result)
}
