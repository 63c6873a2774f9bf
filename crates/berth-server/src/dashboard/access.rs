//! Who holds which role on an app.

use askama::Template;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};

use super::apps::{elapsed, AppHeader};
use super::browser::{Chrome, SignedIn};
use super::error::DashboardError;
use super::render;
use crate::AppState;

struct MemberRow {
    email: String,
    role: String,
    since: String,
}

#[derive(Template)]
#[template(path = "app_access.html")]
struct AccessPage {
    chrome: Chrome,
    app: AppHeader,
    members: Vec<MemberRow>,
}

/// Who holds a role on the app. Changing access stays with the CLI for now.
pub(super) async fn show(
    State(state): State<AppState>,
    Path(name): Path<String>,
    signed_in: SignedIn,
) -> Result<Response, DashboardError> {
    let actor = &signed_in.session.actor;
    let app = state.platform.app(actor, &name).await?;
    let members = state
        .platform
        .members(actor, &name)
        .await?
        .into_iter()
        .map(|member| MemberRow {
            email: member.email,
            role: member.role.to_string(),
            since: format!("{} ago", elapsed(member.created_at)),
        })
        .collect();
    let page = AccessPage {
        chrome: signed_in.chrome,
        app: AppHeader::new(&state, &app, "Access"),
        members,
    };
    Ok(render(&page)?.into_response())
}
