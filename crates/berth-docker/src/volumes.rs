//! Named volumes of apps: made with the platform's, the app's and the
//! volume's labels, listed by them, and measured where berthd can see them.

use std::collections::HashMap;
use std::path::Path;

use bollard::models::VolumeCreateRequest;
use bollard::query_parameters::ListVolumesOptions;

use crate::error::{api, status_of};
use crate::identity::volume_of;
use crate::images::label_filter;
use crate::request_metrics::timed;
use crate::{DockerError, Engine};

/// Files counted at most when measuring a volume: beyond them its size is
/// unknown rather than slow to tell.
const MEASURED_ENTRIES: usize = 200_000;

/// A volume as the engine lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumeSummary {
    /// The engine's name (`berth-shop.uploads`).
    pub name: String,
    /// The app's name for it (`uploads`), from its labels.
    pub volume: Option<String>,
    pub labels: HashMap<String, String>,
    /// Bytes its files take, when berthd can read them (an engine on this
    /// machine); `None` when unknown.
    pub size_bytes: Option<u64>,
}

impl Engine {
    /// The volume named `name`, made with `labels` if it is missing. An
    /// existing one is returned as it is, labels included: whether it is the
    /// caller's is the caller's to judge.
    pub async fn ensure_volume(
        &self,
        name: &str,
        labels: HashMap<String, String>,
    ) -> Result<VolumeSummary, DockerError> {
        match timed("volume_inspect", self.docker.inspect_volume(name)).await {
            Ok(volume) => {
                return Ok(VolumeSummary {
                    volume: volume_of(&volume.labels).map(str::to_string),
                    name: volume.name,
                    labels: volume.labels,
                    size_bytes: None,
                })
            }
            Err(error) if status_of(&error) == Some(404) => {}
            Err(error) => return Err(api(format!("inspect volume {name}"))(error)),
        }
        let created = timed(
            "volume_create",
            self.docker.create_volume(VolumeCreateRequest {
                name: Some(name.to_string()),
                driver: Some("local".into()),
                labels: Some(labels),
                ..Default::default()
            }),
        )
        .await
        .map_err(api(format!("create volume {name}")))?;
        Ok(VolumeSummary {
            volume: volume_of(&created.labels).map(str::to_string),
            name: created.name,
            labels: created.labels,
            size_bytes: None,
        })
    }

    /// The volumes carrying every given label, measured when `measure` and
    /// their files are readable from here.
    pub async fn volumes(
        &self,
        labels: &[(&str, &str)],
        measure: bool,
    ) -> Result<Vec<VolumeSummary>, DockerError> {
        let filter = label_filter(labels);
        let options = ListVolumesOptions {
            filters: Some(HashMap::from([("label".to_string(), filter.clone())])),
        };
        let listed = timed("volume_list", self.docker.list_volumes(Some(options)))
            .await
            .map_err(api(format!("list volumes labelled {}", filter.join(","))))?;
        let local = self.host().starts_with("unix://");
        let mut volumes = Vec::new();
        for volume in listed.volumes.unwrap_or_default() {
            let size_bytes = if measure && local {
                let mountpoint = volume.mountpoint.clone();
                tokio::task::spawn_blocking(move || measure_dir(Path::new(&mountpoint)))
                    .await
                    .ok()
                    .flatten()
            } else {
                None
            };
            volumes.push(VolumeSummary {
                volume: volume_of(&volume.labels).map(str::to_string),
                name: volume.name,
                labels: volume.labels,
                size_bytes,
            });
        }
        volumes.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(volumes)
    }

    /// Removes a volume and its data, with the stopped containers that
    /// still name it (a swarm keeps its finished tasks' containers); a
    /// missing volume is fine. A running container using it is a conflict.
    pub async fn remove_volume_and_users(&self, name: &str) -> Result<(), DockerError> {
        match self.remove_volume(name).await {
            Err(error) if error.is_conflict() => {}
            other => return other,
        }
        let options = bollard::query_parameters::ListContainersOptions {
            all: true,
            filters: Some(HashMap::from([(
                "volume".to_string(),
                vec![name.to_string()],
            )])),
            ..Default::default()
        };
        let users = timed("list", self.docker.list_containers(Some(options)))
            .await
            .map_err(api(format!("list the containers of volume {name}")))?;
        for user in users {
            let running = user
                .state
                .as_ref()
                .is_some_and(|state| state.as_ref() == "running");
            if let (Some(id), false) = (user.id, running) {
                self.force_remove(&id, &id).await?;
            }
        }
        self.remove_volume(name).await
    }
}

/// The bytes the files under `dir` take; `None` when it cannot be read
/// (the engine's files are elsewhere) or holds too many entries to count.
fn measure_dir(dir: &Path) -> Option<u64> {
    let mut total = 0u64;
    let mut entries = 0usize;
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).ok()? {
            let entry = entry.ok()?;
            entries += 1;
            if entries > MEASURED_ENTRIES {
                return None;
            }
            let metadata = entry.metadata().ok()?;
            if metadata.is_dir() {
                pending.push(entry.path());
            } else {
                total = total.saturating_add(metadata.len());
            }
        }
    }
    Some(total)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{app_volumes, volume_labels, volume_name, EngineTarget};

    #[test]
    fn measuring_counts_files_below_and_gives_up_on_what_it_cannot_read() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a"), [0u8; 10]).unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::write(dir.path().join("sub/b"), [0u8; 5]).unwrap();
        assert_eq!(measure_dir(dir.path()), Some(15));
        assert_eq!(measure_dir(&dir.path().join("missing")), None);
    }

    #[tokio::test]
    async fn an_app_volume_is_made_once_listed_by_its_labels_and_removed() {
        let engine = Engine::connect(&EngineTarget::local()).await.unwrap();
        let platform = format!("t{}", std::process::id());
        let app = format!("voltest-{}", std::process::id());
        let name = volume_name(&app, "uploads");
        let labels = volume_labels(&platform, &app, "uploads", 1);
        let made = engine.ensure_volume(&name, labels.clone()).await.unwrap();
        assert_eq!(made.volume.as_deref(), Some("uploads"));
        let again = engine.ensure_volume(&name, HashMap::new()).await.unwrap();
        assert_eq!(again.labels, labels, "an existing volume is kept as it is");
        let listed = engine
            .volumes(&app_volumes(&platform, &app), true)
            .await
            .unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].name, name);
        assert_eq!(listed[0].size_bytes, Some(0), "empty, and on this machine");
        assert!(engine
            .volumes(&app_volumes("another-platform", &app), false)
            .await
            .unwrap()
            .is_empty());
        engine.remove_volume_and_users(&name).await.unwrap();
        engine.remove_volume_and_users(&name).await.unwrap();
        assert!(engine
            .volumes(&app_volumes(&platform, &app), false)
            .await
            .unwrap()
            .is_empty());
    }
}
