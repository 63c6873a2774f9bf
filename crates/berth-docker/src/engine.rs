//! Connecting to one engine and asking what it is.

use std::sync::Arc;

use bollard::Docker;

use crate::DockerError;

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
    /// Serialises `ensure_network` within this process: the engine (API 1.41)
    /// happily creates two networks with the same name.
    pub(crate) network_lock: Arc<tokio::sync::Mutex<()>>,
}

const DEFAULT_SOCKET: &str = "unix:///var/run/docker.sock";
pub(crate) const REQUEST_TIMEOUT_SECS: u64 = 120;

impl Engine {
    /// Connects to the engine at `host` (`unix:///path`, `tcp://host:port` or
    /// `http://host:port`), else `DOCKER_HOST`, else the local socket, and
    /// agrees on an API version with it: bollard asks for a newer one than
    /// older engines (Debian's 20.10) speak.
    pub async fn connect(host: Option<&str>) -> Result<Self, DockerError> {
        let host = host
            .map(str::to_string)
            .or_else(|| std::env::var("DOCKER_HOST").ok().filter(|h| !h.is_empty()))
            .unwrap_or_else(|| DEFAULT_SOCKET.to_string());
        let unreachable = |reason: String| DockerError::Unreachable {
            host: host.clone(),
            reason,
        };
        let docker = if let Some(path) = host.strip_prefix("unix://") {
            Docker::connect_with_unix(path, REQUEST_TIMEOUT_SECS, bollard::API_DEFAULT_VERSION)
        } else if let Some(address) = host.strip_prefix("tcp://") {
            Docker::connect_with_http(
                &format!("http://{address}"),
                REQUEST_TIMEOUT_SECS,
                bollard::API_DEFAULT_VERSION,
            )
        } else if host.starts_with("http://") {
            Docker::connect_with_http(&host, REQUEST_TIMEOUT_SECS, bollard::API_DEFAULT_VERSION)
        } else {
            return Err(DockerError::BadHost {
                host,
                reason: "use unix:///path/to/docker.sock or tcp://host:port".into(),
            });
        }
        .map_err(|e| unreachable(e.to_string()))?;
        let docker = docker
            .negotiate_version()
            .await
            .map_err(|e| unreachable(e.to_string()))?;
        Ok(Self {
            docker,
            host,
            network_lock: Arc::default(),
        })
    }

    pub fn host(&self) -> &str {
        &self.host
    }

    pub async fn info(&self) -> Result<EngineInfo, DockerError> {
        let version = self
            .docker
            .version()
            .await
            .map_err(|e| DockerError::Unreachable {
                host: self.host.clone(),
                reason: e.to_string(),
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
        let engine = Engine::connect(None)
            .await
            .expect("a Docker engine runs on this machine");
        let info = engine.info().await.unwrap();
        assert!(!info.version.is_empty());
        assert!(!info.api_version.is_empty());
    }

    #[tokio::test]
    async fn a_missing_engine_is_a_clear_error() {
        let error = Engine::connect(Some("unix:///nonexistent/docker.sock"))
            .await
            .err()
            .unwrap();
        let message = error.to_string();
        assert!(
            message.starts_with("no Docker engine answers at unix:///nonexistent/docker.sock"),
            "{message}"
        );
        assert!(message.contains("BERTH_DOCKER_HOST"), "{message}");
    }

    #[tokio::test]
    async fn an_unknown_scheme_is_refused() {
        let error = Engine::connect(Some("ftp://example")).await.err().unwrap();
        assert!(matches!(error, DockerError::BadHost { .. }), "{error}");
    }
}
