//! The audit trail: who changed what, when and from where. Entries name
//! things (config keys, token ids, emails), never secret values.

use berth_core::{Action, Actor};
use berth_store::{AuditEntry, AuditEvent};

use crate::{authorize_platform, Platform, Result};

impl Platform {
    /// The audit trail, oldest first: of one app for those who may read it,
    /// or the whole platform's for platform admins.
    pub async fn audit_trail(
        &self,
        actor: &Actor,
        app_name: Option<&str>,
    ) -> Result<Vec<AuditEvent>> {
        let app_id = match app_name {
            // By id: an app that took a destroyed app's name never sees its trail.
            Some(name) => Some(self.authorize_app(actor, name, Action::ReadApp).await?.id),
            None => {
                authorize_platform(actor, Action::ReadPlatform)?;
                None
            }
        };
        Ok(self.store.audit_trail(app_id).await?)
    }

    /// Records a change that concerns no app.
    pub(crate) async fn audit(
        &self,
        actor_email: Option<&str>,
        origin: &str,
        action: &str,
        detail: String,
    ) -> Result<()> {
        let entry = AuditEntry {
            actor_email: actor_email.map(str::to_string),
            source: origin.to_string(),
            app_name: None,
            action: action.to_string(),
            detail,
        };
        Ok(self.store.record_audit(&entry).await?)
    }

    /// Records a change `actor` made to an app.
    pub(crate) async fn audit_app(
        &self,
        actor: &Actor,
        app_name: &str,
        action: &str,
        detail: String,
    ) -> Result<()> {
        Ok(self
            .store
            .record_audit(&app_entry(actor, app_name, action, detail))
            .await?)
    }
}

/// The entry for a change `actor` made to an app, for stores that record
/// it in the change's own transaction.
pub(crate) fn app_entry(actor: &Actor, app_name: &str, action: &str, detail: String) -> AuditEntry {
    AuditEntry {
        actor_email: Some(actor.email.clone()),
        source: actor.source.clone(),
        app_name: Some(app_name.to_string()),
        action: action.to_string(),
        detail,
    }
}
