//! The platform's own id: the `berth.platform` label of every container it
//! owns, so that one engine can serve several platforms and each finds only
//! its own. Made once and never changed (rotating the secret key leaves it
//! alone), kept in `platform.id` in the data directory.

use std::io::Write;
use std::path::Path;

use rand::RngCore;

use crate::secrets::SecretKey;
use crate::{PlatformError, Result};

const ID_FILE: &str = "platform.id";

/// The id in `data_dir`, if one was made there.
pub fn read(data_dir: &Path) -> Result<Option<String>> {
    let path = data_dir.join(ID_FILE);
    match std::fs::read_to_string(&path) {
        Ok(contents) => {
            let id = contents.trim();
            if id.is_empty() || !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
                return Err(PlatformError::Internal(format!(
                    "{} does not hold a platform id",
                    path.display()
                )));
            }
            Ok(Some(id.to_string()))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(PlatformError::Io {
            context: format!("cannot read {}", path.display()),
            source,
        }),
    }
}

/// The id in `data_dir`, made on first use. An install from before the id
/// existed (`has_apps`) labelled its containers with the secret key's
/// fingerprint: it adopts that, so its running containers stay its own.
pub(crate) fn load_or_create(data_dir: &Path, key: &SecretKey, has_apps: bool) -> Result<String> {
    if let Some(id) = read(data_dir)? {
        return Ok(id);
    }
    let id = if has_apps {
        key.id().to_string()
    } else {
        let mut bytes = [0u8; 8];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        hex::encode(bytes)
    };
    let io = |context: String| move |source| PlatformError::Io { context, source };
    let path = data_dir.join(ID_FILE);
    let temporary = data_dir.join(format!("{ID_FILE}.{}", std::process::id()));
    let _ = std::fs::remove_file(&temporary);
    let mut file = std::fs::File::create_new(&temporary)
        .map_err(io(format!("cannot write {}", temporary.display())))?;
    file.write_all(id.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(io(format!("cannot write {}", temporary.display())))?;
    // A hard link never replaces: when another process (`berthd admin`
    // beside the server) made the id first, its id is the one.
    let linked = std::fs::hard_link(&temporary, &path);
    let _ = std::fs::remove_file(&temporary);
    match linked {
        Ok(()) => Ok(id),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => read(data_dir)?
            .ok_or_else(|| PlatformError::Internal(format!("{} vanished", path.display()))),
        Err(source) => Err(io(format!("cannot write {}", path.display()))(source)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_install_gets_a_random_id_that_outlives_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let key = SecretKey::load_or_create(dir.path(), None).unwrap();
        let id = load_or_create(dir.path(), &key, false).unwrap();
        assert_ne!(id, key.id());
        let other_key = SecretKey::load_or_create(dir.path(), Some(&"ab".repeat(32))).unwrap();
        assert_eq!(load_or_create(dir.path(), &other_key, true).unwrap(), id);
        assert_eq!(read(dir.path()).unwrap(), Some(id));
    }

    #[test]
    fn an_install_with_apps_adopts_its_key_fingerprint() {
        let dir = tempfile::tempdir().unwrap();
        let key = SecretKey::load_or_create(dir.path(), None).unwrap();
        assert_eq!(load_or_create(dir.path(), &key, true).unwrap(), key.id());
    }
}
