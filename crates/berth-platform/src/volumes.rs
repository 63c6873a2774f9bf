//! Persistent volumes: named engine volumes an app owns, each mounted at
//! its path into every dyno of one process type — across deploys,
//! restarts and rollbacks, since every dyno start goes through
//! [`Platform::mount_volumes`] — and into one-off dynos.
//!
//! A volume lives on one host (the default host, where it is made): on a
//! swarm, its process type is pinned there. Creating or destroying one
//! replaces the running dynos of its type, one at a time and health-gated
//! as any start, so that they mount it (or no longer do); an engine
//! container's mounts are fixed when it is made, so a restart would not do.
//! With one dyno of the type, that is a short gap, as `ps:stop` leaves.
//!
//! One-offs (`berth run`, the release command) run on the default host and
//! mount every volume of the app kept there, each at its path: a console
//! reaches the data of every process type. When two volumes share a path
//! (in different process types), the one of `web`, else the oldest, wins.

use berth_core::{check_mount_path, Action, Actor, ProcessType, VolumeName};
use berth_docker::{app_volumes, volume_labels, volume_name, ProcessSpec, Runtime, VolumeMount};
use berth_store::{AppRecord, AuditEntry, NewVolume, VolumeRecord};
use chrono::{DateTime, Utc};

use crate::audit::app_entry;
use crate::progress::Progress;
use crate::{Platform, PlatformError, Result};

/// A volume as `berth volumes` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Volume {
    pub name: String,
    pub process_type: String,
    pub path: String,
    /// Bytes its files take; `None` when the engine's files are out of
    /// berthd's sight (a remote engine, berthd in a container).
    pub size_bytes: Option<u64>,
    /// The host that keeps it: its process type runs there.
    pub host: String,
    pub created_at: DateTime<Utc>,
}

impl Platform {
    /// The app's volumes, oldest first.
    pub async fn volumes(&self, actor: &Actor, app_name: &str) -> Result<Vec<Volume>> {
        let app = self.authorize_app(actor, app_name, Action::ReadApp).await?;
        let records = self.store.volumes(app.id).await?;
        let measured = if records.is_empty() || !self.has_engine() {
            Vec::new()
        } else {
            match self
                .engine()?
                .volumes(&app_volumes(&self.platform_id, &app.name), true)
                .await
            {
                Ok(measured) => measured,
                Err(error) => {
                    tracing::warn!(app = %app.name, %error, "cannot measure the app's volumes");
                    Vec::new()
                }
            }
        };
        Ok(records
            .into_iter()
            .map(|record| Volume {
                size_bytes: measured
                    .iter()
                    .find(|v| v.name == volume_name(&app.name, &record.name))
                    .and_then(|v| v.size_bytes),
                name: record.name,
                process_type: record.process_type,
                path: record.path,
                host: record.host,
                created_at: record.created_at,
            })
            .collect())
    }

    /// Creates volume `name`, mounted at `path` in every dyno of
    /// `process_type` (a type the current release has, if there is one;
    /// any type before the first deploy). The running dynos of the type are
    /// replaced so that they mount it.
    pub async fn create_volume(
        &self,
        actor: &Actor,
        app_name: &str,
        name: &str,
        path: &str,
        process_type: &str,
    ) -> Result<Volume> {
        let app = self
            .authorize_app(actor, app_name, Action::ManageVolumes)
            .await?;
        let name = VolumeName::parse(name).map_err(|e| PlatformError::Invalid(e.to_string()))?;
        check_mount_path(path).map_err(PlatformError::Invalid)?;
        let process_type =
            ProcessType::parse(process_type).map_err(|e| PlatformError::Invalid(e.to_string()))?;
        let process_type = process_type.as_str();
        let progress = Progress::channel().0;
        self.exclusively(&app, &progress, async {
            if let Some(release) = self.current_release(&app).await? {
                if !release
                    .processes
                    .iter()
                    .any(|p| p.process_type == process_type)
                {
                    let known: Vec<&str> = release
                        .processes
                        .iter()
                        .map(|p| p.process_type.as_str())
                        .collect();
                    return Err(PlatformError::Invalid(format!(
                        "no process type {process_type:?}: {} has {}",
                        app.name,
                        known.join(", ")
                    )));
                }
            }
            let entry = app_entry(
                actor,
                &app.name,
                "volume.create",
                format!("{name} at {path} in {process_type}"),
            );
            let record = self
                .record_volume(&app, &name, process_type, path, Some(&entry))
                .await?;
            if let Err(error) = self.make_engine_volume(&app, &record).await {
                let entry = app_entry(
                    actor,
                    &app.name,
                    "volume.destroy",
                    format!("{name}: its engine volume could not be made"),
                );
                self.store
                    .remove_volume(app.id, name.as_str(), &entry)
                    .await?;
                return Err(error);
            }
            self.replace_dynos(&app, process_type, &progress).await?;
            let message = format!(
                "Volume {name} mounted at {path} in {process_type} by {}",
                actor.email
            );
            self.logs.write(
                &app.name,
                crate::LogLine::now(crate::LogSource::Berth, "api", &message),
            );
            Ok(Volume {
                name: record.name,
                process_type: record.process_type,
                path: record.path,
                size_bytes: Some(0),
                host: record.host,
                created_at: record.created_at,
            })
        })
        .await
    }

    /// Destroys volume `name` and its data; `confirm` must be the app's
    /// name. Its process type's dynos are replaced first, without it.
    pub async fn destroy_volume(
        &self,
        actor: &Actor,
        app_name: &str,
        name: &str,
        confirm: Option<&str>,
    ) -> Result<()> {
        let app = self
            .authorize_app(actor, app_name, Action::ManageVolumes)
            .await?;
        if confirm != Some(app.name.as_str()) {
            return Err(PlatformError::Invalid(format!(
                "destroying volume {name} deletes its data: confirm with --confirm {}",
                app.name
            )));
        }
        let progress = Progress::channel().0;
        self.exclusively(&app, &progress, async {
            let record = self
                .store
                .volumes(app.id)
                .await?
                .into_iter()
                .find(|v| v.name == name)
                .ok_or_else(|| {
                    PlatformError::NotFound(format!("{} has no volume {name}", app.name))
                })?;
            let entry = app_entry(
                actor,
                &app.name,
                "volume.destroy",
                format!(
                    "{} at {} in {}",
                    record.name, record.path, record.process_type
                ),
            );
            self.store.remove_volume(app.id, name, &entry).await?;
            self.replace_dynos(&app, &record.process_type, &progress)
                .await?;
            if self.has_engine() {
                let engine_name = volume_name(&app.name, &record.name);
                self.engine()?
                    .remove_volume_and_users(&engine_name)
                    .await
                    .map_err(|error| {
                        PlatformError::Conflict(format!(
                            "volume {name} is forgotten, but the engine kept its data in \
                             {engine_name}: {error}"
                        ))
                    })?;
            }
            let message = format!("Volume {name} destroyed by {}", actor.email);
            self.logs.write(
                &app.name,
                crate::LogLine::now(crate::LogSource::Berth, "api", &message),
            );
            Ok(())
        })
        .await
    }

    /// For the deploy pipeline (a Compose file's named `volumes:`), under
    /// the app's lease it already holds: the volume exists afterwards,
    /// mounted at `path` in `process_type`. A volume of that name already
    /// there with the same type and path is fine; one elsewhere is refused.
    /// Returns the volume when this made it.
    pub(crate) async fn ensure_volume(
        &self,
        app: &AppRecord,
        name: &VolumeName,
        process_type: &str,
        path: &str,
    ) -> Result<Option<VolumeRecord>> {
        check_mount_path(path).map_err(PlatformError::Invalid)?;
        let existing = self
            .store
            .volumes(app.id)
            .await?
            .into_iter()
            .find(|v| v.name == name.as_str());
        let (record, made) = match existing {
            Some(record) if record.process_type == process_type && record.path == path => {
                (record, false)
            }
            Some(record) => {
                return Err(PlatformError::Invalid(format!(
                    "volume {name} of {} is mounted at {} in {}, not at {path} in \
                     {process_type}: destroy it first (`berth volumes:destroy {name} -a {} \
                     --confirm {}`), or give this one another name",
                    app.name, record.path, record.process_type, app.name, app.name
                )))
            }
            None => (
                self.record_volume(app, name, process_type, path, None)
                    .await?,
                true,
            ),
        };
        self.make_engine_volume(app, &record).await?;
        Ok(made.then_some(record))
    }

    /// Forgets the volumes a push made, and their engine volumes, when its
    /// release did not roll out: a failed push leaves nothing of itself.
    pub(crate) async fn forget_volumes_of_failed_push(
        &self,
        actor: &Actor,
        app: &AppRecord,
        made: &[VolumeRecord],
    ) -> Result<()> {
        for volume in made {
            let entry = app_entry(
                actor,
                &app.name,
                "volume.destroy",
                format!("{}: made by a push that failed", volume.name),
            );
            self.store
                .remove_volume(app.id, &volume.name, &entry)
                .await?;
            if self.has_engine() {
                self.engine()?
                    .remove_volume_and_users(&volume_name(&app.name, &volume.name))
                    .await?;
            }
        }
        Ok(())
    }

    /// Records a volume of the app, kept on the default host.
    async fn record_volume(
        &self,
        app: &AppRecord,
        name: &VolumeName,
        process_type: &str,
        path: &str,
        audit: Option<&AuditEntry>,
    ) -> Result<VolumeRecord> {
        Ok(self
            .store
            .add_volume(
                &NewVolume {
                    app_id: app.id,
                    name: name.as_str(),
                    process_type,
                    path,
                    host: self.host_name.as_str(),
                },
                audit,
            )
            .await?)
    }

    /// Adds the app's volumes a process mounts to its spec (and, on a
    /// swarm, pins it to their host): those of its process type for a dyno
    /// of the formation; every one on the default host for a one-off or
    /// the release command. Missing engine volumes are made again.
    pub(crate) async fn mount_volumes(
        &self,
        app: &AppRecord,
        spec: &mut ProcessSpec,
    ) -> Result<()> {
        let mut volumes = self.store.volumes(app.id).await?;
        if volumes.is_empty() {
            return Ok(());
        }
        let identity = &spec.identity;
        if identity.is_formation_dyno() {
            volumes.retain(|v| v.process_type == identity.process_type);
        } else {
            volumes.retain(|v| v.host == self.host_name.as_str());
            // Web's first, then oldest first; a path already taken is skipped.
            volumes.sort_by_key(|v| (v.process_type != "web", v.id));
            let mut paths = std::collections::HashSet::new();
            volumes.retain(|v| paths.insert(v.path.clone()));
        }
        for volume in &volumes {
            if volume.host == self.host_name.as_str() {
                self.make_engine_volume(app, volume).await?;
            }
        }
        spec.mounts = volumes
            .iter()
            .map(|v| VolumeMount {
                volume: volume_name(&app.name, &v.name),
                path: v.path.clone(),
            })
            .collect();
        if identity.is_formation_dyno() {
            spec.pinned_host = volumes.first().map(|v| v.host.clone());
        }
        Ok(())
    }

    /// The volume's engine volume on the default host, made if missing. One
    /// of that name that is not this app's (another platform's, say) is
    /// refused rather than shared.
    async fn make_engine_volume(&self, app: &AppRecord, volume: &VolumeRecord) -> Result<()> {
        if !self.has_engine() {
            return Ok(());
        }
        let name = volume_name(&app.name, &volume.name);
        let labels = volume_labels(&self.platform_id, &app.name, &volume.name, volume.id);
        let made = self.engine()?.ensure_volume(&name, labels.clone()).await?;
        if labels.iter().any(|(k, v)| made.labels.get(k) != Some(v)) {
            return Err(PlatformError::Conflict(format!(
                "the engine already has a volume named {name} that is not {}'s volume {}: \
                 remove it or choose another name",
                app.name, volume.name
            )));
        }
        Ok(())
    }

    /// Replaces the running dynos of `process_type` of the current release,
    /// one at a time (each health-gated as any start), so that they mount
    /// the type's volumes as they are now. Callers hold the app's lease.
    async fn replace_dynos(
        &self,
        app: &AppRecord,
        process_type: &str,
        progress: &Progress,
    ) -> Result<()> {
        if !self.has_engine() {
            return Ok(());
        }
        let Some(release) = self.current_release(app).await? else {
            return Ok(());
        };
        let Some(process) = release
            .processes
            .iter()
            .find(|p| p.process_type == process_type)
        else {
            return Ok(());
        };
        let config = self.open_release_config(app, &release)?;
        let runtime = self.runtime()?;
        let mut dynos: Vec<(i64, String)> = self
            .app_containers(&app.name, Some(process_type))
            .await?
            .into_iter()
            .filter_map(|c| {
                let identity = c.process.as_ref()?;
                (identity.release == release.version && identity.is_formation_dyno())
                    .then_some((identity.index()?, c.id))
            })
            .collect();
        dynos.sort();
        for (index, id) in dynos {
            runtime
                .stop_and_remove(&id, crate::release::STOP_GRACE)
                .await?;
            self.refresh_routes().await?;
            self.start_dyno(app, &release, process, index, &config, progress)
                .await?;
            self.refresh_routes().await?;
        }
        Ok(())
    }

    /// `apps:destroy --volumes`: the engine volumes of a destroyed app,
    /// once its containers are gone.
    pub(crate) async fn remove_app_volumes(&self, app: &AppRecord) -> Result<()> {
        if !self.has_engine() {
            return Ok(());
        }
        let engine = self.engine()?;
        for volume in engine
            .volumes(&app_volumes(&self.platform_id, &app.name), false)
            .await?
        {
            engine.remove_volume_and_users(&volume.name).await?;
        }
        Ok(())
    }
}
