//! Rolling out a release — the one use case every release goes through,
//! whether it came from a push, a config change or a rollback: the release
//! phase, then the processes of the formation, then the old release's
//! containers stop. Progress is persisted as it goes.

use std::collections::BTreeMap;
use std::time::Duration;

use berth_core::process_env::{process_env, ProcessContext, WEB_PORT};
use berth_core::{Action, Actor};
use berth_docker::{
    ContainerSelector, ContainerSummary, DockerError, ProcessIdentity, ProcessSpec, RunOptions,
    Runtime, StartedContainer,
};
use berth_store::{AppRecord, ReleaseProcess, ReleaseRecord};
use chrono::{DateTime, Utc};

use crate::logs::{LogLine, LogSource};
use crate::progress::{Progress, ReleaseOutput};
use crate::{Platform, PlatformError, Result};

/// SIGTERM, then SIGKILL after this long, as on Heroku.
pub const STOP_GRACE: Duration = Duration::from_secs(30);
/// The longest a Compose `stop_grace_period` may hold a stop (and a deploy
/// waiting for it).
const MAX_STOP_GRACE: Duration = Duration::from_secs(300);

/// A running (or crashed) process of an app, as the engine reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct Dyno {
    /// `web.1`
    pub name: String,
    pub process_type: String,
    /// `v7`
    pub release: String,
    /// up, starting, crashed or down.
    pub state: String,
    pub created_at: DateTime<Utc>,
    /// When a running dyno last started.
    pub started_at: Option<DateTime<Utc>>,
    /// How a crashed dyno last exited.
    pub exit_code: Option<i64>,
    /// Why it crashed, when the platform knows more than the exit code.
    pub reason: Option<String>,
    /// The name of the host it runs on.
    pub host: String,
    /// What its process type may use.
    pub limits: berth_core::Limits,
    /// Memory in use when last measured, in bytes.
    pub memory_bytes: Option<u64>,
    /// CPU in use between the last two measurements, in percent of one CPU.
    pub cpu_percent: Option<f64>,
    /// Restarts after a crash since berthd started.
    pub restarts: u64,
}

/// How dynos are listed: by process type, then by number (`web.2` before `web.10`).
pub(crate) fn dyno_order(name: &str) -> (String, u32) {
    let (process_type, index) = name.rsplit_once('.').unwrap_or((name, "0"));
    (process_type.to_string(), index.parse::<u32>().unwrap_or(0))
}

/// What `ps` calls a dyno whose container is in this engine state.
pub(crate) fn dyno_state(container_state: &str) -> &'static str {
    match container_state {
        "running" => "up",
        "created" => "starting",
        "restarting" | "exited" | "dead" => "crashed",
        _ => "down",
    }
}

fn shell(command: &str) -> Vec<String> {
    vec!["/bin/sh".into(), "-c".into(), command.into()]
}

impl Platform {
    /// Runs `release` (its processes already recorded) and makes it current,
    /// or marks it failed and leaves the running release untouched. With
    /// `new_config` (a config change, a rollback), the app's config vars become
    /// these sealed values in the same transaction that makes the release
    /// current: a crash never leaves a current release whose config is not stored.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn roll_out(
        &self,
        actor: &Actor,
        app: &AppRecord,
        release: ReleaseRecord,
        config: &BTreeMap<String, String>,
        new_config: Option<&[(String, String)]>,
        progress: &Progress,
        mut output: ReleaseOutput,
    ) -> Result<ReleaseRecord> {
        let started = self
            .start_release(app, &release, config, progress, &mut output)
            .await;
        // The last moment to find the lease lost: after this the release is current.
        let started = match started {
            Ok(()) => crate::deploy::confirm_lease().await,
            Err(error) => Err(error),
        };
        match started {
            Ok(()) => {
                self.store
                    .succeed_release(&release, output.as_str(), new_config)
                    .await?;
                let message = format!("Release v{} created by {}", release.version, actor.email);
                self.logs
                    .write(&app.name, LogLine::now(LogSource::Berth, "api", &message));
                // Cutover: the router switches to the new processes at once;
                // requests in flight to the old ones finish before those stop.
                // Trouble retiring the old release is the operator's to see in
                // the log, not a failed deploy: the new one runs.
                if let Err(error) = self.retire_other_releases(app, release.version).await {
                    tracing::warn!(app = %app.name, %error, "cannot retire the previous release");
                }
                if let Err(error) = self.prune_images(app).await {
                    tracing::warn!(app = %app.name, %error, "cannot prune old images");
                }
                Ok(release)
            }
            Err(error) => {
                self.store
                    .fail_release(release.id, &error.to_string(), output.as_str())
                    .await?;
                self.remove_release_containers(app, release.version).await;
                Err(error)
            }
        }
    }

    async fn start_release(
        &self,
        app: &AppRecord,
        release: &ReleaseRecord,
        config: &BTreeMap<String, String>,
        progress: &Progress,
        output: &mut ReleaseOutput,
    ) -> Result<()> {
        let engine = self.runtime()?;
        engine.ensure_app_network(&app.name).await?;
        self.join_addons_to_swarm(app).await?;

        if let (Some(image), Some(command)) = (&release.release_image, &release.release_command) {
            self.store
                .set_release_phase(release.id, "releasing")
                .await?;
            crate::deploy::confirm_lease().await?;
            progress.say(&format!("-----> Running release command: {command}"));
            let identity = self.process_identity(app, release, "release", None);
            let mut spec = self.oneoff_spec(app, release, identity, image.clone(), command, config);
            self.mount_volumes(app, &mut spec).await?;
            let sink = self.logs.clone();
            let code = engine
                .run_process(&spec, self.release_timeout, |line| {
                    progress.say(&line.text);
                    output.push_line(&line.text);
                    sink.write(
                        &app.name,
                        LogLine::at(line.at, LogSource::App, "release", &line.text),
                    );
                })
                .await
                .map_err(|error| match error {
                    DockerError::Timeout { .. } => PlatformError::DeployFailed(format!(
                        "the release command did not finish within {} s",
                        self.release_timeout.as_secs()
                    )),
                    other => other.into(),
                })?;
            if code != 0 {
                return Err(PlatformError::DeployFailed(format!(
                    "the release command failed with exit status {code}"
                )));
            }
        }

        self.store.set_release_phase(release.id, "starting").await?;
        let defaults: Vec<(String, i64)> = release
            .processes
            .iter()
            .map(|p| (p.process_type.clone(), i64::from(p.process_type == "web")))
            .collect();
        self.store.add_to_formation(app.id, &defaults).await?;
        let formation = self.store.formation(app.id).await?;
        progress.say("-----> Starting processes");
        for process in self.start_order(app, &release.processes)? {
            let quantity = formation
                .iter()
                .find(|(process_type, _)| *process_type == process.process_type)
                .map_or(0, |(_, quantity)| *quantity);
            for index in 1..=quantity {
                crate::deploy::confirm_lease().await?;
                self.start_dyno(app, release, process, index, config, progress)
                    .await?;
            }
        }
        Ok(())
    }

    /// The release's processes in the order they start: each after those it
    /// depends on (Compose `depends_on`; a dependency with a health check
    /// is healthy by then, as every start waits for it), else by name.
    fn start_order<'r>(
        &self,
        app: &AppRecord,
        processes: &'r [ReleaseProcess],
    ) -> Result<Vec<&'r ReleaseProcess>> {
        let mut waiting: Vec<(&ReleaseProcess, Vec<String>)> = Vec::new();
        for process in processes {
            let depends_on = self
                .open_process_options(app, process)?
                .depends_on
                .into_keys()
                .map(String::from)
                .filter(|name| processes.iter().any(|p| p.process_type == *name))
                .collect();
            waiting.push((process, depends_on));
        }
        let mut order: Vec<&ReleaseProcess> = Vec::new();
        while !waiting.is_empty() {
            let ready = waiting
                .iter()
                .position(|(_, needs)| {
                    needs
                        .iter()
                        .all(|need| order.iter().any(|p| p.process_type == *need))
                })
                // A cycle (the manifest parser refuses them): the rest by name.
                .unwrap_or(0);
            order.push(waiting.remove(ready).0);
        }
        Ok(order)
    }

    /// Starts one process of a release (`web.2`, say) and, for web processes,
    /// waits until it is healthy.
    pub(crate) async fn start_dyno(
        &self,
        app: &AppRecord,
        release: &ReleaseRecord,
        process: &ReleaseProcess,
        index: i64,
        config: &BTreeMap<String, String>,
        progress: &Progress,
    ) -> Result<()> {
        let mut spec = self.dyno_spec(app, release, process, index, config)?;
        self.mount_volumes(app, &mut spec).await?;
        let started = self.runtime()?.start_process(&spec).await?;
        self.dyno_started(app, process, &spec, &started, progress)
            .await
    }

    /// What runs dyno `<process type>.<index>` of `release`.
    pub(crate) fn dyno_spec(
        &self,
        app: &AppRecord,
        release: &ReleaseRecord,
        process: &ReleaseProcess,
        index: i64,
        config: &BTreeMap<String, String>,
    ) -> Result<ProcessSpec> {
        let options = self.open_process_options(app, process)?;
        let web_port = (process.process_type == "web").then(|| options.port.unwrap_or(WEB_PORT));
        let dyno = format!("{}.{index}", process.process_type);
        // Config vars win over what the manifest's `environment` says.
        let mut vars = options.environment.clone();
        vars.extend(config.iter().map(|(k, v)| (k.clone(), v.clone())));
        let env = process_env(&ProcessContext {
            app: &app.name,
            release_version: release.version,
            commit_sha: release.commit_sha.as_deref(),
            dyno: &dyno,
            port: web_port,
            config: &vars,
        });
        let applied = self.applied_limits(process.limits);
        let limits = berth_docker::Limits {
            memory_bytes: applied
                .memory_bytes
                .and_then(|bytes| i64::try_from(bytes).ok()),
            nano_cpus: applied.nano_cpus.and_then(|cpus| i64::try_from(cpus).ok()),
            ..self.quotas.container
        };
        Ok(ProcessSpec {
            identity: self.process_identity(
                app,
                release,
                &process.process_type,
                Some(dyno.clone()),
            ),
            image: process.image.clone(),
            cmd: process.command.as_deref().map(shell).or(options.args),
            env,
            web_port,
            stop_grace: options.stop_grace_seconds.map_or(STOP_GRACE, |seconds| {
                Duration::from_secs(seconds.into()).min(MAX_STOP_GRACE)
            }),
            limits,
            mounts: Vec::new(),
            pinned_host: None,
            run: RunOptions {
                entrypoint: options.entrypoint,
                working_dir: options.working_dir,
                user: options.user,
                stop_signal: options.stop_signal,
                health: options.health.map(|health| {
                    let seconds = |s: Option<u32>| s.map(|s| Duration::from_secs(s.into()));
                    berth_docker::HealthCheck {
                        test: health.test,
                        interval: seconds(health.interval_seconds),
                        timeout: seconds(health.timeout_seconds),
                        retries: health.retries,
                        start_period: seconds(health.start_period_seconds),
                    }
                }),
            },
        })
    }

    /// A dyno's process has started: its output goes to the log, and a web
    /// dyno must answer HTTP (its health check) before this returns.
    pub(crate) async fn dyno_started(
        &self,
        app: &AppRecord,
        process: &ReleaseProcess,
        spec: &ProcessSpec,
        started: &StartedContainer,
        progress: &Progress,
    ) -> Result<()> {
        let dyno = spec
            .identity
            .dyno
            .as_deref()
            .unwrap_or(&process.process_type);
        self.follow_output(&app.name, dyno, &started.id, None);
        if spec.run.health.is_some() {
            progress.say(&format!(
                "       {dyno} starting: waiting for its health check to pass"
            ));
            self.wait_until_checked_healthy(dyno, &started.id).await?;
        }
        if spec.web_port.is_some() {
            let address = started
                .address
                .ok_or_else(|| PlatformError::Internal(format!("{dyno} has no published port")))?;
            progress.say(&format!(
                "       {dyno} starting: waiting for it to answer HTTP"
            ));
            self.wait_until_healthy(dyno, address, process.healthcheck.as_deref())
                .await?;
        }
        let command = process.command.as_deref().unwrap_or("the image's CMD");
        let message = format!("Starting process with command `{command}`");
        self.logs
            .write(&app.name, LogLine::now(LogSource::Berth, dyno, &message));
        progress.say(&format!("       {dyno} started"));
        Ok(())
    }

    async fn retire_other_releases(&self, app: &AppRecord, keep: i64) -> Result<()> {
        self.refresh_routes().await?;
        self.drain_other_releases(app, keep).await?;
        // One-offs outlive a release, as on Heroku: a config change must not
        // end someone's console session or a detached job.
        self.stop_containers(app, |process| {
            process.release != keep && process.oneoff.is_none()
        })
        .await
    }

    /// Who a container of `release` running `process_type` (as `dyno`) is.
    pub(crate) fn process_identity(
        &self,
        app: &AppRecord,
        release: &ReleaseRecord,
        process_type: &str,
        dyno: Option<String>,
    ) -> ProcessIdentity {
        ProcessIdentity {
            platform: self.platform_id.clone(),
            app: app.name.clone(),
            release: release.version,
            process_type: process_type.to_string(),
            dyno,
            oneoff: None,
        }
    }

    /// A process of `release` that runs `command` once: the release
    /// command, or a one-off dyno.
    pub(crate) fn oneoff_spec(
        &self,
        app: &AppRecord,
        release: &ReleaseRecord,
        identity: ProcessIdentity,
        image: String,
        command: &str,
        config: &BTreeMap<String, String>,
    ) -> ProcessSpec {
        let env = process_env(&ProcessContext {
            app: &app.name,
            release_version: release.version,
            commit_sha: release.commit_sha.as_deref(),
            dyno: identity.dyno.as_deref().unwrap_or(&identity.process_type),
            port: None,
            config,
        });
        ProcessSpec {
            identity,
            image,
            cmd: Some(shell(command)),
            env,
            web_port: None,
            stop_grace: STOP_GRACE,
            limits: self.quotas.container,
            run: RunOptions::default(),
            mounts: Vec::new(),
            pinned_host: None,
        }
    }

    /// Removes the images only releases older than the retention window use;
    /// the window always holds the current release and recent rollback targets.
    async fn prune_images(&self, app: &AppRecord) -> Result<()> {
        // Images only: the releases' output and config are not loaded for this.
        let releases = self.store.release_images(app.id).await?;
        let (old, kept) = releases.split_at(releases.len().saturating_sub(self.image_retention));
        let kept: std::collections::HashSet<&String> = kept.iter().flatten().collect();
        let mut removed = std::collections::HashSet::new();
        let expired: Vec<&String> = old
            .iter()
            .flatten()
            .filter(|image| !kept.contains(image) && removed.insert(*image))
            .collect();
        if expired.is_empty() {
            return Ok(());
        }
        let engine = self.runtime()?;
        for image in &expired {
            engine.remove_image(image).await?;
        }
        // The other hosts pulled them, by their registry references, to run dynos.
        let Some(swarm) = engine.swarm() else {
            return Ok(());
        };
        for (host, host_engine) in self.ready_host_engines().await? {
            for image in &expired {
                let image = swarm.registry_reference(image);
                if let Err(error) = host_engine.remove_image(&image).await {
                    tracing::warn!(app = %app.name, %host, %image, %error, "cannot prune an old image");
                }
            }
        }
        Ok(())
    }

    /// Best effort: a failed release leaves nothing running behind it.
    async fn remove_release_containers(&self, app: &AppRecord, version: i64) {
        if let Err(error) = self
            .stop_containers(app, |process| process.release == version)
            .await
        {
            tracing::warn!(app = %app.name, %error, "cannot remove a failed release's containers");
        }
    }

    /// The app's containers, of one process type if given; only this
    /// platform's: another platform on the same engine may have an app of
    /// that name.
    pub(crate) async fn app_containers(
        &self,
        app: &str,
        process_type: Option<&str>,
    ) -> Result<Vec<ContainerSummary>> {
        let mut selector = ContainerSelector::app(&self.platform_id, app);
        selector.process_type = process_type;
        Ok(self.runtime()?.containers_of(selector).await?)
    }

    /// Stops and removes the app's processes that `select` picks.
    pub(crate) async fn stop_containers(
        &self,
        app: &AppRecord,
        select: impl Fn(&ProcessIdentity) -> bool,
    ) -> Result<()> {
        let engine = self.runtime()?;
        let containers = self.app_containers(&app.name, None).await?;
        let stops = containers
            .iter()
            .filter(|container| container.process.as_ref().is_some_and(&select))
            .map(|container| engine.stop_and_remove(&container.id, STOP_GRACE));
        for result in futures_util::future::join_all(stops).await {
            result?;
        }
        Ok(())
    }

    /// The app's releases, oldest first.
    pub async fn releases(&self, actor: &Actor, app_name: &str) -> Result<Vec<ReleaseRecord>> {
        let app = self.authorize_app(actor, app_name, Action::ReadApp).await?;
        Ok(self.store.releases(app.id).await?)
    }

    /// One release of the app, `version` or else the current one.
    pub async fn release(
        &self,
        actor: &Actor,
        app_name: &str,
        version: Option<i64>,
    ) -> Result<(ReleaseRecord, bool)> {
        let app = self.authorize_app(actor, app_name, Action::ReadApp).await?;
        let version = version
            .or(app.current_release)
            .ok_or_else(|| PlatformError::NotFound(format!("{} has no releases yet", app.name)))?;
        let release = self.store.release(app.id, version).await?.ok_or_else(|| {
            PlatformError::NotFound(format!("{} has no release v{version}", app.name))
        })?;
        Ok((release, app.current_release == Some(version)))
    }

    /// The app's processes, by type and number.
    pub async fn dynos(&self, actor: &Actor, app_name: &str) -> Result<Vec<Dyno>> {
        let app = self.authorize_app(actor, app_name, Action::ReadApp).await?;
        let engine = self.runtime()?;
        let host = self.host_name.to_string();
        let containers = self.app_containers(&app.name, None).await?;
        let release = self.current_release(&app).await?;
        let limits_of = |process_type: &str| {
            release
                .iter()
                .flat_map(|r| &r.processes)
                .find(|p| p.process_type == process_type)
                .map(|p| self.applied_limits(p.limits))
                .unwrap_or_else(|| self.applied_limits(berth_core::Limits::default()))
        };
        let mut dynos: Vec<Dyno> = containers
            .iter()
            .filter_map(|container| {
                let process = container.process.as_ref()?;
                let name = process.dyno.clone()?;
                let state = dyno_state(&container.state);
                Some(Dyno {
                    exit_code: (state == "crashed")
                        .then(|| container.exit_code())
                        .flatten(),
                    reason: None,
                    host: container.host.clone().unwrap_or_else(|| host.clone()),
                    limits: limits_of(&process.process_type),
                    process_type: process.process_type.clone(),
                    release: format!("v{}", process.release),
                    state: state.to_string(),
                    created_at: container.created,
                    started_at: None,
                    memory_bytes: None,
                    cpu_percent: None,
                    restarts: 0,
                    name,
                })
            })
            .collect();
        // Uptime counts from the last start, which a listing does not give.
        let running: Vec<(&str, &str)> = containers
            .iter()
            .filter(|c| c.state == "running")
            .filter_map(|c| Some((c.id.as_str(), c.process.as_ref()?.dyno.as_deref()?)))
            .collect();
        let starts =
            futures_util::future::join_all(running.iter().map(|(id, _)| engine.started_at(id)))
                .await;
        for ((_, name), started_at) in running.iter().zip(starts) {
            if let Some(dyno) = dynos.iter_mut().find(|d| d.name == *name) {
                dyno.started_at = started_at.ok().flatten();
            }
        }
        for (id, reason) in self
            .out_of_memory_reasons(release.as_ref(), containers.iter())
            .await
        {
            let dyno = containers
                .iter()
                .find(|c| c.id == id)
                .and_then(|c| c.process.as_ref()?.dyno.as_deref());
            if let Some(dyno) = dynos.iter_mut().find(|d| Some(d.name.as_str()) == dyno) {
                dyno.reason = Some(reason);
            }
        }
        let measured = self.metrics.latest_dynos(&app.name);
        let restarts = self.metrics.restarts_of(&app.name);
        for dyno in &mut dynos {
            dyno.restarts = restarts.get(&dyno.name).copied().unwrap_or(0);
            if let Some(&(memory, cpu)) = measured.get(&dyno.name).filter(|_| dyno.state == "up") {
                dyno.memory_bytes = Some(memory);
                dyno.cpu_percent = cpu;
            }
        }
        dynos.sort_by_key(|dyno| dyno_order(&dyno.name));
        Ok(dynos)
    }
}
