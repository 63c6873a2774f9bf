//! Long-lived streams (a log tail, a one-off's output or terminal) were
//! authorized once, when they opened. Access can end while they run — the
//! token revoked or expired, the role removed, the app destroyed and its
//! name taken again — so each stream asks again, every few seconds and at
//! once whenever access changes anywhere, and ends when the answer is no.

use std::time::Duration;

use berth_core::{authorize, Action};
use berth_store::AppRecord;
use chrono::Utc;

use crate::{Platform, Result, Session};

/// How often an open stream checks that its session may still read it,
/// besides the checks every change of access wakes.
const STREAM_RECHECK: Duration = Duration::from_secs(5);

impl Platform {
    /// Wakes every open stream to check its access again: called after
    /// anything that can take access away.
    pub(crate) fn access_changed(&self) {
        self.access_changes
            .send_modify(|generation| *generation = generation.wrapping_add(1));
    }

    /// Whether `session` may still perform `action` on `app`, the very app it
    /// was granted (not a newer one of the same name).
    pub async fn still_permitted(
        &self,
        session: &Session,
        app: &AppRecord,
        action: Action,
    ) -> Result<bool> {
        let Some((token, user)) = self.store.token_with_user(&session.token_id).await? else {
            return Ok(false);
        };
        let live = token.revoked_at.is_none() && token.expires_at.is_none_or(|at| at > Utc::now());
        if !live || user.id != session.actor.user_id {
            return Ok(false);
        }
        let Some((current, role)) = self.store.app_with_role(&app.name, user.id).await? else {
            return Ok(false);
        };
        let actor = berth_core::Actor {
            is_platform_admin: user.is_admin,
            ..session.actor.clone()
        };
        Ok(current.id == app.id && authorize(&actor, role, action).is_ok())
    }

    /// Resolves once `session` may no longer perform `action` on `app`:
    /// a stream ends when this does (`StreamExt::take_until`). A store that
    /// cannot answer ends it too.
    pub async fn access_lost(&self, session: &Session, app: &AppRecord, action: Action) {
        let mut changes = self.access_changes.subscribe();
        loop {
            tokio::select! {
                () = tokio::time::sleep(STREAM_RECHECK) => {}
                changed = changes.changed() => {
                    if changed.is_err() {
                        return;
                    }
                }
            }
            match self.still_permitted(session, app, action).await {
                Ok(true) => {}
                Ok(false) => return,
                Err(error) => {
                    tracing::warn!(app = %app.name, %error, "cannot check a stream's access: ending it");
                    return;
                }
            }
        }
    }
}
