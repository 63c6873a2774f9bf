//! Config vars, rollbacks and scaling: changes to a running app. Each
//! config change and rollback is a new release through the one roll-out.

use berth_docker::Runtime;
use std::collections::BTreeMap;

use berth_core::{check_config_key, Action, Actor, ScaleChange};
use berth_store::{AppRecord, NewRelease, ReleaseRecord, ReleaseStatus};

use crate::progress::Progress;
use crate::{Platform, PlatformError, Result};

/// What a config change did: the config now, and the release it made (none
/// before the first deploy: the next deploy picks the config up).
pub struct ConfigChange {
    pub config: BTreeMap<String, String>,
    pub release: Option<ReleaseRecord>,
}

/// What `ps:restart` and `ps:stop` do to each dyno they select.
#[derive(Clone, Copy, PartialEq, Eq)]
enum DynoChange {
    Restart,
    Stop,
}

fn sealing_context(app: &AppRecord, name: &str) -> String {
    format!("config/{}/{name}", app.id)
}

impl Platform {
    /// The app's config vars, by name. Secrets leave the platform here, so
    /// each read is audited, naming the keys (never the values).
    pub async fn config(&self, actor: &Actor, app_name: &str) -> Result<BTreeMap<String, String>> {
        let app = self
            .authorize_app(actor, app_name, Action::ReadConfig)
            .await?;
        let config = self.current_config(&app).await?;
        let keys: Vec<&str> = config.keys().map(String::as_str).collect();
        self.audit_app(actor, &app.name, "config.read", keys.join(", "))
            .await?;
        Ok(config)
    }

    /// The names of the app's config vars, without their values: what
    /// viewers, who may not read values, see.
    pub async fn config_names(&self, actor: &Actor, app_name: &str) -> Result<Vec<String>> {
        let app = self.authorize_app(actor, app_name, Action::ReadApp).await?;
        Ok(self
            .store
            .config_vars(app.id)
            .await?
            .into_iter()
            .map(|(name, _)| name)
            .collect())
    }

    pub(crate) async fn current_config(&self, app: &AppRecord) -> Result<BTreeMap<String, String>> {
        let mut config = BTreeMap::new();
        for (name, sealed) in self.store.config_vars(app.id).await? {
            let value = self.secrets.open(&sealing_context(app, &name), &sealed)?;
            let value = String::from_utf8(value)
                .map_err(|_| PlatformError::Internal(format!("config var {name} is not UTF-8")))?;
            config.insert(name, value);
        }
        Ok(config)
    }

    /// Sets (`Some`) and unsets (`None`) config vars, as one new release
    /// rolled out like any other; nothing changes if it fails.
    pub async fn set_config(
        &self,
        actor: &Actor,
        app_name: &str,
        changes: BTreeMap<String, Option<String>>,
        progress: &Progress,
    ) -> Result<ConfigChange> {
        let app = self
            .authorize_app(actor, app_name, Action::Configure)
            .await?;
        if changes.is_empty() {
            return Err(PlatformError::Invalid(
                "no config vars given: use KEY=VALUE".into(),
            ));
        }
        for key in changes.keys() {
            check_config_key(key).map_err(PlatformError::Invalid)?;
        }
        let managed = self.store.addon_attachments(Some(app.id)).await?;
        for key in changes.keys() {
            if let Some(attachment) = managed
                .iter()
                .find(|a| crate::addons::config_var(&a.as_name) == *key)
            {
                return Err(PlatformError::Invalid(format!(
                    "{key} is managed by add-on {addon}: `berth addons:rotate {addon}` changes \
                     it and `berth addons:detach {addon} -a {app}` removes it",
                    addon = attachment.addon_name,
                    app = app.name
                )));
            }
        }
        self.exclusively(&app, progress, async {
            self.change_config_locked(actor, &app, &changes, None, progress)
                .await
        })
        .await
    }

    /// Sets and unsets config vars as one new release (when the app has
    /// one), for a caller that authorized the change and holds the app's lease.
    pub(crate) async fn change_config_locked(
        &self,
        actor: &Actor,
        app: &AppRecord,
        changes: &BTreeMap<String, Option<String>>,
        description: Option<String>,
        progress: &Progress,
    ) -> Result<ConfigChange> {
        let mut config = self.current_config(app).await?;
        for (key, value) in changes {
            match value {
                Some(value) => config.insert(key.clone(), value.clone()),
                None => config.remove(key),
            };
        }
        let keys = |set: bool| -> Vec<&String> {
            changes
                .iter()
                .filter(|(_, v)| v.is_some() == set)
                .map(|(k, _)| k)
                .collect()
        };
        let (set, unset) = (keys(true), keys(false));
        let description = description.unwrap_or_else(|| match (set.is_empty(), unset.is_empty()) {
            (false, true) => format!("Set {} config vars", join(&set)),
            (true, false) => format!("Remove {} config vars", join(&unset)),
            _ => format!("Set {} and remove {} config vars", join(&set), join(&unset)),
        });
        let release = match self.current_release(app).await? {
            Some(current) => Some(
                self.rerelease(actor, app, &current, &description, &config, progress)
                    .await?,
            ),
            None => {
                self.store
                    .replace_config_vars(app.id, &self.seal_config_vars(app, &config))
                    .await?;
                None
            }
        };
        self.audit_app(actor, &app.name, "config.change", description)
            .await?;
        Ok(ConfigChange { config, release })
    }

    /// A new release with the images and config of `target` (default: the
    /// latest successful release before the current one).
    pub async fn rollback(
        &self,
        actor: &Actor,
        app_name: &str,
        target: Option<i64>,
        progress: &Progress,
    ) -> Result<ReleaseRecord> {
        let app = self
            .authorize_app(actor, app_name, Action::Configure)
            .await?;
        self.exclusively(&app, progress, async {
            let releases = self.store.releases(app.id).await?;
            let current = app.current_release.ok_or_else(|| {
                PlatformError::Invalid(format!("{} has no release to roll back from", app.name))
            })?;
            let target = match target {
                Some(version) => {
                    releases
                        .iter()
                        .find(|r| r.version == version)
                        .ok_or_else(|| {
                            PlatformError::NotFound(format!(
                                "{} has no release v{version}",
                                app.name
                            ))
                        })?
                }
                None => releases
                    .iter()
                    .rev()
                    .find(|r| r.version < current && r.status == ReleaseStatus::Succeeded)
                    .ok_or_else(|| {
                        PlatformError::Invalid(format!(
                            "{} has no earlier successful release",
                            app.name
                        ))
                    })?,
            };
            if target.status != ReleaseStatus::Succeeded {
                return Err(PlatformError::Invalid(format!(
                    "v{} {}: roll back to a release that succeeded",
                    target.version, target.status
                )));
            }
            let mut config = self.open_release_config(&app, target)?;
            // Add-on vars are not rolled back: an older release may hold
            // credentials revoked since (a rotation) or none at all.
            for (var, url) in self.managed_config(&app).await? {
                config.insert(var, url);
            }
            let description = format!("Rollback to v{}", target.version);
            let release = self
                .rerelease(actor, &app, target, &description, &config, progress)
                .await?;
            let detail = format!("{description}: v{}", release.version);
            self.audit_app(actor, &app.name, "release.rollback", detail)
                .await?;
            Ok(release)
        })
        .await
    }

    /// Turns maintenance mode on or off: the router answers with a 503
    /// maintenance page while the processes keep running.
    pub async fn set_maintenance(&self, actor: &Actor, app_name: &str, on: bool) -> Result<()> {
        let app = self
            .authorize_app(actor, app_name, Action::Configure)
            .await?;
        self.store.set_maintenance(app.id, on).await?;
        let action = if on {
            "maintenance.on"
        } else {
            "maintenance.off"
        };
        self.audit_app(actor, &app.name, action, String::new())
            .await?;
        let message = format!(
            "Maintenance mode {} by {}",
            if on { "on" } else { "off" },
            actor.email
        );
        self.logs.write(
            &app.name,
            crate::LogLine::now(crate::LogSource::Berth, "api", &message),
        );
        self.refresh_routes().await
    }

    /// The app's formation: how many of each process type should run.
    pub async fn formation(&self, actor: &Actor, app_name: &str) -> Result<Vec<(String, i64)>> {
        let app = self.authorize_app(actor, app_name, Action::ReadApp).await?;
        Ok(self.store.formation(app.id).await?)
    }

    /// Applies `web=2`, `worker+1`… and converges the running processes to it.
    pub async fn scale(
        &self,
        actor: &Actor,
        app_name: &str,
        changes: &[String],
    ) -> Result<Vec<(String, i64)>> {
        let app = self.authorize_app(actor, app_name, Action::Deploy).await?;
        let changes = changes
            .iter()
            .map(|change| ScaleChange::parse(change).map_err(PlatformError::Invalid))
            .collect::<Result<Vec<_>>>()?;
        let progress = Progress::channel().0;
        self.exclusively(&app, &progress, async {
            let formation = self.store.formation(app.id).await?;
            let mut updates = Vec::new();
            for change in &changes {
                let Some((_, current)) = formation.iter().find(|(t, _)| *t == change.process_type)
                else {
                    let known: Vec<&str> = formation.iter().map(|(t, _)| t.as_str()).collect();
                    return Err(PlatformError::Invalid(if known.is_empty() {
                        format!("{} has no process types yet: deploy it first", app.name)
                    } else {
                        format!(
                            "no process type {:?}: {} has {}",
                            change.process_type,
                            app.name,
                            known.join(", ")
                        )
                    }));
                };
                updates.push((
                    change.process_type.clone(),
                    change.apply(*current).map_err(PlatformError::Invalid)?,
                ));
            }
            if let Some(limit) = self.quotas.dynos_per_app {
                let total: i64 = formation
                    .iter()
                    .map(|(process_type, quantity)| {
                        updates
                            .iter()
                            .rev()
                            .find(|(t, _)| t == process_type)
                            .map_or(*quantity, |(_, q)| *q)
                    })
                    .sum();
                if total > limit {
                    return Err(PlatformError::Invalid(format!(
                        "{} would run {total} dynos, more than this platform allows an app \
                         (BERTH_MAX_DYNOS_PER_APP={limit}): nothing was changed",
                        app.name
                    )));
                }
            }
            self.store.set_formation(app.id, &updates).await?;
            self.converge_formation(&app, &progress).await?;
            let summary: Vec<String> = updates.iter().map(|(t, q)| format!("{t}@{q}")).collect();
            // The trail keeps the count before as well: `worker@0->1`.
            let changes: Vec<String> = updates
                .iter()
                .map(|(process_type, quantity)| {
                    let before = formation
                        .iter()
                        .find(|(known, _)| known == process_type)
                        .map_or(0, |(_, before)| *before);
                    format!("{process_type}@{before}->{quantity}")
                })
                .collect();
            self.audit_app(actor, &app.name, "formation.scale", changes.join(" "))
                .await?;
            let message = format!("Scaled to {} by {}", summary.join(" "), actor.email);
            self.logs.write(
                &app.name,
                crate::LogLine::now(crate::LogSource::Berth, "api", &message),
            );
            Ok(self.store.formation(app.id).await?)
        })
        .await
    }

    /// Restarts the current release's processes — all, one type, or one
    /// dyno — one at a time; a web process must be healthy again before
    /// the next one restarts. Returns the dynos restarted.
    pub async fn restart(
        &self,
        actor: &Actor,
        app_name: &str,
        process_type: Option<&str>,
        dyno: Option<&str>,
    ) -> Result<Vec<String>> {
        self.change_dynos(actor, app_name, DynoChange::Restart, process_type, dyno)
            .await
    }

    /// Stops processes of the current release — one dyno, or every one of
    /// a type — and starts replacements, as Heroku does: the formation does
    /// not change. Returns the dynos replaced.
    pub async fn stop_dynos(
        &self,
        actor: &Actor,
        app_name: &str,
        process_type: Option<&str>,
        dyno: Option<&str>,
    ) -> Result<Vec<String>> {
        self.change_dynos(actor, app_name, DynoChange::Stop, process_type, dyno)
            .await
    }

    async fn change_dynos(
        &self,
        actor: &Actor,
        app_name: &str,
        change: DynoChange,
        process_type: Option<&str>,
        dyno: Option<&str>,
    ) -> Result<Vec<String>> {
        let app = self.authorize_app(actor, app_name, Action::Deploy).await?;
        let progress = Progress::channel().0;
        let (verb, doing) = match change {
            DynoChange::Restart => ("restart", "Restarting"),
            DynoChange::Stop => ("stop", "Stopping"),
        };
        self.exclusively(&app, &progress, async {
            let Some(release) = self.current_release(&app).await? else {
                return Err(PlatformError::Invalid(format!(
                    "{} has no release to {verb}",
                    app.name
                )));
            };
            let targets = self
                .select_dynos(&app, &release, process_type, dyno)
                .await?;
            if change == DynoChange::Restart {
                if let Some((name, _)) = targets.iter().find(|(name, _)| name.starts_with("run.")) {
                    return Err(PlatformError::Invalid(format!(
                        "{name} is a one-off dyno: it is not restarted (stop it with ps:stop {name})"
                    )));
                }
            }
            let engine = self.runtime()?;
            for (name, id) in &targets {
                let message = format!("{doing} by {}", actor.email);
                self.logs.write(
                    &app.name,
                    crate::LogLine::now(crate::LogSource::Berth, name, &message),
                );
                match change {
                    DynoChange::Restart => {
                        engine
                            .restart_process(id, crate::release::STOP_GRACE)
                            .await?;
                        if name.starts_with("web.") {
                            self.wait_until_restarted_web_is_healthy(&release, name, id)
                                .await?;
                        }
                    }
                    DynoChange::Stop => {
                        engine
                            .stop_and_remove(id, crate::release::STOP_GRACE)
                            .await?
                    }
                }
            }
            if change == DynoChange::Stop {
                self.refresh_routes().await?;
                self.converge_formation(&app, &progress).await?;
            }
            let names: Vec<&str> = targets.iter().map(|(name, _)| name.as_str()).collect();
            self.audit_app(actor, &app.name, &format!("dyno.{verb}"), names.join(", "))
                .await?;
            Ok(targets.into_iter().map(|(name, _)| name).collect())
        })
        .await
    }

    /// A restarted web process has a new port: wait until it answers there,
    /// then route to it.
    async fn wait_until_restarted_web_is_healthy(
        &self,
        release: &ReleaseRecord,
        name: &str,
        id: &str,
    ) -> Result<()> {
        let address = self
            .runtime()?
            .published_address(id, berth_core::process_env::WEB_PORT)
            .await?
            .ok_or_else(|| PlatformError::Internal(format!("{name} has no published port")))?;
        let healthcheck = release
            .processes
            .iter()
            .find(|p| p.process_type == "web")
            .and_then(|p| p.healthcheck.as_deref());
        self.wait_until_healthy(name, address, healthcheck).await?;
        self.refresh_routes().await
    }

    /// The current release's dynos, `(name, container id)` by name: all, one
    /// type, or one dyno. A one-off dyno (of any release) only when named.
    /// None of them is an error naming what was asked for.
    async fn select_dynos(
        &self,
        app: &AppRecord,
        release: &ReleaseRecord,
        process_type: Option<&str>,
        dyno: Option<&str>,
    ) -> Result<Vec<(String, String)>> {
        let mut targets: Vec<(String, String)> = self
            .app_containers(&app.name, None)
            .await?
            .into_iter()
            .filter_map(|c| {
                let process = c.process?;
                let name = process.dyno?;
                let selectable = if process.oneoff.is_some() {
                    dyno == Some(name.as_str())
                } else {
                    process.release == release.version
                };
                selectable.then_some((name, c.id))
            })
            .filter(|(name, _)| dyno.is_none_or(|d| d == name))
            .filter(|(name, _)| {
                process_type.is_none_or(|t| name.rsplit_once('.').is_some_and(|(p, _)| p == t))
            })
            .collect();
        if targets.is_empty() {
            let what = dyno
                .or(process_type)
                .map_or_else(|| "processes".to_string(), str::to_string);
            return Err(PlatformError::NotFound(format!(
                "{} has no running {what}",
                app.name
            )));
        }
        targets.sort();
        Ok(targets)
    }

    pub(crate) async fn current_release(&self, app: &AppRecord) -> Result<Option<ReleaseRecord>> {
        match app.current_release {
            Some(version) => Ok(self.store.release(app.id, version).await?),
            None => Ok(None),
        }
    }

    /// A new release running `base`'s images and processes with `config`,
    /// which becomes the app's stored config as the release becomes current.
    pub(crate) async fn rerelease(
        &self,
        actor: &Actor,
        app: &AppRecord,
        base: &ReleaseRecord,
        description: &str,
        config: &BTreeMap<String, String>,
        progress: &Progress,
    ) -> Result<ReleaseRecord> {
        let release = self
            .store
            .create_release(NewRelease {
                app_id: app.id,
                description,
                commit_sha: base.commit_sha.as_deref(),
                config_sealed: &self.seal_config(app, config)?,
                created_by: &actor.email,
                phase: "starting",
            })
            .await?;
        self.store
            .set_release_contents(
                release.id,
                &self.with_set_limits(app, &base.processes).await?,
                base.release_image.as_deref(),
                base.release_command.as_deref(),
            )
            .await?;
        let release = self
            .store
            .release(app.id, release.version)
            .await?
            .ok_or_else(|| {
                PlatformError::Internal(format!("release v{} vanished", release.version))
            })?;
        progress.say(&format!("-----> {description}: v{}", release.version));
        let sealed = self.seal_config_vars(app, config);
        let output = crate::progress::ReleaseOutput::new(self.release_output_bytes);
        self.roll_out(actor, app, release, config, Some(&sealed), progress, output)
            .await
    }

    pub(crate) fn open_release_config(
        &self,
        app: &AppRecord,
        release: &ReleaseRecord,
    ) -> Result<BTreeMap<String, String>> {
        let json = self.secrets.open(
            &format!("release-config/{}", app.id),
            &release.config_sealed,
        )?;
        serde_json::from_slice(&json)
            .map_err(|e| PlatformError::Internal(format!("release config: {e}")))
    }

    pub(crate) fn seal_config_vars(
        &self,
        app: &AppRecord,
        config: &BTreeMap<String, String>,
    ) -> Vec<(String, String)> {
        config
            .iter()
            .map(|(name, value)| {
                (
                    name.clone(),
                    self.secrets
                        .seal(&sealing_context(app, name), value.as_bytes()),
                )
            })
            .collect()
    }

    /// Starts and stops processes of the current release until each type
    /// runs as many as the formation says.
    async fn converge_formation(&self, app: &AppRecord, progress: &Progress) -> Result<()> {
        // Read again under the lease: a deploy may have moved the current release.
        let app = self
            .store
            .app_with_role(&app.name, 0)
            .await?
            .map_or_else(|| app.clone(), |(app, _)| app);
        let Some(release) = self.current_release(&app).await? else {
            return Ok(());
        };
        let config = self.open_release_config(&app, &release)?;
        let running = self.app_containers(&app.name, None).await?;
        for (process_type, quantity) in self.store.formation(app.id).await? {
            let Some(process) = release
                .processes
                .iter()
                .find(|p| p.process_type == process_type)
            else {
                continue;
            };
            let existing: Vec<(i64, String)> = running
                .iter()
                .filter_map(|c| {
                    let dyno = c.process.as_ref()?;
                    // A Procfile may name a type `run`: its one-offs are not dynos of it.
                    let of_this_type = dyno.release == release.version
                        && dyno.process_type == process_type
                        && dyno.oneoff.is_none();
                    of_this_type.then_some((dyno.index()?, c.id.clone()))
                })
                .collect();
            for index in 1..=quantity {
                if !existing.iter().any(|(i, _)| *i == index) {
                    self.start_dyno(&app, &release, process, index, &config, progress)
                        .await?;
                }
            }
            for (_, id) in existing.iter().filter(|(i, _)| *i > quantity) {
                self.runtime()?
                    .stop_and_remove(id, crate::release::STOP_GRACE)
                    .await?;
            }
        }
        self.refresh_routes().await
    }
}

fn join(keys: &[&String]) -> String {
    keys.iter()
        .map(|k| k.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}
