//! Berth's container runtime: the Docker Engine API through bollard. This
//! first piece connects to an engine and reports what it is; building,
//! running and watching containers grow here behind the runtime trait.

use bollard::Docker;

#[derive(Debug, thiserror::Error)]
pub enum DockerError {
    #[error("cannot use Docker host {host:?}: {reason}")]
    BadHost { host: String, reason: String },
    #[error(
        "no Docker engine answers at {host}: {reason}. Start one (`dockerd`, or \
         `systemctl start docker`) or point BERTH_DOCKER_HOST at a running engine"
    )]
    Unreachable { host: String, reason: String },
}

/// What the engine says about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineInfo {
    pub version: String,
    pub api_version: String,
    pub os: String,
    pub arch: String,
}

/// A connection to one Docker engine.
#[derive(Clone)]
pub struct Engine {
    docker: Docker,
    host: String,
}

const DEFAULT_SOCKET: &str = "unix:///var/run/docker.sock";
const REQUEST_TIMEOUT_SECS: u64 = 120;

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
        Ok(Self { docker, host })
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
