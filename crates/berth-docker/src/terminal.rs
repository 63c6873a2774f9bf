//! One-off containers on a terminal (`berth run` from a terminal): the
//! process gets a TTY and an open stdin, and the caller shuttles bytes in and
//! out and passes window sizes on.

use std::pin::Pin;

use bollard::models::ContainerCreateBody;
use bollard::query_parameters::{AttachContainerOptions, ResizeContainerTTYOptions};
use futures_util::{Stream, StreamExt};
use tokio::io::AsyncWrite;

use crate::containers::{container_body, RemoveOnDrop};
use crate::error::{api, status_of};
use crate::request_metrics::timed;
use crate::{ContainerSpec, DockerError, Engine};

/// The engine's detach sequence (Ctrl-P Ctrl-Q by default) would swallow
/// keystrokes meant for the process: use one nobody types.
const DETACH_KEYS: &str = "ctrl-@,ctrl-@,ctrl-@,ctrl-@,ctrl-@,ctrl-@,ctrl-@,ctrl-@";

/// A running one-off container attached to a terminal. Dropping it kills
/// and removes the container; [`TerminalSession::finish`] does the same
/// once the process has ended.
pub struct TerminalSession {
    /// Keystrokes for the process.
    pub input: Pin<Box<dyn AsyncWrite + Send>>,
    /// What the terminal shows; ends when the process ends.
    pub output: Pin<Box<dyn Stream<Item = Result<bytes::Bytes, DockerError>> + Send>>,
    pub control: TerminalControl,
}

/// What can be done to a terminal session's container besides typing.
pub struct TerminalControl {
    engine: Engine,
    id: String,
    name: String,
    remove: RemoveOnDrop,
}

impl Engine {
    /// Creates a one-off container with a terminal of `rows` × `cols`,
    /// attaches to it, and starts it.
    pub async fn start_terminal(
        &self,
        spec: &ContainerSpec,
        rows: u16,
        cols: u16,
    ) -> Result<TerminalSession, DockerError> {
        let body = ContainerCreateBody {
            tty: Some(true),
            open_stdin: Some(true),
            // The process's stdin closes when the session's does.
            stdin_once: Some(true),
            attach_stdin: Some(true),
            attach_stdout: Some(true),
            attach_stderr: Some(true),
            ..container_body(spec, self.publish_ip)
        };
        let id = self.create_oneoff(spec, body).await?;
        let control = TerminalControl {
            engine: self.clone(),
            remove: RemoveOnDrop::new(self, &id),
            id,
            name: spec.name.clone(),
        };
        // Attached before the start, so that no output is missed.
        let options = AttachContainerOptions {
            stdin: true,
            stdout: true,
            stderr: true,
            stream: true,
            logs: false,
            detach_keys: Some(DETACH_KEYS.into()),
        };
        let attached = timed(
            "attach",
            self.docker.attach_container(&control.id, Some(options)),
        )
        .await
        .map_err(api(format!("attach to container {}", spec.name)))?;
        self.start(&control.id, &spec.name).await?;
        // The engine (API 1.41) cannot size a terminal before the start: a
        // process that asks for its size at once may still see 0×0.
        control.resize(rows, cols).await?;
        let context = format!("read from container {}", spec.name);
        let output = attached.output.map(move |chunk| {
            chunk
                .map(|output| output.into_bytes())
                .map_err(api(context.clone()))
        });
        Ok(TerminalSession {
            input: attached.input,
            output: Box::pin(output),
            control,
        })
    }
}

impl TerminalControl {
    /// Gives the terminal a new size. A process that has just ended is fine.
    pub async fn resize(&self, rows: u16, cols: u16) -> Result<(), DockerError> {
        let options = ResizeContainerTTYOptions {
            h: i32::from(rows),
            w: i32::from(cols),
        };
        match timed(
            "resize",
            self.engine.docker.resize_container_tty(&self.id, options),
        )
        .await
        {
            Err(error) if !matches!(status_of(&error), Some(404 | 409)) => {
                Err(api(format!(
                    "resize the terminal of container {}",
                    self.name
                ))(error))
            }
            // 409: the container is no longer running.
            _ => Ok(()),
        }
    }

    /// Waits for the process to end and returns its exit code.
    pub async fn exit_code(&self) -> Result<i64, DockerError> {
        self.engine.exit_code(&self.id, &self.name).await
    }

    /// Removes the container (killing the process if it still runs).
    pub async fn finish(mut self) -> Result<(), DockerError> {
        self.remove.docker = None;
        self.engine.force_remove(&self.id, &self.name).await
    }
}
