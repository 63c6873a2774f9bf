//! What a running container uses of its host, as the engine's stats API
//! reports it.

use bollard::models::ContainerMemoryStats;
use bollard::query_parameters::StatsOptions;
use futures_util::StreamExt;

use crate::error::api;
use crate::request_metrics::timed;
use crate::{DockerError, Engine};

/// What the engine reports of one running container's resource use.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ContainerStats {
    /// Memory in use as `docker stats` counts it: usage minus the inactive page cache
    /// (`inactive_file` on cgroup v2, `total_inactive_file` on v1).
    pub memory_bytes: u64,
    /// The container's memory limit, none when it has none (the engine then reports the host's memory).
    pub memory_limit_bytes: Option<u64>,
    /// CPU time used since the container started, in seconds (cpu_usage.total_usage / 1e9).
    pub cpu_seconds_total: f64,
}

impl Engine {
    /// One sample of the container's resource use. A container that is
    /// gone is [`DockerError::is_not_found`].
    pub async fn container_stats(&self, id: &str) -> Result<ContainerStats, DockerError> {
        // One-shot: the engine answers at once instead of waiting a second
        // for a second sample (which only CPU percentages need).
        let options = StatsOptions {
            stream: false,
            one_shot: true,
        };
        let context = format!("read the stats of container {id}");
        let mut samples = std::pin::pin!(self.docker.stats(id, Some(options)));
        let sample = timed("stats", samples.next())
            .await
            .ok_or_else(|| {
                api(context.clone())(bollard::errors::Error::DockerStreamError {
                    error: "the engine closed the stats without a sample".into(),
                })
            })?
            .map_err(api(context))?;
        let memory = sample.memory_stats.unwrap_or_default();
        let host_memory = self.host_memory().await?;
        Ok(ContainerStats {
            memory_bytes: memory_in_use(&memory),
            // Without a limit of its own, the engine reports the host's
            // memory as the limit.
            memory_limit_bytes: memory.limit.filter(|&limit| limit < host_memory),
            cpu_seconds_total: sample
                .cpu_stats
                .and_then(|cpu| cpu.cpu_usage)
                .and_then(|usage| usage.total_usage)
                .unwrap_or_default() as f64
                / 1e9,
        })
    }

    /// The host's memory, as the engine reports it (and uses as the limit
    /// of containers without one); asked once per connection.
    async fn host_memory(&self) -> Result<u64, DockerError> {
        self.host_memory
            .get_or_try_init(|| async {
                let info = timed("info", self.docker.info())
                    .await
                    .map_err(api(format!(
                        "ask the engine at {} about itself",
                        self.host()
                    )))?;
                Ok(info
                    .mem_total
                    .and_then(|bytes| u64::try_from(bytes).ok())
                    .unwrap_or(u64::MAX))
            })
            .await
            .copied()
    }
}

/// Memory in use without the page cache the kernel may reclaim at once, as
/// the docker CLI counts it (cgroup v1 reports `total_inactive_file`, v2
/// `inactive_file`).
fn memory_in_use(memory: &ContainerMemoryStats) -> u64 {
    let usage = memory.usage.unwrap_or_default();
    let stats = memory.stats.as_ref();
    let inactive = stats
        .and_then(|stats| stats.get("total_inactive_file"))
        .or_else(|| stats.and_then(|stats| stats.get("inactive_file")))
        .copied()
        .unwrap_or_default();
    usage.saturating_sub(inactive)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn memory(usage: u64, stats: &[(&str, u64)]) -> ContainerMemoryStats {
        ContainerMemoryStats {
            usage: Some(usage),
            stats: Some(
                stats
                    .iter()
                    .map(|(key, value)| (key.to_string(), *value))
                    .collect::<HashMap<_, _>>(),
            ),
            ..Default::default()
        }
    }

    #[test]
    fn the_inactive_page_cache_is_not_memory_in_use() {
        // cgroup v1 reports both keys; the hierarchy's total is the one.
        let v1 = memory(
            1000,
            &[("total_inactive_file", 300), ("inactive_file", 100)],
        );
        assert_eq!(memory_in_use(&v1), 700);
        let v2 = memory(1000, &[("inactive_file", 100)]);
        assert_eq!(memory_in_use(&v2), 900);
        assert_eq!(memory_in_use(&memory(1000, &[])), 1000);
        assert_eq!(memory_in_use(&ContainerMemoryStats::default()), 0);
    }
}
