//! Postgres add-ons on an operator's server: per add-on a database owned by
//! a NOLOGIN owner role, and a login role that is a member of it and acts
//! as it (`ALTER ROLE … SET role`), so that whatever the app creates
//! belongs to the owner and survives a rotation (Postgres 15 gives PUBLIC
//! no CREATE on `public`: the database's owner is what makes it writable).
//! Rotating adds a second login role and, once apps use it, drops the old
//! one with its sessions.

use std::str::FromStr;
use std::time::Duration;

use futures_util::future::BoxFuture;
use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::{ConnectOptions, Connection, Executor};

use super::provider::{app_address, provider_error, random_hex, Credentials, Provider};
use crate::{PlatformError, Result};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

pub(crate) struct PostgresServer {
    admin: PgConnectOptions,
    app_host: String,
    app_port: u16,
}

impl PostgresServer {
    pub(crate) fn new(admin_url: &str, app_host: Option<&str>) -> Result<Self> {
        let invalid = |why: String| {
            PlatformError::Invalid(format!(
                "BERTH_ADDON_POSTGRES_ADMIN_URL is not a postgres:// URL ({why})"
            ))
        };
        let parsed = reqwest::Url::parse(admin_url).map_err(|e| invalid(e.to_string()))?;
        if !matches!(parsed.scheme(), "postgres" | "postgresql") {
            return Err(invalid(format!("scheme {}", parsed.scheme())));
        }
        let admin = PgConnectOptions::from_str(admin_url).map_err(|e| invalid(e.to_string()))?;
        let (app_host, app_port) = app_address(&parsed, app_host, 5432)?;
        Ok(Self {
            admin,
            app_host,
            app_port,
        })
    }

    /// Where berthd itself reaches the server (the admin URL's host and port),
    /// which apps may reach by another address.
    pub(crate) fn server_address(&self) -> (String, u16) {
        (self.admin.get_host().to_string(), self.admin.get_port())
    }

    /// A connection as the admin role, to its own database or to `database`.
    async fn connect(&self, database: Option<&str>) -> Result<PgConnection> {
        let mut options = self.admin.clone().disable_statement_logging();
        if let Some(database) = database {
            options = options.database(database);
        }
        let where_ = format!(
            "cannot connect to the add-on Postgres server {}:{}",
            self.admin.get_host(),
            self.admin.get_port()
        );
        tokio::time::timeout(CONNECT_TIMEOUT, options.connect())
            .await
            .map_err(|_| provider_error(&where_, "timed out"))?
            .map_err(|e| provider_error(&where_, e))
    }

    fn credentials(&self, database: &str, owner: &str, login: &str, password: &str) -> Credentials {
        Credentials {
            url: format!(
                "postgres://{login}:{password}@{}:{}/{database}",
                url_host(&self.app_host),
                self.app_port
            ),
            username: login.to_string(),
            password: password.to_string(),
            resource: database.to_string(),
            owner: Some(owner.to_string()),
            container: None,
        }
    }

    async fn create_login(
        &self,
        admin: &mut PgConnection,
        owner: &str,
        login: &str,
        password: &str,
    ) -> Result<()> {
        run(
            admin,
            &format!(
                "CREATE ROLE {} LOGIN PASSWORD {} IN ROLE {}",
                ident(login),
                literal(password),
                ident(owner)
            ),
        )
        .await?;
        run(
            admin,
            &format!("ALTER ROLE {} SET role = {}", ident(login), literal(owner)),
        )
        .await
    }

    async fn try_provision(
        &self,
        admin: &mut PgConnection,
        database: &str,
        owner: &str,
        login: &str,
        password: &str,
    ) -> Result<()> {
        run(admin, &format!("CREATE ROLE {} NOLOGIN", ident(owner))).await?;
        // CREATE DATABASE … OWNER needs the admin to be a member of the owner.
        run(admin, &format!("GRANT {} TO CURRENT_USER", ident(owner))).await?;
        self.create_login(admin, owner, login, password).await?;
        run(
            admin,
            &format!("CREATE DATABASE {} OWNER {}", ident(database), ident(owner)),
        )
        .await?;
        run(
            admin,
            &format!("REVOKE ALL ON DATABASE {} FROM PUBLIC", ident(database)),
        )
        .await
    }

    /// Removes whatever of an add-on exists; nothing is an error.
    async fn remove(
        &self,
        admin: &mut PgConnection,
        database: &str,
        owner: &str,
        logins: &[&str],
    ) -> Result<()> {
        run(
            admin,
            &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", ident(database)),
        )
        .await?;
        for login in logins {
            run(admin, &format!("DROP ROLE IF EXISTS {}", ident(login))).await?;
        }
        run(admin, &format!("DROP ROLE IF EXISTS {}", ident(owner))).await
    }
}

impl Provider for PostgresServer {
    fn mode(&self) -> &'static str {
        "server"
    }

    fn provision<'a>(&'a self, _app: &'a str) -> BoxFuture<'a, Result<Credentials>> {
        Box::pin(async move {
            let id = random_hex(8);
            let database = format!("berth_{id}");
            let owner = format!("berth_{id}_owner");
            let login = format!("berth_{id}_{}", random_hex(3));
            let password = random_hex(24);
            let mut admin = self.connect(None).await?;
            if let Err(error) = self
                .try_provision(&mut admin, &database, &owner, &login, &password)
                .await
            {
                if let Err(cleanup) = self.remove(&mut admin, &database, &owner, &[&login]).await {
                    tracing::error!(%database, %cleanup, "a failed Postgres add-on was not removed");
                }
                return Err(error);
            }
            Ok(self.credentials(&database, &owner, &login, &password))
        })
    }

    fn rotate<'a>(&'a self, current: &'a Credentials) -> BoxFuture<'a, Result<Credentials>> {
        Box::pin(async move {
            let owner = owner_of(current)?;
            let login = format!("{}_{}", current.resource, random_hex(3));
            let password = random_hex(24);
            let mut admin = self.connect(None).await?;
            self.create_login(&mut admin, owner, &login, &password)
                .await?;
            Ok(self.credentials(&current.resource, owner, &login, &password))
        })
    }

    fn revoke<'a>(
        &'a self,
        _current: &'a Credentials,
        old: &'a Credentials,
    ) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let owner = owner_of(old)?;
            let login = ident(&old.username);
            let mut in_database = self.connect(Some(&old.resource)).await?;
            // Membership lets the admin end the old login's sessions and take
            // over anything it made as itself (after a RESET ROLE).
            run(&mut in_database, &format!("GRANT {login} TO CURRENT_USER")).await?;
            sqlx::query(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1",
            )
            .bind(&old.username)
            .execute(&mut in_database)
            .await
            .map_err(|e| provider_error("cannot end the old login's sessions", e))?;
            run(
                &mut in_database,
                &format!("REASSIGN OWNED BY {login} TO {}", ident(owner)),
            )
            .await?;
            run(&mut in_database, &format!("DROP OWNED BY {login}")).await?;
            let _ = in_database.close().await;
            let mut admin = self.connect(None).await?;
            run(&mut admin, &format!("DROP ROLE {login}")).await
        })
    }

    fn deprovision<'a>(&'a self, current: &'a Credentials) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let owner = owner_of(current)?;
            let mut admin = self.connect(None).await?;
            self.remove(&mut admin, &current.resource, owner, &[&current.username])
                .await
        })
    }
}

fn owner_of(credentials: &Credentials) -> Result<&str> {
    credentials.owner.as_deref().ok_or_else(|| {
        PlatformError::Internal(format!(
            "the credentials of Postgres add-on database {} name no owner role",
            credentials.resource
        ))
    })
}

async fn run(connection: &mut PgConnection, statement: &str) -> Result<()> {
    connection
        .execute(statement)
        .await
        .map(|_| ())
        .map_err(|e| {
            // The statement may hold a password: only its first words are said.
            let verb: String = statement
                .split_whitespace()
                .take(2)
                .collect::<Vec<_>>()
                .join(" ");
            provider_error(&format!("the add-on Postgres server refused {verb}"), e)
        })
}

/// A quoted SQL identifier.
fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// A quoted SQL string literal.
fn literal(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

/// An IPv6 address goes in brackets inside a URL.
fn url_host(host: &str) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]")
    } else {
        host.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_and_literals_are_quoted() {
        assert_eq!(ident("berth_1"), "\"berth_1\"");
        assert_eq!(ident("a\"b"), "\"a\"\"b\"");
        assert_eq!(literal("it's"), "'it''s'");
        assert_eq!(url_host("::1"), "[::1]");
        assert_eq!(url_host("10.0.0.5"), "10.0.0.5");
    }
}
