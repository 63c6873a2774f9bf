use berth_core::Denied;

/// Everything a use case can answer besides success. The server maps each
/// variant to one wire error; the message is written for the person at the CLI.
#[derive(Debug, thiserror::Error)]
pub enum PlatformError {
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Invalid(String),
    /// Too many failed sign-ins for the account or from the address. The
    /// message says no more, so it reveals nothing about the account.
    #[error("too many failed sign-in attempts: try again later")]
    Throttled { retry_after_secs: u64 },
    /// The server is at its limit for this kind of work (password checks):
    /// refused at once rather than queued, to be retried in a moment.
    #[error("{0}")]
    Busy(String),
    /// A build, release command or start failed: the user's to fix.
    #[error("{0}")]
    DeployFailed(String),
    /// The server an add-on lives on failed or refused (unreachable, no rights…).
    #[error("{0}")]
    AddonProvider(String),
    /// The container engine does not answer (down or restarting): the
    /// reconciler converges once it is back; `detail` is for the operator.
    #[error("the container engine does not answer (it may be restarting): try again in a moment")]
    EngineUnavailable { detail: String },
    #[error(transparent)]
    Docker(berth_docker::DockerError),
    #[error(transparent)]
    Store(berth_store::StoreError),
    #[error(transparent)]
    Git(#[from] berth_git::GitError),
    #[error(transparent)]
    Secrets(#[from] crate::secrets::SecretsError),
    #[error("{context}: {source}")]
    Io {
        context: String,
        source: std::io::Error,
    },
    #[error("internal error: {0}")]
    Internal(String),
}

pub type Result<T, E = PlatformError> = std::result::Result<T, E>;

impl From<berth_store::StoreError> for PlatformError {
    fn from(error: berth_store::StoreError) -> Self {
        match error {
            berth_store::StoreError::Conflict(what) => {
                PlatformError::Conflict(format!("{what} already exists"))
            }
            other => PlatformError::Store(other),
        }
    }
}

impl From<berth_docker::DockerError> for PlatformError {
    fn from(error: berth_docker::DockerError) -> Self {
        if error.is_unreachable() {
            PlatformError::EngineUnavailable {
                detail: error.to_string(),
            }
        } else {
            PlatformError::Docker(error)
        }
    }
}

impl PlatformError {
    pub(crate) fn from_denied(denied: Denied, app_name: &str) -> Self {
        match denied {
            Denied::NotFound => PlatformError::app_not_found(app_name),
            Denied::Forbidden(message) => PlatformError::Forbidden(message),
        }
    }

    pub(crate) fn app_not_found(app_name: &str) -> Self {
        PlatformError::NotFound(format!("app {app_name} not found"))
    }
}
