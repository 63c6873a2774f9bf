//! The crate's error type and the small helpers that attach context to every
//! engine call.

use std::path::PathBuf;
use std::time::Duration;

use bollard::errors::Error as BollardError;

#[derive(Debug, thiserror::Error)]
pub enum DockerError {
    #[error("cannot use Docker host {host:?}: {reason}")]
    BadHost { host: String, reason: String },
    #[error(
        "no Docker engine answers at {host}: {reason}. Start one (`dockerd`, or \
         `systemctl start docker`) or point BERTH_DOCKER_HOST at a running engine"
    )]
    Unreachable { host: String, reason: String },
    /// The engine answered, but the TLS handshake with it failed.
    #[error("TLS with the Docker engine at {host} failed: {reason}")]
    Tls { host: String, reason: String },
    /// A file of the TLS material (`ca.pem`, `cert.pem`, `key.pem`) is
    /// missing or unusable.
    #[error("cannot use {path} for TLS with Docker engines: {reason}")]
    CertFile { path: PathBuf, reason: String },
    /// The build ran and failed: `message` is Docker's own text (for a failed
    /// `RUN`, "The command '…' returned a non-zero code: 7"), and the build
    /// output before it went to the caller's output callback.
    #[error("{message}")]
    Build { message: String },
    /// `what` did not finish within `after`.
    #[error("{what} did not finish within {after:?}")]
    Timeout { what: String, after: Duration },
    /// The registry images go through refused a push, or could not be
    /// reached for it; `reason` is the engine's text.
    #[error("the registry at {registry} refused the push of {image}: {reason}")]
    Push {
        registry: String,
        image: String,
        reason: String,
    },
    /// The registry could not hand over an image: it lacks it, refused
    /// the pull, or the engine could not reach it; `reason` is the
    /// engine's text.
    #[error("cannot pull {image} from the registry at {registry}: {reason}")]
    Pull {
        registry: String,
        image: String,
        reason: String,
    },
    /// An image asked for by name (to tag it, to copy it) is not on the
    /// engine at `host`.
    #[error("there is no image {image} on the Docker engine at {host}")]
    NoImage { image: String, host: String },
    /// The swarm did not do what was asked: a service's task was rejected,
    /// found no host to run on or did not start in time, or a network of
    /// the swarm could not be made. `context` names the object and what was
    /// asked ("start service berth-shop-v12-web-1-…").
    #[error("{context}: {reason}")]
    Swarm { context: String, reason: String },
    /// A container is not where a request needs it (not on a network).
    #[error("{context}: {reason}")]
    Misplaced { context: String, reason: String },
    /// The engine refused or failed a request; `context` says which one
    /// ("create container web.1").
    #[error("{context}: {source}")]
    Api {
        context: String,
        source: BollardError,
    },
}

impl DockerError {
    /// The HTTP status of the engine's answer, when it answered with an error.
    pub fn status(&self) -> Option<u16> {
        match self {
            DockerError::Api { source, .. } => status_of(source),
            _ => None,
        }
    }

    /// The engine does not know the container, image or network.
    pub fn is_not_found(&self) -> bool {
        matches!(self, DockerError::NoImage { .. }) || self.status() == Some(404)
    }

    /// The engine refused because of the current state (a name already in
    /// use, an image used by a container, …).
    pub fn is_conflict(&self) -> bool {
        self.status() == Some(409)
    }

    /// No engine answered: it is down, restarting, or too slow to answer
    /// at all — as opposed to an engine that answered with an error.
    pub fn is_unreachable(&self) -> bool {
        match self {
            DockerError::Unreachable { .. } => true,
            DockerError::Api { source, .. } => matches!(
                source,
                BollardError::SocketNotFoundError(_)
                    | BollardError::HyperLegacyError { .. }
                    | BollardError::HyperResponseError { .. }
                    | BollardError::IOError { .. }
                    | BollardError::RequestTimeoutError
            ),
            _ => false,
        }
    }
}

pub(crate) fn status_of(error: &BollardError) -> Option<u16> {
    match error {
        BollardError::DockerResponseServerError { status_code, .. } => Some(*status_code),
        _ => None,
    }
}

/// An error and its sources, each message once: a connection error's cause
/// ("Connection refused") is usually a few sources down.
pub(crate) fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let message = cause.to_string();
        if !text.contains(&message) {
            text = format!("{text}: {message}");
        }
        source = cause.source();
    }
    text
}

/// `map_err(api("create container web.1"))`.
pub(crate) fn api(context: impl Into<String>) -> impl FnOnce(BollardError) -> DockerError {
    let context = context.into();
    move |source| DockerError::Api { context, source }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_engine_that_does_not_answer_is_unreachable_one_that_refuses_is_not() {
        let lost = DockerError::Api {
            context: "list containers".into(),
            source: BollardError::SocketNotFoundError("/run/docker.sock".into()),
        };
        assert!(lost.is_unreachable());
        let slow = DockerError::Api {
            context: "list containers".into(),
            source: BollardError::RequestTimeoutError,
        };
        assert!(slow.is_unreachable());
        let refused = DockerError::Api {
            context: "start container web.1".into(),
            source: BollardError::DockerResponseServerError {
                status_code: 404,
                message: "No such container".into(),
            },
        };
        assert!(!refused.is_unreachable());
        assert!(!DockerError::Build {
            message: "exit 1".into()
        }
        .is_unreachable());
    }
}
