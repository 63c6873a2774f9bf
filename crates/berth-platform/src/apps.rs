//! Apps: create, list, read, destroy — each through the authorization policy.

use berth_core::{authorize, Action, Actor, AppName};
use berth_docker::{ContainerSelector, Engine, Runtime};
use berth_store::{AppRecord, AuditEntry, StoreError};

use crate::audit::app_entry;
use crate::{authorize_platform, Platform, PlatformError, Result};

/// How many random names to try before giving up (collisions are rare:
/// there are over 10 million names).
const RANDOM_NAME_ATTEMPTS: usize = 5;

impl Platform {
    /// The one path to an app: finds it, and checks that `actor` may perform
    /// `action` on it. An app the actor cannot see reads as not found.
    pub async fn authorize_app(
        &self,
        actor: &Actor,
        name: &str,
        action: Action,
    ) -> Result<AppRecord> {
        let (app, role) = self
            .store
            .app_with_role(name, actor.user_id)
            .await?
            .ok_or_else(|| PlatformError::app_not_found(name))?;
        authorize(actor, role, action)
            .map_err(|denied| PlatformError::from_denied(denied, name))?;
        Ok(app)
    }

    /// Creates an app owned by `actor`, named `name` or else a random friendly
    /// name, with its git repository. Nothing is left behind when it fails.
    pub async fn create_app(&self, actor: &Actor, name: Option<&str>) -> Result<AppRecord> {
        authorize_platform(actor, Action::CreateApp)?;
        self.check_app_quota(actor).await?;
        let app = match name {
            Some(name) => {
                let name =
                    AppName::parse(name).map_err(|e| PlatformError::Invalid(e.to_string()))?;
                self.insert_app(actor, &name).await?
            }
            None => self.insert_randomly_named_app(actor).await?,
        };
        if let Err(error) = self.repos.create(&app.name) {
            self.store
                .delete_app(
                    app.id,
                    &app_entry(
                        actor,
                        &app.name,
                        "app.destroy",
                        "its git repository could not be created".into(),
                    ),
                )
                .await?;
            return Err(error.into());
        }
        if let Err(error) = self.refresh_routes().await {
            tracing::warn!(app = %app.name, %error, "the router does not know the new app yet");
        }
        Ok(app)
    }

    /// Creates an app from its `heroku.yml`: the add-ons and config vars its
    /// `setup` names come with it. A manifest that does not parse creates
    /// nothing; if setting up fails, the app goes again.
    pub async fn create_app_from_manifest(
        &self,
        actor: &Actor,
        name: Option<&str>,
        heroku_yml: &str,
        progress: &crate::Progress,
    ) -> Result<AppRecord> {
        authorize_platform(actor, Action::CreateApp)?;
        // The build context is not here: Dockerfile paths are checked on push.
        let manifest = berth_core::parse_heroku_yml(heroku_yml, |_| true)
            .map_err(|e| PlatformError::Invalid(e.to_string()))?;
        let app = self.create_app(actor, name).await?;
        let setup = self
            .exclusively(&app, progress, async {
                self.apply_setup_locked(actor, &app, &manifest.setup, progress)
                    .await
            })
            .await;
        if let Err(error) = setup {
            let entry = app_entry(
                actor,
                &app.name,
                "app.destroy",
                "setting it up from heroku.yml failed".into(),
            );
            self.store.delete_app(app.id, &entry).await?;
            if let Err(error) = self.repos.remove(&app.name) {
                tracing::warn!(app = %app.name, %error, "the repository of an app not set up stayed");
            }
            return Err(error);
        }
        Ok(app)
    }

    /// A member owns at most `BERTH_MAX_APPS_PER_USER` apps; platform
    /// admins are exempt.
    pub(crate) async fn check_app_quota(&self, actor: &Actor) -> Result<()> {
        let Some(limit) = self.quotas.apps_per_user else {
            return Ok(());
        };
        if actor.is_platform_admin {
            return Ok(());
        }
        let owned = self
            .store
            .apps_visible_to(actor.user_id, false)
            .await?
            .iter()
            .filter(|app| app.owner_email == actor.email)
            .count();
        if owned >= limit {
            return Err(PlatformError::Forbidden(format!(
                "you own {owned} apps, the most this platform allows a member \
                 (BERTH_MAX_APPS_PER_USER={limit}): destroy one, or ask an operator"
            )));
        }
        Ok(())
    }

    async fn insert_randomly_named_app(&self, actor: &Actor) -> Result<AppRecord> {
        for _ in 0..RANDOM_NAME_ATTEMPTS {
            let name = AppName::random(&mut rand::thread_rng());
            match self.insert_app(actor, &name).await {
                Err(PlatformError::Conflict(_)) => continue,
                other => return other,
            }
        }
        Err(PlatformError::Conflict(
            "no free random app name was found: give the app a name".into(),
        ))
    }

    async fn insert_app(&self, actor: &Actor, name: &AppName) -> Result<AppRecord> {
        let entry = app_entry(actor, name.as_str(), "app.create", String::new());
        match self
            .store
            .create_app(name.as_str(), actor.user_id, &entry)
            .await
        {
            Err(StoreError::Conflict(_)) => Err(PlatformError::Conflict(format!(
                "the name {name} is already taken: choose another"
            ))),
            other => Ok(other?),
        }
    }

    /// The apps `actor` can see (every app for a platform admin), oldest first.
    pub async fn apps(&self, actor: &Actor) -> Result<Vec<AppRecord>> {
        authorize_platform(actor, Action::ListApps)?;
        Ok(self
            .store
            .apps_visible_to(actor.user_id, actor.is_platform_admin)
            .await?)
    }

    /// The app's bare git repository, created if it went missing. Callers
    /// authorize first (`authorize_app`).
    pub fn repository(&self, app: &str) -> Result<std::path::PathBuf> {
        if !self.repos.exists(app) {
            self.repos.create(app)?;
        }
        Ok(self.repos.path_of(app))
    }

    pub async fn app(&self, actor: &Actor, name: &str) -> Result<AppRecord> {
        self.authorize_app(actor, name, Action::ReadApp).await
    }

    /// Destroys an app: its record, memberships and repository. Refused
    /// while it has volumes (see [`Self::destroy_app_with`]).
    pub async fn destroy_app(&self, actor: &Actor, name: &str) -> Result<AppRecord> {
        self.destroy_app_with(actor, name, false).await
    }

    /// Destroys an app; with `volumes`, its persistent volumes and their
    /// data go too (after its containers), else it is refused while it has any.
    pub async fn destroy_app_with(
        &self,
        actor: &Actor,
        name: &str,
        volumes: bool,
    ) -> Result<AppRecord> {
        let app = self.authorize_app(actor, name, Action::DestroyApp).await?;
        // A review app goes add-ons and all: they were made for it.
        if self.store.review_app(app.id).await?.is_some() {
            self.destroy_review_app(Some(actor), &app, "destroyed with apps:destroy")
                .await?;
            return Ok(app);
        }
        let addons = self.addons_owned_by(&app).await?;
        if !addons.is_empty() {
            return Err(PlatformError::Conflict(format!(
                "{} still has add-ons ({}): destroy them first with `berth addons:destroy NAME \
                 -a {} --confirm {}`, so that no database is dropped by surprise",
                app.name,
                addons.join(", "),
                app.name,
                app.name
            )));
        }
        let app_volumes: Vec<String> = self
            .store
            .volumes(app.id)
            .await?
            .into_iter()
            .map(|v| v.name)
            .collect();
        if !app_volumes.is_empty() && !volumes {
            return Err(PlatformError::Conflict(format!(
                "{} still has volumes ({}): their data would be lost. Destroy them first with \
                 `berth volumes:destroy NAME -a {} --confirm {}`, or destroy the app with them: \
                 `berth apps:destroy -a {} --confirm {} --volumes`",
                app.name,
                app_volumes.join(", "),
                app.name,
                app.name,
                app.name,
                app.name
            )));
        }
        // Its branches' review apps go before it.
        for review in self.store.review_apps_of(app.id).await? {
            if let Some((review_app, _)) = self.store.app_with_role(&review.app_name, 0).await? {
                let why = format!("its parent {} was destroyed", app.name);
                self.destroy_review_app(Some(actor), &review_app, &why)
                    .await?;
            }
        }
        let detail = if app_volumes.is_empty() {
            String::new()
        } else {
            format!("with its volumes {}", app_volumes.join(", "))
        };
        self.tear_down_app(&app, app_entry(actor, &app.name, "app.destroy", detail))
            .await?;
        Ok(app)
    }

    /// Deletes the app's record (with `entry` in the audit trail), then
    /// what it leaves behind: repository, containers, volumes, log.
    pub(crate) async fn tear_down_app(&self, app: &AppRecord, entry: AuditEntry) -> Result<()> {
        self.store.delete_app(app.id, &entry).await?;
        self.access_changed();
        // The app is gone once its record is; what is left behind of it is
        // cleaned up best effort (a repository is wiped when the name is used again).
        if let Err(error) = self.repos.remove(&app.name) {
            tracing::warn!(app = %app.name, %error, "the destroyed app's repository was not removed");
        }
        if let Err(error) = self.remove_runtime(app).await {
            tracing::warn!(app = %app.name, %error, "the destroyed app's containers were not all removed");
        }
        // Its engine volumes go: those of its volumes (with --volumes) and
        // any left behind by a volume destroyed halfway.
        if let Err(error) = self.remove_app_volumes(app).await {
            tracing::warn!(app = %app.name, %error, "the destroyed app's volumes were not all removed");
        }
        if let Err(error) = self.logs.remove(&app.name).await {
            tracing::warn!(app = %app.name, %error, "the destroyed app's log was not removed");
        }
        // Its stored samples went with its record; its live series end now.
        self.metrics.forget_app(&app.name);
        self.logs.forget_counts(&app.name);
        self.live_deploys.forget(app.id);
        Ok(())
    }

    /// Containers, network and images of an app.
    async fn remove_runtime(&self, app: &AppRecord) -> Result<()> {
        if !self.has_engine() {
            return Ok(());
        }
        self.stop_containers(app, |_| true).await?;
        let engine = self.runtime()?;
        engine.remove_app_network(&app.name).await?;
        engine.remove_app_images(&app.name).await?;
        for (host, host_engine) in self.ready_host_engines().await? {
            if let Err(error) = self.remove_from_host(&host_engine, &app.name).await {
                tracing::warn!(app = %app.name, %host, %error, "cannot remove what the app left on a host");
            }
        }
        Ok(())
    }

    /// What an app leaves on a managed host once its services are gone:
    /// its tasks' containers (Swarm removes them in its own time, and
    /// keeps those of earlier tasks), then its images.
    async fn remove_from_host(&self, engine: &Engine, app: &str) -> Result<()> {
        for container in engine
            .containers_of(ContainerSelector::app(&self.platform_id, app))
            .await?
        {
            engine.remove_container(&container.id).await?;
        }
        Ok(Runtime::remove_app_images(engine, app).await?)
    }
}
