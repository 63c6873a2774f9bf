//! The runtime trait: what the platform asks of wherever containers run.
//! [`Engine`] drives one Docker engine; [`crate::Swarm`] places processes
//! on many hosts (a dyno is a Swarm service there, and its "container" id
//! the service's), so every scheduling decision stays behind the trait.

use chrono::{DateTime, Utc};
use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use futures_util::Stream;

use crate::identity::{self, ContainerSelector, ProcessSpec};
use crate::{
    BuildRequest, ContainerEvent, ContainerSummary, DockerError, Engine, LogLine, StartedContainer,
    TerminalSession,
};

/// The operations the platform needs from a container runtime. See the
/// methods of [`Engine`] for what each one promises.
pub trait Runtime: Send + Sync {
    fn build_image(
        &self,
        request: BuildRequest,
        on_output: impl FnMut(&str) + Send,
    ) -> impl Future<Output = Result<String, DockerError>> + Send;

    fn image_exists(&self, tag: &str) -> impl Future<Output = Result<bool, DockerError>> + Send;

    fn remove_image(&self, tag: &str) -> impl Future<Output = Result<(), DockerError>> + Send;

    /// Every image built for `app`.
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
    fn build_image(
        &self,
        request: BuildRequest,
        on_output: impl FnMut(&str) + Send,
    ) -> impl Future<Output = Result<String, DockerError>> + Send {
        Engine::build_image(self, request, on_output)
    }

    fn image_exists(&self, tag: &str) -> impl Future<Output = Result<bool, DockerError>> + Send {
        Engine::image_exists(self, tag)
    }

    fn remove_image(&self, tag: &str) -> impl Future<Output = Result<(), DockerError>> + Send {
        Engine::remove_image(self, tag)
    }

    async fn remove_app_images(&self, app: &str) -> Result<(), DockerError> {
        Engine::remove_images(self, &identity::app_images(app)).await
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
