//! Users, sign-in and API tokens.

use berth_core::{Action, Actor, Email, TokenScope};
use berth_store::{AuditEntry, NewToken, TokenRecord, UserRecord};
use chrono::{DateTime, Duration, Utc};

use crate::credentials::{hash_password, mint_token, secret_matches, split_token, verify_password};
use crate::{authorize_platform, Platform, PlatformError, Result};

/// An authenticated request: who, and through which token.
#[derive(Debug, Clone)]
pub struct Session {
    pub actor: Actor,
    pub token_id: String,
}

/// A token as it is handed out: the only time its secret is seen.
#[derive(Debug, Clone)]
pub struct IssuedToken {
    pub id: String,
    pub token: String,
    pub email: String,
}

/// `origin` in these calls says where the request came from (a client
/// address, or `berthd admin`), for the audit trail.
impl Platform {
    /// Creates a user (from `berthd admin create-user`) and a first API token.
    /// Without a password the user signs in with tokens only until one is set.
    pub async fn create_user(
        &self,
        email: &str,
        is_admin: bool,
        password: Option<&str>,
        origin: &str,
    ) -> Result<IssuedToken> {
        let email = Email::parse(email).map_err(|e| PlatformError::Invalid(e.to_string()))?;
        if password.is_some_and(str::is_empty) {
            return Err(PlatformError::Invalid("the password is empty".into()));
        }
        let password_hash = match password {
            Some(password) => Some(hash_off_thread(password).await?),
            None => None,
        };
        let user = self
            .store
            .create_user(email.as_str(), password_hash.as_deref(), is_admin)
            .await?;
        let role = if is_admin { "platform admin" } else { "member" };
        self.audit(
            Some(&user.email),
            origin,
            "user.create",
            format!("{} as {role}", user.email),
        )
        .await?;
        self.issue_token(
            &user,
            "created with the account",
            TokenScope::Full,
            None,
            origin,
        )
        .await
    }

    /// Sets or replaces a user's password (from `berthd admin set-password`).
    pub async fn set_password(&self, email: &str, password: &str, origin: &str) -> Result<()> {
        if password.is_empty() {
            return Err(PlatformError::Invalid("the password is empty".into()));
        }
        let email = Email::parse(email).map_err(|e| PlatformError::Invalid(e.to_string()))?;
        let hash = hash_off_thread(password).await?;
        if !self.store.set_password_hash(email.as_str(), &hash).await? {
            return Err(PlatformError::NotFound(format!(
                "no user with email {email}"
            )));
        }
        self.audit(
            Some(email.as_str()),
            origin,
            "user.set_password",
            email.to_string(),
        )
        .await
    }

    /// Changes the signed-in user's own password, after checking the current one.
    pub async fn change_password(
        &self,
        actor: &Actor,
        current: &str,
        new: &str,
        origin: &str,
    ) -> Result<()> {
        authorize_platform(actor, Action::ManageOwnTokens)?;
        if new.is_empty() {
            return Err(PlatformError::Invalid("the new password is empty".into()));
        }
        let user = self.account(actor).await?;
        let (current, stored_hash) = (current.to_string(), user.password_hash.clone());
        let verified =
            tokio::task::spawn_blocking(move || verify_password(&current, stored_hash.as_deref()))
                .await
                .map_err(|e| PlatformError::Internal(format!("password check failed: {e}")))?;
        if !verified {
            return Err(PlatformError::Invalid(
                "the current password is not right".into(),
            ));
        }
        let hash = hash_off_thread(new).await?;
        self.store.set_password_hash(&user.email, &hash).await?;
        self.audit(
            Some(&user.email),
            origin,
            "user.change_password",
            user.email.clone(),
        )
        .await
    }

    /// Signs in with email and password and issues a full-scope token.
    /// Failures all read the same, whether or not the email exists.
    pub async fn login(
        &self,
        email: &str,
        password: &str,
        description: &str,
        origin: &str,
    ) -> Result<IssuedToken> {
        self.login_for(email, password, description, None, origin)
            .await
    }

    /// Signs in as `login` does, with a token that expires after `lifetime`
    /// (a browser session) or never.
    pub async fn login_for(
        &self,
        email: &str,
        password: &str,
        description: &str,
        lifetime: Option<Duration>,
        origin: &str,
    ) -> Result<IssuedToken> {
        let user = match Email::parse(email) {
            Ok(email) => self.store.user_by_email(email.as_str()).await?,
            Err(_) => None,
        };
        let stored_hash = user.as_ref().and_then(|u| u.password_hash.clone());
        let password = password.to_string();
        let verified =
            tokio::task::spawn_blocking(move || verify_password(&password, stored_hash.as_deref()))
                .await
                .map_err(|e| PlatformError::Internal(format!("password check failed: {e}")))?;
        match user {
            Some(user) if verified => {
                self.audit(
                    Some(&user.email),
                    origin,
                    "session.create",
                    description.to_string(),
                )
                .await?;
                let expires_at = lifetime.map(|lifetime| Utc::now() + lifetime);
                self.issue_token(&user, description, TokenScope::Full, expires_at, origin)
                    .await
            }
            _ => {
                self.audit(
                    None,
                    origin,
                    "session.fail",
                    format!("sign-in as {email:?} refused"),
                )
                .await?;
                Err(PlatformError::Unauthorized(
                    "invalid email or password".into(),
                ))
            }
        }
    }

    /// Finds who presents `token`. Unknown, malformed, revoked and expired
    /// tokens are all refused with one message.
    pub async fn authenticate(&self, token: &str) -> Result<Session> {
        let refused = || {
            PlatformError::Unauthorized("invalid or expired API token: run `berth login`".into())
        };
        let (id, secret) = split_token(token).ok_or_else(refused)?;
        let (record, user) = self.store.token_with_user(id).await?.ok_or_else(refused)?;
        let now = Utc::now();
        let live = record.revoked_at.is_none() && record.expires_at.is_none_or(|at| at > now);
        if !live || !secret_matches(secret, &record.secret_sha256) {
            return Err(refused());
        }
        // Record use at most once a minute: a write per request would
        // serialise every reader behind SQLite's single writer.
        if record
            .last_used_at
            .is_none_or(|at| now - at > Duration::minutes(1))
        {
            self.store.touch_token(&record.id, now).await?;
        }
        let scope = record
            .scope
            .parse::<TokenScope>()
            .map_err(PlatformError::Internal)?;
        Ok(Session {
            actor: Actor {
                user_id: user.id,
                email: user.email,
                is_platform_admin: user.is_admin,
                scope,
            },
            token_id: record.id,
        })
    }

    pub async fn account(&self, actor: &Actor) -> Result<UserRecord> {
        self.store
            .user_by_email(&actor.email)
            .await?
            .ok_or_else(|| PlatformError::Unauthorized("this account no longer exists".into()))
    }

    /// Signs out: revokes the token the request came with.
    pub async fn logout(&self, session: &Session, origin: &str) -> Result<()> {
        self.store
            .revoke_token(session.actor.user_id, &session.token_id)
            .await?;
        self.audit(
            Some(&session.actor.email),
            origin,
            "session.destroy",
            session.token_id.clone(),
        )
        .await
    }

    pub async fn create_token(
        &self,
        actor: &Actor,
        description: &str,
        scope: TokenScope,
        expires_in: Option<Duration>,
        origin: &str,
    ) -> Result<IssuedToken> {
        authorize_platform(actor, Action::ManageOwnTokens)?;
        if scope > actor.scope {
            return Err(PlatformError::Forbidden(format!(
                "a token with {} scope cannot create one with {scope} scope",
                actor.scope
            )));
        }
        let user = self.account(actor).await?;
        let expires_at = expires_in.map(|lifetime| Utc::now() + lifetime);
        self.issue_token(&user, description, scope, expires_at, origin)
            .await
    }

    /// The actor's live tokens, oldest first.
    pub async fn tokens(&self, actor: &Actor) -> Result<Vec<TokenRecord>> {
        authorize_platform(actor, Action::ManageOwnTokens)?;
        Ok(self.store.tokens_of_user(actor.user_id).await?)
    }

    pub async fn revoke_token(&self, actor: &Actor, id: &str, origin: &str) -> Result<()> {
        authorize_platform(actor, Action::ManageOwnTokens)?;
        if !self.store.revoke_token(actor.user_id, id).await? {
            return Err(PlatformError::NotFound(format!("no token {id}")));
        }
        self.audit(Some(&actor.email), origin, "token.revoke", id.to_string())
            .await
    }

    async fn issue_token(
        &self,
        user: &UserRecord,
        description: &str,
        scope: TokenScope,
        expires_at: Option<DateTime<Utc>>,
        origin: &str,
    ) -> Result<IssuedToken> {
        let minted = mint_token();
        self.store
            .insert_token(NewToken {
                id: &minted.id,
                user_id: user.id,
                secret_sha256: &minted.secret_sha256,
                description,
                scope: &scope.to_string(),
                expires_at,
            })
            .await?;
        let detail = format!("{} ({scope} scope): {description}", minted.id);
        self.audit(Some(&user.email), origin, "token.create", detail)
            .await?;
        Ok(IssuedToken {
            id: minted.id,
            token: minted.token,
            email: user.email.clone(),
        })
    }

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
}

async fn hash_off_thread(password: &str) -> Result<String> {
    let password = password.to_string();
    tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(|e| PlatformError::Internal(format!("password hashing failed: {e}")))
}
