//! An app's add-ons: created, attached to other apps and detached, their
//! credentials revealed and rotated, Postgres backups captured, downloaded
//! and restored, and add-ons destroyed — each through the platform's use
//! case, which authorizes it as the API's route does.

use std::collections::BTreeSet;

use askama::Template;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use berth_platform::{Action, PlatformError, Progress};
use futures_util::StreamExt;
use serde::Deserialize;
use tokio_util::io::ReaderStream;

use super::apps::AppHeader;
use super::browser::{self, CheckedForm, Chrome, SignedIn};
use super::error::DashboardError;
use super::session::capitalized;
use super::{after_action, render};
use crate::AppState;

/// The plan an add-on gets unless another is named (a label: Berth
/// provisions every plan alike).
const DEFAULT_PLAN: &str = "standard";

struct AddonCard {
    name: String,
    /// `postgres:standard`
    service: String,
    /// The app it belongs to, when that is another app than this one.
    belongs_to: Option<String>,
    attachments: Vec<AttachmentRow>,
    /// The apps it may be attached to still (the user manages their add-ons).
    attachable: Vec<String>,
    /// Its URL, when revealed on request.
    url: Option<String>,
    /// Its backups, for a Postgres add-on.
    backups: Option<Vec<BackupRow>>,
}

impl AddonCard {
    fn belongs_here(&self) -> bool {
        self.belongs_to.is_none()
    }
}

struct AttachmentRow {
    app: String,
    as_name: String,
    config_var: String,
    /// Whether the user may detach it (manages that app's add-ons).
    detachable: bool,
}

struct BackupRow {
    id: String,
    taken: String,
    size: String,
}

/// What the create form holds: its defaults, or what was typed before a mistake.
#[derive(Deserialize)]
pub(super) struct CreateForm {
    #[serde(default)]
    service: String,
    #[serde(default)]
    plan: String,
    #[serde(default, rename = "as")]
    as_name: String,
    #[serde(default)]
    name: String,
}

impl Default for CreateForm {
    fn default() -> Self {
        Self {
            service: "postgres".into(),
            plan: DEFAULT_PLAN.into(),
            as_name: String::new(),
            name: String::new(),
        }
    }
}

#[derive(Template)]
#[template(path = "app_addons.html")]
struct AddonsPage {
    chrome: Chrome,
    app: AppHeader,
    addons: Vec<AddonCard>,
    /// Whether the user may change this app's add-ons (owners and admins).
    may_manage: bool,
    /// Whether the user may read credentials and backups (and deployers).
    may_read_config: bool,
    draft: CreateForm,
    error: Option<String>,
}

/// The app's add-ons and where each is attached.
pub(super) async fn show(
    State(state): State<AppState>,
    Path(name): Path<String>,
    signed_in: SignedIn,
) -> Result<Response, DashboardError> {
    page(&state, &name, signed_in, None, CreateForm::default(), None).await
}

/// The add-ons page with one add-on's URL shown (the right to read config
/// vars). A form's POST, as decrypting is audited: a link another site made
/// a member's browser open would reveal it in the member's name.
pub(super) async fn reveal(
    State(state): State<AppState>,
    Path(name): Path<String>,
    signed_in: SignedIn,
    CheckedForm(form): CheckedForm<AddonForm>,
) -> Result<Response, DashboardError> {
    page(
        &state,
        &name,
        signed_in,
        Some(form.addon),
        CreateForm::default(),
        None,
    )
    .await
}

async fn page(
    state: &AppState,
    name: &str,
    signed_in: SignedIn,
    reveal: Option<String>,
    draft: CreateForm,
    error: Option<String>,
) -> Result<Response, DashboardError> {
    let actor = &signed_in.session.actor;
    let app = state.platform.app(actor, name).await?;
    let allowed = |action| state.platform.authorize_app(actor, name, action);
    let may_manage = allowed(Action::ManageAddons).await.is_ok();
    let may_read_config = allowed(Action::ReadConfig).await.is_ok();
    // The apps whose add-ons the user manages: where attaching and detaching may go.
    let mut manageable = BTreeSet::new();
    if may_manage {
        for other in state.platform.apps(actor).await? {
            if state
                .platform
                .authorize_app(actor, &other.name, Action::ManageAddons)
                .await
                .is_ok()
            {
                manageable.insert(other.name);
            }
        }
    }
    let url = match &reveal {
        Some(addon) => {
            let (_, credentials) = state.platform.addon_info(actor, name, addon, true).await?;
            credentials.map(|c| c.url)
        }
        None => None,
    };
    let mut addons = Vec::new();
    for addon in state.platform.addons(actor, Some(name)).await? {
        // Through an attached app, backups show to those with a right on
        // the owning app too (see `Platform::backups`).
        let backups = match addon.service.as_str() {
            "postgres" => match state.platform.backups(actor, name, &addon.name).await {
                Ok(backups) => Some(backups),
                Err(PlatformError::Forbidden(_)) => None,
                Err(error) => return Err(error.into()),
            },
            _ => None,
        };
        let backups = backups.map(|backups| {
            backups
                .into_iter()
                .rev()
                .map(|backup| BackupRow {
                    taken: backup
                        .created_at
                        .format("%Y-%m-%d %H:%M:%S UTC")
                        .to_string(),
                    size: size_text(backup.size_bytes),
                    id: backup.id,
                })
                .collect()
        });
        let attached: BTreeSet<&str> = addon.attachments.iter().map(|a| a.app.as_str()).collect();
        let attachable = manageable
            .iter()
            .filter(|other| !attached.contains(other.as_str()))
            .cloned()
            .collect();
        addons.push(AddonCard {
            url: url
                .clone()
                .filter(|_| reveal.as_deref() == Some(&addon.name)),
            service: format!("{}:{}", addon.service, addon.plan),
            belongs_to: Some(addon.app).filter(|owner| owner != name),
            attachments: addon
                .attachments
                .into_iter()
                .map(|a| AttachmentRow {
                    detachable: manageable.contains(&a.app),
                    app: a.app,
                    as_name: a.as_name,
                    config_var: a.config_var,
                })
                .collect(),
            attachable,
            backups,
            name: addon.name,
        });
    }
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let page = AddonsPage {
        chrome: signed_in.chrome,
        app: AppHeader::new(state, &app, "Add-ons"),
        addons,
        may_manage,
        may_read_config,
        draft,
        error,
    };
    Ok((status, render(&page)?).into_response())
}

/// `2.4 KiB`, `13.0 MiB`…
fn size_text(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut size = bytes as f64 / 1024.0;
    let mut unit = 0;
    while size >= 1024.0 && unit < UNITS.len() - 1 {
        size /= 1024.0;
        unit += 1;
    }
    format!("{size:.1} {}", UNITS[unit])
}

fn given(field: &str) -> Option<&str> {
    Some(field.trim()).filter(|value| !value.is_empty())
}

/// Where an add-on action leaves the browser: back on the Add-ons tab. The
/// app is known to be visible by then, so a missing add-on, backup or other
/// app is a mistake said there rather than a 404 page, as is a failure of
/// the server the add-on lives on.
fn after_addon_action(
    app: &str,
    result: Result<String, PlatformError>,
) -> Result<Response, DashboardError> {
    let to = format!("/apps/{app}/addons");
    match result {
        Err(error @ (PlatformError::NotFound(_) | PlatformError::AddonProvider(_))) => Ok(
            browser::redirect_with(&to, browser::failure(capitalized(&error.to_string()))),
        ),
        result => after_action(&to, result),
    }
}

/// Provisions a Postgres database or a Redis key space and attaches it to
/// the app. Mistakes come back beside the form, with what was typed.
pub(super) async fn create(
    State(state): State<AppState>,
    Path(name): Path<String>,
    signed_in: SignedIn,
    CheckedForm(form): CheckedForm<CreateForm>,
) -> Result<Response, DashboardError> {
    let actor = &signed_in.session.actor;
    state.platform.app(actor, &name).await?;
    let service = match given(&form.plan) {
        Some(plan) => format!("{}:{plan}", form.service.trim()),
        None => form.service.trim().to_string(),
    };
    let (progress, _) = Progress::channel();
    let result = state
        .platform
        .create_addon(
            actor,
            &name,
            &service,
            given(&form.as_name),
            given(&form.name),
            &progress,
        )
        .await;
    match result {
        Ok(addon) => {
            let attached: Vec<String> = addon
                .attachments
                .iter()
                .map(|a| format!("{} ({}_URL)", a.as_name, a.as_name))
                .collect();
            let message = format!(
                "Created {} ({}:{}), attached to {name} as {}.",
                addon.name,
                addon.service,
                addon.plan,
                attached.join(", ")
            );
            after_addon_action(&name, Ok(message))
        }
        Err(
            error @ (PlatformError::Invalid(_)
            | PlatformError::Conflict(_)
            | PlatformError::AddonProvider(_)),
        ) => {
            let message = capitalized(&error.to_string());
            page(&state, &name, signed_in, None, form, Some(message)).await
        }
        Err(error) => after_addon_action(&name, Err(error)),
    }
}

#[derive(Deserialize)]
pub(super) struct AttachForm {
    #[serde(default)]
    addon: String,
    /// The app to attach it to.
    #[serde(default)]
    app: String,
    #[serde(default, rename = "as")]
    as_name: String,
}

pub(super) async fn attach(
    State(state): State<AppState>,
    Path(name): Path<String>,
    signed_in: SignedIn,
    CheckedForm(form): CheckedForm<AttachForm>,
) -> Result<Response, DashboardError> {
    let actor = &signed_in.session.actor;
    state.platform.app(actor, &name).await?;
    let (progress, _) = Progress::channel();
    let target = form.app.trim();
    let result = state
        .platform
        .attach_addon(
            actor,
            form.addon.trim(),
            target,
            given(&form.as_name),
            &progress,
        )
        .await
        .map(|addon| {
            let var = addon
                .attachments
                .iter()
                .find(|a| a.app == target)
                .map_or_else(String::new, |a| format!(": {} is set", a.config_var));
            format!("Attached {} to {target}{var}.", addon.name)
        });
    after_addon_action(&name, result)
}

#[derive(Deserialize)]
pub(super) struct DetachForm {
    #[serde(default)]
    addon: String,
    /// The app to detach it from.
    #[serde(default)]
    app: String,
}

pub(super) async fn detach(
    State(state): State<AppState>,
    Path(name): Path<String>,
    signed_in: SignedIn,
    CheckedForm(form): CheckedForm<DetachForm>,
) -> Result<Response, DashboardError> {
    let actor = &signed_in.session.actor;
    state.platform.app(actor, &name).await?;
    let (progress, _) = Progress::channel();
    let (addon, target) = (form.addon.trim(), form.app.trim());
    let result = state
        .platform
        .detach_addon(actor, addon, target, &progress)
        .await
        .map(|()| format!("Detached {addon} from {target}."));
    after_addon_action(&name, result)
}

#[derive(Deserialize)]
pub(super) struct AddonForm {
    #[serde(default)]
    addon: String,
}

pub(super) async fn rotate(
    State(state): State<AppState>,
    Path(name): Path<String>,
    signed_in: SignedIn,
    CheckedForm(form): CheckedForm<AddonForm>,
) -> Result<Response, DashboardError> {
    let actor = &signed_in.session.actor;
    state.platform.app(actor, &name).await?;
    let (progress, _) = Progress::channel();
    let addon = form.addon.trim();
    let result = state
        .platform
        .rotate_addon(actor, &name, addon, &progress)
        .await
        .map(|()| {
            format!(
                "Rotated the credentials of {addon}: every attached app has the new ones, the \
                 old ones are revoked."
            )
        });
    after_addon_action(&name, result)
}

#[derive(Deserialize)]
pub(super) struct ConfirmedForm {
    #[serde(default)]
    addon: String,
    /// The add-on's name, typed again.
    #[serde(default)]
    confirm: String,
}

pub(super) async fn destroy(
    State(state): State<AppState>,
    Path(name): Path<String>,
    signed_in: SignedIn,
    CheckedForm(form): CheckedForm<ConfirmedForm>,
) -> Result<Response, DashboardError> {
    let actor = &signed_in.session.actor;
    state.platform.app(actor, &name).await?;
    let addon = form.addon.trim();
    if form.confirm.trim() != addon {
        return after_addon_action(
            &name,
            Err(PlatformError::Invalid(format!(
                "type the add-on's name, {addon}, to destroy it: nothing was destroyed"
            ))),
        );
    }
    let (progress, _) = Progress::channel();
    let result = state
        .platform
        .destroy_addon(actor, &name, addon, &progress)
        .await
        .map(|()| format!("Destroyed {addon} and its data."));
    after_addon_action(&name, result)
}

pub(super) async fn capture(
    State(state): State<AppState>,
    Path(name): Path<String>,
    signed_in: SignedIn,
    CheckedForm(form): CheckedForm<AddonForm>,
) -> Result<Response, DashboardError> {
    let actor = &signed_in.session.actor;
    state.platform.app(actor, &name).await?;
    let addon = form.addon.trim();
    let result = state
        .platform
        .capture_backup(actor, &name, addon)
        .await
        .map(|backup| {
            format!(
                "Captured backup {} of {addon} ({}).",
                backup.id,
                size_text(backup.size_bytes)
            )
        });
    after_addon_action(&name, result)
}

#[derive(Deserialize)]
pub(super) struct RestoreForm {
    #[serde(default)]
    addon: String,
    #[serde(default)]
    backup: String,
    /// The add-on's name, typed again.
    #[serde(default)]
    confirm: String,
}

pub(super) async fn restore(
    State(state): State<AppState>,
    Path(name): Path<String>,
    signed_in: SignedIn,
    CheckedForm(form): CheckedForm<RestoreForm>,
) -> Result<Response, DashboardError> {
    let actor = &signed_in.session.actor;
    state.platform.app(actor, &name).await?;
    let (addon, backup) = (form.addon.trim(), form.backup.trim());
    if form.confirm.trim() != addon {
        return after_addon_action(
            &name,
            Err(PlatformError::Invalid(format!(
                "type the add-on's name, {addon}, to replace what it holds with backup \
                 {backup}: nothing was restored"
            ))),
        );
    }
    let result = state
        .platform
        .restore_backup(actor, &name, addon, backup)
        .await
        .map(|()| format!("Restored {backup} into {addon}."));
    after_addon_action(&name, result)
}

#[derive(Deserialize)]
pub(super) struct BackupForm {
    #[serde(default)]
    addon: String,
    #[serde(default)]
    backup: String,
}

/// A backup's `pg_dump` file (custom format, for `pg_restore`), streamed as
/// it is opened. A download that fails midway ends in an error rather than
/// in a short file that looks whole. A form's POST, not a link: another
/// site cannot make a member's browser decrypt and audit one.
pub(super) async fn download(
    State(state): State<AppState>,
    Path(name): Path<String>,
    signed_in: SignedIn,
    CheckedForm(BackupForm { addon, backup }): CheckedForm<BackupForm>,
) -> Result<Response, DashboardError> {
    let download = state
        .platform
        .backup_download(&signed_in.session.actor, &name, &addon, &backup)
        .await?;
    let disposition = format!(
        "attachment; filename=\"{}-{}.dump\"",
        download.backup.addon, download.backup.id
    );
    let (mut writer, reader) = tokio::io::duplex(64 * 1024);
    let (failed, failure) = tokio::sync::oneshot::channel::<()>();
    let writing = state.clone();
    tokio::spawn(async move {
        if let Err(error) = writing.platform.write_backup(&download, &mut writer).await {
            tracing::warn!(%error, backup = %download.backup.id, "a backup download ended early");
            let _ = failed.send(());
        }
    });
    let ending = futures_util::stream::once(async move {
        failure
            .await
            .ok()
            .map(|()| Err(std::io::Error::other("the backup could not be read whole")))
    })
    .filter_map(std::future::ready);
    Ok((
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_string()),
            (header::CONTENT_DISPOSITION, disposition),
            (header::CACHE_CONTROL, "no-store".to_string()),
        ],
        Body::from_stream(ReaderStream::new(reader).chain(ending)),
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::size_text;

    #[test]
    fn sizes_read_in_binary_units() {
        assert_eq!(size_text(512), "512 B");
        assert_eq!(size_text(2560), "2.5 KiB");
        assert_eq!(size_text(3 * 1024 * 1024), "3.0 MiB");
    }
}
