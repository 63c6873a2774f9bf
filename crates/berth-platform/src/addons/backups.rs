//! Postgres add-on backups: `pg_dump` in custom format into
//! `<data dir>/backups/<add-on>/bNNN.dump` (mode 0700 directories, like the
//! rest of the data directory), restored with `pg_restore`. Both run with an
//! argv and the add-on's own login, its password in PGPASSWORD, never on a
//! command line. The newest `retention` backups of each add-on are kept;
//! one is captured daily for each Postgres add-on.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, SystemTime};

use berth_core::{Action, Actor};
use chrono::{DateTime, Utc};

use super::{Credentials, ServiceSpec};
use crate::{create_private_dir, Platform, PlatformError, Result};

/// How long a dump or restore may run.
const TOOL_TIMEOUT: Duration = Duration::from_secs(3600);
/// A Postgres add-on without a backup this recent gets one from the schedule.
pub(crate) const DAILY: Duration = Duration::from_secs(24 * 3600);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backup {
    /// `b001`, `b002`…
    pub id: String,
    pub addon: String,
    pub size_bytes: u64,
    pub created_at: DateTime<Utc>,
}

impl Platform {
    /// The add-on's backups, oldest first.
    pub async fn backups(
        &self,
        actor: &Actor,
        app_name: &str,
        addon_name: &str,
    ) -> Result<Vec<Backup>> {
        let app = self.authorize_app(actor, app_name, Action::ReadApp).await?;
        let (addon, _) = self.addon_of_app(&app, addon_name).await?;
        self.backups_of(&addon.name)
    }

    /// Dumps the add-on's database now, then drops backups beyond retention.
    pub async fn capture_backup(
        &self,
        actor: &Actor,
        app_name: &str,
        addon_name: &str,
    ) -> Result<Backup> {
        let app = self
            .authorize_app(actor, app_name, Action::ManageAddons)
            .await?;
        let (addon, _) = self.addon_of_app(&app, addon_name).await?;
        let backup = self.capture(&addon).await?;
        self.audit_app(
            actor,
            &app.name,
            "addons.backup",
            format!("{} {}", addon.name, backup.id),
        )
        .await?;
        Ok(backup)
    }

    /// Restores a backup into the add-on's database: its objects are
    /// replaced by the backup's, in one transaction.
    pub async fn restore_backup(
        &self,
        actor: &Actor,
        app_name: &str,
        addon_name: &str,
        backup_id: &str,
    ) -> Result<()> {
        let app = self
            .authorize_app(actor, app_name, Action::ManageAddons)
            .await?;
        let (addon, _) = self.addon_of_app(&app, addon_name).await?;
        let backup = self
            .backups_of(&addon.name)?
            .into_iter()
            .find(|b| b.id == backup_id)
            .ok_or_else(|| {
                PlatformError::NotFound(format!(
                    "{addon_name} has no backup {backup_id}: `berth pg:backups {addon_name}` \
                     lists them"
                ))
            })?;
        let credentials = self.open_credentials(&addon)?;
        let (host, port) = self
            .providers
            .postgres_address(&addon, &credentials)
            .await?;
        let file = self
            .backup_dir(&addon.name)
            .join(format!("{}.dump", backup.id));
        let mut command = tokio::process::Command::new("pg_restore");
        command
            .args(["--clean", "--if-exists", "--no-owner", "--no-privileges"])
            .args(["--single-transaction", "--exit-on-error"])
            .args(connection_args(&host, port, &credentials))
            .arg(&file);
        run_tool(command, &credentials, "pg_restore").await?;
        self.audit_app(
            actor,
            &app.name,
            "addons.restore",
            format!("{} {}", addon.name, backup.id),
        )
        .await
    }

    /// Captures a backup of every Postgres add-on whose newest one is older
    /// than a day (or that has none): the daily schedule. Failures are logged.
    pub async fn capture_due_backups(&self) -> Result<()> {
        for addon in self.store.addons().await? {
            if ServiceSpec::parse(&addon.service)?.service != "postgres" {
                continue;
            }
            let newest = self.backups_of(&addon.name)?.pop();
            let due = newest.is_none_or(|b| {
                Utc::now()
                    .signed_duration_since(b.created_at)
                    .to_std()
                    .unwrap_or_default()
                    >= DAILY
            });
            if !due {
                continue;
            }
            match self.capture(&addon).await {
                Ok(backup) => {
                    let entry = berth_store::AuditEntry {
                        actor_email: None,
                        source: "schedule".into(),
                        app_name: Some(addon.app_name.clone()),
                        action: "addons.backup".into(),
                        detail: format!("{} {} (daily)", addon.name, backup.id),
                    };
                    self.store.record_audit(&entry).await?;
                }
                Err(error) => {
                    tracing::warn!(addon = %addon.name, %error, "the daily backup failed")
                }
            }
        }
        Ok(())
    }

    async fn capture(&self, addon: &berth_store::AddonRecord) -> Result<Backup> {
        if ServiceSpec::parse(&addon.service)?.service != "postgres" {
            return Err(PlatformError::Invalid(format!(
                "{} is a {} add-on: backups are for Postgres add-ons",
                addon.name, addon.service
            )));
        }
        let credentials = self.open_credentials(addon)?;
        let (host, port) = self.providers.postgres_address(addon, &credentials).await?;
        let dir = self.backup_dir(&addon.name);
        create_private_dir(&dir)?;
        let next = self
            .backups_of(&addon.name)?
            .iter()
            .filter_map(|b| b.id[1..].parse::<u32>().ok())
            .max()
            .unwrap_or(0)
            + 1;
        let id = format!("b{next:03}");
        let partial = dir.join(format!("{id}.partial"));
        let mut command = tokio::process::Command::new("pg_dump");
        command
            .args(["--format=custom", "--no-owner", "--no-privileges"])
            .args(connection_args(&host, port, &credentials))
            .arg("--file")
            .arg(&partial);
        if let Err(error) = run_tool(command, &credentials, "pg_dump").await {
            let _ = std::fs::remove_file(&partial);
            return Err(error);
        }
        let file = dir.join(format!("{id}.dump"));
        std::fs::rename(&partial, &file).map_err(|source| PlatformError::Io {
            context: format!("cannot keep the backup {}", file.display()),
            source,
        })?;
        let backups = self.backups_of(&addon.name)?;
        let surplus = backups.len().saturating_sub(self.backup_retention);
        for old in &backups[..surplus] {
            let path = dir.join(format!("{}.dump", old.id));
            if let Err(error) = std::fs::remove_file(&path) {
                tracing::warn!(path = %path.display(), %error, "an expired backup stayed");
            }
        }
        self.backups_of(&addon.name)?
            .into_iter()
            .find(|b| b.id == id)
            .ok_or_else(|| PlatformError::Internal(format!("backup {id} vanished")))
    }

    /// A destroyed add-on's backups go with it (its data is gone by request).
    pub(crate) fn remove_backups(&self, addon_name: &str) {
        let dir = self.backup_dir(addon_name);
        match std::fs::remove_dir_all(&dir) {
            Ok(()) => {}
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => {
                tracing::warn!(dir = %dir.display(), %error, "a destroyed add-on's backups stayed")
            }
        }
    }

    fn backup_dir(&self, addon_name: &str) -> PathBuf {
        self.data_dir.join("backups").join(addon_name)
    }

    /// The add-on's backups on disk, oldest first.
    fn backups_of(&self, addon_name: &str) -> Result<Vec<Backup>> {
        let dir = self.backup_dir(addon_name);
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => {
                return Err(PlatformError::Io {
                    context: format!("cannot list the backups in {}", dir.display()),
                    source,
                })
            }
        };
        let mut backups = Vec::new();
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(id) = name.strip_suffix(".dump") else {
                continue;
            };
            if !id.starts_with('b') || id[1..].parse::<u32>().is_err() {
                continue;
            }
            let metadata = entry.metadata().map_err(|source| PlatformError::Io {
                context: format!("cannot read the backup {}", entry.path().display()),
                source,
            })?;
            let modified = metadata.modified().unwrap_or(SystemTime::UNIX_EPOCH);
            backups.push(Backup {
                id: id.to_string(),
                addon: addon_name.to_string(),
                size_bytes: metadata.len(),
                created_at: DateTime::<Utc>::from(modified),
            });
        }
        backups.sort_by_key(|b| b.id[1..].parse::<u32>().unwrap_or(0));
        Ok(backups)
    }
}

fn connection_args(host: &str, port: u16, credentials: &Credentials) -> Vec<String> {
    vec![
        "--host".into(),
        host.into(),
        "--port".into(),
        port.to_string(),
        "--username".into(),
        credentials.username.clone(),
        "--dbname".into(),
        credentials.resource.clone(),
        "--no-password".into(),
    ]
}

/// Runs a Postgres client tool with the password in its environment.
async fn run_tool(
    mut command: tokio::process::Command,
    credentials: &Credentials,
    tool: &str,
) -> Result<()> {
    command
        .env("PGPASSWORD", &credentials.password)
        .env("PGCONNECT_TIMEOUT", "10")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let child = command.spawn().map_err(|source| PlatformError::Io {
        context: format!("cannot run {tool} (Debian's postgresql-client)"),
        source,
    })?;
    let output = tokio::time::timeout(TOOL_TIMEOUT, child.wait_with_output())
        .await
        .map_err(|_| PlatformError::AddonProvider(format!("{tool} took over an hour")))?
        .map_err(|source| PlatformError::Io {
            context: format!("{tool} failed"),
            source,
        })?;
    if output.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    let reason = stderr.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    Err(PlatformError::AddonProvider(format!(
        "{tool} failed ({}): {reason}",
        output.status
    )))
}
