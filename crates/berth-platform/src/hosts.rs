//! The hosts the platform runs dynos on, for platform admins. Today that is
//! the one engine berthd drives, under the name the operator gave it
//! (`BERTH_HOST_NAME`, else `default`).

use std::collections::BTreeMap;

use berth_core::{Action, Actor};
use berth_docker::{ContainerSelector, Runtime};

use crate::{authorize_platform, Platform, Result};

/// A host as `berth hosts` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Host {
    pub name: String,
    /// Where berthd reaches its engine: `unix:///…` or `tcp://HOST:PORT`.
    pub address: String,
    /// `manager` (it schedules) or `worker`.
    pub role: &'static str,
    /// `ready` (its engine answers) or `down`.
    pub state: &'static str,
    /// `active` (takes dynos) or `drain`.
    pub availability: &'static str,
    pub labels: BTreeMap<String, String>,
    /// Dynos of this platform running there, one-offs included.
    pub dynos: usize,
}

impl Platform {
    pub async fn hosts(&self, actor: &Actor) -> Result<Vec<Host>> {
        authorize_platform(actor, Action::ReadPlatform)?;
        let engine = self.engine()?;
        let listed = engine
            .containers_of(ContainerSelector::platform(&self.platform_id))
            .await;
        let (state, dynos) = match listed {
            Ok(containers) => (
                "ready",
                containers
                    .iter()
                    .filter(|c| c.state == "running")
                    .filter(|c| c.process.as_ref().is_some_and(|p| p.dyno.is_some()))
                    .count(),
            ),
            Err(error) if error.is_unreachable() => ("down", 0),
            Err(error) => return Err(error.into()),
        };
        Ok(vec![Host {
            name: self.host_name.to_string(),
            address: engine.host().to_string(),
            // The engine berthd drives is where scheduling happens.
            role: "manager",
            state,
            availability: "active",
            labels: BTreeMap::new(),
            dynos,
        }])
    }
}
