//! The audit trail: who changed what, when and from where. Entries name
//! things (config keys, token ids, emails), never secret values.

use berth_core::{Action, Actor};
use berth_store::{AuditEntry, AuditEvent, AUDIT_PRUNE_BATCH};
use chrono::{DateTime, Utc};

use crate::{authorize_platform, Platform, Result};

impl Platform {
    /// The audit trail, oldest first: of one app for those who may read it,
    /// or the whole platform's for platform admins.
    pub async fn audit_trail(
        &self,
        actor: &Actor,
        app_name: Option<&str>,
    ) -> Result<Vec<AuditEvent>> {
        self.audit_page(actor, app_name, None, None).await
    }

    /// A page of the audit trail, oldest first: the newest `limit` entries
    /// older than the entry with id `before` (the first of the page after).
    pub async fn audit_page(
        &self,
        actor: &Actor,
        app_name: Option<&str>,
        before: Option<i64>,
        limit: Option<u32>,
    ) -> Result<Vec<AuditEvent>> {
        let app_id = match app_name {
            // By id: an app that took a destroyed app's name never sees its trail.
            Some(name) => Some(self.authorize_app(actor, name, Action::ReadApp).await?.id),
            None => {
                authorize_platform(actor, Action::ReadPlatform)?;
                None
            }
        };
        Ok(self.store.audit_page(app_id, before, limit).await?)
    }

    /// Drops what the audit retention no longer keeps, all of it: at start
    /// and periodically (each entry recorded also prunes a little).
    pub async fn prune_audit_trail(&self) -> Result<u64> {
        let mut removed = 0;
        // Each round drops at most a batch of aged entries; the bound only
        // guards against a clock that keeps moving entries into the past.
        for _ in 0..=self.audit_retention.max_entries / AUDIT_PRUNE_BATCH as u64 {
            let round = self.prune_audit_a_little().await?;
            removed += round;
            if round < AUDIT_PRUNE_BATCH as u64 {
                break;
            }
        }
        Ok(removed)
    }

    async fn prune_audit_a_little(&self) -> Result<u64> {
        let older_than = chrono::Duration::from_std(self.audit_retention.max_age)
            .ok()
            .and_then(|age| Utc::now().checked_sub_signed(age))
            .unwrap_or(DateTime::<Utc>::MIN_UTC);
        Ok(self
            .store
            .prune_audit(older_than, self.audit_retention.max_entries)
            .await?)
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
        self.store.record_audit(&entry).await?;
        // Sign-in failures are recorded however many come: the trail's
        // bounds hold at each one, not only at the next periodic prune.
        self.prune_audit_a_little().await?;
        Ok(())
    }

    /// Records a change `actor` made to an app.
    pub(crate) async fn audit_app(
        &self,
        actor: &Actor,
        app_name: &str,
        action: &str,
        detail: String,
    ) -> Result<()> {
        self.store
            .record_audit(&app_entry(actor, app_name, action, detail))
            .await?;
        self.prune_audit_a_little().await?;
        Ok(())
    }
}

/// The entry for a change `actor` made to an app, for stores that record
/// it in the change's own transaction.
pub(crate) fn app_entry(actor: &Actor, app_name: &str, action: &str, detail: String) -> AuditEntry {
    AuditEntry {
        app_name: Some(app_name.to_string()),
        ..platform_entry(actor, action, detail)
    }
}

/// The entry for a change `actor` made that concerns no app (a host), for
/// stores that record it in the change's own transaction.
pub(crate) fn platform_entry(actor: &Actor, action: &str, detail: String) -> AuditEntry {
    AuditEntry {
        actor_email: Some(actor.email.clone()),
        source: actor.source.clone(),
        app_name: None,
        action: action.to_string(),
        detail,
    }
}
