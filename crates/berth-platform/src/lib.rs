//! Berth's use cases. Every request — API, git, dashboard — becomes a call
//! here, which asks the one authorization policy (`berth_core::authorize`,
//! through `Platform::authorize_app` for anything about an app) before it
//! touches data, and records an audit entry for every change.

mod access;
mod accounts;
mod acme;
mod addons;
mod app_logs;
mod apps;
mod audit;
mod certs;
mod config;
mod context_upload;
mod credentials;
mod deploy;
mod dns;
mod domains;
mod drains;
mod dyno_stats;
mod engine_watch;
mod error;
mod host_drain;
mod hosts;
pub mod identity;
mod limits;
mod live_deploys;
pub mod logs;
mod metrics;
mod oneoff;
mod pipelines;
mod placement;
mod progress;
mod reconcile;
mod recovery;
mod release;
mod review_apps;
mod routes;
mod sealed_stream;
pub mod secrets;
mod stream_access;
#[cfg(test)]
mod tests;
mod throttle;
mod volumes;

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use std::sync::Arc;

use berth_docker::{Engine, Placement};
use berth_git::Repos;
use berth_router::Router;
use berth_store::Store;

pub use accounts::{IssuedToken, Session};
pub use acme::{AcmeConfig, AutoCertificate, AutoCertificates};
pub use addons::{
    Addon, AddonSettings, Attachment, Backup, BackupDownload, Credentials as AddonCredentials,
};
pub use app_logs::MAX_LOG_LINES;
pub use berth_core::AppRole;
pub use berth_core::{Action, Actor, AppName, TokenScope};
pub use berth_store::TlsSettings;
pub use berth_store::{
    AppRecord, AuditEntry, AuditEvent, Member, PipelineRecord, ReleaseRecord, ReleaseStatus,
    ReviewAppRecord, TokenRecord, UserRecord,
};
pub use certs::Certificate;
pub use config::ConfigChange;
pub use deploy::{push_target, AppLease, PushOutcome, PushTarget, Redeploy, RefUpdate};
pub use dns::DnsAnswer;
pub use domains::{DnsRecord, Domain, DomainCheck};
pub use drains::Drain;
pub use error::{PlatformError, Result};
pub use hosts::{ClusterSettings, Host, NewHost};
pub use limits::ProcessLimits;
pub use live_deploys::{DeployOutcome, DeployUpdate, LiveDeploy};
pub use logs::{LogFilter, LogLine, LogSink, LogSource, Retention, TailEvent};
pub use metrics::SAMPLE_EVERY as METRICS_SAMPLE_EVERY;
pub use pipelines::{PipelineDiff, PipelineMember, PipelineView, Promotion, StageDiff};
pub use progress::{Progress, OUTPUT_TRUNCATED_MARKER};
pub use release::Dyno;
use secrets::SecretKey;
pub use volumes::Volume;

/// Where the platform keeps its state.
#[derive(Debug, Clone)]
pub struct PlatformConfig {
    pub data_dir: PathBuf,
    /// Where the apps' logs go; none means `logs` in the data directory.
    pub log_dir: Option<PathBuf>,
    /// `sqlite://…`; none means `berth.db` in the data directory.
    pub database_url: Option<String>,
    /// The secret key as 64 hex digits; none means the key file in the data directory.
    pub secret_key: Option<String>,
    /// How long a release command may run before the deploy fails.
    pub release_timeout: Duration,
    /// How long a new web process has to answer HTTP before the deploy fails.
    pub boot_timeout: Duration,
    /// Every app answers at `<app>.<base domain>`.
    pub base_domain: String,
    /// The name of the host the engine runs on.
    pub host_name: berth_core::HostName,
    /// The DNS server domain checks ask; none means the system resolver.
    pub dns_resolver: Option<SocketAddr>,
    /// The router's public addresses, which apex domains point A/AAAA records at.
    pub edge_addresses: Vec<IpAddr>,
    /// How many of an app's latest releases keep their images (for rollbacks).
    pub image_retention: usize,
    pub log_retention: Retention,
    pub addons: AddonSettings,
    /// The most bytes of files a pushed tree may hold (unpacked).
    pub max_push_bytes: u64,
    /// The most build and release output kept with each release.
    pub release_output_bytes: usize,
    /// How long the builds of one push may take before the push is rejected.
    pub build_timeout: Duration,
    pub quotas: Quotas,
    /// The names the API and dashboard answer on (besides the base domain):
    /// never custom domains, or an app there would get their cookies.
    pub reserved_hostnames: Vec<String>,
    pub audit_retention: AuditRetention,
    /// What growing beyond the default host needs (registry, TLS, address).
    pub cluster: ClusterSettings,
    /// The bearer token a Prometheus scraper reads `/metrics` with
    /// (`BERTH_METRICS_TOKEN`); platform admins' API tokens work too.
    pub metrics_token: Option<String>,
}

/// What each container, app and member may take of the platform: the
/// operator's settings (`BERTH_DYNO_*`, `BERTH_MAX_*`); `None` is no limit.
#[derive(Debug, Clone, Copy, Default)]
pub struct Quotas {
    /// Memory and processes of every app and add-on container.
    pub container: berth_docker::Limits,
    /// Apps a member may own; platform admins are exempt.
    pub apps_per_user: Option<usize>,
    /// Processes of an app's formation, all types together.
    pub dynos_per_app: Option<i64>,
    /// Log drains of an app.
    pub drains_per_app: Option<usize>,
}

/// How much of the audit trail is kept: entries older than `max_age` go,
/// and the oldest go beyond `max_entries`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuditRetention {
    pub max_age: Duration,
    pub max_entries: u64,
}

impl Default for AuditRetention {
    fn default() -> Self {
        Self {
            max_age: Duration::from_secs(365 * 24 * 3600),
            max_entries: 100_000,
        }
    }
}

/// Password verifications (argon2) run at once at most; more are refused.
const CONCURRENT_PASSWORD_CHECKS: usize = 4;

pub struct Platform {
    store: Store,
    repos: Repos,
    secrets: SecretKey,
    /// The `berth.platform` label of the containers it owns.
    platform_id: String,
    quotas: Quotas,
    logs: LogSink,
    data_dir: PathBuf,
    key_from_env: bool,
    /// Where processes run: the default host's engine, or the swarm of
    /// hosts once one was added. Replaced when the first host joins.
    placement: std::sync::RwLock<Option<Placement>>,
    router: Option<Arc<Router>>,
    route_refresh: tokio::sync::Mutex<()>,
    /// Dynos (by container or service id) still running but no longer
    /// routed to: their replacements serve while their requests finish.
    retiring: std::sync::Mutex<std::collections::HashSet<String>>,
    supervision: Arc<reconcile::Supervision>,
    /// Wakes the reconciler before its next tick (the engine is back).
    reconcile_wanted: tokio::sync::Notify,
    shippers: drains::Shippers,
    release_timeout: Duration,
    boot_timeout: Duration,
    base_domain: String,
    host_name: berth_core::HostName,
    dns_resolver: Option<SocketAddr>,
    edge_addresses: Vec<IpAddr>,
    image_retention: usize,
    max_push_bytes: u64,
    release_output_bytes: usize,
    build_timeout: Duration,
    throttle: throttle::SignInThrottle,
    password_checks: tokio::sync::Semaphore,
    reserved_hostnames: Vec<String>,
    audit_retention: AuditRetention,
    /// Automatic certificates; none when no ACME directory is configured.
    acme: Option<acme::AcmeConfig>,
    acme_account: tokio::sync::Mutex<Option<instant_acme::Account>>,
    /// Wakes the certificate task when a domain may need a certificate now.
    acme_wakeup: tokio::sync::Notify,
    /// Pending HTTP-01 answers (token → key authorization) the router serves.
    challenges: std::sync::Mutex<std::collections::HashMap<String, String>>,
    certificate_refresh: tokio::sync::Mutex<()>,
    providers: addons::Providers,
    backup_retention: usize,
    /// Bumped whenever access may have been taken away (see `stream_access`).
    access_changes: tokio::sync::watch::Sender<u64>,
    cluster: ClusterSettings,
    /// Serialises adding, draining and removing hosts.
    host_changes: tokio::sync::Mutex<()>,
    /// Managed hosts' engines by `docker_host`, kept between reads of
    /// their dynos' figures.
    host_engines: std::sync::Mutex<std::collections::HashMap<String, Engine>>,
    metrics: metrics::Metrics,
    metrics_token: Option<String>,
    live_deploys: live_deploys::LiveDeploys,
}

impl Platform {
    /// Opens the platform's state, initialising an empty data directory
    /// (mode 0700): store and schema, secret key, repository folder.
    pub async fn open(config: &PlatformConfig) -> Result<Self> {
        create_private_dir(&config.data_dir)?;
        let repos_dir = config.data_dir.join("repos");
        create_private_dir(&repos_dir)?;
        let secrets = SecretKey::load_or_create(&config.data_dir, config.secret_key.as_deref())?;
        let url = config
            .database_url
            .clone()
            .unwrap_or_else(|| Store::sqlite_url(&config.data_dir));
        let store = Store::open(&url).await?;
        let has_apps = !store.apps_visible_to(0, true).await?.is_empty();
        let platform_id = identity::load_or_create(&config.data_dir, &secrets, has_apps)?;
        let logs_dir = config
            .log_dir
            .clone()
            .unwrap_or_else(|| config.data_dir.join("logs"));
        create_private_dir(&logs_dir)?;
        Ok(Self {
            store,
            repos: Repos::new(repos_dir),
            secrets,
            platform_id,
            quotas: config.quotas,
            logs: LogSink::start(logs_dir, config.log_retention),
            data_dir: config.data_dir.clone(),
            key_from_env: config.secret_key.is_some(),
            placement: std::sync::RwLock::new(None),
            router: None,
            route_refresh: tokio::sync::Mutex::new(()),
            retiring: std::sync::Mutex::default(),
            supervision: Arc::default(),
            reconcile_wanted: tokio::sync::Notify::new(),
            shippers: drains::Shippers::default(),
            release_timeout: config.release_timeout,
            boot_timeout: config.boot_timeout,
            base_domain: config.base_domain.clone(),
            host_name: config.host_name.clone(),
            dns_resolver: config.dns_resolver,
            edge_addresses: config.edge_addresses.clone(),
            image_retention: config.image_retention.max(1),
            max_push_bytes: config.max_push_bytes,
            release_output_bytes: config.release_output_bytes,
            build_timeout: config.build_timeout,
            throttle: throttle::SignInThrottle::default(),
            password_checks: tokio::sync::Semaphore::new(CONCURRENT_PASSWORD_CHECKS),
            reserved_hostnames: config
                .reserved_hostnames
                .iter()
                .map(|name| name.trim_end_matches('.').to_ascii_lowercase())
                .collect(),
            audit_retention: config.audit_retention,
            acme: None,
            acme_account: tokio::sync::Mutex::new(None),
            acme_wakeup: tokio::sync::Notify::new(),
            challenges: std::sync::Mutex::default(),
            certificate_refresh: tokio::sync::Mutex::new(()),
            providers: addons::Providers::new(&config.addons)?,
            backup_retention: config.addons.backup_retention.max(1),
            access_changes: tokio::sync::watch::Sender::new(0),
            cluster: config.cluster.clone(),
            host_changes: tokio::sync::Mutex::new(()),
            host_engines: std::sync::Mutex::default(),
            metrics: metrics::Metrics::default(),
            metrics_token: config.metrics_token.clone(),
            live_deploys: live_deploys::LiveDeploys::default(),
        })
    }

    /// Gives the platform the container engine that deploys run on.
    pub fn with_engine(mut self, engine: Engine) -> Self {
        self.providers
            .use_engine(&engine, &self.platform_id, self.quotas.container);
        *self.placement.get_mut().expect("placement lock") = Some(Placement::Engine(engine));
        self
    }

    /// Gives the platform the router whose table it keeps.
    pub fn with_router(mut self, router: Arc<Router>) -> Self {
        self.router = Some(router);
        self
    }

    /// Turns automatic certificates on, from this ACME directory.
    pub fn with_acme(mut self, acme: acme::AcmeConfig) -> Self {
        self.acme = Some(acme);
        self
    }

    /// Where the platform's processes run.
    fn runtime(&self) -> Result<Placement> {
        self.placement
            .read()
            .expect("placement lock")
            .clone()
            .ok_or_else(|| PlatformError::Internal("no container engine is attached".into()))
    }

    /// The default host's engine: it builds images and runs add-ons.
    fn engine(&self) -> Result<Engine> {
        Ok(self.runtime()?.engine().clone())
    }

    fn has_engine(&self) -> bool {
        self.placement.read().expect("placement lock").is_some()
    }

    /// The per-app log.
    pub fn logs(&self) -> &LogSink {
        &self.logs
    }

    /// Re-seals every secret in the store with a new key, which then
    /// replaces the key file (the old one is kept as `secret.key.previous`).
    /// Safe to run again after an interruption. Returns the new key's id.
    pub async fn rotate_key(&self) -> Result<String> {
        if self.key_from_env {
            return Err(PlatformError::Invalid(
                "the key comes from BERTH_SECRET_KEY: rotating it would need the new key in the \
                 environment of every berthd; unset it to use the key file"
                    .into(),
            ));
        }
        let next = SecretKey::next_for_rotation(&self.data_dir)?;
        let mut values = self.store.sealed_values().await?;
        for (app_id, name, sealed) in &mut values.config_vars {
            let context = format!("config/{app_id}/{name}");
            *sealed = next.seal(&context, &self.secrets.open(&context, sealed)?);
        }
        for (_, app_id, sealed) in &mut values.release_configs {
            let context = format!("release-config/{app_id}");
            *sealed = next.seal(&context, &self.secrets.open(&context, sealed)?);
        }
        for drain in self.store.drains(None).await? {
            let context = drains::drain_context(drain.app_id, &drain.url_sha256);
            if let Some((_, _, sealed)) = values
                .drain_urls
                .iter_mut()
                .find(|(id, _, _)| *id == drain.id)
            {
                *sealed = next.seal(&context, &self.secrets.open(&context, sealed)?);
            }
        }
        for (_, domain_id, sealed) in &mut values.certificate_keys {
            let context = certs::certificate_key_context(*domain_id);
            *sealed = next.seal(&context, &self.secrets.open(&context, sealed)?);
        }
        for (_, directory, sealed) in &mut values.acme_accounts {
            let context = acme::account_context(directory);
            *sealed = next.seal(&context, &self.secrets.open(&context, sealed)?);
        }
        self.reseal_addon_credentials(&next, &mut values.addon_credentials)?;
        self.store.replace_sealed_values(&values).await?;
        SecretKey::promote_next(&self.data_dir)?;
        Ok(next.id().to_string())
    }

    /// Seals a release's config vars for storage.
    fn seal_config(&self, app: &AppRecord, config: &BTreeMap<String, String>) -> Result<String> {
        let json = serde_json::to_vec(config)
            .map_err(|e| PlatformError::Internal(format!("cannot encode config: {e}")))?;
        Ok(self
            .secrets
            .seal(&format!("release-config/{}", app.id), &json))
    }

    /// The key that seals secrets at rest.
    pub fn secrets(&self) -> &SecretKey {
        &self.secrets
    }

    /// True until the first user exists: the server then says how to create one.
    pub async fn needs_first_user(&self) -> Result<bool> {
        Ok(self.store.count_users().await? == 0)
    }

    pub async fn close(&self) {
        self.store.close().await;
    }
}

/// The policy for actions that concern no app.
fn authorize_platform(actor: &Actor, action: Action) -> Result<()> {
    berth_core::authorize(actor, None, action)
        .map_err(|denied| PlatformError::from_denied(denied, ""))
}

fn create_private_dir(path: &std::path::Path) -> Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    match std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(path)
    {
        Ok(()) => Ok(()),
        Err(source) => Err(PlatformError::Io {
            context: format!("cannot create {}", path.display()),
            source,
        }),
    }
}
