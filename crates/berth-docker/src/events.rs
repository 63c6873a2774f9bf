//! The engine's event stream: what happens to containers, as it happens.
//! Its connection also tells when the engine goes away: the stream breaks.

use std::collections::HashMap;

use bollard::query_parameters::EventsOptions;
use futures_util::{Stream, StreamExt};

use crate::error::api;
use crate::images::label_filter;
use crate::{DockerError, Engine};

/// Something that happened to a container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerEvent {
    pub id: String,
    /// `create`, `start`, `die`, `stop`, `destroy`, …
    pub action: String,
}

impl Engine {
    /// The events of containers that carry every given label, from now on.
    /// The stream ends, or yields an error, when the connection to the
    /// engine is lost (it stopped or restarted): subscribe again once it
    /// answers.
    pub fn container_events(
        &self,
        labels: &[(&str, &str)],
    ) -> impl Stream<Item = Result<ContainerEvent, DockerError>> + Send + 'static {
        let filters = HashMap::from([
            ("type".to_string(), vec!["container".to_string()]),
            ("label".to_string(), label_filter(labels)),
        ]);
        let options = EventsOptions {
            filters: Some(filters),
            ..Default::default()
        };
        self.docker.events(Some(options)).map(|event| {
            let event = event.map_err(api("follow the engine's events"))?;
            Ok(ContainerEvent {
                id: event.actor.and_then(|actor| actor.id).unwrap_or_default(),
                action: event.action.unwrap_or_default(),
            })
        })
    }
}
