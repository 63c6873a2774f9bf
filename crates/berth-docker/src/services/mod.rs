//! Many hosts through Docker Swarm: [`Swarm`] is the [`Runtime`] that runs
//! an app's dynos as Swarm services, driving the swarm through the engine
//! of one of its managers.
//!
//! # One service per dyno
//! Each dyno of the formation (`web.3` of v12) is a service with one
//! replica, so the platform's contract stays what it is on one engine: the
//! reconciler starts, restarts and removes dynos one by one, a deploy
//! starts the new release's dynos and health-checks each before the
//! cutover, and crashes back off on the platform's schedule. Swarm places
//! each task on an active host (spreading them: a host with fewer tasks is
//! preferred), pulls the image there from the registry, and joins it to
//! the app's overlay network. The "container" ids this runtime hands out
//! for dynos are service ids; one-offs and the release command run as
//! plain containers on the manager's engine (their ids are container ids),
//! attached to the same overlay network.
//!
//! A service carries the dyno's labels, and so does its task's container
//! on whatever host it runs. Its name is `berth-<app>-v<release>-<dyno>-`
//! and a hash of the platform (service names are the swarm's, not one
//! engine's, and cannot hold dots). Web tasks publish `$PORT` in host mode
//! on an ephemeral port of their host (on all its addresses: host mode
//! binds no single address), reached at `<host address>:<port>`; the
//! routing mesh and virtual IPs need IPVS, which these kernels lack, so
//! services use DNS round robin.
//!
//! [`spec`] makes a dyno's service (its name, labels and hardening);
//! [`status`] reads a service's newest task and that task's node into the
//! platform's terms (`running`, `exited` with a code, …).
//!
//! # Crashes and dead hosts (measured on Docker 20.10.24, API 1.41)
//! Services use the restart condition `none`, so that the platform alone
//! restarts a dyno, after its own backoff:
//! - A process that exits leaves its task `failed` (or `complete` for
//!   code 0) with the container's exit code, and Swarm starts nothing. The
//!   dyno is reported `exited`, status `Exited (3) …`. `start_again`
//!   force-updates the service: a new task, placed afresh, possibly on
//!   another host (seen: h1 → h2 → h3 on three forced updates). With
//!   updates set to `continue` on failure, an update whose task crashes is
//!   not left `paused` (a paused update does not block the next force
//!   update either).
//! - A host that goes away (engine SIGKILLed, or cut off at the link):
//!   with a 2 s dispatcher heartbeat the manager marks the node `down`
//!   4.5 to 7 s after its engine was killed, about 5.5 s after its link was
//!   cut, and sets the task's desired state to `shutdown`; its reported
//!   state stays `running`, and with condition `none` no replacement is
//!   made. Tasks are therefore joined with their nodes: a task on a `down`
//!   node (or a node that left) is reported `exited` ("Lost: its host h2 is
//!   down"), so the router stops sending to it at the next listing and the
//!   reconciler restarts it with `start_again`, whose new task ran on the
//!   other host 0.8 s later.
//! - When the host comes back, its agent learns that the old task's
//!   desired state is `shutdown` and stops its container (a killed engine:
//!   at once; a restored link: within about 15 s, the stop grace
//!   included). Nothing runs twice.
//! - After the manager's own engine restarts, nodes are `unknown` until
//!   they report again (seen: 2 to 6 s). Their tasks most likely still run,
//!   so they are reported neither `running` (the router leaves them) nor
//!   `exited` (the reconciler does not restart them): state `unknown`.
//!   A node that does not come back is marked `down` by the manager.
//!
//! With restart condition `any` or `on-failure` (Swarm's documented
//! behaviour, not measured here), Swarm would restart a crashed task by
//! itself and the reconciler again (double restarts), and move a dead
//! host's task by itself too; `none` leaves one restarter.
//!
//! The dispatcher's heartbeat period is the swarm's (set at `swarm init`
//! through `SwarmSpec.Dispatcher.HeartbeatPeriod`; Docker's default is
//! 5 s, which detects a dead host in about 11 s); the times above are with
//! 2 s.
//!
//! # Not done here (yet)
//! Swarm 20.10 cannot set `no-new-privileges` on a task (the field is sent
//! for newer engines) nor a swap limit (tasks get swap of the memory limit
//! again); images are pruned on the manager only.

mod spec;
mod spread;
mod status;

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bollard::models::{NodeState, Service, ServiceSpec, Task, TaskSpecPlacement};
use bollard::query_parameters::{ListServicesOptions, ListTasksOptions, UpdateServiceOptions};
use chrono::{DateTime, Utc};
use futures_util::stream::BoxStream;
use futures_util::{Stream, StreamExt};

use crate::error::{api, status_of};
use crate::identity::{self, ContainerSelector, ProcessIdentity, ProcessSpec};
use crate::images::label_filter;
use crate::logs::{follow_lines, LogSource};
use crate::request_metrics::timed;
use crate::runtime::Runtime;
use crate::{
    BuildRequest, ContainerEvent, ContainerSummary, DockerError, Engine, Health, ImageRegistry,
    LogLine, StartedContainer, TerminalSession,
};

use spec::{is_pinned, replacement_service_name, service_name, service_spec};
use status::{
    condition, is_terminal, newest, published, publishes, summarize, Condition, NodeView,
};

/// How long a new or restarted dyno's task may take to run: placed, its
/// image pulled, started.
const TASK_START_TIMEOUT: Duration = Duration::from_secs(60);
/// Beyond its stop grace, how long a removed service's task may take to go.
const REMOVAL_MARGIN: Duration = Duration::from_secs(15);
/// Between two looks while waiting for a task.
const POLL: Duration = Duration::from_millis(250);
/// How often a task whose host could not pull its image is replaced
/// before the start counts as failed.
const PULL_RETRIES: u32 = 2;
/// Between two looks at a followed task, to end its log when it stops.
const WATCH_INTERVAL: Duration = Duration::from_secs(1);
/// Between two listings of the swarm for [`Runtime::events_of`].
const EVENTS_INTERVAL: Duration = Duration::from_secs(2);
/// Attempts at a force update that races another update of the service.
const UPDATE_ATTEMPTS: usize = 3;

/// A swarm, driven through the engine of one of its managers; images go
/// through `registry`. Cheap to clone.
#[derive(Clone)]
pub struct Swarm {
    manager: Engine,
    registry: ImageRegistry,
    /// The manager's own node id, read once.
    manager_node: Arc<OnceLock<String>>,
}

impl Swarm {
    /// `manager` must be the engine of a manager of the swarm.
    pub fn new(manager: Engine, registry: ImageRegistry) -> Self {
        Self {
            manager,
            registry,
            manager_node: Arc::default(),
        }
    }

    /// The manager's engine, where images are built and one-offs run.
    pub fn manager(&self) -> &Engine {
        &self.manager
    }

    pub fn registry(&self) -> &ImageRegistry {
        &self.registry
    }

    /// Starts a dyno that already runs (on a host being drained) a second
    /// time, as a service of its own that Swarm places on another host; the
    /// platform retires the first once the second serves.
    pub async fn start_replacement(
        &self,
        spec: &ProcessSpec,
    ) -> Result<StartedContainer, DockerError> {
        let replacement = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |since| since.subsec_nanos() ^ since.as_secs() as u32);
        self.create_service(spec, replacement_service_name(&spec.identity, replacement))
            .await
    }

    /// The name every host knows `image` by: its registry reference (for
    /// an image built before the platform had a swarm, the reference it is
    /// pushed as when it runs on the swarm).
    pub fn registry_reference(&self, image: &str) -> String {
        if image.starts_with(&format!("{}/", self.registry.address)) {
            image.to_string()
        } else {
            self.registry.reference(image)
        }
    }

    /// The tag a registry reference was built as on the manager.
    fn local_tag<'a>(&self, reference: &'a str) -> &'a str {
        reference
            .strip_prefix(&format!("{}/", self.registry.address))
            .unwrap_or(reference)
    }

    /// The registry's reference for `image`, pushing it there first when it
    /// was built before the platform had a swarm (a release from then, run
    /// again or rolled back to, is pushed, never rebuilt).
    async fn published(&self, image: &str) -> Result<String, DockerError> {
        let reference = self.registry_reference(image);
        if reference == image {
            return Ok(reference);
        }
        self.manager.tag_image(image, &reference).await?;
        self.manager
            .push_image(&reference, self.registry.credentials.as_ref(), |_| {})
            .await?;
        Ok(reference)
    }

    /// The dynos (services) carrying every given label, each as its newest
    /// task reports it, joined with the node that task is on.
    async fn services(
        &self,
        labels: &[(&str, &str)],
    ) -> Result<Vec<ContainerSummary>, DockerError> {
        Ok(self.services_and_nodes(labels).await?.0)
    }

    /// [`Self::services`], and the swarm's nodes they were joined with.
    async fn services_and_nodes(
        &self,
        labels: &[(&str, &str)],
    ) -> Result<(Vec<ContainerSummary>, HashMap<String, NodeView>), DockerError> {
        let filter = label_filter(labels);
        let options = ListServicesOptions {
            filters: Some(HashMap::from([("label".to_string(), filter.clone())])),
            ..Default::default()
        };
        let services = timed(
            "service_list",
            self.manager.docker.list_services(Some(options)),
        )
        .await
        .map_err(api(format!("list services labelled {}", filter.join(","))))?;
        // No service, no node to join it with (nor to spread it away from).
        if services.is_empty() {
            return Ok((Vec::new(), HashMap::new()));
        }
        let ids: HashSet<&str> = services.iter().filter_map(|s| s.id.as_deref()).collect();
        let tasks = self
            .tasks(|task| ids.contains(task.service_id.as_deref().unwrap_or("")))
            .await?;
        let nodes = self.nodes().await?;
        let summaries = services
            .iter()
            .map(|service| {
                let id = service.id.as_deref().unwrap_or_default();
                let task = newest(tasks.iter().filter(|t| t.service_id.as_deref() == Some(id)));
                summarize(service, task, &nodes)
            })
            .collect();
        Ok((summaries, nodes))
    }

    /// Every task of the swarm that `keep` keeps. (Filtering by service on
    /// the manager fails as a whole for a service removed meanwhile.)
    async fn tasks(&self, keep: impl Fn(&Task) -> bool) -> Result<Vec<Task>, DockerError> {
        let tasks = timed(
            "task_list",
            self.manager.docker.list_tasks(None::<ListTasksOptions>),
        )
        .await
        .map_err(api("list the swarm's tasks"))?;
        Ok(tasks.into_iter().filter(|task| keep(task)).collect())
    }

    async fn nodes(&self) -> Result<HashMap<String, NodeView>, DockerError> {
        let nodes = timed(
            "node_list",
            self.manager
                .docker
                .list_nodes(None::<bollard::query_parameters::ListNodesOptions>),
        )
        .await
        .map_err(api("list the swarm's nodes"))?;
        Ok(nodes
            .iter()
            .filter_map(|node| Some((node.id.clone()?, NodeView::of(node))))
            .collect())
    }

    /// The newest task of service `id` (by id or name), if it has one yet.
    async fn newest_task(&self, id: &str) -> Result<Option<Task>, DockerError> {
        let tasks = self
            .tasks(|task| task.service_id.as_deref() == Some(id))
            .await?;
        Ok(newest(tasks.iter()).cloned())
    }

    /// Service `id` as it is now, with its newest task; a missing service
    /// is the engine's 404.
    async fn look(&self, id: &str) -> Result<Look, DockerError> {
        let service = timed(
            "service_inspect",
            self.manager.docker.inspect_service(id, None),
        )
        .await
        .map_err(api(format!("inspect service {id}")))?;
        Ok(Look {
            service,
            task: self.newest_task(id).await?,
            nodes: self.nodes().await?,
        })
    }

    /// The manager's node id.
    async fn manager_node(&self) -> Result<String, DockerError> {
        if let Some(id) = self.manager_node.get() {
            return Ok(id.clone());
        }
        let info = timed("info", self.manager.docker.info())
            .await
            .map_err(api("ask the manager for its node"))?;
        let id = info
            .swarm
            .and_then(|swarm| swarm.node_id)
            .filter(|id| !id.is_empty())
            .ok_or_else(|| DockerError::Swarm {
                context: format!("use {} as a swarm's manager", self.manager.host()),
                reason: "the engine is in no swarm".into(),
            })?;
        Ok(self.manager_node.get_or_init(|| id).clone())
    }

    /// One-offs: plain containers on the manager (not the containers of
    /// services' tasks that run there).
    async fn oneoff_containers(
        &self,
        labels: &[(&str, &str)],
    ) -> Result<Vec<ContainerSummary>, DockerError> {
        let containers: Vec<ContainerSummary> = self
            .manager
            .containers(labels)
            .await?
            .into_iter()
            // Dynos of the formation left from before the platform had a
            // swarm are not this runtime's: the platform retires them.
            .filter(|container| {
                !container.is_swarm_task()
                    && !container
                        .process
                        .as_ref()
                        .is_some_and(|process| process.is_formation_dyno())
            })
            .collect();
        if containers.is_empty() {
            return Ok(containers);
        }
        let host = {
            let node = self.manager_node().await?;
            self.nodes().await?.remove(&node).map(|node| node.name)
        };
        Ok(containers
            .into_iter()
            .map(|container| ContainerSummary {
                host: host.clone(),
                ..container
            })
            .collect())
    }

    /// Where a dyno may be placed so that its app's dynos spread over the
    /// hosts (see `spread`); `None`: wherever Swarm likes.
    async fn spread(
        &self,
        identity: &ProcessIdentity,
    ) -> Result<Option<TaskSpecPlacement>, DockerError> {
        let labels = identity.sibling_labels();
        let labels: Vec<(&str, &str)> = labels.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let (siblings, nodes) = self.services_and_nodes(&labels).await?;
        let crowded = spread::crowded_nodes(
            &nodes,
            siblings
                .iter()
                .filter(|sibling| sibling.state == "running")
                .filter_map(|sibling| sibling.host.as_deref()),
        );
        Ok((!crowded.is_empty()).then(|| TaskSpecPlacement {
            constraints: Some(crowded.iter().map(|id| format!("node.id!={id}")).collect()),
            ..Default::default()
        }))
    }

    /// Creates the service of a dyno under `name`, and waits until its task runs.
    async fn create_service(
        &self,
        spec: &ProcessSpec,
        name: String,
    ) -> Result<StartedContainer, DockerError> {
        let image = self.published(&spec.image).await?;
        let mut service = ServiceSpec {
            name: Some(name.clone()),
            ..service_spec(&ProcessSpec {
                image,
                ..spec.clone()
            })
        };
        // A dyno pinned to its volumes' host goes there, spread or not.
        if let Some(template) = service.task_template.as_mut() {
            if !is_pinned(template.placement.as_ref()) {
                template.placement = self.spread(&spec.identity).await?;
            }
        }
        let created = timed(
            "service_create",
            self.manager
                .docker
                .create_service(service, self.registry.docker_credentials()),
        )
        .await
        .map_err(api(format!("create service {name}")))?;
        for warning in created.warnings.iter().flatten() {
            tracing::warn!(service = %name, %warning, "swarm warning");
        }
        let id = created.id.ok_or_else(|| DockerError::Swarm {
            context: format!("create service {name}"),
            reason: "the manager gave no id".into(),
        })?;
        match self.wait_for_task(&id, &name, None).await {
            Ok(summary) => Ok(StartedContainer {
                id,
                name,
                address: summary.address,
            }),
            Err(error) => {
                if let Err(removal) = self.remove_service(&id).await {
                    tracing::warn!(service = %name, error = %removal, "cannot remove a service that did not start");
                }
                Err(error)
            }
        }
    }

    /// Waits (bounded) until service `id`'s newest task — one other than
    /// `previous` — runs (and, for a web dyno, publishes its port) or has
    /// run and exited. A task that cannot run (rejected, failed before its
    /// process started, its host lost) or that is still not running at the
    /// deadline is an error with what Swarm said of it.
    async fn wait_for_task(
        &self,
        id: &str,
        name: &str,
        previous: Option<&str>,
    ) -> Result<ContainerSummary, DockerError> {
        let failed = |reason: String| DockerError::Swarm {
            context: format!("start service {name}"),
            reason,
        };
        let deadline = tokio::time::Instant::now() + TASK_START_TIMEOUT;
        let mut last = "no task yet".to_string();
        let mut previous = previous.map(str::to_string);
        let mut pulls_retried = 0;
        loop {
            let mut look = self.look(id).await?;
            look.task = look
                .task
                .filter(|task| task.id.as_deref() != previous.as_deref());
            match look.condition() {
                None => {}
                Some(Condition::Running) => {
                    let summary = look.summary();
                    if summary.address.is_some() || !publishes(&look.service) {
                        return Ok(summary);
                    }
                    last = "running, its port not published yet".into();
                }
                Some(Condition::Exited { code: Some(_), .. }) => return Ok(look.summary()),
                // A host that could not pull the image from the registry
                // (seen under load) gets another task, twice at most.
                Some(Condition::Exited { code: None, detail })
                    if detail.contains("No such image") && pulls_retried < PULL_RETRIES =>
                {
                    tracing::warn!(service = %name, %detail, "a task could not pull its image: trying again");
                    pulls_retried += 1;
                    previous = look.task.as_ref().and_then(|task| task.id.clone());
                    self.force_update(id).await?;
                    last = detail;
                }
                Some(Condition::Exited { code: None, detail }) => {
                    return Err(failed(format!("its task could not run: {detail}")))
                }
                Some(Condition::Lost { host }) => {
                    return Err(failed(format!("its task was lost with its host {host}")))
                }
                Some(Condition::Starting { detail } | Condition::Unsure { detail, .. }) => {
                    last = detail
                }
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(failed(format!(
                    "its task did not run within {} s (last: {last})",
                    TASK_START_TIMEOUT.as_secs()
                )));
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Removes service `id`; one already gone is fine.
    async fn remove_service(&self, id: &str) -> Result<(), DockerError> {
        match timed("service_remove", self.manager.docker.delete_service(id)).await {
            Ok(()) => Ok(()),
            Err(error) if status_of(&error) == Some(404) => Ok(()),
            Err(error) => Err(api(format!("remove service {id}"))(error)),
        }
    }

    async fn remove_service_and_wait(&self, id: &str, grace: Duration) -> Result<(), DockerError> {
        self.remove_service(id).await?;
        // Swarm stops the task (its own stop grace, set from the spec's at
        // creation) and forgets it once its host reports it stopped. A task
        // on a host that is down is stopped when the host comes back.
        let deadline = tokio::time::Instant::now() + grace + REMOVAL_MARGIN;
        loop {
            let nodes = self.nodes().await?;
            let stopping = self
                .tasks(|task| task.service_id.as_deref() == Some(id))
                .await?
                .into_iter()
                .filter(|task| {
                    let node = task.node_id.as_ref().and_then(|node| nodes.get(node));
                    !is_terminal(task) && node.is_some_and(|node| node.state == NodeState::READY)
                })
                .count();
            if stopping == 0 {
                return Ok(());
            }
            if tokio::time::Instant::now() >= deadline {
                tracing::warn!(service = %id, "removed, but its task has not stopped yet");
                return Ok(());
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Makes Swarm replace service `id`'s task: a forced update, so that the
    /// new task is placed afresh (away from a host that is down).
    async fn force_update(&self, id: &str) -> Result<(), DockerError> {
        let context = format!("restart service {id}");
        for attempt in 1..=UPDATE_ATTEMPTS {
            let service = timed(
                "service_inspect",
                self.manager.docker.inspect_service(id, None),
            )
            .await
            .map_err(api(context.clone()))?;
            let version = service
                .version
                .and_then(|version| version.index)
                .and_then(|index| i32::try_from(index).ok())
                .ok_or_else(|| DockerError::Swarm {
                    context: context.clone(),
                    reason: "the service has no usable version".into(),
                })?;
            let mut spec = service.spec.unwrap_or_default();
            // Placed afresh, spread as a new dyno would be (unless pinned
            // to the host holding its volumes: it stays pinned).
            let pinned = spec
                .task_template
                .as_ref()
                .is_some_and(|template| is_pinned(template.placement.as_ref()));
            let placement = match spec.labels.as_ref().and_then(ProcessIdentity::from_labels) {
                Some(identity) if !pinned => self.spread(&identity).await?,
                _ => None,
            };
            let template = spec.task_template.get_or_insert_with(Default::default);
            template.force_update = Some(template.force_update.unwrap_or(0).wrapping_add(1));
            if !pinned {
                template.placement = placement;
            }
            let options = UpdateServiceOptions {
                version,
                registry_auth_from: "spec".into(),
                rollback: None,
            };
            match timed(
                "service_update",
                self.manager.docker.update_service(
                    id,
                    spec,
                    options,
                    self.registry.docker_credentials(),
                ),
            )
            .await
            {
                Ok(response) => {
                    for warning in response.warnings.iter().flatten() {
                        tracing::warn!(service = %id, %warning, "swarm warning");
                    }
                    return Ok(());
                }
                // Another update came first: read the new version, again.
                Err(error) if attempt < UPDATE_ATTEMPTS && is_out_of_sequence(&error) => {
                    tracing::debug!(service = %id, "the service changed meanwhile; updating again");
                }
                Err(error) => return Err(api(context)(error)),
            }
        }
        unreachable!("the last attempt returns")
    }
}

/// A service as it is at one moment: its newest task, and the nodes.
struct Look {
    service: Service,
    task: Option<Task>,
    nodes: HashMap<String, NodeView>,
}

impl Look {
    /// The node its task is on.
    fn node(&self) -> Option<&NodeView> {
        let node = self.task.as_ref()?.node_id.as_ref()?;
        self.nodes.get(node)
    }

    /// What its task is up to; `None` before it has one.
    fn condition(&self) -> Option<Condition> {
        Some(condition(self.task.as_ref()?, self.node()))
    }

    fn summary(&self) -> ContainerSummary {
        summarize(&self.service, self.task.as_ref(), &self.nodes)
    }
}

/// A container id of the engine (64 hex digits), as opposed to a service
/// id (25 letters and digits).
fn is_container_id(id: &str) -> bool {
    id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit())
}

fn is_out_of_sequence(error: &bollard::errors::Error) -> bool {
    matches!(
        error,
        bollard::errors::Error::DockerResponseServerError { message, .. }
            if message.contains("out of sequence")
    )
}

/// Resolves once task `id` no longer runs, or its host is no longer ready
/// (or the manager cannot say).
async fn task_stopped(swarm: Swarm, id: String) {
    loop {
        let running = async {
            let task = timed("task_inspect", swarm.manager.docker.inspect_task(&id))
                .await
                .ok()?;
            let nodes = swarm.nodes().await.ok()?;
            let node = task.node_id.as_ref().and_then(|node| nodes.get(node));
            Some(condition(&task, node) == Condition::Running)
        };
        if running.await != Some(true) {
            return;
        }
        tokio::time::sleep(WATCH_INTERVAL).await;
    }
}

impl Runtime for Swarm {
    /// Builds on the manager, then tags the image for the registry and
    /// pushes it there; the registry's reference (`HOST:PORT/berth/shop:v12-web`)
    /// is what services run, and what this returns.
    async fn build_image(
        &self,
        request: BuildRequest,
        mut on_output: impl FnMut(&str) + Send,
    ) -> Result<String, DockerError> {
        let tag = request.tag.clone();
        self.manager.build_image(request, &mut on_output).await?;
        let reference = self.registry.reference(&tag);
        self.manager.tag_image(&tag, &reference).await?;
        on_output(&format!("Pushing {reference}"));
        self.manager
            .push_image(
                &reference,
                self.registry.credentials.as_ref(),
                &mut on_output,
            )
            .await?;
        Ok(reference)
    }

    /// Tags the source on the manager as `tag` and as `tag`'s registry
    /// reference, and pushes that (its layers are in the registry already).
    /// A manager without the source image (its images were pruned) pulls
    /// it from the registry first.
    async fn copy_image(
        &self,
        image: &str,
        tag: &str,
        mut on_output: impl FnMut(&str) + Send,
    ) -> Result<String, DockerError> {
        let source = if self.manager.image_exists(image).await? {
            image.to_string()
        } else {
            let source = self.registry_reference(image);
            on_output(&format!("Pulling {source}"));
            self.manager
                .pull_image(&source, self.registry.credentials.as_ref())
                .await?;
            source
        };
        let reference = self.registry.reference(tag);
        self.manager.tag_image(&source, tag).await?;
        self.manager.tag_image(&source, &reference).await?;
        on_output(&format!("Pushing {reference}"));
        self.manager
            .push_image(
                &reference,
                self.registry.credentials.as_ref(),
                &mut on_output,
            )
            .await?;
        Ok(reference)
    }

    fn image_exists(
        &self,
        tag: &str,
    ) -> impl std::future::Future<Output = Result<bool, DockerError>> + Send {
        self.manager.image_exists(tag)
    }

    /// Removes an image's registry reference and the local tag it was built
    /// as, on the manager (whether it was built for the swarm or before).
    async fn remove_image(&self, image: &str) -> Result<(), DockerError> {
        let reference = self.registry_reference(image);
        self.manager.remove_image(&reference).await?;
        self.manager.remove_image(self.local_tag(&reference)).await
    }

    /// On the manager, where images are built and copied; the platform
    /// removes what the other hosts pulled.
    fn remove_app_images(
        &self,
        app: &str,
    ) -> impl std::future::Future<Output = Result<(), DockerError>> + Send {
        self.manager.remove_app_images(app)
    }

    async fn ensure_app_network(&self, app: &str) -> Result<(), DockerError> {
        self.manager
            .ensure_overlay_network(&identity::swarm_network(app), identity::app_labels(app))
            .await
    }

    async fn remove_app_network(&self, app: &str) -> Result<(), DockerError> {
        self.manager
            .remove_network(&identity::swarm_network(app))
            .await
    }

    /// A dyno of the formation becomes a service (see the module's
    /// documentation); a one-off runs as a container on the manager.
    async fn start_process(&self, spec: &ProcessSpec) -> Result<StartedContainer, DockerError> {
        if spec.identity.oneoff.is_some() {
            return self.manager.start_container(&spec.swarm_container()).await;
        }
        self.create_service(spec, service_name(&spec.identity))
            .await
    }

    async fn run_process(
        &self,
        spec: &ProcessSpec,
        timeout: Duration,
        on_output: impl FnMut(LogLine) + Send,
    ) -> Result<i64, DockerError> {
        self.manager
            .run_to_completion(&spec.swarm_container(), timeout, on_output)
            .await
    }

    async fn start_terminal_process(
        &self,
        spec: &ProcessSpec,
        rows: u16,
        cols: u16,
    ) -> Result<TerminalSession, DockerError> {
        self.manager
            .start_terminal(&spec.swarm_container(), rows, cols)
            .await
    }

    /// Waits until the dyno's task has stopped; its process's exit code.
    async fn exit_code(&self, id: &str, name: &str) -> Result<i64, DockerError> {
        if is_container_id(id) {
            return self.manager.exit_code(id, name).await;
        }
        let ended = |reason: String| DockerError::Swarm {
            context: format!("wait for service {name}"),
            reason,
        };
        loop {
            match self.look(id).await?.condition() {
                Some(Condition::Exited {
                    code: Some(code), ..
                }) => return Ok(code),
                Some(Condition::Exited { code: None, detail }) => {
                    return Err(ended(format!("its task ended without running: {detail}")))
                }
                Some(Condition::Lost { host }) => {
                    return Err(ended(format!("its task was lost with its host {host}")))
                }
                _ => {}
            }
            tokio::time::sleep(WATCH_INTERVAL).await;
        }
    }

    /// Removes a dyno's service (or a one-off's container) at once, without
    /// waiting for its task to stop.
    async fn remove_container(&self, id: &str) -> Result<(), DockerError> {
        if is_container_id(id) {
            return self.manager.remove_container(id).await;
        }
        self.remove_service(id).await
    }

    /// The platform's dynos (one per service, from its newest task) and
    /// one-offs (containers on the manager) that match the selector.
    async fn containers_of(
        &self,
        selector: ContainerSelector<'_>,
    ) -> Result<Vec<ContainerSummary>, DockerError> {
        let labels = selector.labels();
        let mut containers = self.services(&labels).await?;
        containers.extend(self.oneoff_containers(&labels).await?);
        Ok(containers)
    }

    /// Replaces the dyno's task with a new one (a forced update: placed
    /// afresh, so away from a host that is down), and waits (bounded) until
    /// it runs.
    async fn start_again(&self, id: &str) -> Result<(), DockerError> {
        if is_container_id(id) {
            return self.manager.start_again(id).await;
        }
        let before = self.look(id).await?;
        let previous = before.task.and_then(|task| task.id);
        let name = before
            .service
            .spec
            .and_then(|spec| spec.name)
            .unwrap_or_else(|| id.to_string());
        self.force_update(id).await?;
        self.wait_for_task(id, &name, previous.as_deref()).await?;
        Ok(())
    }

    /// A one-off's container on the manager says; a dyno's task runs only
    /// once its health check passed (Swarm holds it `starting` until then).
    async fn health(&self, id: &str) -> Result<Health, DockerError> {
        if is_container_id(id) {
            return self.manager.health(id).await;
        }
        Ok(Health::Unchecked)
    }

    /// A one-off's container on the manager says; a dyno's task does not
    /// (Swarm keeps only its exit code), so it is never reported as such.
    async fn out_of_memory(&self, id: &str) -> Result<bool, DockerError> {
        if is_container_id(id) {
            return self.manager.out_of_memory(id).await;
        }
        Ok(false)
    }

    /// For a dyno: when its running task was made, within a second or two
    /// of its start (the manager keeps no start time: the timestamp of a
    /// task's `running` status moves whenever its host reports again, as
    /// after the manager restarted).
    async fn started_at(&self, id: &str) -> Result<Option<DateTime<Utc>>, DockerError> {
        if is_container_id(id) {
            return self.manager.started_at(id).await;
        }
        let look = self.look(id).await?;
        Ok(match (look.condition(), &look.task) {
            (Some(Condition::Running), Some(task)) => task.created_at,
            _ => None,
        })
    }

    async fn published_address(
        &self,
        id: &str,
        container_port: u16,
    ) -> Result<Option<SocketAddr>, DockerError> {
        if is_container_id(id) {
            return self.manager.published_address(id, container_port).await;
        }
        let look = self.look(id).await?;
        Ok(match (look.condition(), &look.task, look.node()) {
            (Some(Condition::Running), Some(task), Some(node)) => {
                published(task, node, Some(container_port))
            }
            _ => None,
        })
    }

    /// Removes the dyno's service, and waits (bounded by `grace` and a
    /// margin) until its task has stopped. Swarm stops it with the stop
    /// grace of the dyno's spec (the platform passes the same here).
    /// A dyno gets a new task (placed afresh), a one-off container restarts.
    async fn restart_process(&self, id: &str, grace: Duration) -> Result<(), DockerError> {
        if is_container_id(id) {
            return self.manager.restart_container(id, grace).await;
        }
        Runtime::start_again(self, id).await
    }

    async fn stop_and_remove(&self, id: &str, grace: Duration) -> Result<(), DockerError> {
        if is_container_id(id) {
            return self.manager.stop_and_remove(id, grace).await;
        }
        self.remove_service_and_wait(id, grace).await
    }

    /// The output of the dyno's current task, wherever it runs, through the
    /// manager: from the task's start until it stops (then the stream
    /// ends, as a container's does). Follow again after `start_again` for
    /// the next task's.
    fn follow_logs(
        &self,
        id: &str,
    ) -> impl Stream<Item = Result<LogLine, DockerError>> + Send + 'static {
        if is_container_id(id) {
            return self.manager.follow_logs(id).boxed();
        }
        let (swarm, id) = (self.clone(), id.to_string());
        futures_util::stream::once(async move {
            let task = match swarm.newest_task(&id).await {
                Ok(Some(task)) => task,
                Ok(None) => return futures_util::stream::empty().boxed(),
                Err(error) => return futures_util::stream::iter([Err(error)]).boxed(),
            };
            let task_id = task.id.unwrap_or_default();
            let stopped = Box::pin(task_stopped(swarm.clone(), task_id.clone()));
            follow_lines(
                swarm.manager.docker.clone(),
                LogSource::Task(task_id),
                Some(stopped),
            )
            .boxed()
        })
        .flatten()
        .boxed()
    }

    /// What changes among the selected dynos and one-offs, from now on:
    /// `create`, `start`, `die` and `destroy`, by listing the swarm every
    /// few seconds (Swarm's own events say nothing of tasks). The stream
    /// yields an error and ends when the manager does not answer.
    fn events_of(
        &self,
        selector: ContainerSelector<'_>,
    ) -> impl Stream<Item = Result<ContainerEvent, DockerError>> + Send + 'static {
        let labels: Vec<(String, String)> = selector
            .labels()
            .into_iter()
            .map(|(key, value)| (key.to_string(), value.to_string()))
            .collect();
        struct Watch {
            swarm: Swarm,
            labels: Vec<(String, String)>,
            known: Option<HashMap<String, String>>,
            pending: VecDeque<ContainerEvent>,
            failed: bool,
        }
        let watch = Watch {
            swarm: self.clone(),
            labels,
            known: None,
            pending: VecDeque::new(),
            failed: false,
        };
        let events: BoxStream<'static, Result<ContainerEvent, DockerError>> =
            futures_util::stream::unfold(watch, |mut watch| async move {
                loop {
                    if let Some(event) = watch.pending.pop_front() {
                        return Some((Ok(event), watch));
                    }
                    if watch.failed {
                        return None;
                    }
                    if watch.known.is_some() {
                        tokio::time::sleep(EVENTS_INTERVAL).await;
                    }
                    let labels: Vec<(&str, &str)> = watch
                        .labels
                        .iter()
                        .map(|(key, value)| (key.as_str(), value.as_str()))
                        .collect();
                    let listed = async {
                        let mut containers = watch.swarm.services(&labels).await?;
                        containers.extend(watch.swarm.oneoff_containers(&labels).await?);
                        Ok::<_, DockerError>(containers)
                    };
                    match listed.await {
                        Err(error) => {
                            watch.failed = true;
                            return Some((Err(error), watch));
                        }
                        Ok(containers) => {
                            let now: HashMap<String, String> = containers
                                .into_iter()
                                .map(|container| (container.id, container.state))
                                .collect();
                            if let Some(before) = &watch.known {
                                watch.pending.extend(changes(before, &now));
                            }
                            watch.known = Some(now);
                        }
                    }
                }
            })
            .boxed();
        events
    }
}

/// The events that turn the states `before` into `now` (by id).
fn changes(before: &HashMap<String, String>, now: &HashMap<String, String>) -> Vec<ContainerEvent> {
    let event = |id: &str, action: &str| ContainerEvent {
        id: id.to_string(),
        action: action.to_string(),
    };
    let mut events = Vec::new();
    for (id, state) in now {
        let was = before.get(id);
        if was.is_none() {
            events.push(event(id, "create"));
        }
        let running = state == "running";
        let was_running = was.is_some_and(|was| was == "running");
        if running && !was_running {
            events.push(event(id, "start"));
        }
        if !running && was_running {
            events.push(event(id, "die"));
        }
    }
    for id in before.keys().filter(|id| !now.contains_key(*id)) {
        events.push(event(id, "destroy"));
    }
    events
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_tell_containers_from_services() {
        assert!(is_container_id(&"ab12".repeat(16)));
        assert!(!is_container_id("b0y7qjqwj93sic4n3oxq4sywn"));
    }

    #[test]
    fn listings_become_events() {
        let before = HashMap::from([
            ("a".to_string(), "running".to_string()),
            ("b".to_string(), "created".to_string()),
            ("c".to_string(), "running".to_string()),
        ]);
        let now = HashMap::from([
            ("a".to_string(), "exited".to_string()),
            ("b".to_string(), "running".to_string()),
            ("d".to_string(), "created".to_string()),
        ]);
        let mut events: Vec<(String, String)> = changes(&before, &now)
            .into_iter()
            .map(|e| (e.id, e.action))
            .collect();
        events.sort();
        let expected: Vec<(String, String)> = [
            ("a", "die"),
            ("b", "start"),
            ("c", "destroy"),
            ("d", "create"),
        ]
        .iter()
        .map(|(id, action)| (id.to_string(), action.to_string()))
        .collect();
        assert_eq!(events, expected);
    }
}
