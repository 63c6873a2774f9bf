//! Who may do what to an app: its members and their roles. Owners manage
//! access; every member may see who else has it.

use berth_core::{Action, Actor, AppRole};
use berth_store::{Member, MembershipChange};

use crate::audit::app_entry;
use crate::{Platform, PlatformError, Result};

impl Platform {
    /// The app's members, in the order they got access.
    pub async fn members(&self, actor: &Actor, app_name: &str) -> Result<Vec<Member>> {
        let app = self.authorize_app(actor, app_name, Action::ReadApp).await?;
        Ok(self.store.members(app.id).await?)
    }

    /// Gives an existing user a role on the app.
    pub async fn add_member(
        &self,
        actor: &Actor,
        app_name: &str,
        email: &str,
        role: AppRole,
    ) -> Result<()> {
        let app = self
            .authorize_app(actor, app_name, Action::ManageAccess)
            .await?;
        let user = self.user_named(email).await?;
        let entry = app_entry(
            actor,
            &app.name,
            "access.add",
            format!("{} as {role}", user.email),
        );
        match self.store.add_member(app.id, user.id, role, &entry).await {
            Err(berth_store::StoreError::Conflict(_)) => Err(PlatformError::Conflict(format!(
                "{} already has access to {}: change the role with access:update",
                user.email, app.name
            ))),
            other => Ok(other?),
        }
    }

    /// Changes a member's role (`Some`) or removes them (`None`); the last
    /// owner can be neither demoted nor removed.
    pub async fn change_member(
        &self,
        actor: &Actor,
        app_name: &str,
        email: &str,
        role: Option<AppRole>,
    ) -> Result<()> {
        let app = self
            .authorize_app(actor, app_name, Action::ManageAccess)
            .await?;
        let user = self.user_named(email).await?;
        let entry = match role {
            Some(role) => app_entry(
                actor,
                &app.name,
                "access.update",
                format!("{} to {role}", user.email),
            ),
            None => app_entry(actor, &app.name, "access.remove", user.email.clone()),
        };
        match self
            .store
            .change_member(app.id, user.id, role, &entry)
            .await?
        {
            MembershipChange::Done => {
                self.access_changed();
                Ok(())
            }
            MembershipChange::NotAMember => Err(PlatformError::NotFound(format!(
                "{} has no access to {}",
                user.email, app.name
            ))),
            MembershipChange::LastOwner => Err(PlatformError::Conflict(format!(
                "{} is the only owner of {}: make someone else owner first",
                user.email, app.name
            ))),
        }
    }
}
