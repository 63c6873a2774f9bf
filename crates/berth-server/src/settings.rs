use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use std::time::Duration;

use berth_platform::{AcmeConfig, PlatformConfig};
use berth_router::RouterConfig;

/// How `berthd` is configured: flags override environment variables, which
/// override the defaults (DESIGN.md lists them).
#[derive(Debug, Clone, clap::Args)]
pub struct Settings {
    /// Where Berth keeps its database, git repositories, secret key and certificates.
    #[arg(
        long,
        env = "BERTH_DATA_DIR",
        default_value = "./.berth",
        global = true
    )]
    pub data_dir: PathBuf,

    /// Where the apps' logs are kept (default: `logs` in the data directory).
    /// A filesystem of its own keeps a full log disk from filling the store's.
    #[arg(long, env = "BERTH_LOG_DIR", global = true)]
    pub log_dir: Option<PathBuf>,

    /// The store: sqlite://PATH (default: berth.db in the data directory).
    #[arg(long, env = "BERTH_DATABASE_URL", global = true)]
    pub database_url: Option<String>,

    /// The secret key sealing secrets at rest, as 64 hex digits (default: the
    /// key file in the data directory, created on first start).
    #[arg(long, env = "BERTH_SECRET_KEY", hide_env_values = true, global = true)]
    pub secret_key: Option<String>,

    /// Address of the API, the dashboard and the git endpoint.
    #[arg(long, env = "BERTH_API_LISTEN", default_value = "127.0.0.1:7000")]
    pub api_listen: SocketAddr,

    /// Address of the router (plain HTTP).
    #[arg(long, env = "BERTH_HTTP_LISTEN", default_value = "127.0.0.1:8080")]
    pub http_listen: SocketAddr,

    /// Address of the router's TLS listener (HTTPS); unset: no HTTPS.
    #[arg(long, env = "BERTH_HTTPS_LISTEN")]
    pub https_listen: Option<SocketAddr>,

    /// ACME directory URL for automatic certificates (unset: automatic TLS is off).
    #[arg(long, env = "BERTH_ACME_DIRECTORY")]
    pub acme_directory: Option<String>,

    /// Contact email of the platform's ACME account.
    #[arg(long, env = "BERTH_ACME_EMAIL")]
    pub acme_email: Option<String>,

    /// A CA certificate (PEM file) to trust for the ACME directory's own TLS, e.g. a test CA's.
    #[arg(long, env = "BERTH_ACME_CA_BUNDLE")]
    pub acme_ca_bundle: Option<PathBuf>,

    /// Every app is reachable at <app>.<base domain>.
    #[arg(long, env = "BERTH_BASE_DOMAIN", default_value = "localhost")]
    pub base_domain: String,

    /// The DNS server (IP:PORT) domain checks ask (default: the system resolver).
    #[arg(long, env = "BERTH_DNS_RESOLVER")]
    pub dns_resolver: Option<SocketAddr>,

    /// The router's public addresses, comma-separated: apex domains point A/AAAA records at them.
    #[arg(long, env = "BERTH_EDGE_ADDRESSES", value_delimiter = ',')]
    pub edge_addresses: Vec<IpAddr>,

    /// The Docker engine to drive (default: DOCKER_HOST, else the local socket).
    #[arg(long, env = "BERTH_DOCKER_HOST")]
    pub docker_host: Option<String>,

    /// How long a release command may run before the deploy fails, in seconds.
    #[arg(long, env = "BERTH_RELEASE_TIMEOUT", default_value_t = 3600)]
    pub release_timeout: u64,

    /// How many of an app's latest releases keep their images, for rollbacks.
    #[arg(long, env = "BERTH_IMAGE_RETENTION", default_value_t = 10)]
    pub image_retention: usize,

    /// How long a new web process has to answer HTTP before its deploy fails, in seconds.
    #[arg(long, env = "BERTH_BOOT_TIMEOUT", default_value_t = 60)]
    pub boot_timeout: u64,

    /// Lines of each app's log kept (at least; whole segments of a tenth of this go at once).
    #[arg(long, env = "BERTH_LOG_RETENTION_LINES", default_value_t = 10_000)]
    pub log_retention_lines: usize,

    /// Days a line of an app's log is kept at most.
    #[arg(long, env = "BERTH_LOG_RETENTION_DAYS", default_value_t = 7)]
    pub log_retention_days: u64,

    /// Router: seconds from forwarding a request to the app's first response byte.
    #[arg(long, env = "BERTH_ROUTER_TIMEOUT", default_value_t = 30)]
    pub router_timeout: u64,

    /// Router: seconds a client connection may sit idle between requests.
    #[arg(long, env = "BERTH_ROUTER_IDLE_TIMEOUT", default_value_t = 75)]
    pub router_idle_timeout: u64,

    /// Router: seconds a whole request head may take to arrive (from the
    /// connection's start or the head's first byte); then 408 and close.
    #[arg(long, env = "BERTH_ROUTER_HEAD_TIMEOUT", default_value_t = 30)]
    pub router_head_timeout: u64,

    /// Router: client connections open at once (plain and TLS); more get a 503 and are closed.
    #[arg(long, env = "BERTH_ROUTER_MAX_CONNECTIONS", default_value_t = 4096)]
    pub router_max_connections: usize,

    /// API: seconds a whole request head may take to arrive (idle keep-alive
    /// time included); then the connection is closed.
    #[arg(long, env = "BERTH_API_HEAD_TIMEOUT", default_value_t = 30)]
    pub api_head_timeout: u64,

    /// Router: the largest request head (request line and headers) accepted, in bytes.
    #[arg(long, env = "BERTH_ROUTER_MAX_HEADER_BYTES", default_value_t = 65536)]
    pub router_max_header_bytes: usize,

    /// Router: threads serving connections, each with its own event loop (0: one per CPU).
    #[arg(long, env = "BERTH_ROUTER_WORKERS", default_value_t = 0)]
    pub router_workers: usize,

    /// The most bytes of files (unpacked) one push may hold, and the most
    /// bytes a git request body may decode to; larger pushes are refused before
    /// anything is built.
    #[arg(long, env = "BERTH_MAX_PUSH_BYTES", default_value_t = 1 << 30)]
    pub max_push_bytes: u64,

    /// The most bytes of build and release output kept with each release; the
    /// rest is dropped after a marker line.
    #[arg(long, env = "BERTH_RELEASE_OUTPUT_BYTES", default_value_t = 1 << 20)]
    pub release_output_bytes: usize,

    /// How long the image builds of one push may take, in seconds, before
    /// they are cancelled and the push rejected.
    #[arg(long, env = "BERTH_BUILD_TIMEOUT", default_value_t = 1800)]
    pub build_timeout: u64,

    /// Add-ons: a Postgres URL of a role with CREATEDB and CREATEROLE; each
    /// Postgres add-on is a database and roles on that server.
    #[arg(long, env = "BERTH_ADDON_POSTGRES_ADMIN_URL", hide_env_values = true)]
    pub addon_postgres_admin_url: Option<String>,

    /// Add-ons: the host apps reach that Postgres server by (default: the admin URL's).
    #[arg(long, env = "BERTH_ADDON_POSTGRES_HOST")]
    pub addon_postgres_host: Option<String>,

    /// Add-ons: without a Postgres server, each Postgres add-on is a dedicated
    /// container of this image (Debian's postgresql: initdb and postgres on its
    /// PATH, runuser) with a named volume, on its app's private network.
    #[arg(long, env = "BERTH_ADDON_POSTGRES_IMAGE")]
    pub addon_postgres_image: Option<String>,

    /// Add-ons: a Redis URL of a user allowed ACL SETUSER; each Redis add-on
    /// is an ACL user with its own key prefix on that server.
    #[arg(long, env = "BERTH_ADDON_REDIS_ADMIN_URL", hide_env_values = true)]
    pub addon_redis_admin_url: Option<String>,

    /// Add-ons: the host apps reach that Redis server by (default: the admin URL's).
    #[arg(long, env = "BERTH_ADDON_REDIS_HOST")]
    pub addon_redis_host: Option<String>,

    /// Days an entry of the audit trail is kept.
    #[arg(long, env = "BERTH_AUDIT_RETENTION_DAYS", default_value_t = 365)]
    pub audit_retention_days: u64,

    /// Entries of the audit trail kept at most (the oldest go first).
    #[arg(long, env = "BERTH_AUDIT_RETENTION_ENTRIES", default_value_t = 100_000)]
    pub audit_retention_entries: u64,

    /// Add-ons: how many backups of each Postgres add-on are kept (the newest;
    /// one is captured daily, more with pg:backups:capture).
    #[arg(long, env = "BERTH_ADDON_BACKUP_RETENTION", default_value_t = 7)]
    pub addon_backup_retention: usize,

    /// Memory of every app and add-on container, swap included, in MiB (0: no limit).
    #[arg(long, env = "BERTH_DYNO_MEMORY", default_value_t = 512)]
    pub dyno_memory: u64,

    /// Processes and threads alive at once in every app and add-on container (0: no limit).
    #[arg(long, env = "BERTH_DYNO_PIDS", default_value_t = 512)]
    pub dyno_pids: u64,

    /// Apps a member may own; platform admins are exempt (0: no limit).
    #[arg(long, env = "BERTH_MAX_APPS_PER_USER", default_value_t = 50)]
    pub max_apps_per_user: usize,

    /// Dynos an app's formation may have, all process types together (0: no limit).
    #[arg(long, env = "BERTH_MAX_DYNOS_PER_APP", default_value_t = 20)]
    pub max_dynos_per_app: u64,

    /// Log drains an app may have (0: no limit).
    #[arg(long, env = "BERTH_MAX_DRAINS_PER_APP", default_value_t = 5)]
    pub max_drains_per_app: usize,
}

impl Settings {
    /// The defaults (and environment) with another data directory: what tests start with.
    pub fn for_data_dir(data_dir: PathBuf) -> Self {
        #[derive(clap::Parser)]
        struct Only {
            #[command(flatten)]
            settings: Settings,
        }
        let mut settings = <Only as clap::Parser>::parse_from(["berthd"]).settings;
        settings.data_dir = data_dir;
        settings
    }

    pub fn platform_config(&self) -> PlatformConfig {
        PlatformConfig {
            data_dir: self.data_dir.clone(),
            log_dir: self.log_dir.clone(),
            database_url: self.database_url.clone(),
            secret_key: self.secret_key.clone(),
            release_timeout: Duration::from_secs(self.release_timeout),
            boot_timeout: Duration::from_secs(self.boot_timeout),
            base_domain: self.base_domain.clone(),
            dns_resolver: self.dns_resolver,
            edge_addresses: self.edge_addresses.clone(),
            image_retention: self.image_retention,
            max_push_bytes: self.max_push_bytes,
            release_output_bytes: self.release_output_bytes,
            build_timeout: Duration::from_secs(self.build_timeout),
            log_retention: berth_platform::Retention {
                lines: self.log_retention_lines,
                max_age: Duration::from_secs(self.log_retention_days * 24 * 3600),
            },
            addons: berth_platform::AddonSettings {
                postgres_admin_url: self.addon_postgres_admin_url.clone(),
                postgres_host: self.addon_postgres_host.clone(),
                postgres_image: self.addon_postgres_image.clone(),
                redis_admin_url: self.addon_redis_admin_url.clone(),
                redis_host: self.addon_redis_host.clone(),
                backup_retention: self.addon_backup_retention,
            },
            quotas: berth_platform::Quotas {
                container: berth_docker::Limits {
                    memory_bytes: positive(self.dyno_memory.saturating_mul(1 << 20)),
                    pids: positive(self.dyno_pids),
                },
                apps_per_user: (self.max_apps_per_user > 0).then_some(self.max_apps_per_user),
                dynos_per_app: positive(self.max_dynos_per_app),
                drains_per_app: (self.max_drains_per_app > 0).then_some(self.max_drains_per_app),
            },
            reserved_hostnames: vec![self.api_listen.ip().to_string(), self.base_domain.clone()],
            audit_retention: berth_platform::AuditRetention {
                max_age: Duration::from_secs(self.audit_retention_days.saturating_mul(24 * 3600)),
                max_entries: self.audit_retention_entries.max(1),
            },
        }
    }

    /// Where automatic certificates come from, when a directory is set.
    pub fn acme_config(&self) -> Option<AcmeConfig> {
        Some(AcmeConfig {
            directory: self.acme_directory.clone()?,
            email: self.acme_email.clone(),
            ca_bundle: self.acme_ca_bundle.clone(),
        })
    }

    pub fn router_config(&self) -> RouterConfig {
        RouterConfig {
            first_byte_timeout: Duration::from_secs(self.router_timeout),
            idle_timeout: Duration::from_secs(self.router_idle_timeout),
            head_timeout: Duration::from_secs(self.router_head_timeout),
            max_connections: self.router_max_connections,
            max_header_bytes: self.router_max_header_bytes,
            workers: self.router_workers,
        }
    }
}

/// A limit as the engine and the platform take it: 0 is none.
fn positive(value: u64) -> Option<i64> {
    (value > 0).then(|| i64::try_from(value).unwrap_or(i64::MAX))
}
