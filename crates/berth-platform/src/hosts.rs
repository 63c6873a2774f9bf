//! The hosts the platform runs dynos on, for platform admins: the default
//! host (berthd's own engine, named by `BERTH_HOST_NAME`, else `default`)
//! and the managed hosts added with `hosts:add`. Adding the first one makes
//! the default host's engine a Swarm manager; each added engine joins that
//! swarm as a worker with a join token read from the manager and handed only
//! to the joining engine.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::time::Duration;

use berth_core::{Action, Actor, HostName};
use berth_docker::{
    Availability, ContainerSelector, DockerError, Engine, EngineTarget, EngineTls, ImageRegistry,
    Membership, Runtime, SwarmNode,
};
use berth_store::HostRecord;

use crate::audit::platform_entry;
use crate::{authorize_platform, Platform, PlatformError, Result};

/// How long an engine has to answer when it is added or checked.
const ENGINE_ANSWER_TIMEOUT: Duration = Duration::from_secs(15);
/// The node label naming a host in the swarm, for placement constraints.
pub(crate) const HOST_LABEL: &str = "berth.host";
/// Labels a host may carry, and their sizes.
const MAX_LABELS: usize = 32;
const MAX_LABEL_KEY: usize = 63;
const MAX_LABEL_VALUE: usize = 255;

/// What the platform needs to grow beyond its default host.
#[derive(Debug, Clone, Default)]
pub struct ClusterSettings {
    /// Where images go through once there is more than one host
    /// (`BERTH_REGISTRY`, `BERTH_REGISTRY_USERNAME`, `BERTH_REGISTRY_PASSWORD`).
    pub registry: Option<ImageRegistry>,
    /// The client certificate berthd presents to every managed host's
    /// engine: the default engine's, else `DOCKER_CERT_PATH`'s.
    pub host_tls: Option<EngineTls>,
    /// The address the default host advertises to the others in the swarm
    /// (`BERTH_SWARM_ADVERTISE_ADDRESS`); by default, the address of
    /// `BERTH_DOCKER_HOST` when that is `tcp://`.
    pub advertise_address: Option<String>,
}

/// A host as `berth hosts` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Host {
    pub name: String,
    /// Where berthd reaches its engine: `unix:///…` or `tcp://HOST:PORT`.
    pub address: String,
    /// `manager` (it schedules) or `worker`.
    pub role: &'static str,
    /// `ready`, `down` or `unknown`.
    pub state: &'static str,
    /// `active` (takes dynos) or `drain`.
    pub availability: &'static str,
    pub labels: BTreeMap<String, String>,
    /// Dynos of this platform running there, one-offs included.
    pub dynos: usize,
}

/// What `hosts:add` asks for.
#[derive(Debug, Clone)]
pub struct NewHost {
    pub name: String,
    /// `tcp://HOST:PORT` of the host's engine.
    pub docker_host: String,
    pub labels: BTreeMap<String, String>,
}

impl Platform {
    pub async fn hosts(&self, actor: &Actor) -> Result<Vec<Host>> {
        authorize_platform(actor, Action::ReadPlatform)?;
        let engine = &self.engine()?;
        let dynos = self.running_dynos(engine).await;
        let records = self.store.hosts().await?;
        let (nodes, own_node) = match engine.membership().await {
            Ok(Membership::Member {
                is_manager: true,
                node_id,
                ..
            }) => (engine.swarm_nodes().await?, Some(node_id)),
            Ok(_) => (Vec::new(), None),
            Err(error) if error.is_unreachable() => (Vec::new(), None),
            Err(error) => return Err(error.into()),
        };
        let mut hosts = vec![Host {
            name: self.host_name.to_string(),
            address: engine.host().to_string(),
            role: "manager",
            state: match &dynos {
                Ok(_) => "ready",
                Err(_) => "down",
            },
            availability: nodes
                .iter()
                .find(|node| Some(&node.id) == own_node.as_ref())
                .map_or("active", |node| availability(&node.availability)),
            labels: BTreeMap::new(),
            dynos: dynos.unwrap_or(0),
        }];
        for record in records {
            let node = nodes.iter().find(|node| node.id == record.node_id);
            let state = node.map_or("unknown", |node| node_state(&node.state));
            let dynos = if state == "ready" {
                match self.connect_host(&record.docker_host).await {
                    Ok(host_engine) => self.running_dynos(&host_engine).await.unwrap_or(0),
                    Err(_) => 0,
                }
            } else {
                0
            };
            hosts.push(Host {
                name: record.name,
                address: record.docker_host,
                role: if node.is_some_and(|node| node.is_manager) {
                    "manager"
                } else {
                    "worker"
                },
                state,
                availability: node.map_or("active", |node| availability(&node.availability)),
                labels: record.labels,
                dynos,
            });
        }
        Ok(hosts)
    }

    /// The engines of the managed hosts the swarm sees ready, for upkeep
    /// such as pruning images: a host that is down or does not answer is
    /// skipped (said in berthd's log), to be caught up with another time.
    pub(crate) async fn ready_host_engines(&self) -> Result<Vec<(String, Engine)>> {
        let mut engines = Vec::new();
        for record in self.ready_hosts().await? {
            match self.connect_host(&record.docker_host).await {
                Ok(engine) => engines.push((record.name, engine)),
                Err(error) => {
                    tracing::warn!(host = %record.name, %error, "cannot reach a managed host's engine")
                }
            }
        }
        Ok(engines)
    }

    /// The managed hosts the swarm sees ready (draining ones included:
    /// they may still run dynos).
    pub(crate) async fn ready_hosts(&self) -> Result<Vec<HostRecord>> {
        let records = self.store.hosts().await?;
        if records.is_empty() {
            return Ok(Vec::new());
        }
        let nodes = self.engine()?.swarm_nodes().await?;
        Ok(records
            .into_iter()
            .filter(|record| {
                nodes
                    .iter()
                    .any(|node| node.id == record.node_id && node_state(&node.state) == "ready")
            })
            .collect())
    }

    /// Joins the engine at `docker_host` to the platform: the default
    /// host's engine becomes a Swarm manager first if it is not one yet.
    pub async fn add_host(&self, actor: &Actor, request: NewHost) -> Result<Host> {
        authorize_platform(actor, Action::ManageHosts)?;
        let name = HostName::parse(&request.name)
            .map_err(|error| PlatformError::Invalid(error.to_string()))?;
        check_labels(&request.labels)?;
        let target = managed_target(&request.docker_host)?;
        let _changing = self.host_changes.lock().await;
        if self.cluster.registry.is_none() {
            return Err(PlatformError::Invalid(
                "adding a host needs a registry: set BERTH_REGISTRY=HOST:PORT for berthd (images \
                 are built once, pushed there and pulled by every host) and restart it"
                    .into(),
            ));
        }
        let Some(tls) = self.cluster.host_tls.clone() else {
            return Err(PlatformError::Invalid(
                "berthd reaches other hosts' engines over mutual TLS: set DOCKER_CERT_PATH (or \
                 BERTH_DOCKER_CERT_PATH) to a directory holding ca.pem, cert.pem and key.pem and \
                 restart it"
                    .into(),
            ));
        };
        let records = self.store.hosts().await?;
        if name == self.host_name || records.iter().any(|r| r.name == name.as_str()) {
            return Err(PlatformError::Conflict(format!(
                "a host named {name} already exists: choose another name"
            )));
        }
        let url = target.url();
        if let Some(record) = records.iter().find(|r| r.docker_host == url) {
            return Err(PlatformError::Conflict(format!(
                "the engine at {url} is already the host {}",
                record.name
            )));
        }
        let target = target.with_tls(tls);
        let joining = connect_to_add(&target).await?;
        let manager = &self.engine()?;
        let own_node = self.ensure_manager(manager).await?;
        match joining
            .membership()
            .await
            .map_err(|e| added_engine_error(&url, e))?
        {
            Membership::Alone => {}
            Membership::Member { node_id, .. } if node_id == own_node.id => {
                return Err(PlatformError::Conflict(format!(
                    "{url} is the default host's own engine"
                )));
            }
            Membership::Member { .. } => {
                return Err(PlatformError::Conflict(format!(
                    "the engine at {url} is already part of another swarm: if it should join this \
                     platform instead, run `docker swarm leave --force` on it first"
                )));
            }
            Membership::Unsettled { state } => {
                return Err(PlatformError::Conflict(format!(
                    "the engine at {url} is {state} a swarm: wait a moment, or run `docker swarm \
                     leave --force` on it"
                )));
            }
        }
        let address = resolve_address(&target).await?;
        let token = manager.worker_join_token().await?;
        joining
            .join_swarm(&own_node.address, &token, &address)
            .await
            .map_err(|error| {
                PlatformError::Invalid(format!(
                    "the engine at {url} could not join the swarm of the default host (at \
                     {}:{}): {error}",
                    own_node.address,
                    berth_docker::SWARM_PORT
                ))
            })?;
        let joined = self
            .record_joined_host(actor, &name, &url, &request.labels, &joining, manager)
            .await;
        if joined.is_err() {
            // Nothing of a half-added host stays: it leaves, and is forgotten.
            let node_id = match joining.membership().await {
                Ok(Membership::Member { node_id, .. }) => Some(node_id),
                _ => None,
            };
            if let Err(error) = joining.leave_swarm().await {
                tracing::warn!(host = %name, %error, "cannot leave the swarm after a failed hosts:add");
            }
            if let Some(node) = self.find_node(manager, node_id.as_deref()).await {
                if let Err(error) = manager.remove_node(&node, true).await {
                    tracing::warn!(host = %name, %error, "cannot forget the node of a failed hosts:add");
                }
            }
        }
        joined?;
        // The apps move onto the swarm with the reconciler's next pass.
        self.place_on_swarm()?;
        self.reconcile_wanted.notify_one();
        let mut hosts = self.hosts(actor).await?;
        hosts.retain(|host| host.name == name.as_str());
        hosts
            .pop()
            .ok_or_else(|| PlatformError::Internal(format!("host {name} vanished once added")))
    }

    /// Labels the new node, then records the host (and the change in the audit trail).
    async fn record_joined_host(
        &self,
        actor: &Actor,
        name: &HostName,
        url: &str,
        labels: &BTreeMap<String, String>,
        joining: &Engine,
        manager: &Engine,
    ) -> Result<HostRecord> {
        let Membership::Member { node_id, .. } = joining.membership().await? else {
            return Err(PlatformError::Internal(format!(
                "the engine at {url} joined the swarm but does not say so"
            )));
        };
        let node = self
            .find_node(manager, Some(&node_id))
            .await
            .ok_or_else(|| {
                PlatformError::Internal(format!("the swarm does not list the new node {node_id}"))
            })?;
        let mut node_labels: HashMap<String, String> = labels.clone().into_iter().collect();
        node_labels.insert(HOST_LABEL.to_string(), name.to_string());
        manager
            .update_node(&node, name.as_str(), node_labels, Availability::Active)
            .await?;
        let detail = if labels.is_empty() {
            format!("added host {name} ({url})")
        } else {
            let labels: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
            format!("added host {name} ({url}) labelled {}", labels.join(", "))
        };
        Ok(self
            .store
            .add_host(
                name.as_str(),
                url,
                &node_id,
                labels,
                &platform_entry(actor, "host.add", detail),
            )
            .await?)
    }

    /// Stops placing dynos on a managed host and moves those it runs to
    /// the other hosts, each started there and serving before it stops
    /// here. A dyno that cannot move leaves the host paused (shown as
    /// draining); draining again resumes.
    pub async fn drain_host(&self, actor: &Actor, name: &str) -> Result<Host> {
        authorize_platform(actor, Action::ManageHosts)?;
        let _changing = self.host_changes.lock().await;
        let record = self.managed_host(name).await?;
        let manager = &self.engine()?;
        let node = self
            .find_node(manager, Some(&record.node_id))
            .await
            .ok_or_else(|| not_in_swarm(&record))?;
        manager
            .update_node(&node, name, node.labels.clone(), Availability::Pause)
            .await?;
        self.audit(
            Some(&actor.email),
            &actor.source,
            "host.drain",
            format!("drained host {name}"),
        )
        .await?;
        let moved = self.move_dynos_off(name, actor).await?;
        tracing::info!(host = %name, moved, "host drained");
        // The node's version changed with the pause: read it again.
        let node = self
            .find_node(manager, Some(&record.node_id))
            .await
            .ok_or_else(|| not_in_swarm(&record))?;
        manager
            .update_node(&node, name, node.labels.clone(), Availability::Drain)
            .await?;
        let mut hosts = self.hosts(actor).await?;
        hosts.retain(|host| host.name == name);
        hosts
            .pop()
            .ok_or_else(|| PlatformError::Internal(format!("host {name} vanished once drained")))
    }

    /// Takes a drained host out of the platform: its engine leaves the
    /// swarm and keeps nothing of Berth's. A host that still runs dynos is
    /// refused; one whose engine no longer answers is forgotten once the
    /// swarm sees it down.
    pub async fn remove_host(&self, actor: &Actor, name: &str) -> Result<()> {
        authorize_platform(actor, Action::ManageHosts)?;
        let _changing = self.host_changes.lock().await;
        let record = self.managed_host(name).await?;
        let manager = &self.engine()?;
        let node = self.find_node(manager, Some(&record.node_id)).await;
        if let Some(node) = &node {
            if node.availability == "active" && node_state(&node.state) == "ready" {
                return Err(PlatformError::Conflict(format!(
                    "host {name} still takes dynos: run `berth hosts:drain {name}` first, then \
                     remove it once its dynos have moved"
                )));
            }
        }
        match self.connect_host(&record.docker_host).await {
            Ok(engine) => {
                let dynos = self.running_dynos(&engine).await?;
                if dynos > 0 {
                    return Err(PlatformError::Conflict(format!(
                        "host {name} still runs {dynos} dyno(s): wait until they have moved \
                         (see `berth hosts`), then remove it"
                    )));
                }
                if let Membership::Member { .. } = engine.membership().await? {
                    engine.leave_swarm().await?;
                }
                self.remove_berth_leftovers(&engine).await?;
                if let Some(node) = &node {
                    self.forget_node(manager, node).await?;
                }
            }
            Err(error) => match &node {
                Some(node) if node_state(&node.state) == "down" => {
                    tracing::warn!(host = %name, %error, "removing a host whose engine does not answer");
                    manager.remove_node(node, true).await?;
                }
                Some(_) => return Err(error),
                None => {}
            },
        }
        self.forget_host_engine(&record.docker_host);
        self.store
            .remove_host(
                name,
                &platform_entry(actor, "host.remove", format!("removed host {name}")),
            )
            .await?;
        Ok(())
    }

    /// A node that has left still shows as down for a moment before the
    /// manager lets it be removed without force.
    async fn forget_node(&self, manager: &Engine, node: &SwarmNode) -> Result<()> {
        let deadline = tokio::time::Instant::now() + ENGINE_ANSWER_TIMEOUT;
        loop {
            match manager.remove_node(node, false).await {
                Ok(()) => return Ok(()),
                Err(error) if error.is_not_found() => return Ok(()),
                Err(_) if tokio::time::Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(250)).await;
                }
                Err(error) => return Err(error.into()),
            }
        }
    }

    /// Removes the containers and images of this platform that a host that
    /// left the swarm still holds.
    async fn remove_berth_leftovers(&self, engine: &Engine) -> Result<()> {
        for container in engine
            .containers_of(ContainerSelector::platform(&self.platform_id))
            .await?
        {
            engine.remove_container(&container.id).await?;
        }
        engine.remove_platform_images().await?;
        Ok(())
    }

    async fn managed_host(&self, name: &str) -> Result<HostRecord> {
        if name == self.host_name.as_str() {
            return Err(PlatformError::Invalid(format!(
                "{name} is the default host: berthd's own engine builds images and runs add-ons, \
                 and stays in the platform"
            )));
        }
        self.store
            .hosts()
            .await?
            .into_iter()
            .find(|record| record.name == name)
            .ok_or_else(|| {
                PlatformError::NotFound(format!(
                    "host {name} not found: `berth hosts` lists the platform's hosts"
                ))
            })
    }

    /// The default host's node, making its engine a Swarm manager if it is
    /// in no swarm yet.
    async fn ensure_manager(&self, manager: &Engine) -> Result<SwarmNode> {
        let node_id = match manager.membership().await? {
            Membership::Member {
                is_manager: true,
                node_id,
                ..
            } => node_id,
            Membership::Member { .. } => {
                return Err(PlatformError::Invalid(format!(
                    "the default host's engine ({}) is a worker of a swarm Berth does not \
                     manage: run `docker swarm leave` on it, or point BERTH_DOCKER_HOST at that \
                     swarm's manager",
                    manager.host()
                )))
            }
            Membership::Unsettled { state } => {
                return Err(PlatformError::Invalid(format!(
                    "the default host's engine ({}) is {state} a swarm: wait a moment and retry",
                    manager.host()
                )))
            }
            Membership::Alone => {
                let address = self.advertise_address(manager).await?;
                manager.init_swarm(&address).await?
            }
        };
        let node = self
            .find_node(manager, Some(&node_id))
            .await
            .ok_or_else(|| {
                PlatformError::Internal(format!("the swarm does not list its manager {node_id}"))
            })?;
        if node.name != self.host_name.as_str() {
            // Dynos on the default host show its name, as on any host.
            let mut labels = node.labels.clone();
            labels.insert(HOST_LABEL.to_string(), self.host_name.to_string());
            let availability = if node.availability == "drain" {
                Availability::Drain
            } else {
                Availability::Active
            };
            manager
                .update_node(&node, self.host_name.as_str(), labels, availability)
                .await?;
        }
        Ok(node)
    }

    /// Where the other hosts reach the default host.
    async fn advertise_address(&self, manager: &Engine) -> Result<String> {
        if let Some(address) = &self.cluster.advertise_address {
            return Ok(address.clone());
        }
        let target = EngineTarget::parse(manager.host())?;
        if matches!(target, EngineTarget::Tcp { .. }) {
            return resolve_address(&target).await;
        }
        Err(PlatformError::Invalid(
            "the other hosts need an address to reach the default host on: set \
             BERTH_SWARM_ADVERTISE_ADDRESS to its IP address on the network the hosts share, and \
             restart berthd"
                .into(),
        ))
    }

    async fn find_node(&self, manager: &Engine, node_id: Option<&str>) -> Option<SwarmNode> {
        let node_id = node_id?;
        manager
            .swarm_nodes()
            .await
            .ok()?
            .into_iter()
            .find(|node| node.id == node_id)
    }

    /// The engine of a managed host, with the platform's client certificate.
    async fn connect_host(&self, docker_host: &str) -> Result<Engine> {
        let mut target = EngineTarget::parse(docker_host)?;
        if let Some(tls) = &self.cluster.host_tls {
            target = target.with_tls(tls.clone());
        }
        match tokio::time::timeout(ENGINE_ANSWER_TIMEOUT, Engine::connect(&target)).await {
            Ok(engine) => Ok(engine?),
            Err(_) => Err(PlatformError::EngineUnavailable {
                detail: format!("the engine at {docker_host} did not answer"),
            }),
        }
    }

    /// The engine of a managed host, connected once and kept for the
    /// figures read from it every few seconds (see `dyno_stats`).
    pub(crate) async fn kept_host_engine(&self, docker_host: &str) -> Result<Engine> {
        let kept = self
            .host_engines
            .lock()
            .expect("host engines lock")
            .get(docker_host)
            .cloned();
        if let Some(engine) = kept {
            return Ok(engine);
        }
        let engine = self.connect_host(docker_host).await?;
        self.host_engines
            .lock()
            .expect("host engines lock")
            .insert(docker_host.to_string(), engine.clone());
        Ok(engine)
    }

    /// Drops the kept engine of a host that failed or left: the next use
    /// connects again.
    pub(crate) fn forget_host_engine(&self, docker_host: &str) {
        self.host_engines
            .lock()
            .expect("host engines lock")
            .remove(docker_host);
    }

    /// This platform's dynos running on an engine, one-offs included.
    async fn running_dynos(&self, engine: &Engine) -> Result<usize> {
        Ok(engine
            .containers_of(ContainerSelector::platform(&self.platform_id))
            .await?
            .iter()
            .filter(|c| c.state == "running")
            .filter(|c| c.process.as_ref().is_some_and(|p| p.dyno.is_some()))
            .count())
    }
}

/// `tcp://HOST:PORT`: managed hosts are reached over the network.
fn managed_target(docker_host: &str) -> Result<EngineTarget> {
    let invalid = |reason: String| {
        PlatformError::Invalid(format!(
            "--docker-host {docker_host:?}: {reason}; give the engine's address as \
             tcp://HOST:PORT (Docker's TLS port is 2376)"
        ))
    };
    let target = EngineTarget::parse(docker_host).map_err(|error| invalid(error.to_string()))?;
    match target {
        EngineTarget::Tcp { .. } => Ok(target),
        EngineTarget::Unix(_) => Err(invalid("a managed host is reached over TCP".into())),
    }
}

/// Connects to an engine being added, with errors that say what to check.
async fn connect_to_add(target: &EngineTarget) -> Result<Engine> {
    let url = target.url();
    match tokio::time::timeout(ENGINE_ANSWER_TIMEOUT, Engine::connect(target)).await {
        Ok(Ok(engine)) => Ok(engine),
        Ok(Err(error)) => Err(added_engine_error(&url, error)),
        Err(_) => Err(PlatformError::Invalid(format!(
            "the Docker engine at {url} did not answer within {} s: check the address, that \
             dockerd listens there (--tlsverify -H tcp://0.0.0.0:2376) and that this machine \
             can reach it",
            ENGINE_ANSWER_TIMEOUT.as_secs()
        ))),
    }
}

fn added_engine_error(url: &str, error: DockerError) -> PlatformError {
    match error {
        DockerError::Tls { reason, .. } => PlatformError::Invalid(format!(
            "TLS with the Docker engine at {url} failed: {reason}. The engine's certificate must \
             be signed by the CA in berthd's DOCKER_CERT_PATH, and it must trust berthd's client \
             certificate"
        )),
        error if error.is_unreachable() => PlatformError::Invalid(format!(
            "no Docker engine answers at {url}: {}. Check the address, that dockerd listens \
             there with --tlsverify, and that this machine can reach it",
            unreachable_reason(&error)
        )),
        error => error.into(),
    }
}

fn unreachable_reason(error: &DockerError) -> String {
    match error {
        DockerError::Unreachable { reason, .. } => reason.clone(),
        other => other.to_string(),
    }
}

/// The IP address of an engine's `tcp://HOST:PORT`, as Swarm wants it.
async fn resolve_address(target: &EngineTarget) -> Result<String> {
    let url = target.url();
    let EngineTarget::Tcp { address, .. } = target else {
        return Err(PlatformError::Internal(format!(
            "{url} is not a TCP address"
        )));
    };
    let mut addresses = tokio::net::lookup_host(address.as_str())
        .await
        .map_err(|error| PlatformError::Invalid(format!("cannot resolve {url}: {error}")))?;
    addresses
        .next()
        .map(|address| address.ip())
        .filter(|ip: &IpAddr| !ip.is_unspecified())
        .map(|ip| ip.to_string())
        .ok_or_else(|| PlatformError::Invalid(format!("{url} resolves to no usable address")))
}

fn check_labels(labels: &BTreeMap<String, String>) -> Result<()> {
    if labels.len() > MAX_LABELS {
        return Err(PlatformError::Invalid(format!(
            "a host takes at most {MAX_LABELS} labels"
        )));
    }
    for (key, value) in labels {
        let key_ok = !key.is_empty()
            && key.len() <= MAX_LABEL_KEY
            && key.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
            && key
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c));
        if !key_ok {
            return Err(PlatformError::Invalid(format!(
                "label key {key:?}: use 1 to {MAX_LABEL_KEY} lowercase letters, digits, dots, \
                 dashes and underscores, starting with a letter or digit"
            )));
        }
        if key.starts_with("berth.") {
            return Err(PlatformError::Invalid(format!(
                "label key {key:?}: keys beginning with berth. are Berth's own"
            )));
        }
        if value.len() > MAX_LABEL_VALUE || value.chars().any(|c| c.is_control()) {
            return Err(PlatformError::Invalid(format!(
                "the value of label {key}: use at most {MAX_LABEL_VALUE} printable characters"
            )));
        }
    }
    Ok(())
}

pub(crate) fn node_state(state: &str) -> &'static str {
    match state {
        "ready" => "ready",
        "down" | "disconnected" => "down",
        _ => "unknown",
    }
}

fn availability(availability: &str) -> &'static str {
    match availability {
        // Berth pauses a host only while it drains it.
        "drain" | "pause" => "drain",
        _ => "active",
    }
}

fn not_in_swarm(record: &HostRecord) -> PlatformError {
    PlatformError::Conflict(format!(
        "host {} is no longer a node of the platform's swarm: remove it with `berth \
         hosts:remove {}`",
        record.name, record.name
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_bounded_and_berths_own_are_refused() {
        let labels = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        assert!(check_labels(&labels(&[("zone", "b"), ("disk.kind", "ssd")])).is_ok());
        for bad in [
            labels(&[("", "b")]),
            labels(&[("Zone", "b")]),
            labels(&[("berth.host", "x")]),
            labels(&[("zone", "a\nb")]),
            labels(&[("zone", &"x".repeat(MAX_LABEL_VALUE + 1))]),
        ] {
            assert!(check_labels(&bad).is_err(), "{bad:?}");
        }
        let many: BTreeMap<String, String> = (0..=MAX_LABELS)
            .map(|i| (format!("k{i}"), "v".to_string()))
            .collect();
        assert!(check_labels(&many).is_err());
    }

    #[test]
    fn a_managed_host_is_reached_over_tcp() {
        assert!(managed_target("tcp://10.0.0.2:2376").is_ok());
        let error = managed_target("unix:///var/run/docker.sock").unwrap_err();
        assert!(error.to_string().contains("tcp://HOST:PORT"), "{error}");
        assert!(managed_target("ftp://x").is_err());
    }
}
