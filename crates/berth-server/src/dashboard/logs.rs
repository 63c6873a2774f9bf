//! An app's live log. The page is a shell: `static/logs.js` tails the API's
//! log endpoint (server-sent events), which the session cookie opens for reads.

use askama::Template;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};

use super::apps::AppHeader;
use super::browser::{Chrome, SignedIn};
use super::error::DashboardError;
use super::render;
use crate::AppState;

#[derive(Template)]
#[template(path = "app_logs.html")]
struct LogsPage {
    chrome: Chrome,
    app: AppHeader,
    process_types: Vec<String>,
}

pub(super) async fn show(
    State(state): State<AppState>,
    Path(name): Path<String>,
    signed_in: SignedIn,
) -> Result<Response, DashboardError> {
    let actor = &signed_in.session.actor;
    let app = state.platform.app(actor, &name).await?;
    let process_types = state
        .platform
        .formation(actor, &name)
        .await?
        .into_iter()
        .map(|(process_type, _)| process_type)
        .collect();
    let page = LogsPage {
        chrome: signed_in.chrome,
        app: AppHeader::new(&state, &app, "Logs"),
        process_types,
    };
    Ok(render(&page)?.into_response())
}
