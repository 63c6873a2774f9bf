//! The one authorization rule. Every API route, git request and dashboard page
//! asks `authorize` before touching data; the platform feeds it the actor and
//! the actor's role on the app (looked up in the store), and nothing else
//! decides access.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// What an API token may do, whatever its user's roles: a token never
/// grants more than its user has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenScope {
    /// Read apps, releases, processes and logs; never secrets (config
    /// values, add-on credentials).
    Read,
    /// Read, plus push, restart and scale.
    Deploy,
    /// Everything the user may do.
    Full,
}

/// A user's role on one app. The creator of an app is its owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AppRole {
    Owner,
    Admin,
    Deployer,
    Viewer,
}

/// Something an actor wants to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// List the apps the actor holds a role on (every app for a platform admin).
    ListApps,
    CreateApp,
    ReadApp,
    /// Push code, creating a release and rolling it out; scale and restart.
    Deploy,
    /// Read config var values or reveal add-on credentials: secrets, so a
    /// read-scope token (handed to dashboards and monitors) may not.
    ReadConfig,
    /// Change config vars, roll back releases.
    Configure,
    /// Add, change or remove who has which role on the app.
    ManageAccess,
    /// Add or remove the app's custom domains.
    ManageDomains,
    /// Create, attach, detach, rotate or destroy the app's add-ons.
    ManageAddons,
    /// Create or destroy the app's persistent volumes: destroying one
    /// deletes its data, as destroying an add-on does, so the same roles
    /// and scope as add-ons. (Reading them is `ReadApp`.)
    ManageVolumes,
    DestroyApp,
    /// Create, list or revoke the actor's own API tokens.
    ManageOwnTokens,
    /// Create or remove users on the platform.
    ManageUsers,
    /// List the platform's users and hosts, read its whole audit trail and its metrics.
    ReadPlatform,
    /// Add, drain or remove the hosts dynos run on.
    ManageHosts,
}

/// Who is asking: a signed-in user, through a token of some scope, from
/// some place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub user_id: i64,
    pub email: String,
    pub is_platform_admin: bool,
    pub scope: TokenScope,
    /// Where the request came from (a client address), for the audit trail.
    pub source: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Denied {
    /// The actor has no access to the app: answered exactly like an app that
    /// does not exist, so that names of other teams' apps do not leak.
    #[error("not found")]
    NotFound,
    #[error("{0}")]
    Forbidden(String),
}

impl Action {
    fn required_scope(self) -> TokenScope {
        match self {
            Action::ListApps | Action::ReadApp | Action::ReadPlatform => TokenScope::Read,
            Action::Deploy | Action::ReadConfig => TokenScope::Deploy,
            Action::Configure
            | Action::ManageAccess
            | Action::ManageDomains
            | Action::ManageAddons
            | Action::ManageVolumes => TokenScope::Full,
            Action::CreateApp
            | Action::DestroyApp
            | Action::ManageOwnTokens
            | Action::ManageUsers
            | Action::ManageHosts => TokenScope::Full,
        }
    }

    fn concerns_an_app(self) -> bool {
        !matches!(
            self,
            Action::ListApps
                | Action::CreateApp
                | Action::ManageOwnTokens
                | Action::ManageUsers
                | Action::ReadPlatform
                | Action::ManageHosts
        )
    }

    fn describe(self) -> &'static str {
        match self {
            Action::ListApps => "list apps",
            Action::CreateApp => "create apps",
            Action::ReadApp => "read this app",
            Action::Deploy => "deploy this app",
            Action::ReadConfig => "read this app's config vars",
            Action::Configure => "change this app's config",
            Action::ManageAccess => "change who has access to this app",
            Action::ManageDomains => "change this app's domains",
            Action::ManageAddons => "change this app's add-ons",
            Action::ManageVolumes => "change this app's volumes",
            Action::DestroyApp => "destroy this app",
            Action::ManageOwnTokens => "manage API tokens",
            Action::ManageUsers => "manage users",
            Action::ReadPlatform => "read the platform's users, hosts, audit trail and metrics",
            Action::ManageHosts => "add, drain or remove hosts",
        }
    }
}

impl AppRole {
    fn permits(self, action: Action) -> bool {
        match self {
            AppRole::Owner => true,
            // Only owners decide who else holds a role, so no one can grant
            // more than they hold.
            AppRole::Admin => !matches!(action, Action::DestroyApp | Action::ManageAccess),
            AppRole::Deployer => {
                matches!(
                    action,
                    Action::ReadApp | Action::Deploy | Action::ReadConfig
                )
            }
            AppRole::Viewer => action == Action::ReadApp,
        }
    }
}

/// Decides whether `actor`, holding `role` on the app in question (if any),
/// may perform `action`. For actions that do not concern an app, `role` is
/// ignored.
pub fn authorize(actor: &Actor, role: Option<AppRole>, action: Action) -> Result<(), Denied> {
    if action.concerns_an_app() && role.is_none() && !actor.is_platform_admin {
        return Err(Denied::NotFound);
    }
    if actor.scope < action.required_scope() {
        return Err(Denied::Forbidden(format!(
            "this API token has {} scope and cannot {}: use a token with {} scope",
            actor.scope,
            action.describe(),
            action.required_scope()
        )));
    }
    let allowed = match action {
        Action::ListApps | Action::CreateApp | Action::ManageOwnTokens => true,
        Action::ManageUsers | Action::ReadPlatform | Action::ManageHosts => actor.is_platform_admin,
        Action::ReadApp
        | Action::Deploy
        | Action::ReadConfig
        | Action::Configure
        | Action::ManageAccess
        | Action::ManageDomains
        | Action::ManageAddons
        | Action::ManageVolumes
        | Action::DestroyApp => {
            actor.is_platform_admin || role.is_some_and(|role| role.permits(action))
        }
    };
    if allowed {
        Ok(())
    } else {
        let role = role.map_or_else(|| "member".to_string(), |role| role.to_string());
        Err(Denied::Forbidden(format!(
            "as {role} you cannot {}",
            action.describe()
        )))
    }
}

impl fmt::Display for TokenScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TokenScope::Read => "read",
            TokenScope::Deploy => "deploy",
            TokenScope::Full => "full",
        })
    }
}

impl FromStr for TokenScope {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "read" => Ok(TokenScope::Read),
            "deploy" => Ok(TokenScope::Deploy),
            "full" => Ok(TokenScope::Full),
            other => Err(format!(
                "unknown token scope {other:?}: use read, deploy or full"
            )),
        }
    }
}

impl fmt::Display for AppRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AppRole::Owner => "owner",
            AppRole::Admin => "admin",
            AppRole::Deployer => "deployer",
            AppRole::Viewer => "viewer",
        })
    }
}

impl FromStr for AppRole {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "owner" => Ok(AppRole::Owner),
            "admin" => Ok(AppRole::Admin),
            "deployer" => Ok(AppRole::Deployer),
            "viewer" => Ok(AppRole::Viewer),
            other => Err(format!(
                "unknown role {other:?}: use owner, admin, deployer or viewer"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn actor(is_platform_admin: bool, scope: TokenScope) -> Actor {
        Actor {
            user_id: 1,
            email: "a@example.com".into(),
            is_platform_admin,
            scope,
            source: "127.0.0.1".into(),
        }
    }

    #[test]
    fn without_a_role_an_app_does_not_exist() {
        let member = actor(false, TokenScope::Full);
        assert_eq!(
            authorize(&member, None, Action::ReadApp),
            Err(Denied::NotFound)
        );
        assert_eq!(
            authorize(&member, None, Action::DestroyApp),
            Err(Denied::NotFound)
        );
    }

    #[test]
    fn owners_may_do_everything_to_their_app() {
        let member = actor(false, TokenScope::Full);
        for action in [Action::ReadApp, Action::DestroyApp] {
            assert_eq!(authorize(&member, Some(AppRole::Owner), action), Ok(()));
        }
    }

    #[test]
    fn viewers_read_but_do_not_destroy() {
        let member = actor(false, TokenScope::Full);
        assert_eq!(
            authorize(&member, Some(AppRole::Viewer), Action::ReadApp),
            Ok(())
        );
        assert!(matches!(
            authorize(&member, Some(AppRole::Viewer), Action::DestroyApp),
            Err(Denied::Forbidden(_))
        ));
    }

    #[test]
    fn deployers_deploy_and_deploy_tokens_suffice() {
        let deploy_token = actor(false, TokenScope::Deploy);
        assert_eq!(
            authorize(&deploy_token, Some(AppRole::Deployer), Action::Deploy),
            Ok(())
        );
        assert!(authorize(&deploy_token, Some(AppRole::Owner), Action::DestroyApp).is_err());
        let viewer = actor(false, TokenScope::Full);
        assert!(authorize(&viewer, Some(AppRole::Viewer), Action::Deploy).is_err());
        let read_token = actor(false, TokenScope::Read);
        assert!(authorize(&read_token, Some(AppRole::Owner), Action::Deploy).is_err());
    }

    #[test]
    fn platform_admins_reach_every_app() {
        let admin = actor(true, TokenScope::Full);
        assert_eq!(authorize(&admin, None, Action::DestroyApp), Ok(()));
        assert_eq!(authorize(&admin, None, Action::ManageUsers), Ok(()));
    }

    #[test]
    fn only_owners_manage_access() {
        let member = actor(false, TokenScope::Full);
        assert_eq!(
            authorize(&member, Some(AppRole::Owner), Action::ManageAccess),
            Ok(())
        );
        for role in [AppRole::Admin, AppRole::Deployer, AppRole::Viewer] {
            assert!(matches!(
                authorize(&member, Some(role), Action::ManageAccess),
                Err(Denied::Forbidden(_))
            ));
        }
        let admin = actor(true, TokenScope::Full);
        assert_eq!(authorize(&admin, None, Action::ManageAccess), Ok(()));
    }

    #[test]
    fn admins_and_owners_manage_domains_with_full_tokens() {
        let member = actor(false, TokenScope::Full);
        for role in [AppRole::Owner, AppRole::Admin] {
            assert_eq!(
                authorize(&member, Some(role), Action::ManageDomains),
                Ok(())
            );
        }
        for role in [AppRole::Deployer, AppRole::Viewer] {
            assert_eq!(
                authorize(&member, Some(role), Action::ManageDomains),
                Err(Denied::Forbidden(format!(
                    "as {role} you cannot change this app's domains"
                )))
            );
        }
        let deploy_token = actor(false, TokenScope::Deploy);
        assert!(matches!(
            authorize(&deploy_token, Some(AppRole::Owner), Action::ManageDomains),
            Err(Denied::Forbidden(_))
        ));
        assert_eq!(
            authorize(&member, None, Action::ManageDomains),
            Err(Denied::NotFound)
        );
    }

    #[test]
    fn viewers_do_not_read_config_values() {
        let member = actor(false, TokenScope::Full);
        assert!(matches!(
            authorize(&member, Some(AppRole::Viewer), Action::ReadConfig),
            Err(Denied::Forbidden(_))
        ));
        assert_eq!(
            authorize(&member, Some(AppRole::Deployer), Action::ReadConfig),
            Ok(())
        );
    }

    #[test]
    fn read_tokens_do_not_read_secrets() {
        let read_token = actor(true, TokenScope::Read);
        assert_eq!(
            authorize(&read_token, Some(AppRole::Owner), Action::ReadConfig),
            Err(Denied::Forbidden(
                "this API token has read scope and cannot read this app's config vars: use a \
                 token with deploy scope"
                    .into()
            ))
        );
        assert_eq!(
            authorize(
                &actor(false, TokenScope::Deploy),
                Some(AppRole::Deployer),
                Action::ReadConfig
            ),
            Ok(())
        );
    }

    #[test]
    fn only_platform_admins_read_the_platform_even_with_read_tokens() {
        assert_eq!(
            authorize(&actor(true, TokenScope::Read), None, Action::ReadPlatform),
            Ok(())
        );
        assert!(matches!(
            authorize(&actor(false, TokenScope::Full), None, Action::ReadPlatform),
            Err(Denied::Forbidden(_))
        ));
    }

    #[test]
    fn members_do_not_manage_users() {
        let member = actor(false, TokenScope::Full);
        assert!(matches!(
            authorize(&member, None, Action::ManageUsers),
            Err(Denied::Forbidden(_))
        ));
    }

    #[test]
    fn a_token_never_exceeds_its_scope() {
        let read_only = actor(true, TokenScope::Read);
        assert_eq!(
            authorize(&read_only, Some(AppRole::Owner), Action::ReadApp),
            Ok(())
        );
        let denied = authorize(&read_only, Some(AppRole::Owner), Action::DestroyApp);
        assert_eq!(
            denied,
            Err(Denied::Forbidden(
                "this API token has read scope and cannot destroy this app: use a token with full scope"
                    .into()
            ))
        );
        assert!(authorize(&read_only, None, Action::CreateApp).is_err());
    }

    #[test]
    fn scope_and_role_names_round_trip() {
        for scope in [TokenScope::Read, TokenScope::Deploy, TokenScope::Full] {
            assert_eq!(scope.to_string().parse::<TokenScope>(), Ok(scope));
        }
        for role in [
            AppRole::Owner,
            AppRole::Admin,
            AppRole::Deployer,
            AppRole::Viewer,
        ] {
            assert_eq!(role.to_string().parse::<AppRole>(), Ok(role));
        }
    }
}
