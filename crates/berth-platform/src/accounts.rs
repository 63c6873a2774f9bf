//! Users, sign-in and API tokens.

use berth_core::{Action, Actor, Email, TokenScope};
use berth_store::{AuditEntry, NewToken, TokenRecord, UserRecord, UserRemoval};
use chrono::{DateTime, Duration, Utc};
use std::time::Instant;

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
        self.insert_user(None, email, is_admin, password, origin)
            .await
    }

    /// Creates a user on behalf of a platform admin, with a first API token
    /// for the admin to hand over.
    pub async fn add_user(
        &self,
        actor: &Actor,
        email: &str,
        is_admin: bool,
        password: Option<&str>,
    ) -> Result<IssuedToken> {
        authorize_platform(actor, Action::ManageUsers)?;
        self.insert_user(Some(&actor.email), email, is_admin, password, &actor.source)
            .await
    }

    /// `by` is who creates the user; none means the user is recorded as
    /// creating themselves (`berthd admin` acts for no account).
    async fn insert_user(
        &self,
        by: Option<&str>,
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
            Some(by.unwrap_or(&user.email)),
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

    /// Every user, oldest first, for platform admins.
    pub async fn users(&self, actor: &Actor) -> Result<Vec<UserRecord>> {
        authorize_platform(actor, Action::ReadPlatform)?;
        Ok(self.store.users().await?)
    }

    /// Removes a user, their tokens and their roles; the audit trail keeps
    /// their name. Apps they alone own pass to `heir` (made owner), and
    /// without one the removal is refused, naming those apps. Returns the
    /// apps passed on.
    pub async fn remove_user(
        &self,
        actor: &Actor,
        email: &str,
        heir: Option<&str>,
    ) -> Result<Vec<String>> {
        authorize_platform(actor, Action::ManageUsers)?;
        let user = self.user_named(email).await?;
        if user.id == actor.user_id {
            return Err(PlatformError::Invalid(
                "you cannot remove yourself: ask another platform admin".into(),
            ));
        }
        let heir = match heir {
            Some(heir) => {
                let heir = self.user_named(heir).await?;
                if heir.id == user.id {
                    return Err(PlatformError::Invalid(format!(
                        "{} cannot inherit their own apps: name another user",
                        user.email
                    )));
                }
                Some(heir)
            }
            None => None,
        };
        let detail = match &heir {
            Some(heir) => format!(
                "{} (apps they alone owned pass to {})",
                user.email, heir.email
            ),
            None => user.email.clone(),
        };
        let entry = AuditEntry {
            actor_email: Some(actor.email.clone()),
            source: actor.source.clone(),
            app_name: None,
            action: "user.remove".into(),
            detail,
        };
        match self
            .store
            .remove_user(user.id, heir.as_ref().map(|h| h.id), &entry)
            .await?
        {
            UserRemoval::Removed { passed_on } => {
                self.access_changed();
                Ok(passed_on)
            }
            UserRemoval::NoSuchUser => Err(no_such_user(email)),
            UserRemoval::LastOwnerOf(apps) => Err(PlatformError::Conflict(format!(
                "{} is the only owner of {}: add another owner first, or pass the apps on \
                 with --reassign-to EMAIL",
                user.email,
                apps.join(", ")
            ))),
        }
    }

    /// The user with this email, or a not-found error naming it.
    pub(crate) async fn user_named(&self, email: &str) -> Result<UserRecord> {
        let parsed = Email::parse(email).map_err(|e| PlatformError::Invalid(e.to_string()))?;
        self.store
            .user_by_email(parsed.as_str())
            .await?
            .ok_or_else(|| no_such_user(email))
    }

    /// Sets or replaces a user's password (from `berthd admin set-password`).
    pub async fn set_password(&self, email: &str, password: &str, origin: &str) -> Result<()> {
        if password.is_empty() {
            return Err(PlatformError::Invalid("the password is empty".into()));
        }
        let email = Email::parse(email).map_err(|e| PlatformError::Invalid(e.to_string()))?;
        let hash = hash_off_thread(password).await?;
        // A reset password may have leaked: every session and token made
        // with it (or beside it) goes.
        let Some(revoked) = self
            .store
            .set_password_hash(email.as_str(), &hash, None)
            .await?
        else {
            return Err(no_such_user(email.as_str()));
        };
        self.access_changed();
        self.audit(
            Some(email.as_str()),
            origin,
            "user.set_password",
            format!("{email}; {revoked} sessions and tokens revoked"),
        )
        .await
    }

    /// Changes the signed-in user's own password, after checking the current
    /// one. Every other session and token of the user is revoked (whoever
    /// may have had the old password keeps nothing); the one making the
    /// change stays.
    pub async fn change_password(
        &self,
        session: &Session,
        current: &str,
        new: &str,
        origin: &str,
    ) -> Result<()> {
        let actor = &session.actor;
        authorize_platform(actor, Action::ManageOwnTokens)?;
        if new.is_empty() {
            return Err(PlatformError::Invalid("the new password is empty".into()));
        }
        let user = self.account(actor).await?;
        let permit = self.password_check_permit()?;
        let verified = verify_off_thread(current, user.password_hash.clone()).await?;
        drop(permit);
        if !verified {
            return Err(PlatformError::Invalid(
                "the current password is not right".into(),
            ));
        }
        let hash = hash_off_thread(new).await?;
        let revoked = self
            .store
            .set_password_hash(&user.email, &hash, Some(&session.token_id))
            .await?
            .ok_or_else(|| PlatformError::Unauthorized("this account no longer exists".into()))?;
        self.access_changed();
        self.audit(
            Some(&user.email),
            origin,
            "user.change_password",
            format!(
                "{}; {revoked} other sessions and tokens revoked",
                user.email
            ),
        )
        .await
    }

    /// Signs in with email and password and issues a full-scope token.
    /// Failures all read the same, whether or not the email exists; after
    /// too many for the account or from the address, attempts are refused
    /// unchecked for a while.
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
        if email.len() > Email::MAX_LEN {
            // No address this long exists: refused unchecked, unthrottled and
            // unrecorded, so such strings cost neither memory nor audit rows.
            return Err(PlatformError::Invalid(format!(
                "the email is longer than {} characters",
                Email::MAX_LEN
            )));
        }
        let parsed = Email::parse(email).ok();
        // Unparsable emails are throttled under their own spelling: the
        // account limit reads the same for every string an attacker tries.
        let account = parsed
            .as_ref()
            .map_or_else(|| email.trim().to_lowercase(), |e| e.as_str().to_string());
        let permit = self.password_check_permit()?;
        let began = Instant::now();
        if let Err(wait) = self.throttle.begin(&account, origin, began) {
            drop(permit);
            self.audit(
                None,
                origin,
                "session.throttled",
                format!("sign-in as {email:?} refused unchecked after repeated failures"),
            )
            .await?;
            return Err(PlatformError::Throttled {
                retry_after_secs: wait.as_secs().max(1),
            });
        }
        let user = match &parsed {
            Some(email) => self.store.user_by_email(email.as_str()).await?,
            None => None,
        };
        let stored_hash = user.as_ref().and_then(|u| u.password_hash.clone());
        let verified = verify_off_thread(password, stored_hash).await?;
        drop(permit);
        match user {
            Some(user) if verified => {
                self.throttle.succeeded(&account, origin, began);
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

    /// A slot to verify a password in: argon2 is memory- and CPU-hard by
    /// design, so beyond a few at once the rest are refused, not queued.
    fn password_check_permit(&self) -> Result<tokio::sync::SemaphorePermit<'_>> {
        self.password_checks.try_acquire().map_err(|_| {
            PlatformError::Busy(
                "the server is busy checking other passwords: try again in a moment".into(),
            )
        })
    }

    /// Finds who presents `token`, from `source` (a client address).
    /// Unknown, malformed, revoked and expired tokens are all refused with
    /// one message.
    pub async fn authenticate(&self, token: &str, source: &str) -> Result<Session> {
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
                source: source.to_string(),
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

    /// Deletes the tokens past their expiry, dashboard sessions most of
    /// all (each sign-in makes one): at start and periodically.
    pub async fn delete_expired_tokens(&self) -> Result<u64> {
        Ok(self.store.delete_expired_tokens(Utc::now()).await?)
    }

    /// Signs out: revokes the token the request came with.
    pub async fn logout(&self, session: &Session) -> Result<()> {
        self.store
            .revoke_token(session.actor.user_id, &session.token_id)
            .await?;
        self.access_changed();
        self.audit(
            Some(&session.actor.email),
            &session.actor.source,
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
        self.issue_token(&user, description, scope, expires_at, &actor.source)
            .await
    }

    /// The actor's live tokens, oldest first.
    pub async fn tokens(&self, actor: &Actor) -> Result<Vec<TokenRecord>> {
        authorize_platform(actor, Action::ManageOwnTokens)?;
        Ok(self.store.tokens_of_user(actor.user_id).await?)
    }

    pub async fn revoke_token(&self, actor: &Actor, id: &str) -> Result<()> {
        authorize_platform(actor, Action::ManageOwnTokens)?;
        if !self.store.revoke_token(actor.user_id, id).await? {
            return Err(PlatformError::NotFound(format!("no token {id}")));
        }
        self.access_changed();
        self.audit(
            Some(&actor.email),
            &actor.source,
            "token.revoke",
            id.to_string(),
        )
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
}

fn no_such_user(email: &str) -> PlatformError {
    PlatformError::NotFound(format!("no user with email {email}"))
}

async fn verify_off_thread(password: &str, stored_hash: Option<String>) -> Result<bool> {
    let password = password.to_string();
    tokio::task::spawn_blocking(move || verify_password(&password, stored_hash.as_deref()))
        .await
        .map_err(|e| PlatformError::Internal(format!("password check failed: {e}")))
}

async fn hash_off_thread(password: &str) -> Result<String> {
    let password = password.to_string();
    tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(|e| PlatformError::Internal(format!("password hashing failed: {e}")))
}
