//! The stored login (`credentials.json`) and the `~/.netrc` entry that lets
//! `git push` authenticate. Both hold a secret, so both are written private
//! from their first byte: created with mode 0600 in directories of mode 0700,
//! then renamed into place, never written world-readable and tightened later.

pub mod netrc;

use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::env::Env;
use crate::error::{Error, Result};

const FILE_NAME: &str = "credentials.json";

/// What `berth login` stores.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Credentials {
    pub api_url: String,
    pub email: String,
    pub token: String,
}

/// Where the credentials live, per [`Env::berth_config_dir`].
pub fn path(env: &Env) -> Result<PathBuf> {
    env.berth_config_dir()
        .map(|dir| dir.join(FILE_NAME))
        .ok_or(Error::NoConfigDir)
}

/// The stored login, or `None` when there is none.
pub fn load(path: &Path) -> Result<Option<Credentials>> {
    let text = match fs::read_to_string(path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(Error::file("cannot read", path)(error)),
    };
    serde_json::from_str(&text).map(Some).map_err(|error| {
        Error::Input(format!(
            "cannot read {}: {error}; delete it and run berth login again",
            path.display()
        ))
    })
}

pub fn save(path: &Path, credentials: &Credentials) -> Result<()> {
    let mut json = serde_json::to_string_pretty(credentials).expect("credentials serialize");
    json.push('\n');
    write_private(path, json.as_bytes())
}

/// Deletes the stored login; says whether there was one.
pub fn remove(path: &Path) -> Result<bool> {
    match fs::remove_file(path) {
        Ok(()) => Ok(true),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(error) => Err(Error::file("cannot delete", path)(error)),
    }
}

/// Writes `contents` to `path` atomically with mode 0600, creating missing
/// parent directories with mode 0700. A symbolic link at `path` is followed,
/// so a `~/.netrc` kept elsewhere stays where it is.
pub fn write_private(path: &Path, contents: &[u8]) -> Result<()> {
    let path = match fs::canonicalize(path) {
        Ok(target) if fs::symlink_metadata(path).is_ok_and(|meta| meta.is_symlink()) => target,
        _ => path.to_path_buf(),
    };
    let dir = path
        .parent()
        .filter(|dir| !dir.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(Error::file("cannot create", dir))?;
    let file_name = path
        .file_name()
        .map(|name| name.to_string_lossy())
        .unwrap_or_default();
    let temporary = dir.join(format!(".{file_name}.{}.tmp", std::process::id()));
    let written = (|| {
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&temporary)?;
        file.write_all(contents)?;
        file.sync_all()
    })();
    if let Err(error) = written {
        let _ = fs::remove_file(&temporary);
        return Err(Error::file("cannot write", &temporary)(error));
    }
    fs::rename(&temporary, &path).map_err(|error| {
        let _ = fs::remove_file(&temporary);
        Error::file("cannot write", &path)(error)
    })
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn saves_private_and_loads_back() {
        let home = tempfile::tempdir().unwrap();
        let path = home.path().join("config/berth/credentials.json");
        assert_eq!(load(&path).unwrap(), None);
        let credentials = Credentials {
            api_url: "http://127.0.0.1:7000".into(),
            email: "alice@example.com".into(),
            token: "secret".into(),
        };
        save(&path, &credentials).unwrap();
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(path.parent().unwrap()), 0o700);
        assert_eq!(load(&path).unwrap(), Some(credentials.clone()));
        // Replacing keeps it private and leaves no temporary file behind.
        save(
            &path,
            &Credentials {
                token: "other".into(),
                ..credentials
            },
        )
        .unwrap();
        assert_eq!(mode(&path), 0o600);
        assert_eq!(fs::read_dir(path.parent().unwrap()).unwrap().count(), 1);
        assert!(remove(&path).unwrap());
        assert!(!remove(&path).unwrap());
    }

    #[test]
    fn a_corrupt_file_is_an_error_that_says_what_to_do() {
        let home = tempfile::tempdir().unwrap();
        let path = home.path().join("credentials.json");
        fs::write(&path, "{").unwrap();
        assert!(load(&path)
            .unwrap_err()
            .to_string()
            .contains("run berth login"));
    }
}
