//! An app's releases, their build and release output, and rollbacks.

use askama::Template;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use berth_platform::{Action, PlatformError, Progress};
use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::apps::AppHeader;
use super::browser::{CheckedForm, Chrome, NoFields, SignedIn};
use super::error::DashboardError;
use super::moments::{elapsed_since, Moment};
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
    /// From its start to its end, and each phase's part: `42s (building
    /// 30s · releasing 4s · starting 8s)`; empty while it runs.
    took: String,
    /// Only a successful release other than the current one can be returned
    /// to, by those who may change the app's config.
    can_roll_back: bool,
}

#[derive(Template)]
#[template(path = "app_releases.html")]
struct ReleasesPage {
    chrome: Chrome,
    app: AppHeader,
    git_url: String,
    releases: Vec<ReleaseRow>,
    /// Whether the current commit can be redeployed by this user.
    can_redeploy: bool,
}

pub(super) async fn list(
    State(state): State<AppState>,
    PublicBase(base): PublicBase,
    Path(name): Path<String>,
    signed_in: SignedIn,
) -> Result<Response, DashboardError> {
    let actor = &signed_in.session.actor;
    let app = state.platform.app(actor, &name).await?;
    let may = |action| state.platform.authorize_app(actor, &name, action);
    let can_configure = may(Action::Configure).await.is_ok();
    let can_redeploy = app.current_release.is_some() && may(Action::Deploy).await.is_ok();
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
                can_roll_back: can_configure && !current && status == "succeeded",
                took: release
                    .finished_at
                    .map(|finished| took(&release, finished))
                    .unwrap_or_default(),
                version: release.version,
                description: release.description,
                commit: release
                    .commit_sha
                    .map(|sha| berth_core::short_commit(&sha).to_string())
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
        can_redeploy,
    };
    Ok(render(&page)?.into_response())
}

/// How long a finished release took, with each phase's part when known.
fn took(release: &berth_platform::ReleaseRecord, finished: DateTime<Utc>) -> String {
    let total = elapsed_since(release.created_at, finished);
    let ends = release
        .phase_times
        .iter()
        .skip(1)
        .map(|(_, at)| *at)
        .chain([finished]);
    let phases: Vec<String> = release
        .phase_times
        .iter()
        .zip(ends)
        .map(|((phase, began), ended)| format!("{phase} {}", elapsed_since(*began, ended)))
        .collect();
    match phases.as_slice() {
        [] | [_] => total,
        _ => format!("{total} ({})", phases.join(" · ")),
    }
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
    after_action(&to, result)
}

/// Builds the current release's commit again, in the background: the
/// releases page shows it as it runs.
pub(super) async fn redeploy(
    State(state): State<AppState>,
    Path(name): Path<String>,
    signed_in: SignedIn,
    CheckedForm(NoFields {}): CheckedForm<NoFields>,
) -> Result<Response, DashboardError> {
    let to = format!("/apps/{name}/releases");
    let actor = signed_in.session.actor;
    // Nobody reads these lines but the page's watchers.
    let (progress, _) = Progress::channel();
    let plan = match state.platform.plan_redeploy(&actor, &name, &progress).await {
        Ok(plan) => plan,
        Err(error) => return after_action(&to, Err(error)),
    };
    let message = format!(
        "Redeploying {} as a new release.",
        berth_core::short_commit(plan.commit())
    );
    let running = state.clone();
    tokio::spawn(async move {
        if let Err(error) = running.platform.redeploy(&actor, plan).await {
            tracing::info!(app = %name, %error, "a redeploy from the dashboard failed");
        }
    });
    after_action(&to, Ok(message))
}
