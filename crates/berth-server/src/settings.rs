use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use std::time::Duration;

use berth_core::HostName;
use berth_docker::{DockerError, EngineTarget, EngineTls};
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

    /// The Docker engine to drive: unix:///PATH or tcp://HOST:PORT (default:
    /// DOCKER_HOST, else the local socket). Over TCP, DOCKER_TLS_VERIFY=1 turns
    /// on mutual TLS, as for the docker CLI.
    #[arg(long, env = "BERTH_DOCKER_HOST")]
    pub docker_host: Option<String>,

    /// Directory holding ca.pem, cert.pem and key.pem for TLS with a tcp://
    /// engine (default: DOCKER_CERT_PATH); setting it turns TLS on.
    #[arg(long, env = "BERTH_DOCKER_CERT_PATH")]
    pub docker_cert_path: Option<PathBuf>,

    /// The name of the host that engine runs on, in `berth hosts` and `berth ps`.
    #[arg(long, env = "BERTH_HOST_NAME", default_value = HostName::DEFAULT, value_parser = parse_host_name)]
    pub host_name: HostName,

    /// The registry (HOST:PORT) images go through once the platform has more
    /// than one host: built once, pushed there, pulled by every host.
    #[arg(long, env = "BERTH_REGISTRY", value_parser = parse_registry)]
    pub registry: Option<String>,

    /// The user name berthd and the hosts sign in to the registry with.
    #[arg(long, env = "BERTH_REGISTRY_USERNAME", requires = "registry_password")]
    pub registry_username: Option<String>,

    /// The registry user's password.
    #[arg(
        long,
        env = "BERTH_REGISTRY_PASSWORD",
        hide_env_values = true,
        requires = "registry_username"
    )]
    pub registry_password: Option<String>,

    /// The IP address the other hosts reach the default host on, for its
    /// swarm (default: the address of a tcp:// BERTH_DOCKER_HOST).
    #[arg(long, env = "BERTH_SWARM_ADVERTISE_ADDRESS")]
    pub swarm_advertise_address: Option<IpAddr>,

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

    /// The bearer token a Prometheus scraper reads GET /metrics with (at least
    /// 16 characters); platform admins' API tokens work without it.
    #[arg(long, env = "BERTH_METRICS_TOKEN", hide_env_values = true, value_parser = parse_metrics_token)]
    pub metrics_token: Option<String>,

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

/// `HOST:PORT`, as Docker names a registry in an image reference.
fn parse_registry(address: &str) -> Result<String, String> {
    let invalid = || {
        format!(
            "{address:?} is not a registry address: give HOST:PORT (no scheme, no path), as in \
             registry.internal:5000"
        )
    };
    let (host, port) = address.rsplit_once(':').ok_or_else(invalid)?;
    let host_ok = !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-');
    if !host_ok || port.parse::<u16>().map_or(true, |port| port == 0) {
        return Err(invalid());
    }
    Ok(address.to_ascii_lowercase())
}

/// Long enough not to be guessed, and sendable in a header as it is.
fn parse_metrics_token(token: &str) -> Result<String, String> {
    if token.len() < 16 || !token.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(
            "give at least 16 printable characters without spaces, such as the output \
                    of `openssl rand -hex 24`"
                .into(),
        );
    }
    Ok(token.to_string())
}

fn parse_host_name(name: &str) -> Result<HostName, String> {
    HostName::parse(name).map_err(|error| error.to_string())
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

    /// The engine of the default host: BERTH_DOCKER_HOST (else DOCKER_HOST,
    /// else the local socket), with TLS per Docker's variables (see
    /// [`engine_target`]). The TLS material is read here, once.
    pub fn engine_target(&self) -> Result<EngineTarget, SettingsError> {
        engine_target(
            self.docker_host.as_deref(),
            self.docker_cert_path.as_deref(),
            |name| std::env::var(name).ok(),
        )
    }

    /// The client certificate berthd presents to the engines of managed
    /// hosts: the default engine's when it is reached over TLS, else the
    /// files in BERTH_DOCKER_CERT_PATH or DOCKER_CERT_PATH, if set.
    pub fn host_tls(
        &self,
        default_engine: &EngineTarget,
    ) -> Result<Option<EngineTls>, SettingsError> {
        if let Some(tls) = default_engine.tls() {
            return Ok(Some(tls.clone()));
        }
        let (variable, dir) = match &self.docker_cert_path {
            Some(dir) => ("BERTH_DOCKER_CERT_PATH", dir.clone()),
            None => match std::env::var_os("DOCKER_CERT_PATH").filter(|dir| !dir.is_empty()) {
                Some(dir) => ("DOCKER_CERT_PATH", PathBuf::from(dir)),
                None => return Ok(None),
            },
        };
        EngineTls::load(&dir)
            .map(Some)
            .map_err(|source| SettingsError::EngineTls {
                variable,
                dir,
                source,
            })
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
            host_name: self.host_name.clone(),
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
                    nano_cpus: None,
                },
                apps_per_user: (self.max_apps_per_user > 0).then_some(self.max_apps_per_user),
                dynos_per_app: positive(self.max_dynos_per_app),
                drains_per_app: (self.max_drains_per_app > 0).then_some(self.max_drains_per_app),
            },
            reserved_hostnames: vec![self.api_listen.ip().to_string(), self.base_domain.clone()],
            metrics_token: self.metrics_token.clone(),
            audit_retention: berth_platform::AuditRetention {
                max_age: Duration::from_secs(self.audit_retention_days.saturating_mul(24 * 3600)),
                max_entries: self.audit_retention_entries.max(1),
            },
            cluster: berth_platform::ClusterSettings {
                registry: self
                    .registry
                    .clone()
                    .map(|address| berth_docker::ImageRegistry {
                        address,
                        credentials: self
                            .registry_username
                            .clone()
                            .zip(self.registry_password.clone())
                            .map(|(username, password)| berth_docker::RegistryCredentials {
                                username,
                                password,
                            }),
                    }),
                host_tls: None,
                advertise_address: self.swarm_advertise_address.map(|ip| ip.to_string()),
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
            ..RouterConfig::default()
        }
    }
}

/// A setting berthd cannot start with.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("{variable}: {source}")]
    DockerHost {
        variable: &'static str,
        source: DockerError,
    },
    #[error("{variable}={value:?}: expected 1 (TLS on) or 0 (off)")]
    TlsSwitch {
        variable: &'static str,
        value: String,
    },
    #[error(
        "DOCKER_TLS_VERIFY=1 but DOCKER_CERT_PATH/BERTH_DOCKER_CERT_PATH is not set: point it \
         at the directory holding ca.pem, cert.pem and key.pem"
    )]
    NoCertPath,
    #[error(
        "DOCKER_CERT_PATH is set but DOCKER_TLS_VERIFY is not: set DOCKER_TLS_VERIFY=1 to \
         reach {url} over TLS (or DOCKER_TLS_VERIFY=0 for plain HTTP)"
    )]
    TlsUndecided { url: String },
    #[error(
        "DOCKER_TLS (TLS without checking the engine's certificate) is not supported: set \
         DOCKER_TLS_VERIFY=1 and DOCKER_CERT_PATH"
    )]
    UnverifiedTls,
    #[error("{variable}={dir}: {source}", dir = .dir.display())]
    EngineTls {
        variable: &'static str,
        dir: PathBuf,
        source: DockerError,
    },
}

/// Reads the engine's address and TLS the way the docker CLI does, from
/// `docker_host` (BERTH_DOCKER_HOST), `cert_path` (BERTH_DOCKER_CERT_PATH)
/// and Docker's variables looked up with `env`: DOCKER_HOST when no address
/// is given; over TCP, DOCKER_TLS_VERIFY=1 (or a BERTH_DOCKER_CERT_PATH)
/// turns mutual TLS on with the files of BERTH_DOCKER_CERT_PATH, else
/// DOCKER_CERT_PATH. A Unix socket ignores the TLS variables, as the docker
/// CLI does.
fn engine_target(
    docker_host: Option<&str>,
    cert_path: Option<&Path>,
    env: impl Fn(&str) -> Option<String>,
) -> Result<EngineTarget, SettingsError> {
    let env = |name: &str| env(name).filter(|value| !value.is_empty());
    let (variable, url) = match docker_host.filter(|host| !host.is_empty()) {
        Some(host) => ("BERTH_DOCKER_HOST", Some(host.to_string())),
        None => ("DOCKER_HOST", env("DOCKER_HOST")),
    };
    let Some(url) = url else {
        return Ok(EngineTarget::local());
    };
    let target = EngineTarget::parse(&url)
        .map_err(|source| SettingsError::DockerHost { variable, source })?;
    if matches!(target, EngineTarget::Unix(_)) {
        return Ok(target);
    }
    let verify = match env("DOCKER_TLS_VERIFY").as_deref() {
        None => None,
        Some("1" | "true") => Some(true),
        Some("0" | "false") => Some(false),
        Some(other) => {
            return Err(SettingsError::TlsSwitch {
                variable: "DOCKER_TLS_VERIFY",
                value: other.to_string(),
            })
        }
    };
    let (cert_variable, cert_dir) = match cert_path {
        Some(dir) => ("BERTH_DOCKER_CERT_PATH", Some(dir.to_path_buf())),
        None => (
            "DOCKER_CERT_PATH",
            env("DOCKER_CERT_PATH").map(PathBuf::from),
        ),
    };
    let tls_on = verify.unwrap_or(cert_path.is_some());
    if !tls_on {
        if env("DOCKER_TLS").is_some() {
            return Err(SettingsError::UnverifiedTls);
        }
        if verify.is_none() && cert_dir.is_some() {
            return Err(SettingsError::TlsUndecided { url });
        }
        return Ok(target);
    }
    let dir = cert_dir.ok_or(SettingsError::NoCertPath)?;
    let tls = EngineTls::load(&dir).map_err(|source| SettingsError::EngineTls {
        variable: cert_variable,
        dir: dir.clone(),
        source,
    })?;
    Ok(target.with_tls(tls))
}

/// A limit as the engine and the platform take it: 0 is none.
fn positive(value: u64) -> Option<i64> {
    (value > 0).then(|| i64::try_from(value).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    #[derive(clap::Parser)]
    struct Berthd {
        #[command(flatten)]
        settings: Settings,
    }

    #[test]
    fn the_host_name_defaults_to_default_and_must_be_a_dns_label() {
        use clap::Parser;
        let parsed = Berthd::try_parse_from(["berthd"]).unwrap();
        assert_eq!(parsed.settings.host_name.as_str(), "default");
        let parsed = Berthd::try_parse_from(["berthd", "--host-name", "h1"]).unwrap();
        assert_eq!(parsed.settings.platform_config().host_name.as_str(), "h1");
        let refused = Berthd::try_parse_from(["berthd", "--host-name", "H1"])
            .err()
            .unwrap()
            .to_string();
        assert!(
            refused.contains(
                "host name \"H1\" has 'H': use only lowercase letters, digits and dashes"
            ),
            "{refused}"
        );
    }

    #[test]
    fn a_metrics_token_is_long_enough_not_to_be_guessed() {
        use clap::Parser;
        let token = "0123456789abcdef";
        let parsed = Berthd::try_parse_from(["berthd", "--metrics-token", token]).unwrap();
        assert_eq!(
            parsed.settings.platform_config().metrics_token.as_deref(),
            Some(token)
        );
        for short in ["", "0123456789abcde", "0123456789 abcdef"] {
            let refused = Berthd::try_parse_from(["berthd", "--metrics-token", short])
                .err()
                .unwrap()
                .to_string();
            assert!(
                refused.contains("at least 16 printable characters"),
                "{refused}"
            );
        }
    }

    /// `engine_target` with these Docker variables and no others.
    fn target(
        docker_host: Option<&str>,
        cert_path: Option<&Path>,
        variables: &[(&str, &str)],
    ) -> Result<EngineTarget, SettingsError> {
        let variables: HashMap<String, String> = variables
            .iter()
            .map(|(name, value)| (name.to_string(), value.to_string()))
            .collect();
        engine_target(docker_host, cert_path, |name| variables.get(name).cloned())
    }

    /// A directory with ca.pem, cert.pem and key.pem as `docker-machine`
    /// writes them; `matching: false` puts another key beside the certificate.
    fn cert_dir(matching: bool) -> tempfile::TempDir {
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let ca =
            rcgen::CertifiedIssuer::self_signed(ca_params, rcgen::KeyPair::generate().unwrap())
                .unwrap();
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(Vec::<String>::new())
            .unwrap()
            .signed_by(&key, &ca)
            .unwrap();
        let key = if matching {
            key
        } else {
            rcgen::KeyPair::generate().unwrap()
        };
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("ca.pem"), ca.pem()).unwrap();
        std::fs::write(dir.path().join("cert.pem"), cert.pem()).unwrap();
        std::fs::write(dir.path().join("key.pem"), key.serialize_pem()).unwrap();
        dir
    }

    fn url(target: Result<EngineTarget, SettingsError>) -> String {
        target.unwrap().url()
    }

    #[test]
    fn without_settings_the_local_socket() {
        assert_eq!(url(target(None, None, &[])), "unix:///var/run/docker.sock");
        assert_eq!(
            url(target(Some(""), None, &[("DOCKER_HOST", "")])),
            "unix:///var/run/docker.sock"
        );
    }

    #[test]
    fn berth_docker_host_wins_over_docker_host() {
        let variables = [("DOCKER_HOST", "tcp://elsewhere:2375")];
        assert_eq!(
            url(target(Some("unix:///run/other.sock"), None, &variables)),
            "unix:///run/other.sock"
        );
        assert_eq!(url(target(None, None, &variables)), "tcp://elsewhere:2375");
    }

    #[test]
    fn plain_tcp_without_tls_variables() {
        let target = target(Some("tcp://10.0.0.5:2375"), None, &[]).unwrap();
        assert!(target.tls().is_none());
        assert_eq!(target.url(), "tcp://10.0.0.5:2375");
    }

    #[test]
    fn a_unix_socket_ignores_the_tls_variables() {
        let target = target(
            Some("unix:///var/run/docker.sock"),
            None,
            &[
                ("DOCKER_TLS_VERIFY", "1"),
                ("DOCKER_CERT_PATH", "/nonexistent"),
            ],
        )
        .unwrap();
        assert!(target.tls().is_none());
    }

    #[test]
    fn tls_verify_without_a_cert_path_says_which_setting_is_missing() {
        let error = target(Some("tcp://h1:2376"), None, &[("DOCKER_TLS_VERIFY", "1")])
            .unwrap_err()
            .to_string();
        assert!(
            error.starts_with(
                "DOCKER_TLS_VERIFY=1 but DOCKER_CERT_PATH/BERTH_DOCKER_CERT_PATH is not set"
            ),
            "{error}"
        );
    }

    #[test]
    fn a_missing_ca_is_named_by_its_path() {
        let empty = tempfile::tempdir().unwrap();
        let error = target(
            Some("tcp://h1:2376"),
            None,
            &[
                ("DOCKER_TLS_VERIFY", "1"),
                ("DOCKER_CERT_PATH", empty.path().to_str().unwrap()),
            ],
        )
        .unwrap_err()
        .to_string();
        let ca = empty.path().join("ca.pem");
        assert!(error.starts_with("DOCKER_CERT_PATH="), "{error}");
        assert!(
            error.contains(&format!("cannot use {}", ca.display())),
            "{error}"
        );
        assert!(error.contains("No such file"), "{error}");
    }

    #[test]
    fn berth_docker_cert_path_turns_tls_on_and_wins_over_docker_cert_path() {
        let dir = cert_dir(true);
        let target = target(
            Some("tcp://h1.internal:2376"),
            Some(dir.path()),
            &[("DOCKER_CERT_PATH", "/nonexistent")],
        )
        .unwrap();
        assert_eq!(target.url(), "tcp://h1.internal:2376");
        assert_eq!(target.tls().unwrap().cert_dir(), dir.path());
    }

    #[test]
    fn docker_s_own_variables_turn_tls_on() {
        let dir = cert_dir(true);
        let target = target(
            None,
            None,
            &[
                ("DOCKER_HOST", "tcp://h1.internal:2376"),
                ("DOCKER_TLS_VERIFY", "1"),
                ("DOCKER_CERT_PATH", dir.path().to_str().unwrap()),
            ],
        )
        .unwrap();
        assert_eq!(target.tls().unwrap().cert_dir(), dir.path());
    }

    #[test]
    fn a_key_of_another_certificate_is_refused() {
        let dir = cert_dir(false);
        let error = target(Some("tcp://h1:2376"), Some(dir.path()), &[])
            .unwrap_err()
            .to_string();
        let key = dir.path().join("key.pem");
        assert!(error.starts_with("BERTH_DOCKER_CERT_PATH="), "{error}");
        assert!(error.contains(&key.display().to_string()), "{error}");
        assert!(error.contains("does not go with"), "{error}");
    }

    #[test]
    fn unclear_tls_settings_are_refused() {
        let host = Some("tcp://h1:2376");
        let error = target(host, None, &[("DOCKER_TLS_VERIFY", "yes")]).unwrap_err();
        assert!(matches!(error, SettingsError::TlsSwitch { .. }), "{error}");
        let error = target(host, None, &[("DOCKER_CERT_PATH", "/etc/certs")]).unwrap_err();
        assert!(error.to_string().contains("tcp://h1:2376"), "{error}");
        assert!(
            matches!(error, SettingsError::TlsUndecided { .. }),
            "{error}"
        );
        let plain = target(
            host,
            None,
            &[
                ("DOCKER_CERT_PATH", "/etc/certs"),
                ("DOCKER_TLS_VERIFY", "0"),
            ],
        );
        assert!(plain.unwrap().tls().is_none());
        let error = target(host, None, &[("DOCKER_TLS", "1")]).unwrap_err();
        assert!(matches!(error, SettingsError::UnverifiedTls), "{error}");
    }

    #[test]
    fn a_bad_address_names_its_variable() {
        let error = target(None, None, &[("DOCKER_HOST", "h1:2376")])
            .unwrap_err()
            .to_string();
        assert!(
            error.starts_with("DOCKER_HOST: cannot use Docker host"),
            "{error}"
        );
        let error = target(Some("tcp://h1"), None, &[]).unwrap_err().to_string();
        assert!(error.starts_with("BERTH_DOCKER_HOST: "), "{error}");
    }
}
