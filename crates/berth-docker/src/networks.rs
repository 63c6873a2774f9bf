//! Per-app networks: created when missing, removed when the app goes.

use std::collections::HashMap;

use bollard::models::{Network, NetworkCreateRequest};
use bollard::query_parameters::ListNetworksOptions;

use crate::error::{api, status_of};
use crate::request_metrics::timed;
use crate::{DockerError, Engine};

impl Engine {
    /// Makes sure a bridge network called `name` exists, creating it (with
    /// `labels`) only when it is missing. Idempotent, and safe when two
    /// callers race: the engine accepts duplicate names (API 1.41), so a
    /// creator that finds another network of the same name that is older
    /// than its own removes its own.
    pub async fn ensure_network(
        &self,
        name: &str,
        labels: HashMap<String, String>,
    ) -> Result<(), DockerError> {
        let _serialised = self.network_lock.lock().await;
        if !self.networks_named(name).await?.is_empty() {
            return Ok(());
        }
        let request = NetworkCreateRequest {
            name: name.to_string(),
            driver: Some("bridge".into()),
            labels: Some(labels),
            ..Default::default()
        };
        let created = timed("network_create", self.docker.create_network(request))
            .await
            .map_err(api(format!("create network {name}")))?;
        self.keep_the_oldest(name, &created.id, |_| true).await
    }

    /// Makes sure an attachable overlay network called `name` exists in
    /// the swarm this engine manages, creating it (with `labels`) only when
    /// it is missing: services' tasks on every host join it, and so can
    /// plain containers on this engine (one-offs, add-ons). A network of
    /// another driver with that name (a bridge from before the engine
    /// managed a swarm) is an error: two networks of one name make every
    /// use of the name ambiguous.
    pub async fn ensure_overlay_network(
        &self,
        name: &str,
        labels: HashMap<String, String>,
    ) -> Result<(), DockerError> {
        let _serialised = self.network_lock.lock().await;
        let mut existing = self.networks_named(name).await?;
        // A manager lists a swarm network it has just created (this caller
        // a moment ago, or another) with no driver until its allocator has
        // run (seen: the second of two calls in a row found it so): wait
        // (bounded) until it says what it is.
        for _ in 0..ALLOCATION_POLLS {
            if !existing.iter().any(is_being_allocated) {
                break;
            }
            tokio::time::sleep(ALLOCATION_POLL).await;
            existing = self.networks_named(name).await?;
        }
        if existing.iter().any(is_overlay) {
            return Ok(());
        }
        if let Some(other) = existing.first() {
            return Err(DockerError::Swarm {
                context: format!("create overlay network {name}"),
                reason: format!(
                    "a {} network of that name exists on {}; remove it (and the containers \
                     attached to it) first",
                    other.driver.as_deref().unwrap_or("local"),
                    self.host()
                ),
            });
        }
        let request = NetworkCreateRequest {
            name: name.to_string(),
            driver: Some("overlay".into()),
            attachable: Some(true),
            labels: Some(labels),
            ..Default::default()
        };
        let created = match timed("network_create", self.docker.create_network(request)).await {
            Ok(created) => created,
            // Swarm refuses a second network of the name: someone else made it.
            Err(error) if status_of(&error) == Some(409) => return Ok(()),
            Err(error) => return Err(api(format!("create overlay network {name}"))(error)),
        };
        self.keep_the_oldest(name, &created.id, is_overlay).await
    }

    /// After creating network `created` called `name`: when another caller
    /// created one of that name (and kind) first, removes its own. A network
    /// another connection created a moment earlier may not be listed yet
    /// (seen: both racers kept theirs), so a creator that finds its own the
    /// oldest looks once more after a pause before keeping it.
    async fn keep_the_oldest(
        &self,
        name: &str,
        created: &str,
        of_the_kind: impl Fn(&Network) -> bool,
    ) -> Result<(), DockerError> {
        for look in 0..2 {
            if look > 0 {
                tokio::time::sleep(RACER_VISIBLE_AFTER).await;
            }
            let oldest = self
                .networks_named(name)
                .await?
                .into_iter()
                .filter(|network| of_the_kind(network))
                .min_by(|a, b| (a.created, &a.id).cmp(&(b.created, &b.id)))
                .and_then(|network| network.id);
            if oldest.is_some_and(|oldest| oldest != created) {
                tracing::debug!(network = name, "another caller created it first");
                return self.remove_network_id(created, name).await;
            }
        }
        Ok(())
    }

    /// Connects a container to a network, reachable there as `alias`; one
    /// already connected is left as it is.
    pub async fn connect_to_network(
        &self,
        network: &str,
        container: &str,
        alias: &str,
    ) -> Result<(), DockerError> {
        let request = bollard::models::NetworkConnectRequest {
            container: container.to_string(),
            endpoint_config: Some(bollard::models::EndpointSettings {
                aliases: Some(vec![alias.to_string()]),
                ..Default::default()
            }),
        };
        match timed(
            "network_connect",
            self.docker.connect_network(network, request),
        )
        .await
        {
            Ok(()) => Ok(()),
            // "endpoint with name … already exists in network …"
            Err(error) if status_of(&error) == Some(403) => Ok(()),
            Err(error) => Err(api(format!("connect {container} to network {network}"))(
                error,
            )),
        }
    }

    /// Makes `container` answer to `alias` too on `network` (it must be
    /// attached already). The engine cannot add an alias to an endpoint,
    /// so a missing one reconnects the container with its aliases and this
    /// one: connections to it over that network start again.
    pub async fn add_network_alias(
        &self,
        network: &str,
        container: &str,
        alias: &str,
    ) -> Result<(), DockerError> {
        let inspected = timed("inspect", self.docker.inspect_container(container, None))
            .await
            .map_err(api(format!("inspect container {container}")))?;
        let endpoint = inspected
            .network_settings
            .and_then(|settings| settings.networks)
            .and_then(|mut networks| networks.remove(network))
            .ok_or_else(|| DockerError::Misplaced {
                context: format!("add the alias {alias} to {container}"),
                reason: format!("it is not attached to {network}"),
            })?;
        let mut aliases = endpoint.aliases.unwrap_or_default();
        if aliases.iter().any(|known| known == alias) {
            return Ok(());
        }
        aliases.push(alias.to_string());
        let disconnect = bollard::models::NetworkDisconnectRequest {
            container: container.to_string(),
            force: Some(false),
        };
        timed(
            "network_disconnect",
            self.docker.disconnect_network(network, disconnect),
        )
        .await
        .map_err(api(format!(
            "disconnect {container} from network {network}"
        )))?;
        let connect = bollard::models::NetworkConnectRequest {
            container: container.to_string(),
            endpoint_config: Some(bollard::models::EndpointSettings {
                aliases: Some(aliases),
                ..Default::default()
            }),
        };
        timed(
            "network_connect",
            self.docker.connect_network(network, connect),
        )
        .await
        .map_err(api(format!("connect {container} to network {network}")))
    }

    /// Removes every network called `name`. A missing network is not an
    /// error; one that containers are still attached to is.
    pub async fn remove_network(&self, name: &str) -> Result<(), DockerError> {
        for network in self.networks_named(name).await? {
            if let Some(id) = network.id {
                self.remove_network_id(&id, name).await?;
            }
        }
        Ok(())
    }

    async fn remove_network_id(&self, id: &str, name: &str) -> Result<(), DockerError> {
        match timed("network_remove", self.docker.remove_network(id)).await {
            Ok(()) => Ok(()),
            Err(error) if status_of(&error) == Some(404) => Ok(()),
            Err(error) => Err(api(format!("remove network {name}"))(error)),
        }
    }

    /// The networks whose name is exactly `name` (the engine's filter matches
    /// substrings).
    async fn networks_named(&self, name: &str) -> Result<Vec<Network>, DockerError> {
        let options = ListNetworksOptions {
            filters: Some(HashMap::from([(
                "name".to_string(),
                vec![name.to_string()],
            )])),
        };
        let networks = timed("network_list", self.docker.list_networks(Some(options)))
            .await
            .map_err(api(format!("list networks named {name}")))?;
        Ok(networks
            .into_iter()
            .filter(|network| network.name.as_deref() == Some(name))
            .collect())
    }
}

fn is_overlay(network: &Network) -> bool {
    network.driver.as_deref() == Some("overlay")
}

/// A swarm network the manager's allocator has not got to yet: it is
/// listed without a driver.
fn is_being_allocated(network: &Network) -> bool {
    network.driver.as_deref().is_none_or(str::is_empty)
}

/// How often, and how long apart, a network being allocated is looked at
/// again before it counts as what it says it is (10 s in all).
const ALLOCATION_POLLS: usize = 50;
/// How long a network another connection has just created may take to be listed.
const RACER_VISIBLE_AFTER: std::time::Duration = std::time::Duration::from_millis(250);
const ALLOCATION_POLL: std::time::Duration = std::time::Duration::from_millis(200);
