//! Swarm membership: making an engine a manager, joining others to its
//! swarm as workers, listing, draining and removing them. Join tokens are
//! read from the manager when needed and handed only to the joining engine.

use std::collections::HashMap;

use bollard::models::{
    LocalNodeState, NodeSpec, NodeSpecAvailabilityEnum, NodeSpecRoleEnum, NodeState,
    SwarmInitRequest, SwarmJoinRequest, SwarmSpec, SwarmSpecDispatcher,
};
use bollard::query_parameters::{
    DeleteNodeOptionsBuilder, LeaveSwarmOptionsBuilder, UpdateNodeOptionsBuilder,
};

use crate::error::api;
use crate::request_metrics::timed;
use crate::{DockerError, Engine};

/// The port managers listen on for the swarm's control traffic.
pub const SWARM_PORT: u16 = 2377;
/// How often nodes report to the manager: a host that stops answering is
/// marked down after 2.5 to 3.5 periods (about 5–7 s here, where Docker's
/// default of 5 s takes 11–15 s), and its dynos are then placed elsewhere.
const HEARTBEAT: std::time::Duration = std::time::Duration::from_secs(2);

/// Where an engine stands towards a swarm.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Membership {
    /// In no swarm.
    Alone,
    /// A node of the swarm with this cluster id (workers do not know it:
    /// `None`), as node `node_id`.
    Member {
        cluster_id: Option<String>,
        node_id: String,
        is_manager: bool,
    },
    /// Joining, leaving, or in an error state: `state` is the engine's word.
    Unsettled { state: String },
}

/// A node of the swarm as its manager sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SwarmNode {
    pub id: String,
    /// The node's name in the swarm (Berth sets it to the host's name);
    /// empty when unnamed.
    pub name: String,
    /// The engine's own host name.
    pub hostname: String,
    /// The address the node advertises to the swarm.
    pub address: String,
    pub is_manager: bool,
    /// `ready`, `down`, `unknown`, `disconnected`.
    pub state: String,
    /// `active`, `pause`, `drain`.
    pub availability: String,
    pub labels: HashMap<String, String>,
    /// The orchestrator's version of the node's spec, needed to change it.
    version: i64,
}

/// What a node's spec should become.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Availability {
    Active,
    /// Takes no new tasks; those it runs stay.
    Pause,
    /// Takes no tasks: Swarm moves those it runs elsewhere.
    Drain,
}

impl Engine {
    /// Whether this engine is in a swarm, and as what.
    pub async fn membership(&self) -> Result<Membership, DockerError> {
        let info = timed("info", self.docker.info())
            .await
            .map_err(api(format!(
                "ask the engine at {} about its swarm",
                self.host()
            )))?;
        let swarm = info.swarm.unwrap_or_default();
        Ok(match swarm.local_node_state {
            None | Some(LocalNodeState::INACTIVE) | Some(LocalNodeState::EMPTY) => {
                Membership::Alone
            }
            Some(LocalNodeState::ACTIVE) => Membership::Member {
                cluster_id: swarm.cluster.and_then(|cluster| cluster.id),
                node_id: swarm.node_id.unwrap_or_default(),
                is_manager: swarm.control_available.unwrap_or(false),
            },
            Some(state) => Membership::Unsettled {
                state: state.to_string(),
            },
        })
    }

    /// Makes this engine the manager of a new swarm, advertising `address`
    /// (an IP the other engines reach it on); its node id.
    pub async fn init_swarm(&self, address: &str) -> Result<String, DockerError> {
        timed(
            "swarm_init",
            self.docker.init_swarm(SwarmInitRequest {
                listen_addr: Some(format!("0.0.0.0:{SWARM_PORT}")),
                advertise_addr: Some(address.to_string()),
                spec: Some(SwarmSpec {
                    dispatcher: Some(SwarmSpecDispatcher {
                        heartbeat_period: Some(HEARTBEAT.as_nanos() as i64),
                    }),
                    ..Default::default()
                }),
                ..Default::default()
            }),
        )
        .await
        .map_err(api(format!(
            "start a swarm on {} advertising {address}",
            self.host()
        )))
    }

    /// The token with which a worker joins this manager's swarm.
    pub async fn worker_join_token(&self) -> Result<String, DockerError> {
        let swarm = timed("swarm_inspect", self.docker.inspect_swarm())
            .await
            .map_err(api(format!("read the swarm of {}", self.host())))?;
        swarm
            .join_tokens
            .and_then(|tokens| tokens.worker)
            .ok_or_else(|| DockerError::BadHost {
                host: self.host().to_string(),
                reason: "the swarm manager has no worker join token".into(),
            })
    }

    /// Joins this engine as a worker to the swarm managed at `manager`
    /// (`IP`, the manager's advertised address), itself advertising `address`.
    pub async fn join_swarm(
        &self,
        manager: &str,
        token: &str,
        address: &str,
    ) -> Result<(), DockerError> {
        timed(
            "swarm_join",
            self.docker.join_swarm(SwarmJoinRequest {
                listen_addr: Some(format!("0.0.0.0:{SWARM_PORT}")),
                advertise_addr: Some(address.to_string()),
                remote_addrs: Some(vec![format!("{manager}:{SWARM_PORT}")]),
                join_token: Some(token.to_string()),
                ..Default::default()
            }),
        )
        .await
        .map_err(api(format!(
            "join {} to the swarm managed at {manager}",
            self.host()
        )))
    }

    /// Leaves the swarm; its tasks' containers go with it.
    pub async fn leave_swarm(&self) -> Result<(), DockerError> {
        timed(
            "swarm_leave",
            self.docker
                .leave_swarm(Some(LeaveSwarmOptionsBuilder::new().force(false).build())),
        )
        .await
        .map_err(api(format!("leave the swarm from {}", self.host())))
    }

    /// Every node of the swarm this engine manages.
    pub async fn swarm_nodes(&self) -> Result<Vec<SwarmNode>, DockerError> {
        let nodes = timed("node_list", self.docker.list_nodes(None))
            .await
            .map_err(api(format!("list the swarm's nodes on {}", self.host())))?;
        Ok(nodes
            .into_iter()
            .map(|node| {
                let spec = node.spec.unwrap_or_default();
                let status = node.status.unwrap_or_default();
                SwarmNode {
                    id: node.id.unwrap_or_default(),
                    name: spec.name.clone().unwrap_or_default(),
                    hostname: node
                        .description
                        .and_then(|description| description.hostname)
                        .unwrap_or_default(),
                    address: status.addr.unwrap_or_default(),
                    is_manager: spec.role == Some(NodeSpecRoleEnum::MANAGER),
                    state: status.state.unwrap_or(NodeState::UNKNOWN).to_string(),
                    availability: spec
                        .availability
                        .unwrap_or(NodeSpecAvailabilityEnum::ACTIVE)
                        .to_string(),
                    labels: spec.labels.unwrap_or_default(),
                    version: node.version.and_then(|v| v.index).unwrap_or_default() as i64,
                }
            })
            .collect())
    }

    /// Sets a node's name, labels and availability, keeping its role.
    pub async fn update_node(
        &self,
        node: &SwarmNode,
        name: &str,
        labels: HashMap<String, String>,
        availability: Availability,
    ) -> Result<(), DockerError> {
        let spec = NodeSpec {
            name: Some(name.to_string()),
            labels: Some(labels),
            role: Some(if node.is_manager {
                NodeSpecRoleEnum::MANAGER
            } else {
                NodeSpecRoleEnum::WORKER
            }),
            availability: Some(match availability {
                Availability::Active => NodeSpecAvailabilityEnum::ACTIVE,
                Availability::Pause => NodeSpecAvailabilityEnum::PAUSE,
                Availability::Drain => NodeSpecAvailabilityEnum::DRAIN,
            }),
        };
        timed(
            "node_update",
            self.docker.update_node(
                &node.id,
                spec,
                UpdateNodeOptionsBuilder::new()
                    .version(node.version)
                    .build(),
            ),
        )
        .await
        .map_err(api(format!("update swarm node {}", node.hostname)))
    }

    /// Forgets a node that has left (or, with `force`, one that is down).
    pub async fn remove_node(&self, node: &SwarmNode, force: bool) -> Result<(), DockerError> {
        timed(
            "node_remove",
            self.docker.delete_node(
                &node.id,
                Some(DeleteNodeOptionsBuilder::new().force(force).build()),
            ),
        )
        .await
        .map_err(api(format!("remove swarm node {}", node.hostname)))
    }
}
