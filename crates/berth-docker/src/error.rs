//! The crate's error type and the small helpers that attach context to every
//! engine call.

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
    /// The build ran and failed: `message` is Docker's own text (for a failed
    /// `RUN`, "The command '…' returned a non-zero code: 7"), and the build
    /// output before it went to the caller's output callback.
    #[error("{message}")]
    Build { message: String },
    /// `what` did not finish within `after`.
    #[error("{what} did not finish within {after:?}")]
    Timeout { what: String, after: Duration },
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
        self.status() == Some(404)
    }

    /// The engine refused because of the current state (a name already in
    /// use, an image used by a container, …).
    pub fn is_conflict(&self) -> bool {
        self.status() == Some(409)
    }
}

pub(crate) fn status_of(error: &BollardError) -> Option<u16> {
    match error {
        BollardError::DockerResponseServerError { status_code, .. } => Some(*status_code),
        _ => None,
    }
}

/// `map_err(api("create container web.1"))`.
pub(crate) fn api(context: impl Into<String>) -> impl FnOnce(BollardError) -> DockerError {
    let context = context.into();
    move |source| DockerError::Api { context, source }
}
