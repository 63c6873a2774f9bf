//! Encryption of secrets at rest (config vars, add-on credentials, keys):
//! XChaCha20-Poly1305 with a random nonce, under a key kept outside the
//! database — a 0600 file in the data directory, or `BERTH_SECRET_KEY`.
//! Every sealed value names the key it was sealed with, so keys can be
//! rotated, and is bound to where it is stored (`context`) so a value cannot
//! be moved to another row and still open.

use std::io::Write;
use std::path::{Path, PathBuf};

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::{Digest, Sha256};

#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    #[error("cannot read the secret key {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write the secret key {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the secret key {origin} is malformed: expected 64 hex digits")]
    Malformed { origin: String },
    #[error("a secret was sealed with key {found}, but the current key is {current}")]
    WrongKey { found: String, current: String },
    #[error("a sealed secret is damaged or was moved from where it was stored")]
    Damaged,
}

const PREFIX: &str = "berth1";
const KEY_FILE: &str = "secret.key";
/// A rotation's new key, until it replaces the key file.
const NEXT_KEY_FILE: &str = "secret.key.next";
/// The key a rotation replaced: values a running server sealed with it
/// during the rotation stay readable.
const PREVIOUS_KEY_FILE: &str = "secret.key.previous";

/// The platform's secret key. Never stored in the database.
pub struct SecretKey {
    id: String,
    cipher: XChaCha20Poly1305,
    /// Authenticates what the platform hands out and must recognise later
    /// (e.g. the dashboard's form tokens); derived, so never the cipher's key.
    mac_key: [u8; 32],
    /// Keys that only open, never seal: around a rotation (see `rotate`).
    openers: Vec<SecretKey>,
}

impl SecretKey {
    /// The key given as hex in `from_env` if set, else the key file in
    /// `data_dir`, created (0600) with a fresh random key on first start.
    pub fn load_or_create(data_dir: &Path, from_env: Option<&str>) -> Result<Self, SecretsError> {
        if let Some(hex_key) = from_env {
            return Self::from_hex(hex_key.trim(), "in BERTH_SECRET_KEY");
        }
        let path = data_dir.join(KEY_FILE);
        match std::fs::read_to_string(&path) {
            Ok(contents) => {
                let mut key = Self::from_hex(contents.trim(), &path.display().to_string())?;
                for other in [NEXT_KEY_FILE, PREVIOUS_KEY_FILE] {
                    if let Some(opener) = Self::read_file(&data_dir.join(other))? {
                        key.openers.push(opener);
                    }
                }
                Ok(key)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut key = [0u8; 32];
                rand::rngs::OsRng.fill_bytes(&mut key);
                write_private_file(&path, hex::encode(key).as_bytes()).map_err(|source| {
                    SecretsError::Write {
                        path: path.clone(),
                        source,
                    }
                })?;
                Ok(Self::from_bytes(key))
            }
            Err(source) => Err(SecretsError::Read { path, source }),
        }
    }

    fn read_file(path: &Path) -> Result<Option<Self>, SecretsError> {
        match std::fs::read_to_string(path) {
            Ok(contents) => Self::from_hex(contents.trim(), &path.display().to_string()).map(Some),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(SecretsError::Read {
                path: path.to_path_buf(),
                source,
            }),
        }
    }

    /// The key a rotation moves to: a leftover of an interrupted rotation
    /// (values may be sealed with it already), else a new one, written to
    /// its own file (0600) before anything is sealed with it.
    pub(crate) fn next_for_rotation(data_dir: &Path) -> Result<Self, SecretsError> {
        let path = data_dir.join(NEXT_KEY_FILE);
        if let Some(next) = Self::read_file(&path)? {
            return Ok(next);
        }
        let mut key = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut key);
        write_private_file(&path, hex::encode(key).as_bytes()).map_err(|source| {
            SecretsError::Write {
                path: path.clone(),
                source,
            }
        })?;
        Ok(Self::from_bytes(key))
    }

    /// Ends a rotation once everything is sealed with the next key: the old
    /// key is first copied to the previous-key file, then the next key file
    /// is renamed over the key file — one atomic step, so after a crash at
    /// any point there is a key file, and the key that opens every value is
    /// in one of the three files.
    pub(crate) fn promote_next(data_dir: &Path) -> Result<(), SecretsError> {
        let key_path = data_dir.join(KEY_FILE);
        let current = std::fs::read(&key_path).map_err(|source| SecretsError::Read {
            path: key_path.clone(),
            source,
        })?;
        let write = |path: PathBuf| move |source| SecretsError::Write { path, source };
        let previous = data_dir.join(PREVIOUS_KEY_FILE);
        let temporary = data_dir.join(format!("{PREVIOUS_KEY_FILE}.tmp"));
        match std::fs::remove_file(&temporary) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(write(temporary)(e));
            }
            _ => {}
        }
        write_private_file(&temporary, &current).map_err(write(temporary.clone()))?;
        std::fs::rename(&temporary, &previous).map_err(write(previous))?;
        std::fs::rename(data_dir.join(NEXT_KEY_FILE), &key_path).map_err(write(key_path))?;
        std::fs::File::open(data_dir)
            .and_then(|dir| dir.sync_all())
            .map_err(write(data_dir.to_path_buf()))
    }

    fn from_hex(hex_key: &str, origin: &str) -> Result<Self, SecretsError> {
        let malformed = || SecretsError::Malformed {
            origin: origin.to_string(),
        };
        let bytes = hex::decode(hex_key).map_err(|_| malformed())?;
        let key: [u8; 32] = bytes.try_into().map_err(|_| malformed())?;
        Ok(Self::from_bytes(key))
    }

    fn from_bytes(key: [u8; 32]) -> Self {
        let id = hex::encode(&Sha256::digest(key)[..4]);
        let mut mac_key =
            <Hmac<Sha256> as Mac>::new_from_slice(&key).expect("HMAC takes any key length");
        mac_key.update(b"berth mac key");
        Self {
            id,
            cipher: XChaCha20Poly1305::new(&key.into()),
            mac_key: mac_key.finalize().into_bytes().into(),
            openers: Vec::new(),
        }
    }

    /// An HMAC-SHA256 of `message` for `purpose` (e.g. `dashboard-csrf`), so
    /// that tags made for one purpose never pass for another's.
    pub fn mac(&self, purpose: &str, message: &[u8]) -> [u8; 32] {
        self.mac_for(purpose, message)
            .finalize()
            .into_bytes()
            .into()
    }

    /// Whether `tag` is `mac(purpose, message)`, compared in constant time.
    pub fn verify_mac(&self, purpose: &str, message: &[u8], tag: &[u8]) -> bool {
        self.mac_for(purpose, message).verify_slice(tag).is_ok()
    }

    fn mac_for(&self, purpose: &str, message: &[u8]) -> Hmac<Sha256> {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.mac_key)
            .expect("HMAC takes any key length");
        mac.update(purpose.as_bytes());
        mac.update(&[0]);
        mac.update(message);
        mac
    }

    /// A short public fingerprint of the key, stored beside what it sealed.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Encrypts `plaintext` for storage at `context` (e.g. `config/demo/API_KEY`).
    pub fn seal(&self, context: &str, plaintext: &[u8]) -> String {
        let mut nonce = [0u8; 24];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let ciphertext = self
            .cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad: context.as_bytes(),
                },
            )
            .expect("XChaCha20-Poly1305 encryption cannot fail for in-memory input");
        format!(
            "{PREFIX}:{}:{}{}",
            self.id,
            hex::encode(nonce),
            hex::encode(ciphertext)
        )
    }

    /// Decrypts what `seal` produced for the same `context`.
    pub fn open(&self, context: &str, sealed: &str) -> Result<Vec<u8>, SecretsError> {
        let mut parts = sealed.splitn(3, ':');
        let (Some(PREFIX), Some(key_id), Some(body)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(SecretsError::Damaged);
        };
        if key_id != self.id {
            return match self.openers.iter().find(|opener| opener.id == key_id) {
                Some(opener) => opener.open(context, sealed),
                None => Err(SecretsError::WrongKey {
                    found: key_id.to_string(),
                    current: self.id.clone(),
                }),
            };
        }
        let bytes = hex::decode(body).map_err(|_| SecretsError::Damaged)?;
        if bytes.len() < 24 {
            return Err(SecretsError::Damaged);
        }
        let (nonce, ciphertext) = bytes.split_at(24);
        self.cipher
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| SecretsError::Damaged)
    }
}

/// Writes a file only its owner can read, created with that mode (never
/// briefly world-readable).
pub(crate) fn write_private_file(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(contents)?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn the_key_file_is_created_private_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let first = SecretKey::load_or_create(dir.path(), None).unwrap();
        let mode = std::fs::metadata(dir.path().join(KEY_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let second = SecretKey::load_or_create(dir.path(), None).unwrap();
        assert_eq!(first.id(), second.id());
        let sealed = first.seal("config/demo/KEY", b"hunter2");
        assert_eq!(second.open("config/demo/KEY", &sealed).unwrap(), b"hunter2");
    }

    #[test]
    fn sealed_values_hide_the_plaintext_and_resist_tampering_and_moving() {
        let dir = tempfile::tempdir().unwrap();
        let key = SecretKey::load_or_create(dir.path(), None).unwrap();
        let sealed = key.seal("config/demo/KEY", b"hunter2");
        assert!(!sealed.contains("hunter2"));
        assert_ne!(
            sealed,
            key.seal("config/demo/KEY", b"hunter2"),
            "nonces are random"
        );
        assert!(matches!(
            key.open("config/other/KEY", &sealed),
            Err(SecretsError::Damaged)
        ));
        let mut tampered = sealed.clone();
        let last = tampered.pop().unwrap();
        tampered.push(if last == '0' { '1' } else { '0' });
        assert!(matches!(
            key.open("config/demo/KEY", &tampered),
            Err(SecretsError::Damaged)
        ));
    }

    #[test]
    fn a_key_from_the_environment_wins_and_a_wrong_key_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let file_key = SecretKey::load_or_create(dir.path(), None).unwrap();
        let env_key = SecretKey::load_or_create(dir.path(), Some(&"ab".repeat(32))).unwrap();
        assert_ne!(file_key.id(), env_key.id());
        let sealed = file_key.seal("x", b"v");
        assert!(matches!(
            env_key.open("x", &sealed),
            Err(SecretsError::WrongKey { .. })
        ));
        assert!(matches!(
            SecretKey::load_or_create(dir.path(), Some("short")),
            Err(SecretsError::Malformed { .. })
        ));
    }

    #[test]
    fn values_sealed_around_a_rotation_stay_readable() {
        let dir = tempfile::tempdir().unwrap();
        let old = SecretKey::load_or_create(dir.path(), None).unwrap();
        let next = SecretKey::next_for_rotation(dir.path()).unwrap();
        assert_eq!(
            SecretKey::next_for_rotation(dir.path()).unwrap().id(),
            next.id(),
            "an interrupted rotation resumes with the same key"
        );
        let sealed_by_next = next.seal("x", b"new");
        // Interrupted before the key file moved: the next key still opens.
        let reloaded = SecretKey::load_or_create(dir.path(), None).unwrap();
        assert_eq!(reloaded.id(), old.id());
        assert_eq!(reloaded.open("x", &sealed_by_next).unwrap(), b"new");

        let sealed_by_old = old.seal("x", b"old");
        SecretKey::promote_next(dir.path()).unwrap();
        let rotated = SecretKey::load_or_create(dir.path(), None).unwrap();
        assert_eq!(rotated.id(), next.id());
        assert_eq!(
            rotated.open("x", &sealed_by_old).unwrap(),
            b"old",
            "the previous key still opens"
        );
        assert!(!dir.path().join(NEXT_KEY_FILE).exists());
    }

    #[test]
    fn a_promotion_interrupted_before_its_rename_keeps_both_keys_at_hand() {
        let dir = tempfile::tempdir().unwrap();
        let old = SecretKey::load_or_create(dir.path(), None).unwrap();
        let next = SecretKey::next_for_rotation(dir.path()).unwrap();
        let sealed_by_next = next.seal("x", b"new");
        // The state a crash between the copy and the rename leaves.
        std::fs::copy(
            dir.path().join(KEY_FILE),
            dir.path().join(PREVIOUS_KEY_FILE),
        )
        .unwrap();
        let reloaded = SecretKey::load_or_create(dir.path(), None).unwrap();
        assert_eq!(reloaded.id(), old.id());
        assert_eq!(reloaded.open("x", &sealed_by_next).unwrap(), b"new");
        SecretKey::promote_next(dir.path()).unwrap();
        let rotated = SecretKey::load_or_create(dir.path(), None).unwrap();
        assert_eq!(rotated.id(), next.id());
        assert_eq!(rotated.open("x", &old.seal("x", b"old")).unwrap(), b"old");
    }
}
