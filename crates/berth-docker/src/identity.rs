//! Whose engine objects are, and what they are called. Berth labels every
//! container, network and image it makes with its platform and app (one
//! engine may serve several platforms), a dyno's container also with its
//! release, process type and dyno name. Labels and names are spelled only
//! here: the platform deals in these types, whatever engine or scheduler
//! runs its dynos.

use std::collections::HashMap;
use std::time::Duration;

use crate::{ContainerSpec, Limits, RunOptions};

const PLATFORM: &str = "berth.platform";
pub(crate) const APP: &str = "berth.app";
const RELEASE: &str = "berth.release";
const PROCESS: &str = "berth.process";
const DYNO: &str = "berth.dyno";
const ONEOFF: &str = "berth.oneoff";
const ADDON: &str = "berth.addon";
const VOLUME: &str = "berth.volume";
/// The id of the record a volume was made for.
const VOLUME_ID: &str = "berth.volume_id";
/// The swarm node label naming a host (`berth.host=h2`): placement
/// constraints pin processes to a host by it.
pub const HOST_LABEL: &str = "berth.host";

/// How a one-off dyno's output reaches its user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attachment {
    /// Streamed to the client that started it (`berth run`).
    Attached,
    /// Copied into the app's log (`berth run:detached`).
    Detached,
}

impl Attachment {
    fn as_label(self) -> &'static str {
        match self {
            Attachment::Attached => "attached",
            Attachment::Detached => "detached",
        }
    }

    fn from_label(label: &str) -> Option<Self> {
        match label {
            "attached" => Some(Attachment::Attached),
            "detached" => Some(Attachment::Detached),
            _ => None,
        }
    }
}

/// What a container of an app runs: a dyno of a release (`web.1`,
/// `run.4821`), or its release command (no dyno).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessIdentity {
    pub platform: String,
    pub app: String,
    pub release: i64,
    pub process_type: String,
    /// `web.1`, `run.4821`; `None` for the release command.
    pub dyno: Option<String>,
    /// Set for one-off dynos, which come and go on their own.
    pub oneoff: Option<Attachment>,
}

impl ProcessIdentity {
    /// The labels written on the container.
    pub fn labels(&self) -> HashMap<String, String> {
        let mut labels = HashMap::from([
            (PLATFORM.to_string(), self.platform.clone()),
            (APP.to_string(), self.app.clone()),
            (RELEASE.to_string(), format!("v{}", self.release)),
            (PROCESS.to_string(), self.process_type.clone()),
        ]);
        if let Some(dyno) = &self.dyno {
            labels.insert(DYNO.to_string(), dyno.clone());
        }
        if let Some(attachment) = self.oneoff {
            labels.insert(ONEOFF.to_string(), attachment.as_label().to_string());
        }
        labels
    }

    /// The labels this process shares with every other dyno of its app's
    /// release and process type.
    pub(crate) fn sibling_labels(&self) -> [(&'static str, String); 4] {
        [
            (PLATFORM, self.platform.clone()),
            (APP, self.app.clone()),
            (RELEASE, format!("v{}", self.release)),
            (PROCESS, self.process_type.clone()),
        ]
    }

    /// Reads them back; `None` for a container that is no app's process.
    pub fn from_labels(labels: &HashMap<String, String>) -> Option<Self> {
        Some(Self {
            platform: labels.get(PLATFORM)?.clone(),
            app: labels.get(APP)?.clone(),
            release: labels.get(RELEASE)?.strip_prefix('v')?.parse().ok()?,
            process_type: labels.get(PROCESS)?.clone(),
            dyno: labels.get(DYNO).cloned(),
            oneoff: labels
                .get(ONEOFF)
                .and_then(|label| Attachment::from_label(label)),
        })
    }

    /// The container's name: `berth-<app>.v<release>.<dyno>` (the process
    /// type for the release command).
    pub fn container_name(&self) -> String {
        format!(
            "berth-{}.v{}.{}",
            self.app,
            self.release,
            self.dyno.as_deref().unwrap_or(&self.process_type)
        )
    }

    /// The dyno's number (`web.3` → 3); `None` without one.
    pub fn index(&self) -> Option<i64> {
        self.dyno.as_deref()?.rsplit_once('.')?.1.parse().ok()
    }

    /// A dyno of the formation: neither a one-off nor the release command.
    pub fn is_formation_dyno(&self) -> bool {
        self.dyno.is_some() && self.oneoff.is_none()
    }
}

/// An app process to run, in the platform's terms: the runtime chooses the
/// container's name, labels and network, and publishes `web_port` where
/// berthd reaches it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessSpec {
    pub identity: ProcessIdentity,
    pub image: String,
    /// `None`: the image's `CMD`.
    pub cmd: Option<Vec<String>>,
    pub env: Vec<(String, String)>,
    /// The port a web process listens on (`$PORT`).
    pub web_port: Option<u16>,
    /// Between SIGTERM and SIGKILL when it is stopped.
    pub stop_grace: Duration,
    pub limits: Limits,
    pub run: RunOptions,
    /// The app's volumes mounted into it.
    pub mounts: Vec<VolumeMount>,
    /// The host (its name) it must run on: the one that keeps its volumes.
    /// Only a swarm has a choice; one engine is one host.
    pub pinned_host: Option<String>,
}

/// A named volume of the app, mounted at `path` in a process's container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumeMount {
    /// The engine's name of the volume ([`volume_name`]).
    pub volume: String,
    pub path: String,
}

impl ProcessSpec {
    /// The container that runs it on one engine: on the app's network, where
    /// a dyno of the formation is also reachable by its process type (`web`).
    pub(crate) fn container(&self) -> ContainerSpec {
        let identity = &self.identity;
        ContainerSpec {
            name: identity.container_name(),
            image: self.image.clone(),
            cmd: self.cmd.clone(),
            env: self.env.clone(),
            labels: identity.labels(),
            network: Some(app_network(&identity.app)),
            network_alias: identity
                .is_formation_dyno()
                .then(|| identity.process_type.clone()),
            publish_port: self.web_port,
            stop_timeout_secs: Some(self.stop_grace.as_secs() as i64),
            limits: self.limits,
            run: self.run.clone(),
            volumes: self
                .mounts
                .iter()
                .map(|mount| (mount.volume.clone(), mount.path.clone()))
                .collect(),
            ..Default::default()
        }
    }
}

impl ProcessSpec {
    /// The container that runs it on a swarm's manager (a one-off, the
    /// release command), on the app's overlay network.
    pub(crate) fn swarm_container(&self) -> ContainerSpec {
        ContainerSpec {
            network: Some(swarm_network(&self.identity.app)),
            ..self.container()
        }
    }
}

/// Which containers to list: the platform's, optionally one app's, and
/// optionally one process type's.
#[derive(Debug, Clone, Copy)]
pub struct ContainerSelector<'a> {
    pub platform: &'a str,
    pub app: Option<&'a str>,
    pub process_type: Option<&'a str>,
}

impl<'a> ContainerSelector<'a> {
    /// Every container of the platform.
    pub fn platform(platform: &'a str) -> Self {
        Self {
            platform,
            app: None,
            process_type: None,
        }
    }

    /// Every container of one app of the platform.
    pub fn app(platform: &'a str, app: &'a str) -> Self {
        Self {
            app: Some(app),
            ..Self::platform(platform)
        }
    }

    /// Only those of `process_type`.
    pub fn process_type(self, process_type: &'a str) -> Self {
        Self {
            process_type: Some(process_type),
            ..self
        }
    }

    /// The labels a container must carry to be selected.
    pub(crate) fn labels(&self) -> Vec<(&'a str, &'a str)> {
        let mut labels = vec![(PLATFORM, self.platform)];
        labels.extend(self.app.map(|app| (APP, app)));
        labels.extend(self.process_type.map(|process| (PROCESS, process)));
        labels
    }
}

/// The network an app's containers share (its add-ons join it).
pub fn app_network(app: &str) -> String {
    format!("berth-{app}")
}

/// The overlay network an app's processes share on a swarm. Not
/// [`app_network`]'s name: an app's bridge network and its overlay exist
/// side by side while its processes move onto the swarm. App names have no
/// underscores, so no app's bridge takes this name (and Swarm wants a DNS
/// name component: no dots).
pub fn swarm_network(app: &str) -> String {
    format!("berth-{app}_swarm")
}

/// The labels of an app's network and images.
pub fn app_labels(app: &str) -> HashMap<String, String> {
    HashMap::from([(APP.to_string(), app.to_string())])
}

/// The repository of an app's images: releases are tagged
/// `berth/<app>:v<N>-<key>` (on a swarm, in the registry's repository of
/// that name).
pub(crate) fn app_image_repository(app: &str) -> String {
    format!("berth/{app}")
}

/// The engine's name of volume `volume` of `app`: `berth-<app>.<volume>`,
/// as containers are named (neither name holds a dot).
pub fn volume_name(app: &str, volume: &str) -> String {
    format!("berth-{app}.{volume}")
}

/// The labels of an app's volume: the platform, the app, the volume's
/// name and the id of its record, so that a volume left behind by an
/// earlier app of the same name is never taken for the new app's.
pub fn volume_labels(
    platform: &str,
    app: &str,
    volume: &str,
    record_id: i64,
) -> HashMap<String, String> {
    HashMap::from([
        (PLATFORM.to_string(), platform.to_string()),
        (APP.to_string(), app.to_string()),
        (VOLUME.to_string(), volume.to_string()),
        (VOLUME_ID.to_string(), record_id.to_string()),
    ])
}

/// The filter that finds the volumes of one app of a platform.
pub fn app_volumes<'a>(platform: &'a str, app: &'a str) -> [(&'static str, &'a str); 2] {
    [(PLATFORM, platform), (APP, app)]
}

/// The volume's name in its app, read from its labels.
pub(crate) fn volume_of(labels: &HashMap<String, String>) -> Option<&str> {
    labels.get(VOLUME).map(String::as_str)
}

/// The labels of an add-on's container: no app, so that no app's
/// reconciler takes it for one of its processes.
pub fn addon_labels(platform: &str, addon_container: &str) -> HashMap<String, String> {
    HashMap::from([
        (PLATFORM.to_string(), platform.to_string()),
        (ADDON.to_string(), addon_container.to_string()),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn web_1() -> ProcessIdentity {
        ProcessIdentity {
            platform: "p1".into(),
            app: "shop".into(),
            release: 12,
            process_type: "web".into(),
            dyno: Some("web.1".into()),
            oneoff: None,
        }
    }

    #[test]
    fn an_identity_survives_its_labels() {
        let oneoff = ProcessIdentity {
            process_type: "run".into(),
            dyno: Some("run.4821".into()),
            oneoff: Some(Attachment::Detached),
            ..web_1()
        };
        let release_command = ProcessIdentity {
            process_type: "release".into(),
            dyno: None,
            ..web_1()
        };
        for identity in [web_1(), oneoff, release_command] {
            assert_eq!(
                ProcessIdentity::from_labels(&identity.labels()),
                Some(identity)
            );
        }
        assert_eq!(web_1().labels()["berth.release"], "v12");
    }

    #[test]
    fn containers_of_no_process_have_no_identity() {
        assert_eq!(
            ProcessIdentity::from_labels(&addon_labels("p1", "berth-addon-db")),
            None
        );
        let mut labels = web_1().labels();
        labels.insert("berth.release".into(), "twelve".into());
        assert_eq!(ProcessIdentity::from_labels(&labels), None);
    }

    #[test]
    fn names_and_numbers() {
        assert_eq!(web_1().container_name(), "berth-shop.v12.web.1");
        assert_eq!(web_1().index(), Some(1));
        assert!(web_1().is_formation_dyno());
        let release_command = ProcessIdentity {
            process_type: "release".into(),
            dyno: None,
            ..web_1()
        };
        assert_eq!(release_command.container_name(), "berth-shop.v12.release");
        assert_eq!(release_command.index(), None);
        assert!(!release_command.is_formation_dyno());
    }

    #[test]
    fn a_process_runs_in_a_container_named_and_labelled_after_it() {
        let spec = ProcessSpec {
            identity: web_1(),
            image: "berth/shop:v12-web".into(),
            cmd: None,
            env: vec![("PORT".into(), "5000".into())],
            web_port: Some(5000),
            stop_grace: Duration::from_secs(30),
            limits: Limits::default(),
            run: RunOptions::default(),
            mounts: vec![VolumeMount {
                volume: volume_name("shop", "uploads"),
                path: "/data".into(),
            }],
            pinned_host: None,
        };
        let container = spec.container();
        assert_eq!(container.name, "berth-shop.v12.web.1");
        assert_eq!(container.labels, web_1().labels());
        assert_eq!(container.network.as_deref(), Some("berth-shop"));
        assert_eq!(container.network_alias.as_deref(), Some("web"));
        assert_eq!(container.publish_port, Some(5000));
        assert_eq!(container.stop_timeout_secs, Some(30));
        assert_eq!(
            container.volumes,
            [("berth-shop.uploads".to_string(), "/data".to_string())]
        );
        // A one-off is no member of its process type on the network.
        let oneoff = ProcessSpec {
            identity: ProcessIdentity {
                process_type: "run".into(),
                dyno: Some("run.4821".into()),
                oneoff: Some(Attachment::Attached),
                ..web_1()
            },
            web_port: None,
            ..spec
        };
        assert_eq!(oneoff.container().network_alias, None);
        assert_eq!(oneoff.container().publish_port, None);
    }

    #[test]
    fn selectors_name_the_platform_always() {
        assert_eq!(
            ContainerSelector::app("p1", "shop")
                .process_type("web")
                .labels(),
            [
                ("berth.platform", "p1"),
                ("berth.app", "shop"),
                ("berth.process", "web")
            ]
        );
        assert_eq!(
            ContainerSelector::platform("p1").labels(),
            [("berth.platform", "p1")]
        );
    }
}
