//! Add-ons: a Postgres database or a Redis key space provisioned for an
//! app, whose URL the app gets as a config var (`DATABASE_URL`,
//! `REDIS_URL`, `<AS>_URL`) through a new release. An add-on belongs to
//! the app that created it, may be attached to more apps, and stays until
//! it is destroyed explicitly. Attached vars are managed: `config:set` and
//! `config:unset` refuse them (rotate or detach instead).

mod backups;
mod container;
mod postgres;
mod provider;
mod redis;

use std::collections::{BTreeMap, BTreeSet};

use berth_core::{
    authorize, check_config_key, Action, Actor, AddonKind, AppName, AppRole, Denied, Setup,
};
use berth_docker::{app_network, swarm_network};
use berth_store::{AddonRecord, AppRecord, AttachmentRecord, NewAddon};
use chrono::{DateTime, Utc};

use crate::audit::app_entry;
use crate::progress::Progress;
use crate::{Platform, PlatformError, Result};

pub use backups::{Backup, BackupDownload};
pub use provider::{AddonSettings, Credentials, Provider};
pub(crate) use provider::{Providers, ServiceSpec};

/// The add-on service a Compose service of that image becomes.
pub(crate) fn compose_addon_plan(kind: AddonKind) -> &'static str {
    match kind {
        AddonKind::Postgres => "heroku-postgresql",
        AddonKind::Redis => "heroku-redis",
    }
}

/// An add-on as users see it: never its credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Addon {
    pub name: String,
    pub service: String,
    pub plan: String,
    /// `server`: on the operator's server.
    pub mode: String,
    /// The app it belongs to.
    pub app: String,
    pub attachments: Vec<Attachment>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    pub app: String,
    pub as_name: String,
    pub config_var: String,
}

/// The config var an attachment named `as_name` sets.
pub(crate) fn config_var(as_name: &str) -> String {
    format!("{as_name}_URL")
}

fn sealing_context(addon_name: &str) -> String {
    format!("addon/{addon_name}")
}

fn addon_not_found(name: &str, app: &str) -> PlatformError {
    PlatformError::NotFound(format!(
        "add-on {name} not found on {app}: `berth addons -a {app}` lists its add-ons"
    ))
}

/// `DATABASE`, `ANALYTICS_DB`…: the prefix of the config var `<AS>_URL`.
fn check_as_name(as_name: &str) -> Result<String> {
    let upper = as_name.to_ascii_uppercase();
    let valid = upper.len() <= 60
        && upper.starts_with(|c: char| c.is_ascii_uppercase())
        && upper
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
    if !valid {
        return Err(PlatformError::Invalid(format!(
            "--as {as_name:?}: use up to 60 letters, digits and underscores, starting with a \
             letter (the config var is <AS>_URL)"
        )));
    }
    check_config_key(&config_var(&upper)).map_err(PlatformError::Invalid)?;
    Ok(upper)
}

/// A push may deploy; a `setup` it carries also creates add-ons and sets
/// config vars, which need the rights `addons:create` and `config:set` need.
/// Without them the push is refused before anything changes, naming what
/// is missing.
fn authorize_setup(actor: &Actor, role: Option<AppRole>, setup: &Setup) -> Result<()> {
    let needs = [
        (
            !setup.addons.is_empty(),
            Action::ManageAddons,
            "setup.addons",
        ),
        (!setup.config.is_empty(), Action::Configure, "setup.config"),
    ];
    let missing: Vec<String> = needs
        .into_iter()
        .filter(|(asked, _, _)| *asked)
        .filter_map(|(_, action, part)| match authorize(actor, role, action) {
            Ok(()) => None,
            Err(Denied::Forbidden(reason)) => Some(format!("{part}: {reason}")),
            Err(Denied::NotFound) => Some(format!("{part}: you have no role on this app")),
        })
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(PlatformError::Forbidden(format!(
        "the manifest's setup needs rights this push lacks ({}): heroku.yml's setup or Compose's \
         add-on services; nothing was changed. An owner \
         or admin can push it first, or create the add-ons and config vars with `berth \
         addons:create` and `berth config:set`",
        missing.join("; ")
    )))
}

fn check_addon_name(name: &str) -> Result<()> {
    AppName::parse(name)
        .map(|_| ())
        .map_err(|e| PlatformError::Invalid(e.to_string().replace("app name", "add-on name")))
}

impl Platform {
    /// Add-ons of one app (its own and those attached to it), or of every
    /// app the actor can see. Attachments to apps the actor cannot see are left out.
    pub async fn addons(&self, actor: &Actor, app_name: Option<&str>) -> Result<Vec<Addon>> {
        let visible: BTreeSet<i64> = self.apps(actor).await?.iter().map(|a| a.id).collect();
        let only = match app_name {
            Some(name) => Some(self.authorize_app(actor, name, Action::ReadApp).await?.id),
            None => None,
        };
        let attachments = self.store.addon_attachments(None).await?;
        let mut addons = Vec::new();
        for addon in self.store.addons().await? {
            let related = |app_id: i64| {
                addon.app_id == app_id
                    || attachments
                        .iter()
                        .any(|t| t.addon_id == addon.id && t.app_id == app_id)
            };
            let shown = match only {
                Some(app_id) => related(app_id),
                None => actor.is_platform_admin || visible.iter().any(|id| related(*id)),
            };
            if shown {
                addons.push(view(addon, &attachments, |id| {
                    actor.is_platform_admin || visible.contains(&id)
                }));
            }
        }
        Ok(addons)
    }

    /// One add-on of the app, with its credentials when `reveal` is asked
    /// (which needs the right to read the app's config vars, and is audited).
    pub async fn addon_info(
        &self,
        actor: &Actor,
        app_name: &str,
        addon_name: &str,
        reveal: bool,
    ) -> Result<(Addon, Option<Credentials>)> {
        let action = if reveal {
            Action::ReadConfig
        } else {
            Action::ReadApp
        };
        let app = self.authorize_app(actor, app_name, action).await?;
        let (addon, attachments) = self.addon_of_app(&app, addon_name).await?;
        let credentials = if reveal {
            let credentials = self.open_credentials(&addon)?;
            self.audit_app(
                actor,
                &app.name,
                "addons.reveal",
                format!("{}: url, username, password", addon.name),
            )
            .await?;
            Some(credentials)
        } else {
            None
        };
        let visible: BTreeSet<i64> = self.apps(actor).await?.iter().map(|a| a.id).collect();
        let addon = view(addon, &attachments, |id| {
            actor.is_platform_admin || visible.contains(&id)
        });
        Ok((addon, credentials))
    }

    /// Provisions an add-on of `service` (`postgres`, `heroku-redis:mini`…)
    /// for the app and sets its config var as a new release. If anything
    /// fails, nothing of it is left: no database, login, record or var.
    pub async fn create_addon(
        &self,
        actor: &Actor,
        app_name: &str,
        service: &str,
        as_name: Option<&str>,
        addon_name: Option<&str>,
        progress: &Progress,
    ) -> Result<Addon> {
        let app = self
            .authorize_app(actor, app_name, Action::ManageAddons)
            .await?;
        let spec = ServiceSpec::parse(service)?;
        let as_name = check_as_name(as_name.unwrap_or(spec.default_as()))?;
        let name = match addon_name {
            Some(name) => {
                check_addon_name(name)?;
                name.to_string()
            }
            None => format!(
                "{}-{}",
                spec.service,
                AppName::random(&mut rand::thread_rng())
            ),
        };
        self.exclusively(&app, progress, async {
            let record = self
                .provision_locked(actor, &app, &spec, &as_name, &name, progress)
                .await?;
            let attachments = self.store.addon_attachments(None).await?;
            Ok(view(record, &attachments, |_| true))
        })
        .await
    }

    /// Provisions an add-on and attaches it to the app, whose lease the
    /// caller holds; on failure nothing of it is left.
    async fn provision_locked(
        &self,
        actor: &Actor,
        app: &AppRecord,
        spec: &ServiceSpec,
        as_name: &str,
        name: &str,
        progress: &Progress,
    ) -> Result<AddonRecord> {
        let provider = self.providers.get(spec.service)?;
        if self.store.addon(name).await?.is_some() {
            return Err(PlatformError::Conflict(format!(
                "an add-on named {name} already exists: choose another --name"
            )));
        }
        self.check_attachable(app, as_name).await?;
        progress.say(&format!("-----> Creating {name} ({})", spec.service));
        let credentials = provider.provision(&app.name).await?;
        if let Some(container) = &credentials.container {
            if let Err(error) = self.join_addon_to_swarm(&app.name, container).await {
                undo_provision(provider, name, &credentials).await;
                return Err(error);
            }
        }
        let sealed = self.seal_credentials(name, &credentials)?;
        let entry = app_entry(
            actor,
            &app.name,
            "addons.create",
            format!("{name} ({}:{}) as {as_name}", spec.service, spec.plan),
        );
        let new = NewAddon {
            name,
            service: spec.service,
            plan: &spec.plan,
            provider_mode: provider.mode(),
            credentials_sealed: &sealed,
            app_id: app.id,
            as_name,
        };
        let record = match self.store.create_addon(&new, &entry).await {
            Ok(record) => record,
            Err(error) => {
                undo_provision(provider, name, &credentials).await;
                return Err(error.into());
            }
        };
        let changes = BTreeMap::from([(config_var(as_name), Some(credentials.url.clone()))]);
        let description = format!("Attach {as_name} ({name})");
        if let Err(error) = self
            .change_config_locked(actor, app, &changes, Some(description), progress)
            .await
        {
            let undo = app_entry(
                actor,
                &app.name,
                "addons.destroy",
                format!("{name}: its release failed"),
            );
            if let Err(store_error) = self.store.delete_addon(record.id, &undo).await {
                tracing::error!(addon = %name, %store_error, "a failed add-on's record stayed");
            }
            undo_provision(provider, name, &credentials).await;
            return Err(error);
        }
        Ok(record)
    }

    /// A manifest's `setup` on a push, under the app's lease: applied to an
    /// app with no release and no add-ons yet (all of it, or nothing), else
    /// only what differs from the app is reported.
    pub(crate) async fn setup_on_push(
        &self,
        actor: &Actor,
        app: &AppRecord,
        setup: &Setup,
        progress: &Progress,
    ) -> Result<()> {
        if setup.addons.is_empty() && setup.config.is_empty() {
            return Ok(());
        }
        // Read again under the lease: another push may have released meanwhile.
        let (app, role) = self
            .store
            .app_with_role(&app.name, actor.user_id)
            .await?
            .unwrap_or_else(|| (app.clone(), None));
        let attachments = self.store.addon_attachments(Some(app.id)).await?;
        if app.current_release.is_none()
            && attachments.is_empty()
            && self.addons_owned_by(&app).await?.is_empty()
        {
            authorize_setup(actor, role, setup)?;
            progress.say("-----> Setting up the app as its manifest says");
            return self.apply_setup_locked(actor, &app, setup, progress).await;
        }
        let config = self.current_config(&app).await?;
        let mut differences = Vec::new();
        for request in &setup.addons {
            let as_name = match ServiceSpec::parse(&request.plan) {
                Ok(spec) => request
                    .as_name
                    .clone()
                    .unwrap_or_else(|| spec.default_as().to_string())
                    .to_ascii_uppercase(),
                Err(error) => {
                    differences.push(format!("setup.addons: {error}"));
                    continue;
                }
            };
            if !attachments.iter().any(|t| t.as_name == as_name) {
                differences.push(format!(
                    "setup.addons asks for {} as {as_name}, which {} does not have: add it with \
                     `berth addons:create {} --as {as_name}`",
                    request.plan, app.name, request.plan
                ));
            }
        }
        for key in setup.config.keys() {
            if !config.contains_key(key) {
                differences.push(format!(
                    "setup.config sets {key}, which {} does not have: set it with `berth \
                     config:set {key}=…`",
                    app.name
                ));
            }
        }
        if !differences.is_empty() {
            progress.say(
                "-----> the manifest's setup applies only to a new app (heroku.yml's setup, Compose's add-on services); it differs from this one:",
            );
            for difference in differences {
                progress.say(&format!("       {difference}"));
            }
        }
        Ok(())
    }

    /// Creates the add-ons and sets the config vars a manifest's `setup`
    /// names, under the app's lease. Everything is checked before anything
    /// is provisioned; if one add-on fails, those made before it go again.
    pub(crate) async fn apply_setup_locked(
        &self,
        actor: &Actor,
        app: &AppRecord,
        setup: &Setup,
        progress: &Progress,
    ) -> Result<()> {
        let mut planned: Vec<(ServiceSpec, String)> = Vec::new();
        for request in &setup.addons {
            let spec = ServiceSpec::parse(&request.plan)
                .map_err(|e| PlatformError::Invalid(format!("heroku.yml setup.addons: {e}")))?;
            let as_name = check_as_name(request.as_name.as_deref().unwrap_or(spec.default_as()))
                .map_err(|e| PlatformError::Invalid(format!("heroku.yml setup.addons: {e}")))?;
            if planned.iter().any(|(_, taken)| *taken == as_name) {
                return Err(PlatformError::Invalid(format!(
                    "heroku.yml setup.addons names {as_name} twice: give one of them another `as`"
                )));
            }
            self.providers.get(spec.service)?;
            planned.push((spec, as_name));
        }
        for key in setup.config.keys() {
            check_config_key(key)
                .map_err(|e| PlatformError::Invalid(format!("heroku.yml setup.config: {e}")))?;
        }
        let mut created = Vec::new();
        for (spec, as_name) in &planned {
            let name = format!(
                "{}-{}",
                spec.service,
                AppName::random(&mut rand::thread_rng())
            );
            match self
                .provision_locked(actor, app, spec, as_name, &name, progress)
                .await
            {
                Ok(record) => created.push((record, as_name.clone())),
                Err(error) => {
                    self.undo_setup(actor, app, &created, progress).await;
                    return Err(PlatformError::DeployFailed(format!(
                        "heroku.yml setup: the {} add-on ({as_name}) could not be created, so \
                     none was: {error}",
                        spec.service
                    )));
                }
            }
        }
        let config = self.current_config(app).await?;
        let changes: BTreeMap<String, Option<String>> = setup
            .config
            .iter()
            .filter(|(key, _)| !config.contains_key(*key))
            .map(|(key, value)| (key.clone(), Some(value.clone())))
            .collect();
        if !changes.is_empty() {
            let description = "Set up config vars from heroku.yml".to_string();
            if let Err(error) = self
                .change_config_locked(actor, app, &changes, Some(description), progress)
                .await
            {
                self.undo_setup(actor, app, &created, progress).await;
                return Err(error);
            }
        }
        Ok(())
    }

    /// Removes add-ons a failed setup made, best effort (each failure is logged).
    async fn undo_setup(
        &self,
        actor: &Actor,
        app: &AppRecord,
        created: &[(AddonRecord, String)],
        progress: &Progress,
    ) {
        for (addon, as_name) in created.iter().rev() {
            let undone = async {
                let changes = BTreeMap::from([(config_var(as_name), None)]);
                let description = format!("Detach {as_name} ({}): setup failed", addon.name);
                self.change_config_locked(actor, app, &changes, Some(description), progress)
                    .await?;
                let provider = self.providers.of(addon)?;
                provider.deprovision(&self.open_credentials(addon)?).await?;
                let entry = app_entry(
                    actor,
                    &app.name,
                    "addons.destroy",
                    format!("{}: the setup it was part of failed", addon.name),
                );
                self.store.delete_addon(addon.id, &entry).await?;
                Ok::<(), PlatformError>(())
            }
            .await;
            if let Err(error) = undone {
                tracing::error!(addon = %addon.name, %error, "a failed setup's add-on stayed");
            }
        }
    }

    /// Attaches an existing add-on to another app, which needs the right to
    /// manage add-ons on both apps; that app gets `<AS>_URL` as a new release.
    pub async fn attach_addon(
        &self,
        actor: &Actor,
        addon_name: &str,
        app_name: &str,
        as_name: Option<&str>,
        progress: &Progress,
    ) -> Result<Addon> {
        let app = self
            .authorize_app(actor, app_name, Action::ManageAddons)
            .await?;
        let addon = self
            .store
            .addon(addon_name)
            .await?
            .ok_or_else(|| PlatformError::NotFound(format!("add-on {addon_name} not found")))?;
        self.authorize_app(actor, &addon.app_name, Action::ManageAddons)
            .await
            .map_err(|error| match error {
                PlatformError::NotFound(_) => {
                    PlatformError::NotFound(format!("add-on {addon_name} not found"))
                }
                PlatformError::Forbidden(_) => PlatformError::Forbidden(format!(
                    "attaching {addon_name} needs the right to manage add-ons of the app it \
                     belongs to as well"
                )),
                other => other,
            })?;
        if addon.provider_mode == "container" && addon.app_id != app.id {
            return Err(PlatformError::Invalid(format!(
                "{addon_name} runs in its own container on {}'s private network, which other \
                 apps do not reach: to share a database, the operator sets up a server \
                 (BERTH_ADDON_POSTGRES_ADMIN_URL)",
                addon.app_name
            )));
        }
        let spec = ServiceSpec::parse(&addon.service)?;
        let as_name = check_as_name(as_name.unwrap_or(spec.default_as()))?;
        self.exclusively(&app, progress, async {
            let attachments = self.store.addon_attachments(None).await?;
            if attachments
                .iter()
                .any(|t| t.addon_id == addon.id && t.app_id == app.id)
            {
                return Err(PlatformError::Conflict(format!(
                    "{addon_name} is already attached to {}",
                    app.name
                )));
            }
            self.check_attachable(&app, &as_name).await?;
            let credentials = self.open_credentials(&addon)?;
            let entry = app_entry(
                actor,
                &app.name,
                "addons.attach",
                format!("{addon_name} as {as_name}"),
            );
            self.store
                .attach_addon(addon.id, app.id, &as_name, &entry)
                .await?;
            let changes = BTreeMap::from([(config_var(&as_name), Some(credentials.url))]);
            let description = format!("Attach {as_name} ({addon_name})");
            if let Err(error) = self
                .change_config_locked(actor, &app, &changes, Some(description), progress)
                .await
            {
                let undo = app_entry(
                    actor,
                    &app.name,
                    "addons.detach",
                    format!("{addon_name}: its release failed"),
                );
                self.store.detach_addon(addon.id, app.id, &undo).await?;
                return Err(error);
            }
            let attachments = self.store.addon_attachments(None).await?;
            Ok(view(addon, &attachments, |_| true))
        })
        .await
    }

    /// Removes the add-on's var from the app as a new release, then the
    /// attachment. The add-on itself stays until it is destroyed.
    pub async fn detach_addon(
        &self,
        actor: &Actor,
        addon_name: &str,
        app_name: &str,
        progress: &Progress,
    ) -> Result<()> {
        let app = self
            .authorize_app(actor, app_name, Action::ManageAddons)
            .await?;
        self.exclusively(&app, progress, async {
            let attachment = self
                .store
                .addon_attachments(Some(app.id))
                .await?
                .into_iter()
                .find(|t| t.addon_name == addon_name)
                .ok_or_else(|| {
                    PlatformError::NotFound(format!(
                        "add-on {addon_name} is not attached to {}",
                        app.name
                    ))
                })?;
            self.remove_attachment(actor, &app, &attachment, progress)
                .await
        })
        .await
    }

    /// Destroys an add-on of the app — its data, login and record — once no
    /// other app has it attached; the app's own var goes in a new release first.
    pub async fn destroy_addon(
        &self,
        actor: &Actor,
        app_name: &str,
        addon_name: &str,
        progress: &Progress,
    ) -> Result<()> {
        let app = self
            .authorize_app(actor, app_name, Action::ManageAddons)
            .await?;
        self.exclusively(&app, progress, async {
            let (addon, attachments) = self.addon_of_app(&app, addon_name).await?;
            if addon.app_id != app.id {
                return Err(PlatformError::Invalid(format!(
                    "{addon_name} belongs to {}: destroy it there, or detach it from {} with \
                     `berth addons:detach {addon_name} -a {}`",
                    addon.app_name, app.name, app.name
                )));
            }
            let elsewhere: Vec<&str> = attachments
                .iter()
                .filter(|t| t.addon_id == addon.id && t.app_id != app.id)
                .map(|t| t.app_name.as_str())
                .collect();
            if !elsewhere.is_empty() {
                return Err(PlatformError::Conflict(format!(
                    "{addon_name} is still attached to {}: detach it first (`berth \
                     addons:detach {addon_name} -a {}`)",
                    elsewhere.join(", "),
                    elsewhere[0]
                )));
            }
            let provider = self.providers.of(&addon)?;
            if let Some(own) = attachments
                .iter()
                .find(|t| t.addon_id == addon.id && t.app_id == app.id)
            {
                self.remove_attachment(actor, &app, own, progress).await?;
            }
            progress.say(&format!("-----> Destroying {addon_name}"));
            provider
                .deprovision(&self.open_credentials(&addon)?)
                .await?;
            let entry = app_entry(actor, &app.name, "addons.destroy", addon_name.to_string());
            self.store.delete_addon(addon.id, &entry).await?;
            self.remove_backups(&addon);
            Ok(())
        })
        .await
    }

    /// New credentials reaching the same data: every attached app gets them
    /// in a new release, then the old ones are revoked. If a release fails,
    /// the old credentials keep working and the error says so.
    pub async fn rotate_addon(
        &self,
        actor: &Actor,
        app_name: &str,
        addon_name: &str,
        progress: &Progress,
    ) -> Result<()> {
        let app = self
            .authorize_app(actor, app_name, Action::ManageAddons)
            .await?;
        let (addon, attachments) = self.addon_of_app(&app, addon_name).await?;
        let attached: Vec<AttachmentRecord> = attachments
            .into_iter()
            .filter(|t| t.addon_id == addon.id)
            .collect();
        let mut apps = vec![];
        for attachment in &attached {
            apps.push(
                self.authorize_app(actor, &attachment.app_name, Action::ManageAddons)
                    .await
                    .map_err(|_| {
                        PlatformError::Forbidden(format!(
                            "rotating {addon_name} changes every app it is attached to: you may \
                             not manage add-ons of {}",
                            attachment.app_name
                        ))
                    })?,
            );
        }
        let provider = self.providers.of(&addon)?;
        let old = self.open_credentials(&addon)?;
        let new = provider.rotate(&old).await?;
        let entry = app_entry(actor, &app.name, "addons.rotate", addon_name.to_string());
        let sealed = self.seal_credentials(&addon.name, &new)?;
        if let Err(error) = self
            .store
            .set_addon_credentials(addon.id, &sealed, &entry)
            .await
        {
            undo_provision_login(provider, addon_name, &old, &new).await;
            return Err(error.into());
        }
        for (attachment, target) in attached.iter().zip(&apps) {
            let changes =
                BTreeMap::from([(config_var(&attachment.as_name), Some(new.url.clone()))]);
            let description = format!("Rotate {} ({addon_name})", attachment.as_name);
            self.exclusively(target, progress, async {
                self.change_config_locked(actor, target, &changes, Some(description), progress)
                    .await
            })
            .await
            .map_err(|error| {
                PlatformError::DeployFailed(format!(
                    "{error}; {addon_name}'s old credentials still work until a rotation \
                     completes: run `berth addons:rotate {addon_name}` again"
                ))
            })?;
        }
        progress.say(&format!("-----> Revoking {addon_name}'s old credentials"));
        provider.revoke(&new, &old).await
    }

    /// Deprovisions every add-on the platform holds and deletes its record,
    /// whatever app it belongs to: for an operator (or a test) tearing a
    /// Berth down. Returns how many went.
    pub async fn remove_every_addon(&self) -> Result<usize> {
        let addons = self.store.addons().await?;
        for addon in &addons {
            let provider = self.providers.of(addon)?;
            provider.deprovision(&self.open_credentials(addon)?).await?;
            let entry = berth_store::AuditEntry {
                actor_email: None,
                source: "berthd".into(),
                app_name: Some(addon.app_name.clone()),
                action: "addons.destroy".into(),
                detail: format!("{}: the platform was torn down", addon.name),
            };
            self.store.delete_addon(addon.id, &entry).await?;
        }
        Ok(addons.len())
    }

    /// The vars the app's attachments set, with their current URLs.
    pub(crate) async fn managed_config(&self, app: &AppRecord) -> Result<BTreeMap<String, String>> {
        let mut managed = BTreeMap::new();
        for attachment in self.store.addon_attachments(Some(app.id)).await? {
            let addon = self
                .store
                .addon(&attachment.addon_name)
                .await?
                .ok_or_else(|| {
                    PlatformError::Internal(format!("add-on {} vanished", attachment.addon_name))
                })?;
            managed.insert(
                config_var(&attachment.as_name),
                self.open_credentials(&addon)?.url,
            );
        }
        Ok(managed)
    }

    /// The names of the add-ons an app owns (which keep it from being destroyed).
    pub(crate) async fn addons_owned_by(&self, app: &AppRecord) -> Result<Vec<String>> {
        Ok(self
            .store
            .addons()
            .await?
            .into_iter()
            .filter(|a| a.app_id == app.id)
            .map(|a| a.name)
            .collect())
    }

    /// The add-on, if the app owns it or has it attached, and every attachment.
    async fn addon_of_app(
        &self,
        app: &AppRecord,
        addon_name: &str,
    ) -> Result<(AddonRecord, Vec<AttachmentRecord>)> {
        let attachments = self.store.addon_attachments(None).await?;
        let addon = self
            .store
            .addon(addon_name)
            .await?
            .filter(|addon| {
                addon.app_id == app.id
                    || attachments
                        .iter()
                        .any(|t| t.addon_id == addon.id && t.app_id == app.id)
            })
            .ok_or_else(|| addon_not_found(addon_name, &app.name))?;
        Ok((addon, attachments))
    }

    /// An attachment `as_name` fits the app: no other attachment and no
    /// config var of the user's has its name.
    async fn check_attachable(&self, app: &AppRecord, as_name: &str) -> Result<()> {
        if let Some(taken) = self
            .store
            .addon_attachments(Some(app.id))
            .await?
            .into_iter()
            .find(|t| t.as_name == as_name)
        {
            return Err(PlatformError::Conflict(format!(
                "{} already has {} attached as {as_name}: choose another --as",
                app.name, taken.addon_name
            )));
        }
        let var = config_var(as_name);
        if self.current_config(app).await?.contains_key(&var) {
            return Err(PlatformError::Conflict(format!(
                "{var} is already set on {}: unset it first (`berth config:unset {var}`) or \
                 choose another --as",
                app.name
            )));
        }
        Ok(())
    }

    /// Under the app's lease: its var goes in a new release, then the attachment.
    async fn remove_attachment(
        &self,
        actor: &Actor,
        app: &AppRecord,
        attachment: &AttachmentRecord,
        progress: &Progress,
    ) -> Result<()> {
        let changes = BTreeMap::from([(config_var(&attachment.as_name), None)]);
        let description = format!("Detach {} ({})", attachment.as_name, attachment.addon_name);
        self.change_config_locked(actor, app, &changes, Some(description), progress)
            .await?;
        let entry = app_entry(
            actor,
            &app.name,
            "addons.detach",
            format!("{} as {}", attachment.addon_name, attachment.as_name),
        );
        self.store
            .detach_addon(attachment.addon_id, app.id, &entry)
            .await?;
        Ok(())
    }

    pub(crate) fn seal_credentials(
        &self,
        addon_name: &str,
        credentials: &Credentials,
    ) -> Result<String> {
        let json = serde_json::to_vec(credentials)
            .map_err(|e| PlatformError::Internal(format!("cannot encode credentials: {e}")))?;
        Ok(self.secrets.seal(&sealing_context(addon_name), &json))
    }

    /// Compose services that became add-ons answer to their service name
    /// (`db`) on the app's network too, as they did in the local stack —
    /// those that run in a container of the app's; an add-on on a shared
    /// server is reached through its URL only.
    pub(crate) async fn alias_compose_addons(
        &self,
        app: &AppRecord,
        services: &BTreeMap<String, AddonKind>,
    ) -> Result<()> {
        if services.is_empty() {
            return Ok(());
        }
        let attachments = self.store.addon_attachments(Some(app.id)).await?;
        let addons = self.store.addons().await?;
        let runtime = self.runtime()?;
        for (service, kind) in services {
            let as_name = ServiceSpec::parse(compose_addon_plan(*kind))?.default_as();
            let Some(addon) = attachments
                .iter()
                .find(|attachment| attachment.as_name == as_name)
                .and_then(|attachment| addons.iter().find(|a| a.id == attachment.addon_id))
            else {
                continue;
            };
            let Some(container) = self.open_credentials(addon)?.container else {
                continue;
            };
            let engine = runtime.engine();
            engine
                .add_network_alias(&app_network(&app.name), &container, service)
                .await?;
            if runtime.is_swarm() {
                self.join_addon_to_swarm(&app.name, &container).await?;
                engine
                    .add_network_alias(&swarm_network(&app.name), &container, service)
                    .await?;
            }
        }
        Ok(())
    }

    pub(crate) fn open_credentials(&self, addon: &AddonRecord) -> Result<Credentials> {
        let json = self
            .secrets
            .open(&sealing_context(&addon.name), &addon.credentials_sealed)?;
        serde_json::from_slice(&json).map_err(|e| {
            PlatformError::Internal(format!(
                "the credentials of {} are unreadable: {e}",
                addon.name
            ))
        })
    }

    /// Re-seals add-on credentials under `next`, for `rotate-key`.
    pub(crate) fn reseal_addon_credentials(
        &self,
        next: &crate::secrets::SecretKey,
        values: &mut [(i64, String, String)],
    ) -> Result<()> {
        for (_, name, sealed) in values {
            let context = sealing_context(name);
            *sealed = next.seal(&context, &self.secrets.open(&context, sealed)?);
        }
        Ok(())
    }
}

fn view(
    addon: AddonRecord,
    attachments: &[AttachmentRecord],
    shown: impl Fn(i64) -> bool,
) -> Addon {
    Addon {
        attachments: attachments
            .iter()
            .filter(|t| t.addon_id == addon.id && shown(t.app_id))
            .map(|t| Attachment {
                app: t.app_name.clone(),
                as_name: t.as_name.clone(),
                config_var: config_var(&t.as_name),
            })
            .collect(),
        name: addon.name,
        service: addon.service,
        plan: addon.plan,
        mode: addon.provider_mode,
        app: addon.app_name,
        created_at: addon.created_at,
    }
}

/// Removes what a provision made, after a later step failed.
async fn undo_provision(provider: &dyn Provider, name: &str, credentials: &Credentials) {
    if let Err(error) = provider.deprovision(credentials).await {
        tracing::error!(addon = %name, %error, "a failed add-on was not deprovisioned");
    }
}

/// Removes a rotation's new login, after storing it failed.
async fn undo_provision_login(
    provider: &dyn Provider,
    name: &str,
    current: &Credentials,
    new: &Credentials,
) {
    if let Err(error) = provider.revoke(current, new).await {
        tracing::error!(addon = %name, %error, "a rotation's new login was not revoked");
    }
}
