use std::fmt;

/// The name of a managed host, as users see it in `berth hosts` and `berth ps`:
/// 1–63 characters of lowercase letters, digits and dashes, starting with a
/// letter and not ending with a dash (a DNS label, so it fits where a host
/// name goes). The host berthd starts with is named [`HostName::DEFAULT`]
/// unless the operator names it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct HostName(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HostNameError {
    #[error("host name {0:?} is empty or too long: use 1 to 63 characters")]
    BadLength(String),
    #[error("host name {0:?} must start with a lowercase letter")]
    BadStart(String),
    #[error("host name {0:?} must not end with a dash")]
    BadEnd(String),
    #[error("host name {name:?} has {found:?}: use only lowercase letters, digits and dashes")]
    BadCharacter { name: String, found: char },
}

impl HostName {
    pub const DEFAULT: &'static str = "default";
    pub const MAX_LEN: usize = 63;

    pub fn parse(name: &str) -> Result<Self, HostNameError> {
        let owned = || name.to_string();
        if let Some(found) = name
            .chars()
            .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
        {
            return Err(HostNameError::BadCharacter {
                name: owned(),
                found,
            });
        }
        if name.is_empty() || name.len() > Self::MAX_LEN {
            return Err(HostNameError::BadLength(owned()));
        }
        if !name.starts_with(|c: char| c.is_ascii_lowercase()) {
            return Err(HostNameError::BadStart(owned()));
        }
        if name.ends_with('-') {
            return Err(HostNameError::BadEnd(owned()));
        }
        Ok(Self(owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for HostName {
    fn default() -> Self {
        Self(Self::DEFAULT.to_string())
    }
}

impl fmt::Display for HostName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_names_are_dns_labels_starting_with_a_letter() {
        for good in ["default", "h2", "zone-b-1", "a", &"a".repeat(63)] {
            assert_eq!(HostName::parse(good).unwrap().as_str(), good);
        }
        assert_eq!(
            HostName::parse("").unwrap_err(),
            HostNameError::BadLength(String::new())
        );
        assert!(matches!(
            HostName::parse(&"a".repeat(64)),
            Err(HostNameError::BadLength(_))
        ));
        assert!(matches!(
            HostName::parse("2nd"),
            Err(HostNameError::BadStart(_))
        ));
        assert!(matches!(
            HostName::parse("h2-"),
            Err(HostNameError::BadEnd(_))
        ));
        assert_eq!(
            HostName::parse("H2").unwrap_err().to_string(),
            "host name \"H2\" has 'H': use only lowercase letters, digits and dashes"
        );
        assert!(matches!(
            HostName::parse("h2.internal"),
            Err(HostNameError::BadCharacter { found: '.', .. })
        ));
        assert_eq!(HostName::default().as_str(), "default");
    }
}
