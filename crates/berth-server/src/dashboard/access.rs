//! Who holds which role on an app; owners give, change and take roles
//! here, through the same platform use cases as the API's access routes.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use berth_platform::{Action, AppRole, PlatformError};
use serde::Deserialize;

use super::apps::AppHeader;
use super::browser::{failure, redirect_with, CheckedForm, Chrome, SignedIn};
use super::error::DashboardError;
use super::moments::Moment;
use super::session::capitalized;
use super::{after_action, render};
use crate::AppState;

/// The longest email a form may send (RFC 5321's limit on a path).
use super::session::MAX_EMAIL;
/// Longer than any role's name.
const MAX_ROLE: usize = 16;

/// The roles in the order the role menus offer them.
const ROLES: [&str; 4] = ["viewer", "deployer", "admin", "owner"];

struct MemberRow {
    email: String,
    role: String,
    since: Moment,
}

/// What a refused form sent, shown again beside it with the reason.
#[derive(Default)]
struct Refusal {
    /// The grant form's email as typed, or the member a row's form was for.
    email: String,
    role: String,
    message: String,
}

#[derive(Template)]
#[template(path = "app_access.html")]
struct AccessPage {
    chrome: Chrome,
    app: AppHeader,
    members: Vec<MemberRow>,
    roles: [&'static str; 4],
    /// Whether the forms that change access are shown: owners only, as
    /// the platform's policy decides.
    manages: bool,
    /// A refused grant, shown beside the grant form.
    grant_refused: Option<Refusal>,
    /// A refused change or removal, shown in its member's row.
    row_refused: Option<Refusal>,
}

pub(super) async fn show(
    State(state): State<AppState>,
    Path(name): Path<String>,
    signed_in: SignedIn,
) -> Result<Response, DashboardError> {
    page(&state, &name, signed_in, None, None).await
}

async fn page(
    state: &AppState,
    name: &str,
    signed_in: SignedIn,
    grant_refused: Option<Refusal>,
    row_refused: Option<Refusal>,
) -> Result<Response, DashboardError> {
    let actor = &signed_in.session.actor;
    let app = state.platform.app(actor, name).await?;
    let manages = match state
        .platform
        .authorize_app(actor, name, Action::ManageAccess)
        .await
    {
        Ok(_) => true,
        Err(PlatformError::Forbidden(_)) => false,
        Err(error) => return Err(error.into()),
    };
    let members = state
        .platform
        .members(actor, name)
        .await?
        .into_iter()
        .map(|member| MemberRow {
            email: member.email,
            role: member.role.to_string(),
            since: Moment::of(member.created_at),
        })
        .collect();
    let status = if grant_refused.is_some() || row_refused.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let page = AccessPage {
        chrome: signed_in.chrome,
        app: AppHeader::new(state, &app, "Access"),
        members,
        roles: ROLES,
        manages,
        grant_refused,
        row_refused,
    };
    Ok((status, render(&page)?).into_response())
}

#[derive(Deserialize)]
pub(super) struct MemberForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    role: String,
}

/// Which of the three changes a form asks for.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Change {
    Grant,
    Update,
    Remove,
}

/// `POST /apps/{name}/access`: gives an existing user a role.
pub(super) async fn grant(
    state: State<AppState>,
    name: Path<String>,
    signed_in: SignedIn,
    CheckedForm(form): CheckedForm<MemberForm>,
) -> Result<Response, DashboardError> {
    change(state, name, signed_in, form, Change::Grant).await
}

/// `POST /apps/{name}/access/update`: changes a member's role.
pub(super) async fn update(
    state: State<AppState>,
    name: Path<String>,
    signed_in: SignedIn,
    CheckedForm(form): CheckedForm<MemberForm>,
) -> Result<Response, DashboardError> {
    change(state, name, signed_in, form, Change::Update).await
}

/// `POST /apps/{name}/access/remove`: takes a member's role away.
pub(super) async fn remove(
    state: State<AppState>,
    name: Path<String>,
    signed_in: SignedIn,
    CheckedForm(form): CheckedForm<MemberForm>,
) -> Result<Response, DashboardError> {
    change(state, name, signed_in, form, Change::Remove).await
}

async fn change(
    State(state): State<AppState>,
    Path(name): Path<String>,
    signed_in: SignedIn,
    form: MemberForm,
    change: Change,
) -> Result<Response, DashboardError> {
    let actor = &signed_in.session.actor;
    // An app the user cannot see stays the 404 page, whatever the form says.
    state.platform.app(actor, &name).await?;
    let email = form.email.trim().to_string();
    // No role is longer than this: a longer one is refused as it is, cut.
    let role: String = form.role.trim().chars().take(MAX_ROLE).collect();
    let result = if email.chars().count() > MAX_EMAIL {
        Err(PlatformError::Invalid(format!(
            "an email has at most {MAX_EMAIL} characters"
        )))
    } else {
        apply(&state, &signed_in, &name, &email, &role, change).await
    };
    let to = format!("/apps/{name}/access");
    match result {
        Ok(message) => after_action(&to, Ok(message)),
        // Who may change access is the policy's answer, as everywhere.
        Err(error @ PlatformError::Forbidden(_)) => after_action(&to, Err(error)),
        // A row's member gone meanwhile (another owner removed them): no
        // row is left to say so beside.
        Err(PlatformError::NotFound(message)) if change != Change::Grant => {
            Ok(redirect_with(&to, failure(capitalized(&message))))
        }
        // The app is visible, so a missing one here is the user to grant a
        // role to: said beside the form, with what was typed.
        Err(
            PlatformError::Invalid(message)
            | PlatformError::Conflict(message)
            | PlatformError::NotFound(message),
        ) => {
            let refusal = Refusal {
                email: email.chars().take(MAX_EMAIL).collect(),
                role,
                message: capitalized(&message),
            };
            match change {
                Change::Grant => page(&state, &name, signed_in, Some(refusal), None).await,
                Change::Update | Change::Remove => {
                    page(&state, &name, signed_in, None, Some(refusal)).await
                }
            }
        }
        Err(error) => Err(error.into()),
    }
}

async fn apply(
    state: &AppState,
    signed_in: &SignedIn,
    name: &str,
    email: &str,
    role: &str,
    change: Change,
) -> Result<String, PlatformError> {
    let actor = &signed_in.session.actor;
    let role = || role.parse::<AppRole>().map_err(PlatformError::Invalid);
    match change {
        Change::Grant => {
            let role = role()?;
            state.platform.add_member(actor, name, email, role).await?;
            Ok(format!("{email} is now {} of {name}.", with_article(role)))
        }
        Change::Update => {
            let role = role()?;
            state
                .platform
                .change_member(actor, name, email, Some(role))
                .await?;
            Ok(format!("{email} is now {} of {name}.", with_article(role)))
        }
        Change::Remove => {
            state
                .platform
                .change_member(actor, name, email, None)
                .await?;
            Ok(format!("{email} no longer has access to {name}."))
        }
    }
}

/// `a viewer`, `an admin`, `an owner`.
fn with_article(role: AppRole) -> String {
    let role = role.to_string();
    if role.starts_with(['a', 'e', 'i', 'o', 'u']) {
        format!("an {role}")
    } else {
        format!("a {role}")
    }
}
