//! An app's releases, their build and release output, and rollbacks.

use askama::Template;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use berth_platform::{PlatformError, Progress};
use serde::Deserialize;

use super::apps::AppHeader;
use super::browser::{CheckedForm, Chrome, SignedIn};
use super::error::DashboardError;
use super::moments::Moment;
use super::{after_action, render};
use crate::api::PublicBase;
use crate::AppState;

struct ReleaseRow {
    version: i64,
    description: String,
    status: String,
    commit: String,
    created_by: String,
    created: Moment,
    current: bool,
    failure: Option<String>,
    output: String,
    /// Only a successful release other than the current one can be returned to.
    can_roll_back: bool,
}

#[derive(Template)]
#[template(path = "app_releases.html")]
struct ReleasesPage {
    chrome: Chrome,
    app: AppHeader,
    git_url: String,
    releases: Vec<ReleaseRow>,
}

pub(super) async fn list(
    State(state): State<AppState>,
    PublicBase(base): PublicBase,
    Path(name): Path<String>,
    signed_in: SignedIn,
) -> Result<Response, DashboardError> {
    let actor = &signed_in.session.actor;
    let app = state.platform.app(actor, &name).await?;
    // Newest first, as a page is read from the top.
    let releases = state
        .platform
        .releases(actor, &name)
        .await?
        .into_iter()
        .rev()
        .map(|release| {
            let current = app.current_release == Some(release.version);
            let status = release.status.to_string();
            ReleaseRow {
                can_roll_back: !current && status == "succeeded",
                version: release.version,
                description: release.description,
                commit: release
                    .commit_sha
                    .map(|sha| sha.chars().take(7).collect())
                    .unwrap_or_default(),
                created_by: release.created_by.unwrap_or_default(),
                created: Moment::of(release.created_at),
                current,
                failure: release.failure,
                output: release.output,
                status,
            }
        })
        .collect();
    let page = ReleasesPage {
        chrome: signed_in.chrome,
        git_url: format!("{base}/{}.git", app.name),
        app: AppHeader::new(&state, &app, "Releases"),
        releases,
    };
    Ok(render(&page)?.into_response())
}

#[derive(Deserialize)]
pub(super) struct RollbackForm {
    version: String,
}

pub(super) async fn rollback(
    State(state): State<AppState>,
    Path(name): Path<String>,
    signed_in: SignedIn,
    CheckedForm(form): CheckedForm<RollbackForm>,
) -> Result<Response, DashboardError> {
    let to = format!("/apps/{name}/releases");
    let Ok(version) = form.version.trim_start_matches('v').parse::<i64>() else {
        return after_action(
            &to,
            Err(PlatformError::Invalid(format!(
                "{:?} is not a release",
                form.version
            ))),
            signed_in.tls,
        );
    };
    let (progress, _) = Progress::channel();
    let result = state
        .platform
        .rollback(&signed_in.session.actor, &name, Some(version), &progress)
        .await
        .map(|release| {
            format!(
                "Rolled back to v{version}: this is now v{}.",
                release.version
            )
        });
    after_action(&to, result, signed_in.tls)
}
