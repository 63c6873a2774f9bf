//! Creating, starting, listing, stopping and removing containers; running
//! one-off containers to completion.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use bollard::errors::Error as BollardError;
use bollard::models::{
    ContainerCreateBody, EndpointSettings, HealthConfig, HealthStatusEnum, HostConfig,
    HostConfigLogConfig, NetworkingConfig, PortBinding, RestartPolicy, RestartPolicyNameEnum,
};
use bollard::query_parameters::{
    CreateContainerOptions, KillContainerOptions, ListContainersOptions, RemoveContainerOptions,
    RestartContainerOptions, StopContainerOptions,
};
use bollard::Docker;
use chrono::{DateTime, Utc};
use futures_util::StreamExt;

use crate::error::{api, status_of};
use crate::images::label_filter;
use crate::logs::{follow_lines, LogSource};
use crate::request_metrics::timed;
use crate::{DockerError, Engine, LogLine, ProcessIdentity};

/// How long the output of a finished one-off container may take to drain.
const DRAIN_AFTER_EXIT: Duration = Duration::from_secs(5);

/// What to run. Every container runs with an init process (tini) as PID 1,
/// so that SIGTERM reaches the app even when a shell or httpd is its PID 1.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContainerSpec {
    pub name: String,
    pub image: String,
    /// `None`: the image's `CMD`.
    pub cmd: Option<Vec<String>>,
    pub env: Vec<(String, String)>,
    pub labels: HashMap<String, String>,
    /// A network to join, reachable there as `network_alias` if set.
    pub network: Option<String>,
    pub network_alias: Option<String>,
    /// A container port (TCP) to publish on 127.0.0.1 at an ephemeral port.
    pub publish_port: Option<u16>,
    /// Seconds between SIGTERM and SIGKILL when the engine stops it.
    pub stop_timeout_secs: Option<i64>,
    /// Named volumes mounted `(volume, path in the container)`; the engine
    /// creates a missing one.
    pub volumes: Vec<(String, String)>,
    /// Let the engine restart it when it exits, until it is stopped
    /// (for services such as add-ons, which no reconciler watches).
    pub restart_unless_stopped: bool,
    /// Ceilings on what it may use of the host.
    pub limits: Limits,
    pub run: RunOptions,
}

/// How the image's own defaults are overridden (a Compose service's
/// `entrypoint`, `working_dir`, `user`, `stop_signal`); `None` keeps them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunOptions {
    /// Replaces the image's ENTRYPOINT; empty clears it.
    pub entrypoint: Option<Vec<String>>,
    pub working_dir: Option<String>,
    pub user: Option<String>,
    pub stop_signal: Option<String>,
    /// A check the engine runs in the container (a Compose `healthcheck`).
    pub health: Option<HealthCheck>,
}

/// A health check the engine runs, in Docker's terms: `test` is
/// `["CMD", prog, args…]` or `["CMD-SHELL", line]`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HealthCheck {
    pub test: Vec<String>,
    pub interval: Option<Duration>,
    pub timeout: Option<Duration>,
    pub retries: Option<u32>,
    pub start_period: Option<Duration>,
}

impl HealthCheck {
    /// The engine's form (durations in nanoseconds).
    pub(crate) fn config(&self) -> HealthConfig {
        let nanos =
            |d: Option<Duration>| d.map(|d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX));
        HealthConfig {
            test: Some(self.test.clone()),
            interval: nanos(self.interval),
            timeout: nanos(self.timeout),
            retries: self.retries.map(i64::from),
            start_period: nanos(self.start_period),
            start_interval: None,
        }
    }
}

/// What the engine says of a container's health check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    /// It has none, or its runtime keeps tasks from running until healthy.
    Unchecked,
    Starting,
    Healthy,
    Unhealthy,
}

/// Resource ceilings of a container; `None` leaves one unlimited.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Limits {
    /// Memory, swap included (no swap beyond it), in bytes.
    pub memory_bytes: Option<i64>,
    /// Processes and threads alive at once: a fork bomb stops here.
    pub pids: Option<i64>,
    /// CPU time, in billionths of a CPU (1.5 CPUs: 1 500 000 000).
    pub nano_cpus: Option<i64>,
}

/// The capabilities every container keeps; the engine's other defaults
/// (NET_RAW, MKNOD, SYS_CHROOT, SETPCAP, SETFCAP, FSETID, AUDIT_WRITE) go.
/// Listening on `$PORT` (above 1024) needs none of them. Kept because
/// common images rely on them: CHOWN, FOWNER and DAC_OVERRIDE for
/// entrypoints that prepare data directories as root (the Postgres add-on
/// does); SETUID and SETGID to drop from root to the image's user (gosu,
/// su-exec, runuser, nginx workers); NET_BIND_SERVICE for images that listen
/// on 80 inside the container; KILL so that the init process (root) can
/// forward SIGTERM to an app running as another user.
pub const KEPT_CAPABILITIES: [&str; 7] = [
    "CHOWN",
    "DAC_OVERRIDE",
    "FOWNER",
    "SETGID",
    "SETUID",
    "NET_BIND_SERVICE",
    "KILL",
];

/// A long-running container that was just started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartedContainer {
    pub id: String,
    pub name: String,
    /// Where `publish_port` is reachable from berthd (127.0.0.1 and an
    /// ephemeral port), read after start.
    pub address: Option<SocketAddr>,
}

/// A container as the engine lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerSummary {
    pub id: String,
    pub name: String,
    pub labels: HashMap<String, String>,
    /// The app process it runs, read from its labels.
    pub process: Option<ProcessIdentity>,
    /// `created`, `running`, `restarting`, `exited`, `paused`, `dead`, …
    pub state: String,
    /// The engine's human text: "Up 5 minutes", "Exited (3) 2 seconds ago".
    pub status: String,
    pub created: DateTime<Utc>,
    /// Where its published port is reachable from berthd, if it has one
    /// (and runs).
    pub address: Option<SocketAddr>,
    /// The host (Swarm node) it runs on; `None` on a single engine, where
    /// every container runs on the one host.
    pub host: Option<String>,
}

/// How the status of a dyno whose host is down begins.
pub(crate) const LOST_STATUS: &str = "Lost:";

/// Whether the engine's text for a binding's address is `publish_ip`.
fn is_publish_ip(ip: Option<&str>, publish_ip: IpAddr) -> bool {
    ip.and_then(|ip| ip.parse::<IpAddr>().ok()) == Some(publish_ip)
}

impl ContainerSummary {
    /// A container Swarm runs for a service's task (Swarm labels it with
    /// its service's id).
    pub fn is_swarm_task(&self) -> bool {
        self.labels.contains_key("com.docker.swarm.service.id")
    }

    /// The host of a dyno that stopped because its host is down (its
    /// status then starts with [`LOST_STATUS`]).
    pub fn lost_with_host(&self) -> Option<&str> {
        (self.state == "exited" && self.status.starts_with(LOST_STATUS))
            .then_some(self.host.as_deref())
            .flatten()
    }

    /// How it last exited, from the engine's status text
    /// (`Exited (137) 2 minutes ago`, `Restarting (3) 1 second ago`).
    pub fn exit_code(&self) -> Option<i64> {
        let (_, rest) = self.status.split_once('(')?;
        rest.split_once(')')?.0.parse().ok()
    }
}

impl Engine {
    /// Creates and starts a long-running container. When `publish_port` is
    /// set, the host port is read back by inspecting the container after it
    /// started (it changes on every start).
    pub async fn start_container(
        &self,
        spec: &ContainerSpec,
    ) -> Result<StartedContainer, DockerError> {
        let id = self
            .create(spec, container_body(spec, self.publish_ip))
            .await?;
        if let Err(error) = self.start(&id, &spec.name).await {
            self.force_remove(&id, &spec.name).await.ok();
            return Err(error);
        }
        let address = match spec.publish_port {
            Some(port) => self.published_address(&id, port).await?,
            None => None,
        };
        Ok(StartedContainer {
            id,
            name: spec.name.clone(),
            address,
        })
    }

    /// Runs a one-off container (a release command) to completion: streams
    /// its stdout and stderr lines to `on_output` as they come, waits for it
    /// to exit, and returns its exit code, non-zero codes included. Past
    /// `timeout` it is killed and the result is [`DockerError::Timeout`]. The
    /// container is removed in every case, also when this future is dropped.
    pub async fn run_to_completion(
        &self,
        spec: &ContainerSpec,
        timeout: Duration,
        mut on_output: impl FnMut(LogLine) + Send,
    ) -> Result<i64, DockerError> {
        let id = self
            .create_oneoff(spec, container_body(spec, self.publish_ip))
            .await?;
        let mut guard = RemoveOnDrop::new(self, &id);
        let result = self.run(&id, spec, timeout, &mut on_output).await;
        guard.docker = None;
        if let Err(error) = self.force_remove(&id, &spec.name).await {
            tracing::warn!(name = %spec.name, %error, "cannot remove a finished one-off container");
        }
        result
    }

    async fn run(
        &self,
        id: &str,
        spec: &ContainerSpec,
        timeout: Duration,
        on_output: &mut (impl FnMut(LogLine) + Send),
    ) -> Result<i64, DockerError> {
        self.start(id, &spec.name).await?;
        // Following after the start still returns every line since creation;
        // if the container has already exited, it returns all its output and
        // ends.
        let lines = follow_lines(
            self.docker.clone(),
            LogSource::Container(id.to_string()),
            None,
        );
        let completion = async {
            let mut lines = std::pin::pin!(lines);
            let mut exit = std::pin::pin!(self.exit_code(id, &spec.name));
            loop {
                tokio::select! {
                    biased;
                    line = lines.next() => match line {
                        Some(line) => on_output(line?),
                        // Output ends when the container stops.
                        None => return exit.as_mut().await,
                    },
                    code = exit.as_mut() => {
                        let code = code?;
                        let drain = async {
                            while let Some(line) = lines.next().await {
                                on_output(line?);
                            }
                            Ok::<_, DockerError>(())
                        };
                        match tokio::time::timeout(DRAIN_AFTER_EXIT, drain).await {
                            Ok(drained) => drained?,
                            Err(_) => tracing::warn!(
                                name = %spec.name,
                                "output still open {DRAIN_AFTER_EXIT:?} after exit"
                            ),
                        }
                        return Ok(code);
                    }
                }
            }
        };
        match tokio::time::timeout(timeout, completion).await {
            Ok(result) => result,
            Err(_) => {
                let options = KillContainerOptions {
                    signal: "SIGKILL".into(),
                };
                match timed("kill", self.docker.kill_container(id, Some(options))).await {
                    // 409: it stopped meanwhile.
                    Err(error) if !matches!(status_of(&error), Some(404 | 409)) => {
                        tracing::warn!(name = %spec.name, %error, "cannot kill a timed-out container");
                    }
                    _ => {}
                }
                Err(DockerError::Timeout {
                    what: format!("container {}", spec.name),
                    after: timeout,
                })
            }
        }
    }

    /// Creates a one-off container, replacing one of the same name that a
    /// crash left behind.
    pub(crate) async fn create_oneoff(
        &self,
        spec: &ContainerSpec,
        body: ContainerCreateBody,
    ) -> Result<String, DockerError> {
        match self.create(spec, body.clone()).await {
            Err(error) if error.is_conflict() => {
                tracing::debug!(name = %spec.name, "removing a leftover one-off container");
                self.force_remove(&spec.name, &spec.name).await?;
                self.create(spec, body).await
            }
            result => result,
        }
    }

    /// Waits for the container to stop and returns its exit code. bollard
    /// reports a non-zero exit as an error carrying the code: that is the
    /// app's result, not the engine's failure.
    pub async fn exit_code(&self, id: &str, name: &str) -> Result<i64, DockerError> {
        let mut wait = self.docker.wait_container(id, None);
        match wait.next().await {
            Some(Ok(response)) => Ok(response.status_code),
            Some(Err(BollardError::DockerContainerWaitError { code, .. })) => Ok(code),
            Some(Err(error)) => Err(api(format!("wait for container {name}"))(error)),
            None => Err(api(format!("wait for container {name}"))(
                BollardError::DockerStreamError {
                    error: "the engine closed the wait without an exit code".into(),
                },
            )),
        }
    }

    /// Containers, running or not, that carry every given label.
    pub async fn containers(
        &self,
        labels: &[(&str, &str)],
    ) -> Result<Vec<ContainerSummary>, DockerError> {
        let filter = label_filter(labels);
        let options = ListContainersOptions {
            all: true,
            filters: Some(HashMap::from([("label".to_string(), filter.clone())])),
            ..Default::default()
        };
        let listed = timed("list", self.docker.list_containers(Some(options)))
            .await
            .map_err(api(format!(
                "list containers labelled {}",
                filter.join(",")
            )))?;
        Ok(listed
            .into_iter()
            .map(|container| ContainerSummary {
                id: container.id.unwrap_or_default(),
                name: container
                    .names
                    .unwrap_or_default()
                    .first()
                    .map(|name| name.trim_start_matches('/').to_string())
                    .unwrap_or_default(),
                process: container
                    .labels
                    .as_ref()
                    .and_then(ProcessIdentity::from_labels),
                labels: container.labels.unwrap_or_default(),
                state: container
                    .state
                    .map(|state| state.as_ref().to_string())
                    .unwrap_or_default(),
                status: container.status.unwrap_or_default(),
                created: container
                    .created
                    .and_then(|secs| DateTime::from_timestamp(secs, 0))
                    .unwrap_or_default(),
                address: container
                    .ports
                    .unwrap_or_default()
                    .iter()
                    .filter(|port| is_publish_ip(port.ip.as_deref(), self.publish_ip))
                    .find_map(|port| Some(SocketAddr::from((self.publish_ip, port.public_port?)))),
                host: None,
            })
            .collect())
    }

    /// Where berthd reaches `container_port` (TCP) of the container, if it
    /// runs and publishes it.
    pub async fn published_address(
        &self,
        id: &str,
        container_port: u16,
    ) -> Result<Option<SocketAddr>, DockerError> {
        let container = timed("inspect", self.docker.inspect_container(id, None))
            .await
            .map_err(api(format!("inspect container {id}")))?;
        let bindings = container
            .network_settings
            .and_then(|settings| settings.ports)
            .and_then(|mut ports| ports.remove(&format!("{container_port}/tcp")))
            .flatten()
            .unwrap_or_default();
        Ok(bindings
            .iter()
            .filter(|binding| is_publish_ip(binding.host_ip.as_deref(), self.publish_ip))
            .find_map(|binding| binding.host_port.as_deref()?.parse().ok())
            .map(|port: u16| SocketAddr::from((self.publish_ip, port))))
    }

    /// The state of the container's health check.
    pub async fn health(&self, id: &str) -> Result<Health, DockerError> {
        let container = timed("inspect", self.docker.inspect_container(id, None))
            .await
            .map_err(api(format!("inspect container {id}")))?;
        Ok(
            match container
                .state
                .and_then(|state| state.health)
                .and_then(|health| health.status)
            {
                Some(HealthStatusEnum::STARTING) => Health::Starting,
                Some(HealthStatusEnum::HEALTHY) => Health::Healthy,
                Some(HealthStatusEnum::UNHEALTHY) => Health::Unhealthy,
                _ => Health::Unchecked,
            },
        )
    }

    /// Whether the container's last run ended with the kernel killing a
    /// process of it for exceeding its memory limit.
    pub async fn out_of_memory(&self, id: &str) -> Result<bool, DockerError> {
        let container = timed("inspect", self.docker.inspect_container(id, None))
            .await
            .map_err(api(format!("inspect container {id}")))?;
        Ok(container.state.and_then(|state| state.oom_killed) == Some(true))
    }

    /// When a running container last started: its uptime counts from here.
    pub async fn started_at(&self, id: &str) -> Result<Option<DateTime<Utc>>, DockerError> {
        let container = timed("inspect", self.docker.inspect_container(id, None))
            .await
            .map_err(api(format!("inspect container {id}")))?;
        let state = container.state.unwrap_or_default();
        if state.running != Some(true) {
            return Ok(None);
        }
        Ok(state
            .started_at
            .and_then(|at| DateTime::parse_from_rfc3339(&at).ok())
            .map(|at| at.with_timezone(&Utc)))
    }

    /// Stops a container (SIGTERM, then SIGKILL after `grace`) and removes
    /// it. A container that is missing or already stopped is fine.
    pub async fn stop_and_remove(&self, id: &str, grace: Duration) -> Result<(), DockerError> {
        let seconds = grace.as_secs() + u64::from(grace.subsec_nanos() > 0);
        let options = StopContainerOptions {
            t: Some(i32::try_from(seconds).unwrap_or(i32::MAX)),
            signal: None,
        };
        // The engine answers a stop only once the container is down.
        let docker = self.docker.clone().with_timeout(Duration::from_secs(
            crate::engine::REQUEST_TIMEOUT_SECS + seconds,
        ));
        match timed("stop", docker.stop_container(id, Some(options))).await {
            Ok(()) => {}
            Err(error) if status_of(&error) == Some(404) => return Ok(()),
            Err(error) => return Err(api(format!("stop container {id}"))(error)),
        }
        self.force_remove(id, id).await
    }

    /// Restarts a container (SIGTERM, then SIGKILL after `grace`). Its
    /// published port changes: read it again with `published_address`.
    pub async fn restart_container(&self, id: &str, grace: Duration) -> Result<(), DockerError> {
        let seconds = grace.as_secs() + u64::from(grace.subsec_nanos() > 0);
        let options = RestartContainerOptions {
            t: Some(i32::try_from(seconds).unwrap_or(i32::MAX)),
            signal: None,
        };
        let docker = self.docker.clone().with_timeout(Duration::from_secs(
            crate::engine::REQUEST_TIMEOUT_SECS + seconds,
        ));
        timed("restart", docker.restart_container(id, Some(options)))
            .await
            .map_err(api(format!("restart container {id}")))
    }

    /// Starts a stopped (exited) container again, as it was created. Its
    /// published port changes: read it again with `published_address`.
    pub async fn start_again(&self, id: &str) -> Result<(), DockerError> {
        self.start(id, id).await
    }

    async fn create(
        &self,
        spec: &ContainerSpec,
        body: ContainerCreateBody,
    ) -> Result<String, DockerError> {
        let options = CreateContainerOptions {
            name: Some(spec.name.clone()),
            ..Default::default()
        };
        let created = timed("create", self.docker.create_container(Some(options), body))
            .await
            .map_err(api(format!("create container {}", spec.name)))?;
        for warning in &created.warnings {
            tracing::warn!(name = %spec.name, %warning, "engine warning");
        }
        Ok(created.id)
    }

    pub(crate) async fn start(&self, id: &str, name: &str) -> Result<(), DockerError> {
        timed("start", self.docker.start_container(id, None))
            .await
            .map_err(api(format!("start container {name}")))
    }

    /// Removes a container, killing it if it runs. Missing is fine, and so is
    /// a removal the engine is already doing.
    /// Removes a named volume and its data; a missing one is not an error.
    pub async fn remove_volume(&self, name: &str) -> Result<(), DockerError> {
        match timed(
            "volume_remove",
            self.docker
                .remove_volume(name, None::<bollard::query_parameters::RemoveVolumeOptions>),
        )
        .await
        {
            Ok(()) => Ok(()),
            Err(error) if status_of(&error) == Some(404) => Ok(()),
            Err(error) => Err(api(format!("remove volume {name}"))(error)),
        }
    }

    pub async fn remove_container(&self, id: &str) -> Result<(), DockerError> {
        self.force_remove(id, id).await
    }

    pub(crate) async fn force_remove(&self, id: &str, name: &str) -> Result<(), DockerError> {
        match timed(
            "remove",
            self.docker
                .remove_container(id, Some(force_remove_options())),
        )
        .await
        {
            Ok(()) => Ok(()),
            Err(error) if matches!(status_of(&error), Some(404 | 409)) => Ok(()),
            Err(error) => Err(api(format!("remove container {name}"))(error)),
        }
    }
}

fn force_remove_options() -> RemoveContainerOptions {
    RemoveContainerOptions {
        force: true,
        v: true,
        link: false,
    }
}

/// The engine's form of a spec. The engine never restarts a container by
/// itself: the platform does, on its own backoff schedule, so that it sees
/// and reports every crash.
/// The engine's form of `spec`; a published port listens on `publish_ip`.
pub(crate) fn container_body(spec: &ContainerSpec, publish_ip: IpAddr) -> ContainerCreateBody {
    let port_key = spec.publish_port.map(|port| format!("{port}/tcp"));
    let host_config = HostConfig {
        init: Some(true),
        restart_policy: Some(RestartPolicy {
            name: Some(if spec.restart_unless_stopped {
                RestartPolicyNameEnum::UNLESS_STOPPED
            } else {
                RestartPolicyNameEnum::NO
            }),
            maximum_retry_count: None,
        }),
        binds: (!spec.volumes.is_empty()).then(|| {
            spec.volumes
                .iter()
                .map(|(volume, path)| format!("{volume}:{path}"))
                .collect()
        }),
        port_bindings: port_key.clone().map(|key| {
            HashMap::from([(
                key,
                Some(vec![PortBinding {
                    host_ip: Some(publish_ip.to_string()),
                    host_port: Some(String::new()),
                }]),
            )])
        }),
        network_mode: spec.network.clone(),
        // Nothing in the container gains privileges through setuid binaries
        // or file capabilities, and only the capabilities apps need remain.
        security_opt: Some(vec!["no-new-privileges:true".into()]),
        cap_drop: Some(vec!["ALL".into()]),
        cap_add: Some(KEPT_CAPABILITIES.iter().map(|c| c.to_string()).collect()),
        memory: spec.limits.memory_bytes,
        memory_swap: spec.limits.memory_bytes,
        pids_limit: spec.limits.pids,
        nano_cpus: spec.limits.nano_cpus,
        // The engine keeps output for `logs`; rotate it so that a chatty app
        // cannot fill the disk.
        log_config: Some(HostConfigLogConfig {
            typ: Some(LOG_DRIVER.into()),
            config: Some(log_options()),
        }),
        ..Default::default()
    };
    let networking_config = spec.network.as_ref().map(|network| NetworkingConfig {
        endpoints_config: Some(HashMap::from([(
            network.clone(),
            EndpointSettings {
                aliases: spec.network_alias.clone().map(|alias| vec![alias]),
                ..Default::default()
            },
        )])),
    });
    ContainerCreateBody {
        image: Some(spec.image.clone()),
        cmd: spec.cmd.clone(),
        entrypoint: spec.run.entrypoint.clone(),
        working_dir: spec.run.working_dir.clone(),
        user: spec.run.user.clone(),
        stop_signal: spec.run.stop_signal.clone(),
        healthcheck: spec.run.health.as_ref().map(HealthCheck::config),
        env: Some(spec.env.iter().map(|(k, v)| format!("{k}={v}")).collect()),
        labels: Some(spec.labels.clone()),
        exposed_ports: port_key.map(|key| vec![key]),
        stop_timeout: spec.stop_timeout_secs,
        host_config: Some(host_config),
        networking_config,
        ..Default::default()
    }
}

/// Where containers' output goes: the engine keeps it for `logs`.
pub(crate) const LOG_DRIVER: &str = "json-file";

/// The output kept per container, rotated so that a chatty app cannot fill
/// the disk: three files of 10 MB.
pub(crate) fn log_options() -> HashMap<String, String> {
    HashMap::from([
        ("max-size".to_string(), "10m".to_string()),
        ("max-file".to_string(), "3".to_string()),
    ])
}

/// Removes a one-off container if the future running it is dropped before
/// it could clean up itself. Set `docker` to `None` once it did.
pub(crate) struct RemoveOnDrop {
    pub(crate) docker: Option<Docker>,
    id: String,
}

impl RemoveOnDrop {
    pub(crate) fn new(engine: &Engine, id: &str) -> Self {
        Self {
            docker: Some(engine.docker.clone()),
            id: id.to_string(),
        }
    }
}

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let Some(docker) = self.docker.take() else {
            return;
        };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            tracing::warn!(id = %self.id, "one-off container left behind: no runtime to remove it");
            return;
        };
        let id = std::mem::take(&mut self.id);
        runtime.spawn(async move {
            if let Err(error) = timed(
                "remove",
                docker.remove_container(&id, Some(force_remove_options())),
            )
            .await
            {
                tracing::warn!(%id, %error, "cannot remove an abandoned one-off container");
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_come_from_the_status_text() {
        let summary = |status: &str| ContainerSummary {
            id: "c".into(),
            name: "c".into(),
            labels: HashMap::new(),
            process: None,
            state: "exited".into(),
            status: status.into(),
            created: DateTime::default(),
            address: None,
            host: None,
        };
        assert_eq!(summary("Restarting (3) 1 second ago").exit_code(), Some(3));
        assert_eq!(summary("Exited (137) 2 minutes ago").exit_code(), Some(137));
        assert_eq!(summary("Up 5 minutes").exit_code(), None);
    }

    #[test]
    fn a_web_spec_publishes_on_loopback_with_init() {
        let spec = ContainerSpec {
            name: "demo.web.1".into(),
            image: "berth/demo:v1".into(),
            env: vec![("PORT".into(), "5000".into())],
            network: Some("berth-demo".into()),
            network_alias: Some("web".into()),
            publish_port: Some(5000),
            stop_timeout_secs: Some(30),
            limits: Limits {
                memory_bytes: Some(512 << 20),
                pids: Some(256),
                nano_cpus: Some(1_500_000_000),
            },
            run: RunOptions {
                entrypoint: Some(vec![]),
                user: Some("1000".into()),
                ..Default::default()
            },
            ..Default::default()
        };
        let body = container_body(&spec, std::net::Ipv4Addr::LOCALHOST.into());
        assert_eq!(body.exposed_ports, Some(vec!["5000/tcp".to_string()]));
        assert_eq!(body.env, Some(vec!["PORT=5000".to_string()]));
        assert_eq!(body.cmd, None);
        assert_eq!(body.stop_timeout, Some(30));
        assert_eq!(
            body.entrypoint,
            Some(vec![]),
            "a cleared entrypoint stays cleared"
        );
        assert_eq!(body.user.as_deref(), Some("1000"));
        let host = body.host_config.unwrap();
        assert_eq!(host.nano_cpus, Some(1_500_000_000));
        assert_eq!(host.init, Some(true));
        assert_eq!(
            host.restart_policy.unwrap().name,
            Some(RestartPolicyNameEnum::NO),
            "the platform restarts crashed processes, not the engine"
        );
        let binding = &host.port_bindings.unwrap()["5000/tcp"].clone().unwrap()[0];
        assert_eq!(binding.host_ip.as_deref(), Some("127.0.0.1"));
        assert_eq!(binding.host_port.as_deref(), Some(""));
        assert_eq!(host.network_mode.as_deref(), Some("berth-demo"));
        assert_eq!(host.memory, Some(512 << 20));
        assert_eq!(
            host.memory_swap,
            Some(512 << 20),
            "no swap beyond the limit"
        );
        assert_eq!(host.pids_limit, Some(256));
        assert_eq!(
            host.security_opt,
            Some(vec!["no-new-privileges:true".to_string()])
        );
        assert_eq!(host.cap_drop, Some(vec!["ALL".to_string()]));
        assert!(!host.cap_add.unwrap().iter().any(|c| c == "NET_RAW"));
        let endpoints = body.networking_config.unwrap().endpoints_config.unwrap();
        assert_eq!(
            endpoints["berth-demo"].aliases,
            Some(vec!["web".to_string()])
        );
    }
}
