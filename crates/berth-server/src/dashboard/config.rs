//! An app's config vars: shown hidden until revealed, and changed — several
//! at once — as one new release.

use std::collections::BTreeMap;

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use berth_platform::{PlatformError, Progress};

use super::apps::AppHeader;
use super::browser::{CheckedForm, Chrome, SignedIn};
use super::error::DashboardError;
use super::session::capitalized;
use super::{after_action, render};
use crate::AppState;

#[derive(Template)]
#[template(path = "app_config.html")]
struct ConfigPage {
    chrome: Chrome,
    app: AppHeader,
    vars: BTreeMap<String, String>,
    /// Names only, for a role that may not read values (a viewer).
    names_only: Vec<String>,
    /// What was typed into the add form, kept when it is sent back with an error.
    draft: String,
    error: Option<String>,
}

pub(super) async fn show(
    State(state): State<AppState>,
    Path(name): Path<String>,
    signed_in: SignedIn,
) -> Result<Response, DashboardError> {
    page(&state, &name, signed_in, String::new(), None).await
}

async fn page(
    state: &AppState,
    name: &str,
    signed_in: SignedIn,
    draft: String,
    error: Option<String>,
) -> Result<Response, DashboardError> {
    let actor = &signed_in.session.actor;
    let app = state.platform.app(actor, name).await?;
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let (vars, names_only) = match state.platform.config(actor, name).await {
        Ok(vars) => (vars, Vec::new()),
        Err(PlatformError::Forbidden(_)) => (
            BTreeMap::new(),
            state.platform.config_names(actor, name).await?,
        ),
        Err(error) => return Err(error.into()),
    };
    let page = ConfigPage {
        vars,
        names_only,
        chrome: signed_in.chrome,
        app: AppHeader::new(state, &app, "Config"),
        draft,
        error,
    };
    Ok((status, render(&page)?).into_response())
}

/// One form for every change: `vars` holds `KEY=VALUE` lines to set, a
/// `set.<KEY>` field edits one var, an `unset` field names one to remove.
pub(super) async fn update(
    State(state): State<AppState>,
    Path(name): Path<String>,
    signed_in: SignedIn,
    CheckedForm(fields): CheckedForm<BTreeMap<String, String>>,
) -> Result<Response, DashboardError> {
    let draft = fields.get("vars").cloned().unwrap_or_default();
    let changes = match changes_in(&fields) {
        Ok(changes) => changes,
        Err(message) => return page(&state, &name, signed_in, draft, Some(message)).await,
    };
    let (progress, _) = Progress::channel();
    let result = state
        .platform
        .set_config(&signed_in.session.actor, &name, changes, &progress)
        .await;
    match result {
        Ok(change) => {
            let message = match change.release {
                Some(release) => format!("{}: released v{}.", release.description, release.version),
                None => "Config saved: the first deploy will use it.".to_string(),
            };
            after_action(&format!("/apps/{name}/config"), Ok(message))
        }
        // A bad name is shown beside the form it was typed into.
        Err(PlatformError::Invalid(message)) if !draft.is_empty() => {
            page(&state, &name, signed_in, draft, Some(capitalized(&message))).await
        }
        Err(error) => after_action(&format!("/apps/{name}/config"), Err(error)),
    }
}

fn changes_in(
    fields: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, Option<String>>, String> {
    let mut changes = BTreeMap::new();
    for line in fields.get("vars").map_or("", String::as_str).lines() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            return Err(format!(
                "{line:?} has no '=': write one KEY=VALUE per line."
            ));
        };
        changes.insert(key.trim().to_string(), Some(value.to_string()));
    }
    for (field, value) in fields {
        if let Some(key) = field.strip_prefix("set.") {
            changes.insert(key.to_string(), Some(value.clone()));
        }
    }
    if let Some(key) = fields.get("unset").filter(|key| !key.is_empty()) {
        changes.insert(key.clone(), None);
    }
    if changes.is_empty() {
        return Err("Nothing to change: write one KEY=VALUE per line.".to_string());
    }
    Ok(changes)
}
