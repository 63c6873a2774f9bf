//! Per-app networks: created when missing, removed when the app goes.

use std::collections::HashMap;

use bollard::models::{Network, NetworkCreateRequest};
use bollard::query_parameters::ListNetworksOptions;

use crate::error::{api, status_of};
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
        let created = self
            .docker
            .create_network(request)
            .await
            .map_err(api(format!("create network {name}")))?;
        let oldest = self
            .networks_named(name)
            .await?
            .into_iter()
            .min_by(|a, b| (a.created, &a.id).cmp(&(b.created, &b.id)))
            .and_then(|network| network.id);
        if oldest.is_some_and(|oldest| oldest != created.id) {
            tracing::debug!(network = name, "another caller created it first");
            self.remove_network_id(&created.id, name).await?;
        }
        Ok(())
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
        match self.docker.remove_network(id).await {
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
        let networks = self
            .docker
            .list_networks(Some(options))
            .await
            .map_err(api(format!("list networks named {name}")))?;
        Ok(networks
            .into_iter()
            .filter(|network| network.name.as_deref() == Some(name))
            .collect())
    }
}
