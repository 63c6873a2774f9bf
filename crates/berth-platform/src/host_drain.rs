//! Draining a host without a failed request: the host first takes no new
//! dynos; each dyno it runs is then started a second time elsewhere
//! (health-gated, as any start), and only once that one serves is the
//! first routed away from, left to finish its requests, and stopped.

use std::collections::BTreeSet;

use berth_core::Actor;
use berth_docker::{ContainerSelector, ContainerSummary, Runtime};
use berth_store::AppRecord;

use crate::logs::{LogLine, LogSource};
use crate::progress::Progress;
use crate::release::STOP_GRACE;
use crate::{Platform, PlatformError, Result};

impl Platform {
    /// Moves every dyno off `host`, which takes no new ones by now, app by
    /// app under each app's lease. Returns how many moved.
    pub(crate) async fn move_dynos_off(&self, host: &str, actor: &Actor) -> Result<usize> {
        let runtime = self.runtime()?;
        if !runtime.is_swarm() {
            return Ok(0);
        }
        let apps_there: BTreeSet<String> = runtime
            .containers_of(ContainerSelector::platform(&self.platform_id))
            .await?
            .into_iter()
            .filter(|c| runs_a_dyno_on(c, host))
            .filter_map(|c| c.process.map(|process| process.app))
            .collect();
        let mut moved = 0;
        for app in self.store.apps_visible_to(0, true).await? {
            if !apps_there.contains(&app.name) {
                continue;
            }
            let progress = Progress::channel().0;
            moved += self
                .exclusively(&app, &progress, self.move_app_dynos_off(&app, host, actor))
                .await?;
        }
        Ok(moved)
    }

    /// The app's dynos of its current release on `host`, one at a time.
    /// (Those of another release are a push's to retire.)
    async fn move_app_dynos_off(
        &self,
        app: &AppRecord,
        host: &str,
        actor: &Actor,
    ) -> Result<usize> {
        let runtime = self.runtime()?;
        let Some(swarm) = runtime.swarm() else {
            return Ok(0);
        };
        let Some(release) = self.current_release(app).await? else {
            return Ok(0);
        };
        let config = self.open_release_config(app, &release)?;
        let progress = Progress::channel().0;
        let mut moved = 0;
        for container in self.app_containers(&app.name, None).await? {
            let Some(identity) = container.process.as_ref().filter(|identity| {
                runs_a_dyno_on(&container, host) && identity.release == release.version
            }) else {
                continue;
            };
            let (Some(dyno), Some(index)) = (identity.dyno.as_deref(), identity.index()) else {
                continue;
            };
            let Some(process) = release
                .processes
                .iter()
                .find(|process| process.process_type == identity.process_type)
            else {
                continue;
            };
            let message = format!(
                "Moving off host {host}, drained by {}: starting on another host",
                actor.email
            );
            self.logs
                .write(&app.name, LogLine::now(LogSource::Berth, dyno, &message));
            let mut spec = self.dyno_spec(app, &release, process, index, &config)?;
            self.mount_volumes(app, &mut spec).await?;
            if spec.pinned_host.as_deref() == Some(host) {
                return Err(PlatformError::Conflict(format!(
                    "{dyno} of {} cannot move off {host}: its volumes are kept there (see \
                     `berth volumes -a {}`)",
                    app.name, app.name
                )));
            }
            let replacement = swarm.start_replacement(&spec).await?;
            if let Err(error) = self
                .dyno_started(app, process, &spec, &replacement, &progress)
                .await
            {
                // The replacement never served: it goes, and the dyno stays put.
                if let Err(removal) = runtime.stop_and_remove(&replacement.id, STOP_GRACE).await {
                    tracing::warn!(app = %app.name, %dyno, error = %removal, "cannot remove a replacement that did not start");
                }
                return Err(PlatformError::DeployFailed(format!(
                    "{dyno} of {} could not move off {host}: {error}; {host} takes no new dynos, \
                     and `berth hosts:drain {host}` tries again",
                    app.name
                )));
            }
            self.retire(&app.name, &container).await?;
            moved += 1;
        }
        Ok(moved)
    }
}

/// A running dyno of the formation, on `host`.
fn runs_a_dyno_on(container: &ContainerSummary, host: &str) -> bool {
    container.state == "running"
        && container.host.as_deref() == Some(host)
        && container
            .process
            .as_ref()
            .is_some_and(|process| process.is_formation_dyno())
}
