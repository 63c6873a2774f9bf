//! The app list, an app's overview with its processes, and the app-wide
//! actions: create, destroy, scale, restart, maintenance.

use std::collections::BTreeMap;

use askama::Template;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use berth_platform::{AppRecord, Dyno};
use serde::Deserialize;

use super::activity::{ActivityRow, Part};
use super::browser::{CheckedForm, Chrome, SignedIn};
use super::error::DashboardError;
use super::live::{LiveState, StateEvent};
use super::{after_action, render};
use crate::api::PublicBase;
use crate::AppState;

/// Entries of the app's audit trail shown as its recent activity.
const ACTIVITY_ENTRIES: usize = 8;

/// The header and tabs every app page shares.
pub(super) struct AppHeader {
    pub name: String,
    pub web_url: String,
    pub maintenance: bool,
    pub tab: &'static str,
}

impl AppHeader {
    pub(super) fn new(state: &AppState, app: &AppRecord, tab: &'static str) -> Self {
        Self {
            name: app.name.clone(),
            web_url: state.web_url(&app.name),
            maintenance: app.maintenance,
            tab,
        }
    }

    /// The tabs, as (label, path suffix).
    pub(super) fn tabs(&self) -> [(&'static str, &'static str); 9] {
        [
            ("Overview", ""),
            ("Releases", "/releases"),
            ("Pipeline", "/pipeline"),
            ("Config", "/config"),
            ("Logs", "/logs"),
            ("Metrics", "/metrics"),
            ("Domains", "/domains"),
            ("Add-ons", "/addons"),
            ("Access", "/access"),
        ]
    }
}

#[derive(Template)]
#[template(path = "sign_in.html")]
struct SignInPage {
    chrome: Chrome,
    api_url: String,
    /// The email of a failed attempt, typed again for the user.
    email: String,
}

/// `/`: the sign-in page, or the app list once signed in.
pub(super) async fn home(
    PublicBase(api_url): PublicBase,
    chrome: Chrome,
    signed_in: Result<SignedIn, DashboardError>,
) -> Result<Response, DashboardError> {
    if signed_in.is_ok() {
        return Ok(Redirect::to("/apps").into_response());
    }
    let email = chrome
        .flash
        .as_ref()
        .and_then(|flash| flash.typed.clone())
        .unwrap_or_default();
    Ok(render(&SignInPage {
        chrome,
        api_url,
        email,
    })?
    .into_response())
}

struct AppRow {
    name: String,
    web_url: String,
    status: &'static str,
    release: String,
    owner: String,
    /// The request rate of the last hour, as an inline SVG.
    sparkline: String,
}

#[derive(Template)]
#[template(path = "apps.html")]
struct AppsPage {
    chrome: Chrome,
    apps: Vec<AppRow>,
    api_url: String,
}

pub(super) async fn list(
    State(state): State<AppState>,
    PublicBase(api_url): PublicBase,
    signed_in: SignedIn,
) -> Result<Response, DashboardError> {
    let actor = &signed_in.session.actor;
    let mut apps = Vec::new();
    let sparklines = state.platform.request_sparklines(actor).await?;
    for app in state.platform.apps(actor).await? {
        let dynos = state.platform.dynos(actor, &app.name).await?;
        apps.push(AppRow {
            sparkline: super::charts::sparkline(
                sparklines.get(&app.name).map_or(&[][..], Vec::as_slice),
            ),
            web_url: state.web_url(&app.name),
            status: status_of(&dynos),
            release: app
                .current_release
                .map_or_else(|| "—".to_string(), |v| format!("v{v}")),
            owner: app.owner_email,
            name: app.name,
        });
    }
    Ok(render(&AppsPage {
        chrome: signed_in.chrome,
        apps,
        api_url,
    })?
    .into_response())
}

/// One word for an app's processes: running, crashed, starting or idle.
fn status_of(dynos: &[Dyno]) -> &'static str {
    if dynos.is_empty() {
        "idle"
    } else if dynos.iter().any(|d| d.state == "crashed") {
        "crashed"
    } else if dynos.iter().all(|d| d.state == "up") {
        "running"
    } else {
        "starting"
    }
}

#[derive(Deserialize)]
pub(super) struct CreateForm {
    #[serde(default)]
    name: String,
}

pub(super) async fn create(
    State(state): State<AppState>,
    signed_in: SignedIn,
    CheckedForm(form): CheckedForm<CreateForm>,
) -> Result<Response, DashboardError> {
    let name = Some(form.name.trim()).filter(|name| !name.is_empty());
    match state
        .platform
        .create_app(&signed_in.session.actor, name)
        .await
    {
        Ok(app) => after_action(
            &format!("/apps/{}", app.name),
            Ok(format!("Created {}.", app.name)),
        ),
        Err(error) => after_action("/apps", Err(error)),
    }
}

#[derive(Deserialize)]
pub(super) struct DestroyForm {
    #[serde(default)]
    confirm: String,
}

pub(super) async fn destroy(
    State(state): State<AppState>,
    Path(name): Path<String>,
    signed_in: SignedIn,
    CheckedForm(form): CheckedForm<DestroyForm>,
) -> Result<Response, DashboardError> {
    let actor = &signed_in.session.actor;
    if form.confirm.trim() != name {
        // Ask the platform first, so an app the user cannot see stays a 404.
        state.platform.app(actor, &name).await?;
        return after_action(
            &format!("/apps/{name}"),
            Err(berth_platform::PlatformError::Invalid(format!(
                "type the app's name, {name}, to destroy it"
            ))),
        );
    }
    let result = state.platform.destroy_app(actor, &name).await;
    match result {
        Ok(app) => after_action("/apps", Ok(format!("Destroyed {}.", app.name))),
        Err(error) => after_action(&format!("/apps/{name}"), Err(error)),
    }
}

/// Where the app stands in its pipeline, as the overview's one line says.
struct PipelineLine {
    name: String,
    stage: &'static str,
    review: Option<ReviewOf>,
}

/// The app and branch a review app runs for.
struct ReviewOf {
    parent: String,
    branch: String,
}

#[derive(Template)]
#[template(path = "app_overview.html")]
struct OverviewPage {
    chrome: Chrome,
    app: AppHeader,
    pipeline: Option<PipelineLine>,
    live: LiveState,
    /// Which state of the live parts the page shows (its stream sends others).
    live_digest: String,
    formation: Vec<(String, i64)>,
    activity: Vec<ActivityRow>,
}

pub(super) async fn overview(
    State(state): State<AppState>,
    PublicBase(base): PublicBase,
    Path(name): Path<String>,
    signed_in: SignedIn,
) -> Result<Response, DashboardError> {
    let actor = &signed_in.session.actor;
    let app = state.platform.app(actor, &name).await?;
    // The audit trail: who changed what, config var names but never values.
    let activity = state
        .platform
        .audit_trail(actor, Some(&name))
        .await?
        .into_iter()
        .rev()
        .take(ACTIVITY_ENTRIES)
        .map(super::activity::row)
        .collect();
    let pipeline = state
        .platform
        .pipeline_of(actor, &name)
        .await?
        .and_then(|view| {
            let member = view
                .apps
                .into_iter()
                .find(|member| member.app.id == app.id)?;
            Some(PipelineLine {
                name: view.pipeline.name,
                stage: member.stage.as_str(),
                review: member.review.map(|review| ReviewOf {
                    parent: review.parent_name,
                    branch: review.branch,
                }),
            })
        });
    let live = LiveState::of(&state, actor, &name, &signed_in.chrome.csrf, &base).await?;
    let live_digest = StateEvent::of(&live)?.digest();
    let page = OverviewPage {
        chrome: signed_in.chrome,
        pipeline,
        app: AppHeader::new(&state, &app, "Overview"),
        live,
        live_digest,
        formation: state.platform.formation(actor, &name).await?,
        activity,
    };
    Ok(render(&page)?.into_response())
}

/// The scale form: `quantity.<type>` fields with the wanted count of each.
pub(super) async fn scale(
    State(state): State<AppState>,
    Path(name): Path<String>,
    signed_in: SignedIn,
    CheckedForm(fields): CheckedForm<BTreeMap<String, String>>,
) -> Result<Response, DashboardError> {
    let mut changes = Vec::new();
    for (field, quantity) in &fields {
        let Some(process_type) = field.strip_prefix("quantity.") else {
            continue;
        };
        changes.push(format!("{process_type}={}", quantity.trim()));
    }
    let result = state
        .platform
        .scale(&signed_in.session.actor, &name, &changes)
        .await
        .map(|formation| {
            let summary: Vec<String> = formation
                .iter()
                .map(|(process_type, quantity)| format!("{process_type}={quantity}"))
                .collect();
            format!("Scaled to {}.", summary.join(", "))
        });
    after_action(&format!("/apps/{name}"), result)
}

#[derive(Deserialize)]
pub(super) struct RestartForm {
    #[serde(default)]
    dyno: String,
}

pub(super) async fn restart(
    State(state): State<AppState>,
    Path(name): Path<String>,
    signed_in: SignedIn,
    CheckedForm(form): CheckedForm<RestartForm>,
) -> Result<Response, DashboardError> {
    let dyno = Some(form.dyno.as_str()).filter(|dyno| !dyno.is_empty());
    let result = state
        .platform
        .restart(&signed_in.session.actor, &name, None, dyno)
        .await
        .map(|restarted| match restarted.as_slice() {
            [] => "Nothing was running to restart.".to_string(),
            dynos => format!("Restarted {}.", dynos.join(", ")),
        });
    after_action(&format!("/apps/{name}"), result)
}

#[derive(Deserialize)]
pub(super) struct MaintenanceForm {
    enabled: String,
}

pub(super) async fn maintenance(
    State(state): State<AppState>,
    Path(name): Path<String>,
    signed_in: SignedIn,
    CheckedForm(form): CheckedForm<MaintenanceForm>,
) -> Result<Response, DashboardError> {
    let on = form.enabled == "true";
    let result = state
        .platform
        .set_maintenance(&signed_in.session.actor, &name, on)
        .await
        .map(|()| {
            if on {
                "Maintenance mode is on: visitors see a maintenance page.".to_string()
            } else {
                "Maintenance mode is off.".to_string()
            }
        });
    after_action(&format!("/apps/{name}"), result)
}
