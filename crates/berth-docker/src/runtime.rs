//! The runtime trait: what the platform asks of wherever containers run.
//! [`Engine`] drives one Docker engine; [`crate::Swarm`] places processes
//! on many hosts (a dyno is a Swarm service there, and its "container" id
//! the service's), so every scheduling decision stays behind the trait.

use chrono::{DateTime, Utc};
use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use futures_util::future::Either;
use futures_util::Stream;

use crate::identity::{self, ContainerSelector, ProcessSpec};
use crate::{
    BuildRequest, ContainerEvent, ContainerSummary, DockerError, Engine, Health, LogLine,
    StartedContainer, Swarm, TerminalSession,
};

/// The operations the platform needs from a container runtime. See the
/// methods of [`Engine`] for what each one promises.
pub trait Runtime: Send + Sync {
    /// Builds an image; the name processes run it by (the request's tag on
    /// one engine, the registry's reference on a swarm).
    fn build_image(
        &self,
        request: BuildRequest,
        on_output: impl FnMut(&str) + Send,
    ) -> impl Future<Output = Result<String, DockerError>> + Send;

    /// Gives an image a release already runs (`image`, as
    /// [`Runtime::build_image`] returned it) the name `tag`
    /// (`berth/<other app>:v<N>-<key>`) without building: the copy is the
    /// same image, id and labels alike. Returns the name processes run the
    /// copy by (`tag` on one engine, its registry reference on a swarm).
    /// A missing source image is [`DockerError::NoImage`].
    fn copy_image(
        &self,
        image: &str,
        tag: &str,
        on_output: impl FnMut(&str) + Send,
    ) -> impl Future<Output = Result<String, DockerError>> + Send;

    fn image_exists(&self, tag: &str) -> impl Future<Output = Result<bool, DockerError>> + Send;

    fn remove_image(&self, tag: &str) -> impl Future<Output = Result<(), DockerError>> + Send;

    /// Every image tagged for `app`: its own tags, and images built for it
    /// that no tag names any more (see [`Engine::remove_app_images`]).
    fn remove_app_images(&self, app: &str) -> impl Future<Output = Result<(), DockerError>> + Send;

    /// The network `app`'s containers and add-ons share, created if missing.
    fn ensure_app_network(&self, app: &str)
        -> impl Future<Output = Result<(), DockerError>> + Send;

    fn remove_app_network(&self, app: &str)
        -> impl Future<Output = Result<(), DockerError>> + Send;

    /// Starts a long-running process (a dyno of the formation, a detached one-off).
    fn start_process(
        &self,
        spec: &ProcessSpec,
    ) -> impl Future<Output = Result<StartedContainer, DockerError>> + Send;

    /// Runs a process until it exits (the release command, `berth run`
    /// without a terminal), handing over its output; its exit code.
    fn run_process(
        &self,
        spec: &ProcessSpec,
        timeout: Duration,
        on_output: impl FnMut(LogLine) + Send,
    ) -> impl Future<Output = Result<i64, DockerError>> + Send;

    /// Starts a process attached to a terminal of `rows` × `cols`.
    fn start_terminal_process(
        &self,
        spec: &ProcessSpec,
        rows: u16,
        cols: u16,
    ) -> impl Future<Output = Result<TerminalSession, DockerError>> + Send;

    fn exit_code(
        &self,
        id: &str,
        name: &str,
    ) -> impl Future<Output = Result<i64, DockerError>> + Send;

    fn remove_container(&self, id: &str) -> impl Future<Output = Result<(), DockerError>> + Send;

    fn containers_of(
        &self,
        selector: ContainerSelector<'_>,
    ) -> impl Future<Output = Result<Vec<ContainerSummary>, DockerError>> + Send;

    fn start_again(&self, id: &str) -> impl Future<Output = Result<(), DockerError>> + Send;

    /// The state of a process's health check.
    fn health(&self, id: &str) -> impl Future<Output = Result<Health, DockerError>> + Send;

    /// Whether a stopped container was killed for exceeding its memory limit.
    fn out_of_memory(&self, id: &str) -> impl Future<Output = Result<bool, DockerError>> + Send;

    /// When a running container last started.
    fn started_at(
        &self,
        id: &str,
    ) -> impl Future<Output = Result<Option<DateTime<Utc>>, DockerError>> + Send;

    /// Where berthd reaches `container_port` of a running container.
    fn published_address(
        &self,
        id: &str,
        container_port: u16,
    ) -> impl Future<Output = Result<Option<SocketAddr>, DockerError>> + Send;

    fn stop_and_remove(
        &self,
        id: &str,
        grace: Duration,
    ) -> impl Future<Output = Result<(), DockerError>> + Send;

    /// Stops a running process (SIGTERM, then SIGKILL after `grace`) and
    /// runs it again, as `ps:restart` does.
    fn restart_process(
        &self,
        id: &str,
        grace: Duration,
    ) -> impl Future<Output = Result<(), DockerError>> + Send;

    fn follow_logs(
        &self,
        id: &str,
    ) -> impl Stream<Item = Result<LogLine, DockerError>> + Send + 'static;

    fn events_of(
        &self,
        selector: ContainerSelector<'_>,
    ) -> impl Stream<Item = Result<ContainerEvent, DockerError>> + Send + 'static;
}

impl Runtime for Engine {
    async fn build_image(
        &self,
        request: BuildRequest,
        on_output: impl FnMut(&str) + Send,
    ) -> Result<String, DockerError> {
        let tag = request.tag.clone();
        Engine::build_image(self, request, on_output).await?;
        Ok(tag)
    }

    /// On one engine, the copy is a second name of the image.
    async fn copy_image(
        &self,
        image: &str,
        tag: &str,
        _on_output: impl FnMut(&str) + Send,
    ) -> Result<String, DockerError> {
        self.tag_image(image, tag).await?;
        Ok(tag.to_string())
    }

    fn image_exists(&self, tag: &str) -> impl Future<Output = Result<bool, DockerError>> + Send {
        Engine::image_exists(self, tag)
    }

    fn remove_image(&self, tag: &str) -> impl Future<Output = Result<(), DockerError>> + Send {
        Engine::remove_image(self, tag)
    }

    fn remove_app_images(&self, app: &str) -> impl Future<Output = Result<(), DockerError>> + Send {
        Engine::remove_app_images(self, app)
    }

    async fn ensure_app_network(&self, app: &str) -> Result<(), DockerError> {
        Engine::ensure_network(self, &identity::app_network(app), identity::app_labels(app)).await
    }

    async fn remove_app_network(&self, app: &str) -> Result<(), DockerError> {
        Engine::remove_network(self, &identity::app_network(app)).await
    }

    async fn start_process(&self, spec: &ProcessSpec) -> Result<StartedContainer, DockerError> {
        Engine::start_container(self, &spec.container()).await
    }

    async fn run_process(
        &self,
        spec: &ProcessSpec,
        timeout: Duration,
        on_output: impl FnMut(LogLine) + Send,
    ) -> Result<i64, DockerError> {
        Engine::run_to_completion(self, &spec.container(), timeout, on_output).await
    }

    async fn start_terminal_process(
        &self,
        spec: &ProcessSpec,
        rows: u16,
        cols: u16,
    ) -> Result<TerminalSession, DockerError> {
        Engine::start_terminal(self, &spec.container(), rows, cols).await
    }

    fn exit_code(
        &self,
        id: &str,
        name: &str,
    ) -> impl Future<Output = Result<i64, DockerError>> + Send {
        Engine::exit_code(self, id, name)
    }

    fn remove_container(&self, id: &str) -> impl Future<Output = Result<(), DockerError>> + Send {
        Engine::remove_container(self, id)
    }

    async fn containers_of(
        &self,
        selector: ContainerSelector<'_>,
    ) -> Result<Vec<ContainerSummary>, DockerError> {
        Engine::containers(self, &selector.labels()).await
    }

    fn start_again(&self, id: &str) -> impl Future<Output = Result<(), DockerError>> + Send {
        Engine::start_again(self, id)
    }

    fn out_of_memory(&self, id: &str) -> impl Future<Output = Result<bool, DockerError>> + Send {
        Engine::out_of_memory(self, id)
    }

    fn health(&self, id: &str) -> impl Future<Output = Result<Health, DockerError>> + Send {
        Engine::health(self, id)
    }

    fn started_at(
        &self,
        id: &str,
    ) -> impl Future<Output = Result<Option<DateTime<Utc>>, DockerError>> + Send {
        Engine::started_at(self, id)
    }

    fn published_address(
        &self,
        id: &str,
        container_port: u16,
    ) -> impl Future<Output = Result<Option<SocketAddr>, DockerError>> + Send {
        Engine::published_address(self, id, container_port)
    }

    fn stop_and_remove(
        &self,
        id: &str,
        grace: Duration,
    ) -> impl Future<Output = Result<(), DockerError>> + Send {
        Engine::stop_and_remove(self, id, grace)
    }

    fn restart_process(
        &self,
        id: &str,
        grace: Duration,
    ) -> impl Future<Output = Result<(), DockerError>> + Send {
        Engine::restart_container(self, id, grace)
    }

    fn follow_logs(
        &self,
        id: &str,
    ) -> impl Stream<Item = Result<LogLine, DockerError>> + Send + 'static {
        Engine::follow_logs(self, id)
    }

    fn events_of(
        &self,
        selector: ContainerSelector<'_>,
    ) -> impl Stream<Item = Result<ContainerEvent, DockerError>> + Send + 'static {
        Engine::container_events(self, &selector.labels())
    }
}

/// Where the platform's processes run: the default host's engine alone, or
/// (from the first `hosts:add` on) a swarm of hosts it manages.
#[derive(Clone)]
pub enum Placement {
    Engine(Engine),
    Swarm(Swarm),
}

impl Placement {
    /// The default host's engine: it builds, and runs add-ons and one-offs.
    pub fn engine(&self) -> &Engine {
        match self {
            Placement::Engine(engine) => engine,
            Placement::Swarm(swarm) => swarm.manager(),
        }
    }

    pub fn is_swarm(&self) -> bool {
        matches!(self, Placement::Swarm(_))
    }

    /// The swarm, once processes are placed on one.
    pub fn swarm(&self) -> Option<&Swarm> {
        match self {
            Placement::Engine(_) => None,
            Placement::Swarm(swarm) => Some(swarm),
        }
    }
}

/// Calls the same method on whichever runtime places processes.
/// Always the trait's method: `Engine` has inherent methods of the same
/// names that promise other things (its `build_image` returns an image id).
macro_rules! placed {
    ($self:ident, $method:ident($($arg:expr),*)) => {
        match $self {
            Placement::Engine(runtime) => Runtime::$method(runtime, $($arg),*).await,
            Placement::Swarm(runtime) => Runtime::$method(runtime, $($arg),*).await,
        }
    };
}

impl Runtime for Placement {
    async fn build_image(
        &self,
        request: BuildRequest,
        on_output: impl FnMut(&str) + Send,
    ) -> Result<String, DockerError> {
        placed!(self, build_image(request, on_output))
    }

    async fn copy_image(
        &self,
        image: &str,
        tag: &str,
        on_output: impl FnMut(&str) + Send,
    ) -> Result<String, DockerError> {
        placed!(self, copy_image(image, tag, on_output))
    }

    async fn image_exists(&self, tag: &str) -> Result<bool, DockerError> {
        placed!(self, image_exists(tag))
    }

    async fn remove_image(&self, tag: &str) -> Result<(), DockerError> {
        placed!(self, remove_image(tag))
    }

    async fn remove_app_images(&self, app: &str) -> Result<(), DockerError> {
        placed!(self, remove_app_images(app))
    }

    async fn ensure_app_network(&self, app: &str) -> Result<(), DockerError> {
        placed!(self, ensure_app_network(app))
    }

    async fn remove_app_network(&self, app: &str) -> Result<(), DockerError> {
        placed!(self, remove_app_network(app))
    }

    async fn start_process(&self, spec: &ProcessSpec) -> Result<StartedContainer, DockerError> {
        placed!(self, start_process(spec))
    }

    async fn run_process(
        &self,
        spec: &ProcessSpec,
        timeout: Duration,
        on_output: impl FnMut(LogLine) + Send,
    ) -> Result<i64, DockerError> {
        placed!(self, run_process(spec, timeout, on_output))
    }

    async fn start_terminal_process(
        &self,
        spec: &ProcessSpec,
        rows: u16,
        cols: u16,
    ) -> Result<TerminalSession, DockerError> {
        placed!(self, start_terminal_process(spec, rows, cols))
    }

    async fn exit_code(&self, id: &str, name: &str) -> Result<i64, DockerError> {
        placed!(self, exit_code(id, name))
    }

    async fn remove_container(&self, id: &str) -> Result<(), DockerError> {
        placed!(self, remove_container(id))
    }

    async fn containers_of(
        &self,
        selector: ContainerSelector<'_>,
    ) -> Result<Vec<ContainerSummary>, DockerError> {
        placed!(self, containers_of(selector))
    }

    async fn start_again(&self, id: &str) -> Result<(), DockerError> {
        placed!(self, start_again(id))
    }

    async fn out_of_memory(&self, id: &str) -> Result<bool, DockerError> {
        placed!(self, out_of_memory(id))
    }

    async fn health(&self, id: &str) -> Result<Health, DockerError> {
        placed!(self, health(id))
    }

    async fn started_at(&self, id: &str) -> Result<Option<DateTime<Utc>>, DockerError> {
        placed!(self, started_at(id))
    }

    async fn published_address(
        &self,
        id: &str,
        container_port: u16,
    ) -> Result<Option<SocketAddr>, DockerError> {
        placed!(self, published_address(id, container_port))
    }

    async fn stop_and_remove(&self, id: &str, grace: Duration) -> Result<(), DockerError> {
        placed!(self, stop_and_remove(id, grace))
    }

    async fn restart_process(&self, id: &str, grace: Duration) -> Result<(), DockerError> {
        placed!(self, restart_process(id, grace))
    }

    fn follow_logs(
        &self,
        id: &str,
    ) -> impl Stream<Item = Result<LogLine, DockerError>> + Send + 'static {
        match self {
            Placement::Engine(engine) => Either::Left(Runtime::follow_logs(engine, id)),
            Placement::Swarm(swarm) => Either::Right(Runtime::follow_logs(swarm, id)),
        }
    }

    fn events_of(
        &self,
        selector: ContainerSelector<'_>,
    ) -> impl Stream<Item = Result<ContainerEvent, DockerError>> + Send + 'static {
        match self {
            Placement::Engine(engine) => Either::Left(engine.events_of(selector)),
            Placement::Swarm(swarm) => Either::Right(swarm.events_of(selector)),
        }
    }
}
