use std::fmt;

/// A custom domain's hostname, as DNS and the router see it: IDNA
/// converted to punycode, lowercase, at most 253 characters, at least two
/// labels of 1–63 characters of `[a-z0-9-]`, none starting or ending with a
/// dash.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Hostname(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HostnameError {
    #[error("{0:?} is not a hostname: it is empty")]
    Empty(String),
    #[error(
        "{0:?} is a wildcard: wildcard domains need wildcard certificates, which need the \
         DNS-01 challenge, which Berth does not do yet; add each hostname instead"
    )]
    Wildcard(String),
    #[error("{0:?} is not a valid international domain name")]
    Idna(String),
    #[error("{0:?} is too long: a hostname has at most 253 characters")]
    TooLong(String),
    #[error("{0:?} needs at least two labels, e.g. example.com")]
    OneLabel(String),
    #[error("{name:?} has a label {label:?} that is {why}")]
    BadLabel {
        name: String,
        label: String,
        why: &'static str,
    },
}

impl Hostname {
    pub const MAX_LEN: usize = 253;
    pub const MAX_LABEL_LEN: usize = 63;

    /// Parses what a user typed: surrounding spaces and one trailing dot
    /// (the DNS root) are dropped, Unicode is converted to punycode.
    pub fn parse(input: &str) -> Result<Self, HostnameError> {
        let owned = || input.to_string();
        let trimmed = input.trim();
        let trimmed = trimmed.strip_suffix('.').unwrap_or(trimmed);
        if trimmed.is_empty() {
            return Err(HostnameError::Empty(owned()));
        }
        if trimmed.split('.').any(|label| label == "*") {
            return Err(HostnameError::Wildcard(owned()));
        }
        // Checked before IDNA so that its mapping (which drops or folds some
        // characters) cannot turn a bad label into a good one silently.
        if trimmed.contains(|c: char| {
            c.is_ascii() && !(c.is_ascii_alphanumeric() || c == '-' || c == '.')
        }) {
            let found = trimmed
                .split('.')
                .find(|label| {
                    label
                        .chars()
                        .any(|c| c.is_ascii() && !(c.is_ascii_alphanumeric() || c == '-'))
                })
                .unwrap_or(trimmed);
            return Err(HostnameError::BadLabel {
                name: owned(),
                label: found.to_string(),
                why: "not made of letters, digits and dashes",
            });
        }
        let ascii = idna::domain_to_ascii(trimmed).map_err(|_| HostnameError::Idna(owned()))?;
        if ascii.len() > Self::MAX_LEN {
            return Err(HostnameError::TooLong(owned()));
        }
        let labels: Vec<&str> = ascii.split('.').collect();
        if labels.len() < 2 {
            return Err(HostnameError::OneLabel(owned()));
        }
        for label in &labels {
            let bad = |why| HostnameError::BadLabel {
                name: owned(),
                label: label.to_string(),
                why,
            };
            if label.is_empty() {
                return Err(bad("empty"));
            }
            if label.len() > Self::MAX_LABEL_LEN {
                return Err(bad("longer than 63 characters"));
            }
            if !label
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            {
                return Err(bad("not made of letters, digits and dashes"));
            }
            if label.starts_with('-') || label.ends_with('-') {
                return Err(bad("starting or ending with a dash"));
            }
        }
        Ok(Self(ascii))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether this is `suffix` itself or a name under it.
    pub fn is_within(&self, suffix: &str) -> bool {
        let suffix = suffix.trim_end_matches('.').to_ascii_lowercase();
        self.0 == suffix || self.0.ends_with(&format!(".{suffix}"))
    }

    /// A name of two labels (`example.com`) is taken for a zone apex, which
    /// cannot hold a CNAME. Without the public suffix list, apexes under
    /// two-label suffixes (`example.co.uk`) pass for subdomains.
    pub fn is_apex(&self) -> bool {
        self.0.matches('.').count() == 1
    }
}

impl fmt::Display for Hostname {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lowercases_and_drops_the_root_dot() {
        assert_eq!(
            Hostname::parse(" Shop.Example.COM. ").unwrap().as_str(),
            "shop.example.com"
        );
    }

    #[test]
    fn converts_international_names_to_punycode() {
        assert_eq!(
            Hostname::parse("bücher.example").unwrap().as_str(),
            "xn--bcher-kva.example"
        );
    }

    #[test]
    fn refuses_wildcards_with_the_reason() {
        let error = Hostname::parse("*.example.com").unwrap_err();
        assert_eq!(error, HostnameError::Wildcard("*.example.com".into()));
        assert!(error.to_string().contains("DNS-01"), "{error}");
    }

    #[test]
    fn refuses_single_labels_and_empty_labels() {
        assert_eq!(
            Hostname::parse("localhost"),
            Err(HostnameError::OneLabel("localhost".into()))
        );
        assert!(matches!(
            Hostname::parse("shop..example.com"),
            Err(HostnameError::BadLabel { why: "empty", .. })
        ));
        assert_eq!(Hostname::parse(" "), Err(HostnameError::Empty(" ".into())));
    }

    #[test]
    fn refuses_bad_characters_and_dashes_at_label_ends() {
        for bad in [
            "shop_1.example.com",
            "shop.example.com/path",
            "shop.example.com:8080",
            "user@example.com",
            "-shop.example.com",
            "shop-.example.com",
        ] {
            assert!(
                matches!(Hostname::parse(bad), Err(HostnameError::BadLabel { .. })),
                "{bad}: {:?}",
                Hostname::parse(bad)
            );
        }
    }

    #[test]
    fn limits_label_and_total_length() {
        let label63 = "a".repeat(63);
        assert!(Hostname::parse(&format!("{label63}.com")).is_ok());
        assert!(matches!(
            Hostname::parse(&format!("{}a.com", label63)),
            Err(HostnameError::BadLabel { .. })
        ));
        // 4 labels of 63 and dots: 255 characters.
        let long = [label63.as_str(); 4].join(".");
        assert!(matches!(
            Hostname::parse(&long),
            Err(HostnameError::TooLong(_) | HostnameError::Idna(_))
        ));
        let longest = format!("{}.{}", [label63.as_str(); 3].join("."), "a".repeat(61));
        assert_eq!(longest.len(), 253);
        assert!(Hostname::parse(&longest).is_ok());
    }

    #[test]
    fn knows_apexes_and_suffixes() {
        let apex = Hostname::parse("example.com").unwrap();
        assert!(apex.is_apex());
        let shop = Hostname::parse("shop.example.com").unwrap();
        assert!(!shop.is_apex());
        assert!(shop.is_within("example.com"));
        assert!(shop.is_within("shop.example.com"));
        assert!(!shop.is_within("op.example.com"));
        assert!(!apex.is_within("shop.example.com"));
    }
}
