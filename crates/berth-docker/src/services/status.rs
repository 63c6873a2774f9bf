//! What a dyno's task is up to, its node considered, as the platform
//! sees a container.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};

use bollard::models::{Node, NodeSpecAvailabilityEnum, NodeState, Service, Task, TaskState};

use crate::containers::LOST_STATUS;
use crate::{ContainerSummary, ProcessIdentity};

/// What the manager says about a node, as far as dynos care.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct NodeView {
    /// Its name in the swarm, else its hostname.
    pub(super) name: String,
    /// Where its published ports are reached.
    pub(super) address: Option<IpAddr>,
    pub(super) state: NodeState,
    /// Ready, and active: Swarm may place new tasks there.
    pub(super) takes_tasks: bool,
}

impl NodeView {
    pub(super) fn of(node: &Node) -> Self {
        let name = node
            .spec
            .as_ref()
            .and_then(|spec| spec.name.clone())
            .filter(|name| !name.is_empty())
            .or_else(|| node.description.as_ref()?.hostname.clone())
            .unwrap_or_else(|| node.id.clone().unwrap_or_default());
        let status = node.status.as_ref();
        // A manager may report 0.0.0.0 (it listens on every address): its
        // manager address then says where it is reached.
        let address = status
            .and_then(|status| status.addr.as_deref()?.parse::<IpAddr>().ok())
            .filter(|address| !address.is_unspecified())
            .or_else(|| {
                let manager = node.manager_status.as_ref()?.addr.as_deref()?;
                manager
                    .parse::<SocketAddr>()
                    .ok()
                    .map(|address| address.ip())
            });
        let state = status
            .and_then(|status| status.state)
            .unwrap_or(NodeState::UNKNOWN);
        let active = node
            .spec
            .as_ref()
            .and_then(|spec| spec.availability)
            .is_none_or(|availability| availability == NodeSpecAvailabilityEnum::ACTIVE);
        Self {
            name,
            address,
            takes_tasks: active && state == NodeState::READY,
            state,
        }
    }
}

/// The newest of `tasks`: the one a one-replica service runs now, or ran
/// last.
pub(super) fn newest<'a>(tasks: impl Iterator<Item = &'a Task>) -> Option<&'a Task> {
    tasks.max_by_key(|task| {
        (
            task.created_at,
            task.version.as_ref().and_then(|version| version.index),
        )
    })
}

/// What a task is up to, its node considered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Condition {
    /// Not running yet: being placed, its image pulled, started.
    Starting {
        detail: String,
    },
    Running,
    /// Done: its process exited (with `code`), or it never ran (no code).
    Exited {
        code: Option<i64>,
        detail: String,
    },
    /// Its host is down or gone: it runs nowhere the platform can reach.
    Lost {
        host: String,
    },
    /// Its host has not reported to the manager since the manager started.
    Unsure {
        host: String,
        detail: String,
    },
}

pub(super) fn is_terminal(task: &Task) -> bool {
    matches!(
        task.status.as_ref().and_then(|status| status.state),
        Some(
            TaskState::COMPLETE
                | TaskState::FAILED
                | TaskState::SHUTDOWN
                | TaskState::REJECTED
                | TaskState::ORPHANED
                | TaskState::REMOVE
        )
    )
}

pub(super) fn condition(task: &Task, node: Option<&NodeView>) -> Condition {
    let status = task.status.clone().unwrap_or_default();
    let state = status.state.unwrap_or(TaskState::NEW);
    let text = |state: TaskState| {
        let said = status
            .err
            .as_deref()
            .filter(|err| !err.is_empty())
            .or(status.message.as_deref())
            .unwrap_or_default();
        if said.is_empty() {
            state.to_string()
        } else {
            format!("{state}: {said}")
        }
    };
    if is_terminal(task) {
        // A container that never started reports no id and code 0.
        let code = status
            .container_status
            .as_ref()
            .filter(|container| {
                container
                    .container_id
                    .as_deref()
                    .is_some_and(|id| !id.is_empty())
            })
            .and_then(|container| container.exit_code);
        return Condition::Exited {
            code,
            detail: text(state),
        };
    }
    if let Some(node_id) = task.node_id.as_deref().filter(|id| !id.is_empty()) {
        let Some(node) = node else {
            // The node left the swarm.
            return Condition::Lost {
                host: node_id.to_string(),
            };
        };
        match node.state {
            NodeState::READY => {}
            NodeState::DOWN => {
                return Condition::Lost {
                    host: node.name.clone(),
                }
            }
            _ => {
                return Condition::Unsure {
                    host: node.name.clone(),
                    detail: text(state),
                }
            }
        }
    }
    match state {
        TaskState::RUNNING => Condition::Running,
        state => Condition::Starting {
            detail: text(state),
        },
    }
}

/// Whether the service publishes a port (a web dyno).
pub(super) fn publishes(service: &Service) -> bool {
    service
        .spec
        .as_ref()
        .and_then(|spec| spec.endpoint_spec.as_ref())
        .and_then(|endpoint| endpoint.ports.as_ref())
        .is_some_and(|ports| !ports.is_empty())
}

/// Where `task` publishes `container_port` (any, if `None`), on `node`.
pub(super) fn published(
    task: &Task,
    node: &NodeView,
    container_port: Option<u16>,
) -> Option<SocketAddr> {
    let ports = task.status.as_ref()?.port_status.as_ref()?.ports.as_ref()?;
    let port = ports.iter().find(|port| {
        container_port.is_none_or(|wanted| port.target_port == Some(i64::from(wanted)))
    })?;
    let published = u16::try_from(port.published_port?).ok()?;
    Some(SocketAddr::new(node.address?, published))
}

/// Parentheses in Swarm's texts would pass for an exit code in a status
/// (`ContainerSummary::exit_code` reads the first parenthesis).
fn without_parentheses(text: &str) -> String {
    text.replace('(', "[").replace(')', "]")
}

/// A service as the platform sees a dyno's container.
pub(super) fn summarize(
    service: &Service,
    task: Option<&Task>,
    nodes: &HashMap<String, NodeView>,
) -> ContainerSummary {
    let spec = service.spec.clone().unwrap_or_default();
    let labels = spec.labels.unwrap_or_default();
    let node = task
        .and_then(|task| task.node_id.as_ref())
        .and_then(|node| nodes.get(node));
    let condition = match task {
        Some(task) => condition(task, node),
        None => Condition::Starting {
            detail: "waiting for its task".into(),
        },
    };
    let on_host = node.map_or_else(String::new, |node| format!(" on {}", node.name));
    let (state, status, address) = match &condition {
        Condition::Starting { detail } => (
            "created",
            format!("Created{on_host}: {}", without_parentheses(detail)),
            None,
        ),
        Condition::Running => (
            "running",
            match task.and_then(|task| task.created_at) {
                Some(since) => format!("Up since {}{on_host}", since.to_rfc3339()),
                None => format!("Up{on_host}"),
            },
            task.zip(node)
                .and_then(|(task, node)| published(task, node, None)),
        ),
        Condition::Exited {
            code: Some(code), ..
        } => ("exited", format!("Exited ({code}){on_host}"), None),
        Condition::Exited { code: None, detail } => (
            "exited",
            format!("Exited{on_host}: {}", without_parentheses(detail)),
            None,
        ),
        Condition::Lost { host } => (
            "exited",
            format!("{LOST_STATUS} its host {host} is down"),
            None,
        ),
        Condition::Unsure { host, .. } => (
            "unknown",
            format!("Unknown: its host {host} has not reported to the manager"),
            None,
        ),
    };
    ContainerSummary {
        id: service.id.clone().unwrap_or_default(),
        name: spec.name.unwrap_or_default(),
        process: ProcessIdentity::from_labels(&labels),
        labels,
        state: state.to_string(),
        status,
        created: service.created_at.unwrap_or_default(),
        address,
        host: node.map(|node| node.name.clone()),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use bollard::models::{
        ContainerStatus, EndpointPortConfig, NodeStatus, ObjectVersion, PortStatus, TaskStatus,
    };
    use chrono::{DateTime, Utc};

    use crate::services::spec::service_name;
    use crate::services::spec::service_spec;
    use crate::services::spec::tests::{web_1, web_spec};

    pub(crate) fn node(name: &str, state: NodeState) -> NodeView {
        NodeView {
            name: name.into(),
            address: Some("10.78.0.12".parse().unwrap()),
            takes_tasks: state == NodeState::READY,
            state,
        }
    }

    fn task(state: TaskState, node_id: &str, minute: u32) -> Task {
        Task {
            id: Some(format!("task{minute}")),
            service_id: Some("svc1".into()),
            node_id: Some(node_id.into()),
            created_at: Some(
                DateTime::parse_from_rfc3339(&format!("2026-12-06T04:{minute:02}:00Z"))
                    .unwrap()
                    .with_timezone(&Utc),
            ),
            version: Some(ObjectVersion {
                index: Some(u64::from(minute)),
            }),
            status: Some(TaskStatus {
                state: Some(state),
                timestamp: Some(Utc::now()),
                port_status: Some(PortStatus {
                    ports: Some(vec![EndpointPortConfig {
                        target_port: Some(5000),
                        published_port: Some(30001),
                        ..Default::default()
                    }]),
                }),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn service() -> Service {
        Service {
            id: Some("svc1".into()),
            spec: Some(service_spec(&web_spec())),
            ..Default::default()
        }
    }

    fn nodes(state: NodeState) -> HashMap<String, NodeView> {
        HashMap::from([("n2".to_string(), node("h2", state))])
    }

    #[test]
    fn a_running_task_is_a_running_container_at_its_host_s_address() {
        let running = task(TaskState::RUNNING, "n2", 1);
        let summary = summarize(&service(), Some(&running), &nodes(NodeState::READY));
        assert_eq!(summary.state, "running");
        assert_eq!(summary.id, "svc1");
        assert_eq!(summary.name, service_name(&web_1()));
        assert_eq!(summary.host.as_deref(), Some("h2"));
        assert_eq!(summary.address, Some("10.78.0.12:30001".parse().unwrap()));
        assert_eq!(summary.process, Some(web_1()));
        assert_eq!(summary.exit_code(), None);
    }

    #[test]
    fn a_crashed_task_is_exited_with_its_code() {
        let mut failed = task(TaskState::FAILED, "n2", 1);
        let status = failed.status.as_mut().unwrap();
        status.err = Some("task: non-zero exit (3)".into());
        status.container_status = Some(ContainerStatus {
            container_id: Some("c0ffee".into()),
            exit_code: Some(3),
            ..Default::default()
        });
        let summary = summarize(&service(), Some(&failed), &nodes(NodeState::READY));
        assert_eq!(summary.state, "exited");
        assert_eq!(summary.exit_code(), Some(3));
        assert_eq!(summary.address, None);
    }

    #[test]
    fn a_task_that_never_ran_has_no_exit_code() {
        let mut rejected = task(TaskState::REJECTED, "n2", 1);
        let status = rejected.status.as_mut().unwrap();
        status.err = Some("No such image: x (really)".into());
        status.container_status = Some(ContainerStatus {
            container_id: Some(String::new()),
            exit_code: Some(0),
            ..Default::default()
        });
        let summary = summarize(&service(), Some(&rejected), &nodes(NodeState::READY));
        assert_eq!(summary.state, "exited");
        assert_eq!(summary.exit_code(), None, "{}", summary.status);
        assert!(
            summary.status.contains("No such image"),
            "{}",
            summary.status
        );
    }

    #[test]
    fn a_task_on_a_down_host_is_lost_and_on_an_unknown_one_not_running() {
        let running = task(TaskState::RUNNING, "n2", 1);
        let lost = summarize(&service(), Some(&running), &nodes(NodeState::DOWN));
        assert_eq!(lost.state, "exited");
        assert_eq!(lost.address, None);
        assert_eq!(lost.exit_code(), None);
        assert!(lost.status.contains("h2 is down"), "{}", lost.status);
        assert_eq!(lost.lost_with_host(), Some("h2"), "{lost:?}");
        let gone = summarize(&service(), Some(&running), &HashMap::new());
        assert_eq!(gone.state, "exited");
        let unsure = summarize(&service(), Some(&running), &nodes(NodeState::UNKNOWN));
        assert_eq!(unsure.state, "unknown");
        assert_eq!(unsure.address, None);
        // A task that ended keeps its exit code whatever its host does.
        let mut complete = task(TaskState::COMPLETE, "n2", 1);
        complete.status.as_mut().unwrap().container_status = Some(ContainerStatus {
            container_id: Some("c0ffee".into()),
            exit_code: Some(0),
            ..Default::default()
        });
        let ended = summarize(&service(), Some(&complete), &nodes(NodeState::DOWN));
        assert_eq!(
            (ended.state.as_str(), ended.exit_code()),
            ("exited", Some(0))
        );
    }

    #[test]
    fn a_task_being_placed_is_created() {
        let mut pending = task(TaskState::PENDING, "", 1);
        pending.node_id = None;
        pending.status.as_mut().unwrap().err =
            Some("no suitable node (scheduling constraints not satisfied on 3 nodes)".into());
        let summary = summarize(&service(), Some(&pending), &HashMap::new());
        assert_eq!(summary.state, "created");
        assert_eq!(summary.host, None);
        assert!(
            summary.status.contains("no suitable node"),
            "{}",
            summary.status
        );
        assert_eq!(summary.exit_code(), None);
        let none = summarize(&service(), None, &HashMap::new());
        assert_eq!(none.state, "created");
    }

    #[test]
    fn the_newest_task_is_the_dyno_s() {
        let old = task(TaskState::FAILED, "n2", 1);
        let new = task(TaskState::RUNNING, "n2", 2);
        let tasks = [new.clone(), old];
        assert_eq!(newest(tasks.iter()).unwrap().id, new.id);
    }

    #[test]
    fn node_addresses_fall_back_to_the_manager_address() {
        let manager = Node {
            id: Some("n1".into()),
            description: Some(bollard::models::NodeDescription {
                hostname: Some("h1".into()),
                ..Default::default()
            }),
            status: Some(NodeStatus {
                state: Some(NodeState::READY),
                addr: Some("0.0.0.0".into()),
                ..Default::default()
            }),
            manager_status: Some(bollard::models::ManagerStatus {
                addr: Some("10.78.0.11:2377".into()),
                ..Default::default()
            }),
            ..Default::default()
        };
        let view = NodeView::of(&manager);
        assert_eq!(view.name, "h1");
        assert_eq!(view.address, Some("10.78.0.11".parse().unwrap()));
    }
}
