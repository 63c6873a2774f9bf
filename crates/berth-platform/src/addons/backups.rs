//! Postgres add-on backups: `pg_dump` in custom format, sealed as it streams
//! (`sealed_stream`, under the platform key) into
//! `<data dir>/backups/<add-on id>/bNNN.dump` (mode 0700 directories, 0600
//! files), opened as it streams into `pg_restore`. Directories are named by
//! the add-on's id, never reused, so a new add-on taking a destroyed one's
//! name never sees its backups. Both tools run with an argv and the
//! add-on's own login, its password in PGPASSWORD, never on a command line.
//! The newest `retention` backups of each add-on are kept; one is captured
//! daily for each Postgres add-on. Backups written before sealing (plain
//! `pg_dump` files, in directories named by the add-on) still restore.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, SystemTime};

use berth_core::{Action, Actor};
use berth_store::{AddonRecord, AppRecord};
use chrono::{DateTime, Utc};
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use super::{Credentials, ServiceSpec};
use crate::sealed_stream;
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

/// A backup someone may download, found and authorized: see
/// [`Platform::backup_download`].
pub struct BackupDownload {
    pub backup: Backup,
    file: PathBuf,
    context: String,
}

impl Platform {
    /// The add-on's backups, oldest first.
    pub async fn backups(
        &self,
        actor: &Actor,
        app_name: &str,
        addon_name: &str,
    ) -> Result<Vec<Backup>> {
        let (_, addon) = self
            .addon_for_backups(actor, app_name, addon_name, Action::ReadApp)
            .await?;
        self.backups_of(&addon)
    }

    /// Dumps the add-on's database now, then drops backups beyond retention.
    pub async fn capture_backup(
        &self,
        actor: &Actor,
        app_name: &str,
        addon_name: &str,
    ) -> Result<Backup> {
        let (app, addon) = self
            .addon_for_backups(actor, app_name, addon_name, Action::ManageAddons)
            .await?;
        let backup = self.capture(&addon).await?;
        self.audit_backup(actor, &app, &addon, "addons.backup", &backup.id)
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
        let (app, addon) = self
            .addon_for_backups(actor, app_name, addon_name, Action::ManageAddons)
            .await?;
        let backup = self.backup_of(&addon, backup_id)?;
        let credentials = self.open_credentials(&addon)?;
        let (host, port) = self
            .providers
            .postgres_address(&addon, &credentials)
            .await?;
        let file = self.backup_dir(&addon)?.join(format!("{}.dump", backup.id));
        let mut command = tokio::process::Command::new("pg_restore");
        command
            .args(["--clean", "--if-exists", "--no-owner", "--no-privileges"])
            .args(["--single-transaction", "--exit-on-error"])
            .args(connection_args(&host, port, &credentials));
        let mut sealed =
            tokio::fs::File::open(&file)
                .await
                .map_err(|source| PlatformError::Io {
                    context: format!("cannot read the backup {}", file.display()),
                    source,
                })?;
        let mut magic = [0u8; sealed_stream::MAGIC.len()];
        let is_sealed =
            sealed.read_exact(&mut magic).await.is_ok() && &magic == sealed_stream::MAGIC;
        if is_sealed {
            let sealed =
                tokio::fs::File::open(&file)
                    .await
                    .map_err(|source| PlatformError::Io {
                        context: format!("cannot read the backup {}", file.display()),
                        source,
                    })?;
            let context = sealing_context(&addon, &backup.id);
            restore_sealed(command, &credentials, &self.secrets, &context, sealed).await?;
        } else {
            command.arg(&file);
            run_tool(command, &credentials, "pg_restore").await?;
        }
        self.audit_backup(actor, &app, &addon, "addons.restore", &backup.id)
            .await
    }

    /// A backup to download: its right is reading the app's config vars,
    /// as the backup holds the data the add-on's URL opens. Audited; the
    /// dump itself comes from [`Platform::write_backup`].
    pub async fn backup_download(
        &self,
        actor: &Actor,
        app_name: &str,
        addon_name: &str,
        backup_id: &str,
    ) -> Result<BackupDownload> {
        let (app, addon) = self
            .addon_for_backups(actor, app_name, addon_name, Action::ReadConfig)
            .await?;
        let backup = self.backup_of(&addon, backup_id)?;
        self.audit_backup(actor, &app, &addon, "addons.download", &backup.id)
            .await?;
        Ok(BackupDownload {
            file: self.backup_dir(&addon)?.join(format!("{}.dump", backup.id)),
            context: sealing_context(&addon, &backup.id),
            backup,
        })
    }

    /// The add-on whose backups `actor` reaches through `app_name`, with
    /// `action`'s right. Backups belong to the app that owns the add-on:
    /// through an app it is attached to, they need the same right on the
    /// owner too, else a deployer of that app would read (or an admin wipe)
    /// the owner's history, which the add-on's URL never reached.
    async fn addon_for_backups(
        &self,
        actor: &Actor,
        app_name: &str,
        addon_name: &str,
        action: Action,
    ) -> Result<(AppRecord, AddonRecord)> {
        let app = self.authorize_app(actor, app_name, action).await?;
        let (addon, _) = self.addon_of_app(&app, addon_name).await?;
        if addon.app_id != app.id {
            self.authorize_app(actor, &addon.app_name, action)
                .await
                .map_err(|error| match error {
                    PlatformError::NotFound(_) | PlatformError::Forbidden(_) => {
                        PlatformError::Forbidden(format!(
                            "the backups of {addon_name} belong to the app it was created on: \
                             through {app_name} they need the same right on that app"
                        ))
                    }
                    other => other,
                })?;
        }
        Ok((app, addon))
    }

    fn backup_of(&self, addon: &AddonRecord, backup_id: &str) -> Result<Backup> {
        self.backups_of(addon)?
            .into_iter()
            .find(|backup| backup.id == backup_id)
            .ok_or_else(|| {
                PlatformError::NotFound(format!(
                    "{} has no backup {backup_id}: `berth pg:backups {}` lists them",
                    addon.name, addon.name
                ))
            })
    }

    /// Records a backup's use on the add-on's own app, and on the app it
    /// was reached through when that is another.
    async fn audit_backup(
        &self,
        actor: &Actor,
        app: &AppRecord,
        addon: &AddonRecord,
        action: &str,
        backup_id: &str,
    ) -> Result<()> {
        let detail = format!("{} {backup_id}", addon.name);
        self.audit_app(actor, &addon.app_name, action, detail.clone())
            .await?;
        if addon.app_id != app.id {
            self.audit_app(actor, &app.name, action, detail).await?;
        }
        Ok(())
    }

    /// Writes a backup's `pg_dump` file (custom format) into `plain`,
    /// opened as it streams. An error midway leaves `plain` with a part only.
    pub async fn write_backup(
        &self,
        download: &BackupDownload,
        mut plain: impl tokio::io::AsyncWrite + Unpin,
    ) -> Result<()> {
        let cannot_read = |source| PlatformError::Io {
            context: format!("cannot read the backup {}", download.file.display()),
            source,
        };
        let mut file = tokio::fs::File::open(&download.file)
            .await
            .map_err(cannot_read)?;
        let mut magic = [0u8; sealed_stream::MAGIC.len()];
        let is_sealed = file.read_exact(&mut magic).await.is_ok() && &magic == sealed_stream::MAGIC;
        file.rewind().await.map_err(cannot_read)?;
        if is_sealed {
            sealed_stream::open(&self.secrets, &download.context, file, plain).await
        } else {
            tokio::io::copy(&mut file, &mut plain)
                .await
                .map_err(cannot_read)?;
            Ok(())
        }
    }

    /// Captures a backup of every Postgres add-on whose newest one is older
    /// than a day (or that has none): the daily schedule. Failures are logged.
    pub async fn capture_due_backups(&self) -> Result<()> {
        for addon in self.store.addons().await? {
            if ServiceSpec::parse(&addon.service)?.service != "postgres" {
                continue;
            }
            let newest = self.backups_of(&addon)?.pop();
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
        let dir = self.backup_dir(addon)?;
        create_private_dir(&dir)?;
        let next = self
            .backups_of(addon)?
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
            .args(connection_args(&host, port, &credentials));
        let context = sealing_context(addon, &id);
        if let Err(error) =
            dump_sealed(command, &credentials, &self.secrets, &context, &partial).await
        {
            let _ = std::fs::remove_file(&partial);
            return Err(error);
        }
        let file = dir.join(format!("{id}.dump"));
        std::fs::rename(&partial, &file).map_err(|source| PlatformError::Io {
            context: format!("cannot keep the backup {}", file.display()),
            source,
        })?;
        let backups = self.backups_of(addon)?;
        let surplus = backups.len().saturating_sub(self.backup_retention);
        for old in &backups[..surplus] {
            let path = dir.join(format!("{}.dump", old.id));
            if let Err(error) = std::fs::remove_file(&path) {
                tracing::warn!(path = %path.display(), %error, "an expired backup stayed");
            }
        }
        self.backups_of(addon)?
            .into_iter()
            .find(|b| b.id == id)
            .ok_or_else(|| PlatformError::Internal(format!("backup {id} vanished")))
    }

    /// A destroyed add-on's backups go with it (its data is gone by request).
    pub(crate) fn remove_backups(&self, addon: &AddonRecord) {
        let dir = self.data_dir.join("backups").join(addon.id.to_string());
        match std::fs::remove_dir_all(&dir) {
            Ok(()) => {}
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => {
                tracing::warn!(dir = %dir.display(), %error, "a destroyed add-on's backups stayed")
            }
        }
    }

    /// The add-on's backup directory, named by its id (add-on names never
    /// start with a digit, so ids and old names cannot meet). A directory
    /// named by the add-on's name, from before, is taken over when every
    /// backup in it is younger than the add-on: older ones belonged to a
    /// destroyed add-on of the same name and stay unseen.
    fn backup_dir(&self, addon: &AddonRecord) -> Result<PathBuf> {
        let backups = self.data_dir.join("backups");
        let dir = backups.join(addon.id.to_string());
        let by_name = backups.join(&addon.name);
        if dir.exists() || !by_name.is_dir() {
            return Ok(dir);
        }
        let created = SystemTime::from(addon.created_at);
        let all_younger = std::fs::read_dir(&by_name)
            .and_then(|entries| {
                entries
                    .map(|entry| entry?.metadata()?.modified())
                    .collect::<std::io::Result<Vec<_>>>()
            })
            .is_ok_and(|times| times.iter().all(|modified| *modified >= created));
        if all_younger {
            std::fs::rename(&by_name, &dir).map_err(|source| PlatformError::Io {
                context: format!(
                    "cannot move the backups of {} to {}",
                    addon.name,
                    dir.display()
                ),
                source,
            })?;
        }
        Ok(dir)
    }

    /// The add-on's backups on disk, oldest first.
    fn backups_of(&self, addon: &AddonRecord) -> Result<Vec<Backup>> {
        let addon_name = &addon.name;
        let dir = self.backup_dir(addon)?;
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

/// Where a backup's data key is sealed for: the add-on (by id) and backup,
/// so that a file moved elsewhere does not open.
fn sealing_context(addon: &AddonRecord, backup_id: &str) -> String {
    format!("backup/{}/{backup_id}", addon.id)
}

/// Runs `pg_dump` (writing to its stdout) and seals its output into a new
/// private file at `path` as it comes.
async fn dump_sealed(
    mut command: tokio::process::Command,
    credentials: &Credentials,
    key: &crate::secrets::SecretKey,
    context: &str,
    path: &std::path::Path,
) -> Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|source| PlatformError::Io {
            context: format!("cannot create the backup {}", path.display()),
            source,
        })?;
    command.stdout(Stdio::piped());
    let mut child = spawn_tool(command, credentials, "pg_dump")?;
    let output = child.stdout.take().expect("pg_dump's stdout is piped");
    let sealing = async {
        let mut file = tokio::fs::File::from_std(file);
        sealed_stream::seal(key, context, output, &mut file).await?;
        file.sync_all().await.map_err(|source| PlatformError::Io {
            context: format!("cannot write the backup {}", path.display()),
            source,
        })
    };
    let (sealed, dumped) = tokio::join!(sealing, finish_tool(child, "pg_dump"));
    dumped?;
    sealed
}

/// Opens a sealed backup as it streams into `pg_restore`'s stdin. A backup
/// that does not open whole kills `pg_restore` before its input ends, so
/// its single transaction never commits.
async fn restore_sealed(
    mut command: tokio::process::Command,
    credentials: &Credentials,
    key: &crate::secrets::SecretKey,
    context: &str,
    sealed: tokio::fs::File,
) -> Result<()> {
    command.stdin(Stdio::piped());
    let mut child = spawn_tool(command, credentials, "pg_restore")?;
    let mut input = child.stdin.take().expect("pg_restore's stdin is piped");
    let stderr = child.stderr.take().expect("pg_restore's stderr is piped");
    // Drained meanwhile, so that a chatty pg_restore never blocks on it.
    let errors = tokio::spawn(async move {
        let mut text = String::new();
        let _ = stderr.take(64 * 1024).read_to_string(&mut text).await;
        text
    });
    let opened = tokio::time::timeout(
        TOOL_TIMEOUT,
        sealed_stream::open(key, context, sealed, &mut input),
    )
    .await
    .unwrap_or_else(|_| {
        Err(PlatformError::AddonProvider(
            "pg_restore took over an hour".into(),
        ))
    });
    if opened.is_err() {
        let _ = child.start_kill();
    }
    drop(input);
    let status = tokio::time::timeout(TOOL_TIMEOUT, child.wait())
        .await
        .map_err(|_| PlatformError::AddonProvider("pg_restore took over an hour".into()))?
        .map_err(|source| PlatformError::Io {
            context: "pg_restore failed".into(),
            source,
        })?;
    let stderr = errors.await.unwrap_or_default();
    if status.success() {
        return opened;
    }
    // pg_restore's own complaint explains more than a broken pipe does.
    let reason = stderr.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    match opened {
        Err(error) if reason.is_empty() => Err(error),
        _ => Err(PlatformError::AddonProvider(format!(
            "pg_restore failed ({status}): {reason}"
        ))),
    }
}

/// Starts a Postgres client tool with the password in its environment;
/// stdin and stdout are closed unless `command` pipes them.
fn spawn_tool(
    mut command: tokio::process::Command,
    credentials: &Credentials,
    tool: &str,
) -> Result<tokio::process::Child> {
    command
        .env("PGPASSWORD", &credentials.password)
        .env("PGCONNECT_TIMEOUT", "10")
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    command.spawn().map_err(|source| PlatformError::Io {
        context: format!("cannot run {tool} (Debian's postgresql-client)"),
        source,
    })
}

/// Runs a Postgres client tool to its end with the password in its environment.
async fn run_tool(
    mut command: tokio::process::Command,
    credentials: &Credentials,
    tool: &str,
) -> Result<()> {
    command.stdin(Stdio::null()).stdout(Stdio::null());
    finish_tool(spawn_tool(command, credentials, tool)?, tool).await
}

/// Waits (bounded) for a tool to end; a failure carries its first word on stderr.
async fn finish_tool(child: tokio::process::Child, tool: &str) -> Result<()> {
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
