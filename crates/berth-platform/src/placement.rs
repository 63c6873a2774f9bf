//! Where processes run: on the default host's engine until the first host
//! is added, then on the swarm of hosts. The move needs no step of its own:
//! once processes are placed on the swarm, the reconciler finds each app's
//! dynos missing there and starts them (health-gated, as always), the
//! router switches to them, and only then are the app's processes on the
//! default engine retired, after their requests in flight have finished.

use berth_docker::{swarm_network, ContainerSelector, ContainerSummary, Placement, Runtime, Swarm};
use berth_store::AppRecord;

use crate::{Platform, PlatformError, Result};

impl Platform {
    /// At start: a platform that has managed hosts places processes on
    /// their swarm.
    pub async fn resume_placement(&self) -> Result<()> {
        if self.store.hosts().await?.is_empty() {
            return Ok(());
        }
        self.place_on_swarm()
    }

    /// From now on processes run on the swarm the default host manages.
    pub(crate) fn place_on_swarm(&self) -> Result<()> {
        let registry = self.cluster.registry.clone().ok_or_else(|| {
            PlatformError::Invalid(
                "the platform has managed hosts (see `berth hosts`) but no registry: set \
                 BERTH_REGISTRY=HOST:PORT so that every host can pull the apps' images"
                    .into(),
            )
        })?;
        let mut placement = self.placement.write().expect("placement lock");
        if let Some(Placement::Engine(engine)) = placement.as_ref() {
            tracing::info!("processes are placed on the swarm of managed hosts from now on");
            *placement = Some(Placement::Swarm(Swarm::new(engine.clone(), registry)));
        }
        Ok(())
    }

    /// Before an app's dynos start on the swarm: its add-on containers (on
    /// the default host) join the app's overlay network under their names,
    /// so that the app reaches them from any host.
    pub(crate) async fn join_addons_to_swarm(&self, app: &AppRecord) -> Result<()> {
        let runtime = self.runtime()?;
        if !runtime.is_swarm() {
            return Ok(());
        }
        runtime.ensure_app_network(&app.name).await?;
        for addon in self.store.addons().await? {
            if addon.app_id != app.id {
                continue;
            }
            if let Some(container) = self.open_credentials(&addon)?.container {
                self.join_addon_to_swarm(&app.name, &container).await?;
            }
        }
        Ok(())
    }

    /// A new add-on container of `app` joins its overlay network, when the
    /// platform places processes on a swarm.
    pub(crate) async fn join_addon_to_swarm(&self, app: &str, container: &str) -> Result<()> {
        let runtime = self.runtime()?;
        if !runtime.is_swarm() {
            return Ok(());
        }
        runtime.ensure_app_network(app).await?;
        runtime
            .engine()
            .connect_to_network(&swarm_network(app), container, container)
            .await?;
        Ok(())
    }

    /// Dynos (of one app, or of every app) still running as plain
    /// containers on the default engine, once processes are placed on a
    /// swarm (none before).
    pub(crate) async fn engine_dynos(&self, app: Option<&str>) -> Result<Vec<ContainerSummary>> {
        let runtime = self.runtime()?;
        if !runtime.is_swarm() {
            return Ok(Vec::new());
        }
        let selector = match app {
            Some(app) => ContainerSelector::app(&self.platform_id, app),
            None => ContainerSelector::platform(&self.platform_id),
        };
        Ok(runtime
            .engine()
            .containers_of(selector)
            .await?
            .into_iter()
            .filter(|c| !c.is_swarm_task())
            .filter(|c| c.process.as_ref().is_some_and(|p| p.is_formation_dyno()))
            .collect())
    }

    /// Retires the app's dynos on the default engine, one by one, once
    /// the swarm runs a web dyno of the current release the router can
    /// reach: until then the old web dynos keep serving (under load a task
    /// can run a moment before its published port is reported).
    pub(crate) async fn retire_engine_dynos(&self, app: &AppRecord) -> Result<()> {
        let leftovers = self.engine_dynos(Some(&app.name)).await?;
        if leftovers.is_empty() {
            return Ok(());
        }
        let serves_on_swarm = self
            .runtime()?
            .containers_of(ContainerSelector::app(&self.platform_id, &app.name).process_type("web"))
            .await?
            .iter()
            .any(|c| {
                c.state == "running"
                    && c.address.is_some()
                    && c.process
                        .as_ref()
                        .is_some_and(|p| Some(p.release) == app.current_release)
            });
        for container in leftovers {
            let web = container
                .process
                .as_ref()
                .is_some_and(|p| p.process_type == "web");
            if web && !serves_on_swarm {
                tracing::debug!(app = %app.name, container = %container.name, "kept until a web dyno on the swarm can take its requests");
                continue;
            }
            tracing::info!(app = %app.name, container = %container.name, "retiring a dyno that moved onto the swarm");
            self.retire(&app.name, &container).await?;
        }
        Ok(())
    }
}
