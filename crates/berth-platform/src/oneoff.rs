//! One-off dynos (`berth run`): a container of the current release's image
//! with its config, named `run.NNNN`. Attached ones — output piped back, or
//! on a terminal — live as long as their client's request; detached ones
//! (`run:detached`) run in the background, their output going to the app's
//! log, and are removed when they exit.

use std::collections::BTreeMap;

use berth_core::{check_config_key, Action, Actor};
use berth_docker::{Attachment, Placement, ProcessIdentity, ProcessSpec, Runtime, TerminalSession};
use berth_store::AppRecord;
use chrono::{DateTime, Utc};
use futures_util::StreamExt;

use crate::logs::{LogFilter, LogLine, LogSink, LogSource};
use crate::{Platform, PlatformError, Result};

/// A one-off about to start.
struct OneOff {
    app: AppRecord,
    dyno: String,
    spec: ProcessSpec,
}

impl Platform {
    /// Runs `command` under `/bin/sh -c` in a one-off container of the
    /// current release, with its environment (plus `env`), passing each line
    /// of output to `on_output` as it comes; returns the exit code. The
    /// container is removed afterwards, also when this future is dropped.
    pub async fn run_oneoff(
        &self,
        actor: &Actor,
        app_name: &str,
        command: &str,
        env: BTreeMap<String, String>,
        on_output: impl FnMut(berth_docker::LogLine) + Send,
    ) -> Result<i64> {
        let oneoff = self
            .prepare_oneoff(actor, app_name, command, env, Attachment::Attached)
            .await?;
        Ok(self
            .runtime()?
            .run_process(&oneoff.spec, self.release_timeout, on_output)
            .await?)
    }

    /// Starts `command` as [`Platform::run_oneoff`] does, on a terminal of
    /// `rows` × `cols`, for the caller to shuttle keystrokes and output.
    /// Dropping the session kills and removes the container.
    pub async fn run_on_terminal(
        &self,
        actor: &Actor,
        app_name: &str,
        command: &str,
        env: BTreeMap<String, String>,
        (rows, cols): (u16, u16),
    ) -> Result<TerminalSession> {
        let oneoff = self
            .prepare_oneoff(actor, app_name, command, env, Attachment::Attached)
            .await?;
        Ok(self
            .runtime()?
            .start_terminal_process(&oneoff.spec, rows, cols)
            .await?)
    }

    /// Starts `command` in a one-off dyno in the background and returns its
    /// name (`run.4821`). Its output goes to the app's log; it shows in
    /// `ps` while it runs and is removed when it exits.
    pub async fn run_detached(
        &self,
        actor: &Actor,
        app_name: &str,
        command: &str,
        env: BTreeMap<String, String>,
    ) -> Result<String> {
        let oneoff = self
            .prepare_oneoff(actor, app_name, command, env, Attachment::Detached)
            .await?;
        let engine = self.runtime()?;
        let started = engine.start_process(&oneoff.spec).await?;
        watch_detached(
            engine.clone(),
            self.logs.clone(),
            oneoff.app.name.clone(),
            oneoff.dyno.clone(),
            started.id,
            None,
        );
        Ok(oneoff.dyno)
    }

    /// After a restart: attached one-offs lost their client with the old
    /// berthd, so they are removed; detached ones are watched again (their
    /// output copied on from where the log ends, their exit awaited), or
    /// removed if they exited meanwhile.
    pub(crate) async fn recover_oneoffs(&self, app: &AppRecord) -> Result<()> {
        let engine = self.runtime()?;
        for container in self.app_containers(&app.name, None).await? {
            let Some(process) = &container.process else {
                continue;
            };
            let Some(attachment) = process.oneoff else {
                continue;
            };
            match (attachment, process.dyno.clone()) {
                (Attachment::Detached, Some(dyno)) => {
                    let copied_until = self.last_logged(&app.name, &dyno).await;
                    tracing::info!(app = %app.name, %dyno, "watching a detached one-off again");
                    watch_detached(
                        engine.clone(),
                        self.logs.clone(),
                        app.name.clone(),
                        dyno,
                        container.id,
                        copied_until,
                    );
                }
                _ => {
                    tracing::warn!(app = %app.name, container = %container.name, "removing a one-off whose client went with the previous berthd");
                    engine.remove_container(&container.id).await?;
                }
            }
        }
        Ok(())
    }

    /// When the app's log last got a line of `dyno`'s output.
    async fn last_logged(&self, app: &str, dyno: &str) -> Option<DateTime<Utc>> {
        let filter = LogFilter {
            dyno: Some(dyno.to_string()),
            source: Some(LogSource::App),
            ..LogFilter::default()
        };
        let last = self.logs.history(app, &filter, 1).await.ok()?;
        last.first().map(|line| line.at)
    }

    /// Checks that `actor` may run one-off dynos of the app.
    pub async fn authorize_oneoff(&self, actor: &Actor, app_name: &str) -> Result<AppRecord> {
        self.authorize_app(actor, app_name, Action::Configure).await
    }

    async fn prepare_oneoff(
        &self,
        actor: &Actor,
        app_name: &str,
        command: &str,
        env: BTreeMap<String, String>,
        attachment: Attachment,
    ) -> Result<OneOff> {
        let app = self.authorize_oneoff(actor, app_name).await?;
        if command.trim().is_empty() {
            return Err(PlatformError::Invalid(
                "no command given: berth run COMMAND".into(),
            ));
        }
        for key in env.keys() {
            check_config_key(key).map_err(PlatformError::Invalid)?;
        }
        let Some(release) = self.current_release(&app).await? else {
            return Err(PlatformError::Invalid(format!(
                "{} has no release to run: deploy it first",
                app.name
            )));
        };
        let image = release
            .processes
            .iter()
            .find(|p| p.process_type == "web")
            .or(release.processes.first())
            .map(|p| p.image.clone())
            .ok_or_else(|| PlatformError::Invalid(format!("{} has no image to run", app.name)))?;
        let mut config = self.open_release_config(&app, &release)?;
        config.extend(env);
        let number = rand::random::<u16>() % 9000 + 1000;
        let dyno = format!("run.{number}");
        let message = format!(
            "Starting process with command `{command}` by {}",
            actor.email
        );
        self.logs
            .write(&app.name, LogLine::now(LogSource::Berth, &dyno, &message));
        // The command may carry secrets: the trail names the dyno only.
        self.audit_app(actor, &app.name, "dyno.run", dyno.clone())
            .await?;
        let identity = ProcessIdentity {
            oneoff: Some(attachment),
            ..self.process_identity(&app, &release, "run", Some(dyno.clone()))
        };
        let mut spec = self.oneoff_spec(&app, &release, identity, image, command, &config);
        self.mount_volumes(&app, &mut spec).await?;
        Ok(OneOff { app, dyno, spec })
    }
}

/// Copies a detached dyno's output (after `copied_until`, if given) into the
/// app's log until it exits, logs its exit status, and removes it.
fn watch_detached(
    engine: Placement,
    sink: LogSink,
    app: String,
    dyno: String,
    id: String,
    copied_until: Option<DateTime<Utc>>,
) {
    tokio::spawn(async move {
        let mut lines = Box::pin(engine.follow_logs(&id));
        while let Some(line) = lines.next().await {
            let line = match line {
                Ok(line) => line,
                Err(error) => {
                    tracing::warn!(%app, %dyno, %error, "cannot follow a detached one-off's output");
                    break;
                }
            };
            // The log keeps microseconds, the engine stamps nanoseconds.
            if copied_until
                .is_some_and(|until| line.at.timestamp_micros() <= until.timestamp_micros())
            {
                continue;
            }
            sink.write(
                &app,
                LogLine::at(line.at, LogSource::App, &dyno, &line.text),
            );
        }
        match engine.exit_code(&id, &dyno).await {
            Ok(code) => {
                let message = format!("Process exited with status {code}");
                sink.write(&app, LogLine::now(LogSource::Berth, &dyno, &message));
                sink.write(
                    &app,
                    LogLine::now(LogSource::Berth, &dyno, "State changed from up to complete"),
                );
            }
            // Stopped and removed by `ps:stop` or an app's destruction.
            Err(error) if error.is_not_found() => return,
            Err(error) => {
                tracing::warn!(%app, %dyno, %error, "cannot wait for a detached one-off");
            }
        }
        if let Err(error) = engine.remove_container(&id).await {
            tracing::warn!(%app, %dyno, %error, "cannot remove a finished detached one-off");
        }
    });
}
