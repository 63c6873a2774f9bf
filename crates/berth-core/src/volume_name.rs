use std::fmt;

use serde::{Deserialize, Serialize};

/// The name of an app's persistent volume (`uploads`, `pg-data`): 1–30
/// lowercase letters, digits, `_` and `-`, starting with a letter, as a
/// process type is named, so that it fits in the engine's volume name
/// beside the app's.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct VolumeName(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VolumeNameError {
    #[error("volume name {0:?} is empty or too long: use 1 to 30 characters")]
    BadLength(String),
    #[error("volume name {0:?} must start with a lowercase letter")]
    BadStart(String),
    #[error("volume name {name:?} has {found:?}: use only lowercase letters, digits, '_' and '-'")]
    BadCharacter { name: String, found: char },
}

impl VolumeName {
    pub const MAX_LEN: usize = 30;

    pub fn parse(name: &str) -> Result<Self, VolumeNameError> {
        if let Some(found) = name
            .chars()
            .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_' || *c == '-'))
        {
            return Err(VolumeNameError::BadCharacter {
                name: name.to_string(),
                found,
            });
        }
        if name.is_empty() || name.len() > Self::MAX_LEN {
            return Err(VolumeNameError::BadLength(name.to_string()));
        }
        if !name.starts_with(|c: char| c.is_ascii_lowercase()) {
            return Err(VolumeNameError::BadStart(name.to_string()));
        }
        Ok(Self(name.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for VolumeName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for VolumeName {
    type Error = VolumeNameError;

    fn try_from(name: String) -> Result<Self, Self::Error> {
        Self::parse(&name)
    }
}

impl From<VolumeName> for String {
    fn from(name: VolumeName) -> Self {
        name.0
    }
}

/// Where a volume is mounted in its containers: an absolute path, at most
/// 255 bytes, without `.`/`..` components, and not the root or a directory
/// the container needs for itself (`/proc`, `/sys`, `/dev`).
pub fn check_mount_path(path: &str) -> Result<(), String> {
    if !path.starts_with('/') || path.len() > 255 || path.contains('\0') || path.contains(':') {
        return Err(format!(
            "mount path {path:?} must be an absolute path (starting with '/') of at most 255 \
             characters, without ':'"
        ));
    }
    let components: Vec<&str> = path.split('/').filter(|c| !c.is_empty()).collect();
    if components.iter().any(|c| *c == "." || *c == "..") {
        return Err(format!(
            "mount path {path:?} may not contain '.' or '..' components"
        ));
    }
    match components.first() {
        None => Err("a volume cannot be mounted at '/'".into()),
        Some(&("proc" | "sys" | "dev")) => Err(format!(
            "a volume cannot be mounted under /{}: the container needs it",
            components[0]
        )),
        Some(_) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn volume_names_follow_the_rule() {
        assert_eq!(VolumeName::parse("pg-data").unwrap().as_str(), "pg-data");
        assert!(VolumeName::parse("").is_err());
        assert!(VolumeName::parse(&"a".repeat(31)).is_err());
        assert!(VolumeName::parse("1data").is_err());
        assert!(VolumeName::parse("Data").is_err());
        assert!(VolumeName::parse("a/b").is_err());
        let json = serde_json::to_string(&VolumeName::parse("pg-data").unwrap()).unwrap();
        assert_eq!(json, r#""pg-data""#);
        assert!(serde_json::from_str::<VolumeName>(r#""Bad""#).is_err());
    }

    #[test]
    fn mount_paths_are_absolute_and_harmless() {
        assert!(check_mount_path("/data").is_ok());
        assert!(check_mount_path("/var/lib/app/").is_ok());
        assert!(check_mount_path("data").is_err());
        assert!(check_mount_path("/").is_err());
        assert!(check_mount_path("/proc/x").is_err());
        assert!(check_mount_path("/a/../etc").is_err());
        assert!(check_mount_path("/a:rw").is_err());
        assert!(check_mount_path(&format!("/{}", "a".repeat(300))).is_err());
    }
}
