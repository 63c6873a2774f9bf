//! The router's table, built from desired state (each app's current
//! release, in the store) and actual state (its running web containers and
//! where their ports are published, from the runtime). Rebuilt after every change and
//! periodically, so crashes and restarts (new ports) are followed.

use std::net::SocketAddr;
use std::time::Duration;

use berth_docker::{ContainerSelector, ContainerSummary, Health, Runtime};
use berth_router::{AppRoute, Upstream};
use berth_store::AppRecord;

use crate::release::STOP_GRACE;
use crate::{Platform, Result};

/// How long a cutover waits for requests in flight to an old process.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);

impl Platform {
    /// Replaces the router's table with what the store and the engine say now.
    pub async fn refresh_routes(&self) -> Result<()> {
        let Some(router) = &self.router else {
            return Ok(());
        };
        // One refresh at a time: a slow one must not overwrite a newer table.
        let _serial = self.route_refresh.lock().await;
        let apps = self.store.apps_visible_to(0, true).await?;
        let custom_hosts = self.custom_hosts().await?;
        let mut containers = self
            .runtime()?
            .containers_of(ContainerSelector::platform(&self.platform_id).process_type("web"))
            .await?;
        // While an app moves onto the swarm, its web dynos left on the
        // default engine serve until they are retired, whenever this runs.
        containers.extend(
            self.engine_dynos(None)
                .await?
                .into_iter()
                .filter(|c| c.process.as_ref().is_some_and(|p| p.process_type == "web")),
        );
        let retiring = self.retiring.lock().expect("retiring lock").clone();
        let routes = apps
            .into_iter()
            .map(|app| {
                let upstreams = containers
                    .iter()
                    .filter(|c| c.state == "running" && !retiring.contains(&c.id))
                    .filter_map(|c| {
                        let process = c.process.as_ref()?;
                        let current =
                            process.app == app.name && Some(process.release) == app.current_release;
                        current.then_some(Upstream {
                            address: c.address?,
                            dyno: process.dyno.clone()?,
                        })
                    })
                    .collect();
                let hosts = std::iter::once(self.default_host(&app.name))
                    .chain(
                        custom_hosts
                            .iter()
                            .filter(|(app_id, _)| *app_id == app.id)
                            .map(|(_, hostname)| hostname.clone()),
                    )
                    .collect();
                AppRoute {
                    hosts,
                    maintenance: app.maintenance,
                    app: app.name,
                    upstreams,
                }
            })
            .collect();
        router.set_routes(routes);
        Ok(())
    }

    /// `<app>.<base domain>`
    pub fn default_host(&self, app: &str) -> String {
        format!("{app}.{}", self.base_domain)
    }

    /// Waits (bounded) until the router has no request in flight to any
    /// process of `app` outside release `keep`, which it no longer routes to.
    pub(crate) async fn drain_other_releases(&self, app: &AppRecord, keep: i64) -> Result<()> {
        let old: Vec<SocketAddr> = self
            .app_containers(&app.name, Some("web"))
            .await?
            .into_iter()
            .filter(|c| {
                c.process
                    .as_ref()
                    .is_some_and(|process| process.release != keep)
            })
            .filter_map(|c| c.address)
            .collect();
        self.wait_until_drained(&app.name, &old).await;
        Ok(())
    }

    /// Stops routing to a dyno, lets its requests in flight finish, stops it.
    pub(crate) async fn retire(&self, app: &str, container: &ContainerSummary) -> Result<()> {
        self.retiring
            .lock()
            .expect("retiring lock")
            .insert(container.id.clone());
        let outcome = async {
            self.refresh_routes().await?;
            if let Some(address) = container.address {
                self.wait_until_drained(app, &[address]).await;
            }
            self.runtime()?
                .stop_and_remove(&container.id, STOP_GRACE)
                .await?;
            Ok(())
        }
        .await;
        self.retiring
            .lock()
            .expect("retiring lock")
            .remove(&container.id);
        outcome
    }

    /// Waits (bounded) until the router has no request in flight to any of
    /// `addresses`, which it no longer routes to.
    pub(crate) async fn wait_until_drained(&self, app: &str, addresses: &[SocketAddr]) {
        let Some(router) = &self.router else {
            return;
        };
        let deadline = tokio::time::Instant::now() + DRAIN_TIMEOUT;
        while addresses
            .iter()
            .any(|address| router.in_flight(*address) > 0)
        {
            if tokio::time::Instant::now() > deadline {
                tracing::warn!(%app, "requests still in flight to retired processes after the drain timeout");
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits, up to the boot timeout, until the engine says the process's
    /// own health check (a Compose `healthcheck`) passes.
    pub(crate) async fn wait_until_checked_healthy(&self, dyno: &str, id: &str) -> Result<()> {
        let deadline = tokio::time::Instant::now() + self.boot_timeout;
        let runtime = self.runtime()?;
        loop {
            let health = runtime.health(id).await?;
            if matches!(health, Health::Healthy | Health::Unchecked) {
                return Ok(());
            }
            if tokio::time::Instant::now() > deadline {
                let seconds = self.boot_timeout.as_secs();
                let state = if health == Health::Unhealthy {
                    "unhealthy"
                } else {
                    "still starting"
                };
                return Err(crate::PlatformError::DeployFailed(format!(
                    "{dyno}'s health check was {state} {seconds} s after it started (boot timeout)"
                )));
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// Waits, up to the boot timeout, until the web process at `address`
    /// answers HTTP — with 2xx or 3xx on its declared health check path, or
    /// with anything on `/` when it declares none.
    pub(crate) async fn wait_until_healthy(
        &self,
        dyno: &str,
        address: SocketAddr,
        healthcheck: Option<&str>,
    ) -> Result<()> {
        let deadline = tokio::time::Instant::now() + self.boot_timeout;
        let mut last_status = None;
        loop {
            let status =
                berth_router::probe(address, healthcheck.unwrap_or("/"), Duration::from_secs(2))
                    .await;
            match (status, healthcheck) {
                (Some(_), None) => return Ok(()),
                (Some(200..=399), Some(_)) => return Ok(()),
                (Some(status), Some(_)) => last_status = Some(status),
                (None, _) => {}
            }
            if tokio::time::Instant::now() > deadline {
                let seconds = self.boot_timeout.as_secs();
                return Err(crate::PlatformError::DeployFailed(match (last_status, healthcheck) {
                    (Some(status), Some(path)) => format!(
                        "{dyno} answered its health check {path} with {status}, not 2xx or 3xx, \
                         for {seconds} s after starting"
                    ),
                    _ => format!("{dyno} did not answer HTTP on $PORT within {seconds} s of starting (boot timeout)"),
                }));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}
