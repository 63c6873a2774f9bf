use std::fmt;

/// A custom domain's hostname, as DNS and the router see it: IDNA
/// converted to punycode, lowercase, at most 253 characters, at least two
/// labels of 1–63 characters of `[a-z0-9-]`, none starting or ending with a
/// dash, and never an IP address in any spelling a browser accepts.
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
    #[error(
        "{0:?} is an IP address, not a domain name: browsers send a host's cookies to every \
         port of it, so an app there could read the dashboard's; IP literals are never custom \
         domains"
    )]
    IpLiteral(String),
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
        let unbracketed = trimmed
            .strip_prefix('[')
            .and_then(|rest| rest.strip_suffix(']'))
            .unwrap_or(trimmed);
        if unbracketed.parse::<std::net::Ipv6Addr>().is_ok() {
            return Err(HostnameError::IpLiteral(owned()));
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
        // After IDNA, which folds e.g. full-width digits into ASCII ones, as
        // a browser's URL parser does before it looks for an IPv4 address.
        if ends_in_a_number(&ascii) {
            return Err(HostnameError::IpLiteral(owned()));
        }
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

/// The WHATWG URL standard's "ends in a number": a host whose last label
/// is all digits, or `0x` and hex digits, is parsed as an IPv4 address
/// (`1.2.3.04`, `0x7f.1`, `2130706433`), or refused when it is not one.
fn ends_in_a_number(ascii: &str) -> bool {
    let last = ascii.rsplit('.').next().unwrap_or(ascii);
    let hex = last.strip_prefix("0x").or_else(|| last.strip_prefix("0X"));
    match hex {
        Some(digits) => digits.bytes().all(|b| b.is_ascii_hexdigit()),
        None => !last.is_empty() && last.bytes().all(|b| b.is_ascii_digit()),
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
    fn refuses_ip_addresses_in_every_spelling_a_browser_reads_as_one() {
        for address in [
            "127.0.0.1",
            "127.0.0.1.",
            "1.2.3.04",
            "0x7f.1",
            "0X7F.0.0.1",
            "127.1",
            "shop.example.1",
            "example.0x",
            "\u{ff11}\u{ff12}\u{ff17}.0.0.1",
            "::1",
            "[::1]",
            "::ffff:127.0.0.1",
            "[2001:db8::1]",
        ] {
            assert_eq!(
                Hostname::parse(address),
                Err(HostnameError::IpLiteral(address.to_string())),
                "{address}"
            );
        }
        let error = Hostname::parse("127.0.0.1").unwrap_err().to_string();
        assert!(error.contains("IP address"), "{error}");
        for name in [
            "1.example.com",
            "123.456.example.com",
            "shop.0xample.com",
            "shop.example.1a",
        ] {
            assert!(Hostname::parse(name).is_ok(), "{name}");
        }
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
