//! Postgres add-ons in a dedicated container each (the default when no
//! server is configured): the operator's image (`BERTH_ADDON_POSTGRES_IMAGE`,
//! Debian's postgresql; `initdb` and `postgres` on its PATH) runs with a
//! named volume for its data, on the app's private network under the
//! add-on's name, and publishes 5432 on 127.0.0.1 for berthd alone. The
//! add-on's login is the cluster's superuser: the whole server is the
//! app's. Rotating adds a new superuser login; revoking takes LOGIN and the
//! password from the old one and ends its sessions.

use std::time::Duration;

use berth_docker::{addon_labels, app_network, ContainerSpec, Engine, Limits, Runtime};
use futures_util::future::BoxFuture;
use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::{ConnectOptions, Executor};

use super::provider::{provider_error, random_hex, Credentials, Provider};
use crate::{PlatformError, Result};

const PORT: u16 = 5432;
/// How long a new cluster has to accept connections, checked twice a second.
const READY_ATTEMPTS: usize = 240;
const READY_PAUSE: Duration = Duration::from_millis(500);

/// Initialises the cluster on first start (as the `postgres` user, password
/// from the environment through a file), then runs the server.
const START: &str = r#"set -e
data=/data/pgdata
if [ ! -s "$data/PG_VERSION" ]; then
  mkdir -p "$data" && chown postgres "$data" && chmod 700 "$data"
  umask 077
  printf '%s' "$BERTH_PG_PASSWORD" > /tmp/pw && chown postgres /tmp/pw
  runuser -u postgres -- initdb -D "$data" --username="$BERTH_PG_USER" --pwfile=/tmp/pw --auth=scram-sha-256 >/dev/null
  rm -f /tmp/pw
  echo "listen_addresses = '*'" >> "$data/postgresql.conf"
  echo "host all all 0.0.0.0/0 scram-sha-256" >> "$data/pg_hba.conf"
  echo "host all all ::/0 scram-sha-256" >> "$data/pg_hba.conf"
fi
exec runuser -u postgres -- postgres -D "$data" -k /tmp"#;

pub(crate) struct PostgresContainer {
    engine: Engine,
    image: String,
    platform: String,
    limits: Limits,
}

impl PostgresContainer {
    pub(crate) fn new(engine: Engine, image: &str, platform: &str, limits: Limits) -> Self {
        Self {
            engine,
            image: image.to_string(),
            platform: platform.to_string(),
            limits,
        }
    }

    fn container_of(credentials: &Credentials) -> Result<&str> {
        credentials.container.as_deref().ok_or_else(|| {
            PlatformError::Internal(
                "the credentials of a container add-on name no container".into(),
            )
        })
    }

    /// Where berthd reaches the add-on: its port published on 127.0.0.1.
    pub(crate) async fn local_address(&self, credentials: &Credentials) -> Result<(String, u16)> {
        let container = Self::container_of(credentials)?;
        let address = self
            .engine
            .published_address(container, PORT)
            .await?
            .ok_or_else(|| {
                provider_error(
                    &format!("the add-on container {container}"),
                    "is not running (no published port)",
                )
            })?;
        Ok((address.ip().to_string(), address.port()))
    }

    async fn connect(&self, credentials: &Credentials) -> Result<PgConnection> {
        let (host, port) = self.local_address(credentials).await?;
        PgConnectOptions::new()
            .host(&host)
            .port(port)
            .username(&credentials.username)
            .password(&credentials.password)
            .database(&credentials.resource)
            .disable_statement_logging()
            .connect()
            .await
            .map_err(|e| provider_error("cannot connect to the add-on's Postgres container", e))
    }

    async fn wait_until_ready(&self, credentials: &Credentials) -> Result<()> {
        let mut last = String::new();
        for _ in 0..READY_ATTEMPTS {
            match self.connect(credentials).await {
                Ok(_) => return Ok(()),
                Err(error) => last = error.to_string(),
            }
            tokio::time::sleep(READY_PAUSE).await;
        }
        Err(provider_error(
            "the add-on's Postgres container did not accept connections within 2 minutes",
            last,
        ))
    }

    async fn remove(&self, container: &str) -> Result<()> {
        self.engine
            .stop_and_remove(container, Duration::from_secs(30))
            .await?;
        self.engine.remove_volume(container).await?;
        Ok(())
    }
}

impl Provider for PostgresContainer {
    fn mode(&self) -> &'static str {
        "container"
    }

    fn provision<'a>(&'a self, app: &'a str) -> BoxFuture<'a, Result<Credentials>> {
        Box::pin(async move {
            let container = format!("berth-addon-{}", random_hex(6));
            let login = format!("u{}", random_hex(6));
            let password = random_hex(24);
            self.engine.ensure_app_network(app).await?;
            let spec = ContainerSpec {
                name: container.clone(),
                image: self.image.clone(),
                cmd: Some(vec!["/bin/sh".into(), "-c".into(), START.into()]),
                env: vec![
                    ("BERTH_PG_USER".into(), login.clone()),
                    ("BERTH_PG_PASSWORD".into(), password.clone()),
                ],
                labels: addon_labels(&self.platform, &container),
                network: Some(app_network(app)),
                network_alias: Some(container.clone()),
                publish_port: Some(PORT),
                stop_timeout_secs: Some(30),
                volumes: vec![(container.clone(), "/data".into())],
                restart_unless_stopped: true,
                limits: self.limits,
                run: Default::default(),
            };
            let credentials = Credentials {
                url: format!("postgres://{login}:{password}@{container}:{PORT}/postgres"),
                username: login,
                password,
                resource: "postgres".into(),
                owner: None,
                container: Some(container.clone()),
            };
            let started = async {
                self.engine.start_container(&spec).await?;
                self.wait_until_ready(&credentials).await
            }
            .await;
            if let Err(error) = started {
                if let Err(cleanup) = self.remove(&container).await {
                    tracing::error!(%container, %cleanup, "a failed add-on container stayed");
                }
                return Err(error);
            }
            Ok(credentials)
        })
    }

    fn rotate<'a>(&'a self, current: &'a Credentials) -> BoxFuture<'a, Result<Credentials>> {
        Box::pin(async move {
            let container = Self::container_of(current)?;
            let login = format!("u{}", random_hex(6));
            let password = random_hex(24);
            let mut connection = self.connect(current).await?;
            connection
                .execute(
                    format!("CREATE ROLE \"{login}\" LOGIN SUPERUSER PASSWORD '{password}'")
                        .as_str(),
                )
                .await
                .map_err(|e| provider_error("the add-on's Postgres refused CREATE ROLE", e))?;
            Ok(Credentials {
                url: format!("postgres://{login}:{password}@{container}:{PORT}/postgres"),
                username: login,
                password,
                resource: current.resource.clone(),
                owner: None,
                container: Some(container.to_string()),
            })
        })
    }

    fn revoke<'a>(
        &'a self,
        current: &'a Credentials,
        old: &'a Credentials,
    ) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let mut connection = self.connect(current).await?;
            // The first login made the cluster and cannot be dropped: it loses LOGIN.
            connection
                .execute(format!("ALTER ROLE \"{}\" NOLOGIN PASSWORD NULL", old.username).as_str())
                .await
                .map_err(|e| provider_error("the add-on's Postgres refused ALTER ROLE", e))?;
            sqlx::query(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1",
            )
            .bind(&old.username)
            .execute(&mut connection)
            .await
            .map_err(|e| provider_error("cannot end the old login's sessions", e))?;
            Ok(())
        })
    }

    fn deprovision<'a>(&'a self, current: &'a Credentials) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move { self.remove(Self::container_of(current)?).await })
    }
}
