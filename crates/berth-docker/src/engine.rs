//! Connecting to one engine and asking what it is.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use bollard::{BollardRequest, Docker};

use crate::error::error_chain;
use crate::request_metrics::timed;
use crate::target::tls_failure;
use crate::{DockerError, EngineTarget};

/// What the engine says about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineInfo {
    pub version: String,
    pub api_version: String,
    pub os: String,
    pub arch: String,
}

/// A connection to one Docker engine. Cheap to clone: clones share the
/// connection pool.
#[derive(Clone)]
pub struct Engine {
    pub(crate) docker: Docker,
    host: String,
    /// Where published ports listen, and berthd reaches them: loopback on a
    /// local engine (only the router reaches apps), the engine's own address
    /// on a remote one.
    pub(crate) publish_ip: IpAddr,
    /// Serialises `ensure_network` within this process: the engine (API 1.41)
    /// happily creates two networks with the same name.
    pub(crate) network_lock: Arc<tokio::sync::Mutex<()>>,
    /// The host's memory in bytes, once asked (see `container_stats`).
    pub(crate) host_memory: Arc<tokio::sync::OnceCell<u64>>,
}

pub(crate) const REQUEST_TIMEOUT_SECS: u64 = 120;

impl Engine {
    /// Connects to the engine at `target` and agrees on an API version with
    /// it: bollard asks for a newer one than older engines (Debian's 20.10)
    /// speak.
    pub async fn connect(target: &EngineTarget) -> Result<Self, DockerError> {
        let host = target.url();
        let unreachable = |reason: String| DockerError::Unreachable {
            host: host.clone(),
            reason,
        };
        let version = bollard::API_DEFAULT_VERSION;
        let docker = match target {
            EngineTarget::Unix(path) => {
                let path = path.to_str().ok_or_else(|| DockerError::BadHost {
                    host: host.clone(),
                    reason: "the socket path is not UTF-8".into(),
                })?;
                Docker::connect_with_unix(path, REQUEST_TIMEOUT_SECS, version)
            }
            EngineTarget::Tcp { address, tls: None } => Docker::connect_with_http(
                &format!("http://{address}"),
                REQUEST_TIMEOUT_SECS,
                version,
            ),
            EngineTarget::Tcp {
                address,
                tls: Some(tls),
            } => {
                // bollard's own TLS client reads the key files at every
                // handshake and trusts the system's CAs too; this one uses
                // the material read once, and trusts only its ca.pem.
                let client = hyper_util::client::legacy::Client::builder(
                    hyper_util::rt::TokioExecutor::new(),
                )
                .build(tls.connector());
                let transport = move |request: BollardRequest| {
                    let client = client.clone();
                    async move { Ok(client.request(request).await?) }
                };
                Docker::connect_with_custom_transport(
                    transport,
                    Some(format!("https://{address}")),
                    REQUEST_TIMEOUT_SECS,
                    version,
                )
            }
        }
        .map_err(|e| unreachable(e.to_string()))?;
        let docker = timed("version", docker.negotiate_version())
            .await
            .map_err(
                |error| match target.tls().and_then(|tls| tls_failure(&error, tls)) {
                    Some(reason) => DockerError::Tls {
                        host: host.clone(),
                        reason,
                    },
                    None => unreachable(error_chain(&error)),
                },
            )?;
        let publish_ip = match target {
            EngineTarget::Unix(_) => IpAddr::V4(Ipv4Addr::LOCALHOST),
            EngineTarget::Tcp { address, .. } => tokio::net::lookup_host(address.as_str())
                .await
                .ok()
                .and_then(|mut addresses| addresses.next())
                .map(|address| address.ip())
                .ok_or_else(|| DockerError::BadHost {
                    host: host.clone(),
                    reason: "its host name resolves to no address".into(),
                })?,
        };
        Ok(Self {
            docker,
            host,
            publish_ip,
            network_lock: Arc::default(),
            host_memory: Arc::default(),
        })
    }

    /// The bollard client, for engine operations Berth has no method for
    /// yet (a test setting up a swarm, say).
    pub fn api(&self) -> &Docker {
        &self.docker
    }

    /// `unix:///…` or `tcp://HOST:PORT`.
    pub fn host(&self) -> &str {
        &self.host
    }

    pub async fn info(&self) -> Result<EngineInfo, DockerError> {
        let version = timed("version", self.docker.version()).await.map_err(|e| {
            DockerError::Unreachable {
                host: self.host.clone(),
                reason: e.to_string(),
            }
        })?;
        Ok(EngineInfo {
            version: version.version.unwrap_or_default(),
            api_version: version.api_version.unwrap_or_default(),
            os: version.os.unwrap_or_default(),
            arch: version.arch.unwrap_or_default(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn reports_the_local_engine() {
        let engine = Engine::connect(&EngineTarget::local())
            .await
            .expect("a Docker engine runs on this machine");
        let info = engine.info().await.unwrap();
        assert!(!info.version.is_empty());
        assert!(!info.api_version.is_empty());
    }

    #[tokio::test]
    async fn a_missing_engine_is_a_clear_error() {
        let target = EngineTarget::parse("unix:///nonexistent/docker.sock").unwrap();
        let error = Engine::connect(&target).await.err().unwrap();
        let message = error.to_string();
        assert!(
            message.starts_with("no Docker engine answers at unix:///nonexistent/docker.sock"),
            "{message}"
        );
        assert!(message.contains("BERTH_DOCKER_HOST"), "{message}");
    }
}
