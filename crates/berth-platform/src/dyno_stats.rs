//! What every running dyno uses of memory and CPU, read from the engine of
//! each host it runs on: the default host's and every ready managed host's.
//! A host or container that does not answer in time is left out of the
//! figures (and said in berthd's debug log); it never fails them all.

use std::time::Duration;

use berth_docker::{ContainerSelector, ContainerSummary, Engine, ProcessIdentity, Runtime};
use futures_util::{future, stream, StreamExt};

use crate::Platform;

/// How long one engine request for the figures may take.
const ENGINE_TIMEOUT: Duration = Duration::from_secs(5);
/// Stats requests in flight at once, over all hosts.
const CONCURRENT_STATS: usize = 8;

/// One running dyno's resource use, wherever it runs.
#[derive(Debug, Clone, PartialEq)]
pub struct DynoStats {
    pub app: String,
    pub process_type: String,
    /// `web.1`.
    pub dyno: String,
    pub host: String,
    pub container_id: String,
    pub memory_bytes: u64,
    pub memory_limit_bytes: Option<u64>,
    pub cpu_seconds_total: f64,
}

/// A host's engine, and what it is kept under (none for the default host's).
struct HostEngine {
    host: String,
    docker_host: Option<String>,
    engine: Engine,
}

impl Platform {
    /// The figures of every running dyno of this platform (one-offs left
    /// out), on every host.
    pub(crate) async fn dyno_stats(&self) -> Vec<DynoStats> {
        let hosts = self.stats_hosts().await;
        let listed = future::join_all(hosts.iter().map(|host| self.running_dynos_on(host))).await;
        // Collected first: a stream built from nested closures over borrowed
        // hosts is not provably `Send` to the compiler.
        let mut requests = Vec::new();
        for (host, dynos) in hosts.iter().zip(listed) {
            for (container, identity) in dynos {
                requests.push(dyno_stats(host, container, identity));
            }
        }
        stream::iter(requests)
            .buffer_unordered(CONCURRENT_STATS)
            .filter_map(future::ready)
            .collect()
            .await
    }

    /// The default host's engine and those of the managed hosts the swarm
    /// sees ready.
    async fn stats_hosts(&self) -> Vec<HostEngine> {
        let Ok(default) = self.engine() else {
            return Vec::new();
        };
        let mut hosts = vec![HostEngine {
            host: self.host_name.to_string(),
            docker_host: None,
            engine: default,
        }];
        let ready = match tokio::time::timeout(ENGINE_TIMEOUT, self.ready_hosts()).await {
            Ok(Ok(ready)) => ready,
            Ok(Err(error)) => {
                tracing::debug!(%error, "no figures from managed hosts: cannot list them");
                return hosts;
            }
            Err(_) => {
                tracing::debug!("no figures from managed hosts: the swarm did not answer");
                return hosts;
            }
        };
        let connected = future::join_all(ready.into_iter().map(|record| async move {
            let engine = tokio::time::timeout(
                ENGINE_TIMEOUT,
                self.kept_host_engine(&record.docker_host),
            )
            .await;
            match engine {
                Ok(Ok(engine)) => Some(HostEngine {
                    host: record.name,
                    docker_host: Some(record.docker_host),
                    engine,
                }),
                Ok(Err(error)) => {
                    tracing::debug!(host = %record.name, %error, "no figures from a host");
                    None
                }
                Err(_) => {
                    tracing::debug!(host = %record.name, "no figures from a host: it did not answer");
                    None
                }
            }
        }))
        .await;
        hosts.extend(connected.into_iter().flatten());
        hosts
    }

    /// This platform's running formation dynos on one host: its own
    /// containers and the swarm's task containers placed there alike.
    async fn running_dynos_on(
        &self,
        host: &HostEngine,
    ) -> Vec<(ContainerSummary, ProcessIdentity)> {
        let selector = ContainerSelector::platform(&self.platform_id);
        let listed =
            tokio::time::timeout(ENGINE_TIMEOUT, host.engine.containers_of(selector)).await;
        let containers = match listed {
            Ok(Ok(containers)) => containers,
            Ok(Err(error)) => {
                tracing::debug!(host = %host.host, %error, "cannot list a host's dynos");
                self.forget_engine_of(host);
                return Vec::new();
            }
            Err(_) => {
                tracing::debug!(host = %host.host, "cannot list a host's dynos: no answer");
                self.forget_engine_of(host);
                return Vec::new();
            }
        };
        containers
            .into_iter()
            .filter(|container| container.state == "running")
            .filter_map(|container| {
                let identity = container
                    .process
                    .clone()
                    .filter(ProcessIdentity::is_formation_dyno)?;
                Some((container, identity))
            })
            .collect()
    }

    fn forget_engine_of(&self, host: &HostEngine) {
        if let Some(docker_host) = &host.docker_host {
            self.forget_host_engine(docker_host);
        }
    }
}

/// One dyno's figures; none when its engine does not give them in time
/// (it may have stopped since it was listed).
async fn dyno_stats(
    host: &HostEngine,
    container: ContainerSummary,
    identity: ProcessIdentity,
) -> Option<DynoStats> {
    let stats = match tokio::time::timeout(
        ENGINE_TIMEOUT,
        host.engine.container_stats(&container.id),
    )
    .await
    {
        Ok(Ok(stats)) => stats,
        Ok(Err(error)) => {
            tracing::debug!(host = %host.host, container = %container.name, %error, "no figures for a dyno");
            return None;
        }
        Err(_) => {
            tracing::debug!(host = %host.host, container = %container.name, "no figures for a dyno: no answer");
            return None;
        }
    };
    Some(DynoStats {
        app: identity.app,
        process_type: identity.process_type,
        dyno: identity.dyno?,
        host: host.host.clone(),
        container_id: container.id,
        memory_bytes: stats.memory_bytes,
        memory_limit_bytes: stats.memory_limit_bytes,
        cpu_seconds_total: stats.cpu_seconds_total,
    })
}
