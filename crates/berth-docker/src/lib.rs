//! Berth's container runtime: the Docker Engine API through bollard.
//!
//! [`Engine`] drives one engine: it builds images from a tar context, runs
//! long-running and one-off containers, lists them by label, follows their
//! output, and manages per-app networks. The [`Runtime`] trait names those
//! operations so that placement over many hosts can live behind it:
//! [`Swarm`] implements it for many hosts, as Docker Swarm services.

mod containers;
mod engine;
mod error;
mod events;
mod identity;
mod images;
mod logs;
mod networks;
mod request_metrics;
mod runtime;
mod services;
mod stats;
mod swarm;
mod target;
mod terminal;
mod volumes;

pub use containers::{
    ContainerSpec, ContainerSummary, Health, HealthCheck, Limits, RunOptions, StartedContainer,
    KEPT_CAPABILITIES,
};
pub use engine::{Engine, EngineInfo};
pub use error::DockerError;
pub use events::ContainerEvent;
pub use identity::{
    addon_labels, app_labels, app_network, app_volumes, swarm_network, volume_labels, volume_name,
    Attachment, ContainerSelector, ProcessIdentity, ProcessSpec, VolumeMount, HOST_LABEL,
};
pub use images::{
    image_only_context, BuildRequest, ContextStream, ImageRegistry, RegistryCredentials,
    IMAGE_ONLY_DOCKERFILE,
};
pub use logs::{LogLine, LogStream};
pub use request_metrics::{engine_request_durations, EngineRequestLabels};
pub use runtime::{Placement, Runtime};
pub use services::Swarm;
pub use stats::ContainerStats;
pub use swarm::{Availability, Membership, SwarmNode, SWARM_PORT};
pub use target::{EngineTarget, EngineTls, DEFAULT_SOCKET};
pub use terminal::{TerminalControl, TerminalSession};
pub use volumes::VolumeSummary;
