//! Berth's domain: the values a user names and the rules that hold for them.
//! Everything here is pure so it can be tested without a server, engine or store.

mod app_name;
mod commit;
pub mod cookies;
mod email;
mod host_name;
mod hostname;
pub mod limits;
mod manifest;
mod metrics_window;
#[cfg(test)]
mod parser_proptests;
mod pipeline;
mod policy;
pub mod process_env;
mod scale;
mod volume_name;

pub use app_name::{AppName, AppNameError};
pub use commit::short_commit;
pub use email::{Email, EmailError};
pub use host_name::{HostName, HostNameError};
pub use hostname::{Hostname, HostnameError};
pub use limits::{LimitError, Limits};
pub use manifest::{
    find_manifest, parse_compose, parse_heroku_yml, parse_procfile, AddonKind, AddonRequest,
    BuildSpec, Command, DependsOn, EmptyCommand, HealthCheck, Manifest, ManifestError,
    ManifestSource, ProcessOptions, ProcessSpec, ProcessType, ProcessTypeError, ReleaseSpec, Setup,
    COMPOSE_FILES, COMPOSE_OVERRIDES, DEFAULT_BUILD, HEROKU_YML, MAX_COMPOSE_BYTES, PROCFILE,
    ROOT_DOCKERFILE,
};
pub use metrics_window::{MetricsWindow, MetricsWindowError, LONGEST_WINDOW};
pub use pipeline::{
    parse_ttl, review_app_name, PipelineError, PipelineName, PipelineStage, REVIEW_APP_TTL_MAX,
    REVIEW_APP_TTL_MIN,
};
pub use policy::{authorize, Action, Actor, AppRole, Denied, TokenScope};
pub use scale::{check_config_key, Quantity, ScaleChange, MAX_QUANTITY};
pub use volume_name::{check_mount_path, VolumeName, VolumeNameError};
