//! What every add-on service provides — provision, rotate, revoke,
//! deprovision — and the registry that finds a service's provider by name
//! (Heroku's names too). Names and passwords on the provider's side are
//! generated here, never taken from user input.

use futures_util::future::BoxFuture;
use rand::RngCore;
use serde::{Deserialize, Serialize};

use berth_docker::{Engine, Limits};
use berth_store::AddonRecord;

use super::container::PostgresContainer;
use super::postgres::PostgresServer;
use super::redis::RedisServer;
use crate::{PlatformError, Result};

/// How add-ons are provisioned, from berthd's settings.
#[derive(Debug, Clone)]
pub struct AddonSettings {
    /// A Postgres role with CREATEDB and CREATEROLE: each add-on gets a
    /// database and roles on that server.
    pub postgres_admin_url: Option<String>,
    /// The host apps reach that Postgres server by (default: the admin URL's).
    pub postgres_host: Option<String>,
    /// The image dedicated Postgres add-on containers run, when no server is set.
    pub postgres_image: Option<String>,
    /// A Redis user allowed `ACL SETUSER`: each add-on gets an ACL user and a key prefix.
    pub redis_admin_url: Option<String>,
    /// The host apps reach that Redis server by (default: the admin URL's).
    pub redis_host: Option<String>,
    /// How many backups of each Postgres add-on are kept (the newest).
    pub backup_retention: usize,
}

impl Default for AddonSettings {
    fn default() -> Self {
        Self {
            postgres_admin_url: None,
            postgres_host: None,
            postgres_image: None,
            redis_admin_url: None,
            redis_host: None,
            backup_retention: 7,
        }
    }
}

/// An add-on's credentials as sealed in the store. `url` is what the app
/// gets as `<AS>_URL`; the rest lets the provider find what it made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Credentials {
    pub url: String,
    pub username: String,
    pub password: String,
    /// Postgres: the database; Redis: the key prefix (keys are `<prefix>:…`).
    pub resource: String,
    /// Postgres: the role that owns the database, which each login is a member of.
    pub owner: Option<String>,
    /// A dedicated add-on's container (and volume).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<String>,
}

/// One add-on service on one kind of backend.
pub trait Provider: Send + Sync {
    /// `server` (an operator's server) or `container`.
    fn mode(&self) -> &'static str;
    /// Makes a fresh resource with its own login, for `app` (whose private
    /// network a container joins). Leaves nothing behind when it fails.
    fn provision<'a>(&'a self, app: &'a str) -> BoxFuture<'a, Result<Credentials>>;
    /// A new login reaching the same data; the current one keeps working
    /// until `revoke`.
    fn rotate<'a>(&'a self, current: &'a Credentials) -> BoxFuture<'a, Result<Credentials>>;
    /// Ends an old login (and its open sessions) once apps use the new,
    /// `current` one.
    fn revoke<'a>(
        &'a self,
        current: &'a Credentials,
        old: &'a Credentials,
    ) -> BoxFuture<'a, Result<()>>;
    /// Removes the resource, its data and its login.
    fn deprovision<'a>(&'a self, current: &'a Credentials) -> BoxFuture<'a, Result<()>>;
}

/// The services Berth knows, and the providers configured for them.
pub(crate) struct Providers {
    postgres: Option<PostgresServer>,
    postgres_image: Option<String>,
    postgres_container: Option<PostgresContainer>,
    redis: Option<RedisServer>,
}

/// A service and plan, from `postgres`, `heroku-postgresql:mini`…
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ServiceSpec {
    pub service: &'static str,
    pub plan: String,
}

pub(crate) const DEFAULT_PLAN: &str = "standard";

impl ServiceSpec {
    pub(crate) fn parse(spec: &str) -> Result<Self> {
        let (name, plan) = match spec.split_once(':') {
            Some((name, plan)) => (name, Some(plan)),
            None => (spec, None),
        };
        let service = match name {
            "postgres" | "postgresql" | "heroku-postgresql" => "postgres",
            "redis" | "heroku-redis" => "redis",
            _ => {
                return Err(PlatformError::Invalid(format!(
                    "unknown add-on service {name:?}: use postgres (or heroku-postgresql) or \
                     redis (or heroku-redis)"
                )))
            }
        };
        let plan = match plan {
            None => DEFAULT_PLAN.to_string(),
            Some(plan)
                if !plan.is_empty()
                    && plan.len() <= 40
                    && plan
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') =>
            {
                plan.to_string()
            }
            Some(plan) => {
                return Err(PlatformError::Invalid(format!(
                    "plan {plan:?} of {name}: use up to 40 letters, digits, dashes and underscores"
                )))
            }
        };
        Ok(Self { service, plan })
    }

    /// The attachment name an app gets by default: its var is `<AS>_URL`.
    pub(crate) fn default_as(&self) -> &'static str {
        match self.service {
            "postgres" => "DATABASE",
            _ => "REDIS",
        }
    }
}

impl Providers {
    pub(crate) fn new(settings: &AddonSettings) -> Result<Self> {
        Ok(Self {
            postgres: settings
                .postgres_admin_url
                .as_deref()
                .map(|url| PostgresServer::new(url, settings.postgres_host.as_deref()))
                .transpose()?,
            postgres_image: settings.postgres_image.clone(),
            postgres_container: None,
            redis: settings
                .redis_admin_url
                .as_deref()
                .map(|url| RedisServer::new(url, settings.redis_host.as_deref()))
                .transpose()?,
        })
    }

    /// Dedicated containers need the engine, which the platform gets after it opened.
    pub(crate) fn use_engine(&mut self, engine: &Engine, platform: &str, limits: Limits) {
        self.postgres_container = self
            .postgres_image
            .as_deref()
            .map(|image| PostgresContainer::new(engine.clone(), image, platform, limits));
    }

    /// Where berthd itself reaches a Postgres add-on, for backups.
    pub(crate) async fn postgres_address(
        &self,
        addon: &AddonRecord,
        credentials: &Credentials,
    ) -> Result<(String, u16)> {
        match (
            addon.provider_mode.as_str(),
            &self.postgres,
            &self.postgres_container,
        ) {
            ("server", Some(server), _) => Ok(server.server_address()),
            ("container", _, Some(container)) => container.local_address(credentials).await,
            (mode, _, _) => Err(self.missing(&addon.service, mode)),
        }
    }

    /// The provider an existing add-on was made by.
    pub(crate) fn of(&self, addon: &AddonRecord) -> Result<&dyn Provider> {
        let provider: Option<&dyn Provider> =
            match (addon.service.as_str(), addon.provider_mode.as_str()) {
                ("postgres", "server") => self.postgres.as_ref().map(|p| p as &dyn Provider),
                ("postgres", "container") => {
                    self.postgres_container.as_ref().map(|p| p as &dyn Provider)
                }
                ("redis", "server") => self.redis.as_ref().map(|p| p as &dyn Provider),
                _ => None,
            };
        provider.ok_or_else(|| self.missing(&addon.service, &addon.provider_mode))
    }

    fn missing(&self, service: &str, mode: &str) -> PlatformError {
        PlatformError::Invalid(format!(
            "{service} add-on of mode {mode}: this Berth is no longer set up for it (its \
             BERTH_ADDON_{}_* settings changed)",
            service.to_ascii_uppercase()
        ))
    }

    /// The provider new add-ons of `service` get: the operator's server if
    /// one is set, else a dedicated container if an image is; else why none.
    pub(crate) fn get(&self, service: &str) -> Result<&dyn Provider> {
        let not_configured = |setting: &str, what: &str| {
            PlatformError::Invalid(format!(
                "{service} add-ons are not set up on this Berth: the operator sets {setting} \
                 ({what})"
            ))
        };
        match service {
            "postgres" => self
                .postgres
                .as_ref()
                .map(|p| p as &dyn Provider)
                .or_else(|| self.postgres_container.as_ref().map(|p| p as &dyn Provider))
                .ok_or_else(|| {
                    not_configured(
                        "BERTH_ADDON_POSTGRES_ADMIN_URL or BERTH_ADDON_POSTGRES_IMAGE",
                        "a Postgres role with CREATEDB and CREATEROLE, or an image for \
                         dedicated containers",
                    )
                }),
            "redis" => self
                .redis
                .as_ref()
                .map(|p| p as &dyn Provider)
                .ok_or_else(|| {
                    not_configured(
                        "BERTH_ADDON_REDIS_ADMIN_URL",
                        "a Redis user allowed to run ACL SETUSER",
                    )
                }),
            other => Err(PlatformError::Internal(format!(
                "no provider for service {other}"
            ))),
        }
    }
}

/// `bytes` random bytes as hex: identifiers and passwords safe in any quoting.
pub(crate) fn random_hex(bytes: usize) -> String {
    let mut buffer = vec![0u8; bytes];
    rand::rngs::OsRng.fill_bytes(&mut buffer);
    hex::encode(buffer)
}

/// The host and port apps reach a server by: `app_host` if the operator set
/// one, else the admin URL's.
pub(crate) fn app_address(
    admin: &reqwest::Url,
    app_host: Option<&str>,
    default_port: u16,
) -> Result<(String, u16)> {
    let host = match app_host {
        Some(host) => host.to_string(),
        None => admin
            .host_str()
            .ok_or_else(|| PlatformError::Invalid("the add-on admin URL has no host".into()))?
            .to_string(),
    };
    Ok((host, admin.port().unwrap_or(default_port)))
}

pub(crate) fn provider_error(what: &str, error: impl std::fmt::Display) -> PlatformError {
    PlatformError::AddonProvider(format!("{what}: {error}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heroku_service_names_and_plans_resolve() {
        let spec = ServiceSpec::parse("heroku-postgresql:essential-0").unwrap();
        assert_eq!(
            (spec.service, spec.plan.as_str()),
            ("postgres", "essential-0")
        );
        assert_eq!(spec.default_as(), "DATABASE");
        let spec = ServiceSpec::parse("heroku-redis").unwrap();
        assert_eq!((spec.service, spec.plan.as_str()), ("redis", DEFAULT_PLAN));
        assert_eq!(spec.default_as(), "REDIS");
        let error = ServiceSpec::parse("mongodb").unwrap_err().to_string();
        assert!(
            error.contains("unknown add-on service \"mongodb\""),
            "{error}"
        );
        let error = ServiceSpec::parse("postgres:big plan")
            .unwrap_err()
            .to_string();
        assert!(error.contains("plan \"big plan\""), "{error}");
    }
}
