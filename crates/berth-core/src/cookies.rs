//! Which cookies are Berth's own. The dashboard's cookies share a host (and
//! so a cookie scope, ports being ignored) with apps the router serves; the
//! router removes these from every request it forwards, so no app ever sees
//! a Berth session.

/// Every cookie Berth sets has a name starting with one of these
/// (`berth_session`, `berth_csrf`, `berth_flash`, `__Host-berth_session`).
pub const BERTH_COOKIE_PREFIXES: [&str; 2] = ["berth_", "__Host-berth_"];

/// Whether a cookie named `name` is Berth's own.
pub fn is_berth_cookie(name: &[u8]) -> bool {
    BERTH_COOKIE_PREFIXES
        .iter()
        .any(|prefix| name.starts_with(prefix.as_bytes()))
}

/// The `name=value` pairs of a `Cookie` header value, without surrounding
/// whitespace (RFC 6265 §4.2: pairs separated by `;`).
pub fn cookie_pairs(header_value: &[u8]) -> impl Iterator<Item = &[u8]> {
    header_value
        .split(|&byte| byte == b';')
        .map(<[u8]>::trim_ascii)
        .filter(|pair| !pair.is_empty())
}

/// The name of a `name=value` pair (a pair without `=` is all name).
fn pair_name(pair: &[u8]) -> &[u8] {
    let name = match pair.iter().position(|&byte| byte == b'=') {
        Some(at) => &pair[..at],
        None => pair,
    };
    name.trim_ascii()
}

/// Whether a `Cookie` header value carries any of Berth's cookies.
pub fn has_berth_cookie(header_value: &[u8]) -> bool {
    cookie_pairs(header_value).any(|pair| is_berth_cookie(pair_name(pair)))
}

/// The pairs of a `Cookie` header value that are not Berth's, in order.
pub fn foreign_cookies(header_value: &[u8]) -> impl Iterator<Item = &[u8]> {
    cookie_pairs(header_value).filter(|pair| !is_berth_cookie(pair_name(pair)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kept(value: &str) -> Vec<String> {
        foreign_cookies(value.as_bytes())
            .map(|pair| String::from_utf8(pair.to_vec()).unwrap())
            .collect()
    }

    #[test]
    fn berth_cookies_are_recognised_by_prefix() {
        for name in [
            "berth_session",
            "berth_csrf",
            "berth_flash",
            "__Host-berth_session",
        ] {
            assert!(is_berth_cookie(name.as_bytes()), "{name}");
        }
        for name in [
            "session",
            "berth",
            "berthsession",
            "x_berth_session",
            "__Host-session",
        ] {
            assert!(!is_berth_cookie(name.as_bytes()), "{name}");
        }
    }

    #[test]
    fn only_the_apps_own_cookies_are_kept_intact() {
        assert_eq!(
            kept(
                "theme=dark; berth_session=abc.def; __Host-berth_session=x;cart=a=b; berth_csrf=1"
            ),
            ["theme=dark", "cart=a=b"]
        );
        assert!(has_berth_cookie(b"a=1;  berth_flash=hello"));
        assert!(!has_berth_cookie(b"a=1; berthday=2"));
        assert!(kept("berth_session=1; berth_csrf=2").is_empty());
        assert!(kept(" ; ").is_empty());
    }
}
