//! Start-up after a stop, even a `kill -9` mid-deploy: deploys that never
//! finished are marked failed and their containers removed (the previous
//! release kept serving throughout), and containers of apps that no longer
//! exist are removed. Running containers of current releases are adopted
//! as they are, not restarted. One-off dynos: attached ones lost their
//! client and are removed; detached ones are watched again until they exit.

use crate::{Platform, Result};

impl Platform {
    /// Brings the engine back in line with the store after berthd (re)starts.
    pub async fn recover(&self) -> Result<()> {
        // Leases still held were held by the berthd that stopped.
        self.store.clear_deploy_leases().await?;
        let apps = self.store.apps_visible_to(0, true).await?;
        for release in self.store.pending_releases().await? {
            let Some(app) = apps.iter().find(|app| app.id == release.app_id) else {
                continue;
            };
            tracing::warn!(app = %app.name, version = release.version, "finishing an interrupted deploy: it failed");
            self.store
                .fail_release(
                    release.id,
                    "interrupted: berthd stopped before this deploy finished",
                    &release.output,
                )
                .await?;
            self.stop_containers(app, |process| process.release == release.version)
                .await?;
        }
        for app in &apps {
            self.recover_oneoffs(app).await?;
        }
        // Processes missing or crashed while berthd was down come back, and
        // containers of apps that no longer exist go.
        self.reconcile().await?;
        self.refresh_routes().await
    }
}
