//! What the proxy changes in headers: hop-by-hop ones go, forwarding ones
//! come, and every request carries an id.

use std::net::SocketAddr;

use berth_core::cookies;
use hyper::header::{
    HeaderMap, HeaderName, HeaderValue, CONNECTION, CONTENT_LENGTH, COOKIE, TRANSFER_ENCODING,
    UPGRADE,
};

/// Headers that concern one connection, never forwarded (RFC 9110 §7.6.1).
const HOP_BY_HOP: [&str; 8] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
];

/// Removes hop-by-hop headers, including those the `Connection` header names.
/// `Upgrade` stays (with `Connection: upgrade`) when the exchange is an upgrade.
/// Whether `name` is a hop-by-hop header (any case).
pub(crate) fn is_hop_by_hop(name: &str) -> bool {
    HOP_BY_HOP
        .iter()
        .any(|hop_by_hop| hop_by_hop.eq_ignore_ascii_case(name))
}

pub(crate) fn strip_hop_by_hop(headers: &mut HeaderMap, keep_upgrade: bool) {
    let named: Vec<HeaderName> = headers
        .get_all(CONNECTION)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok())
        .collect();
    for name in named {
        if !(keep_upgrade && name == UPGRADE) {
            headers.remove(name);
        }
    }
    for name in HOP_BY_HOP {
        headers.remove(name);
    }
    if keep_upgrade {
        headers.insert(CONNECTION, HeaderValue::from_static("upgrade"));
    } else {
        headers.remove(UPGRADE);
    }
}

/// A client's `X-Request-Id` is kept when it looks like one (20–200 of
/// `[A-Za-z0-9+/=-]`, as Heroku's router accepts); otherwise a new one.
pub(crate) fn request_id(headers: &HeaderMap) -> String {
    kept_or_new_request_id(
        headers
            .get("x-request-id")
            .and_then(|value| value.to_str().ok()),
    )
}

/// The client's request id when it looks like one, otherwise a new one.
pub(crate) fn kept_or_new_request_id(given: Option<&str>) -> String {
    match given {
        Some(id)
            if (20..=200).contains(&id.len())
                && id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"+/=-".contains(&b)) =>
        {
            id.to_string()
        }
        _ => format!("{:032x}", rand::random::<u128>()),
    }
}

/// The headers an upstream gets.
pub(crate) fn forward(
    headers: &mut HeaderMap,
    host: &str,
    peer: SocketAddr,
    local_port: u16,
    request_id: &str,
    upgrade: bool,
) {
    strip_hop_by_hop(headers, upgrade);
    strip_berth_cookies(headers);
    let client = peer.ip().to_string();
    let forwarded_for = match headers.get("x-forwarded-for").and_then(|v| v.to_str().ok()) {
        Some(earlier) => format!("{earlier}, {client}"),
        None => client,
    };
    let via = match headers.get("via").and_then(|v| v.to_str().ok()) {
        Some(earlier) => format!("{earlier}, 1.1 berth"),
        None => "1.1 berth".to_string(),
    };
    let port = local_port.to_string();
    for (name, value) in [
        ("x-forwarded-for", forwarded_for.as_str()),
        ("x-forwarded-proto", "http"),
        ("x-forwarded-port", &port),
        ("x-forwarded-host", host),
        ("x-request-id", request_id),
        ("via", &via),
        ("host", host),
    ] {
        if let Ok(value) = HeaderValue::from_str(value) {
            headers.insert(name, value);
        }
    }
}

/// Removes Berth's own cookies (the dashboard's session among them) from
/// the `Cookie` headers, keeping the app's; no `Cookie` header is left when
/// only Berth's were there.
pub(crate) fn strip_berth_cookies(headers: &mut HeaderMap) {
    if !headers
        .get_all(COOKIE)
        .iter()
        .any(|value| cookies::has_berth_cookie(value.as_bytes()))
    {
        return;
    }
    let mut kept = Vec::new();
    for value in headers.get_all(COOKIE) {
        for pair in cookies::foreign_cookies(value.as_bytes()) {
            if !kept.is_empty() {
                kept.extend_from_slice(b"; ");
            }
            kept.extend_from_slice(pair);
        }
    }
    headers.remove(COOKIE);
    if let (false, Ok(value)) = (kept.is_empty(), HeaderValue::from_bytes(&kept)) {
        headers.insert(COOKIE, value);
    }
}

/// Whether a response says both a transfer coding and a length: which one
/// ends its body is then up to each reader (RFC 9112 §6.3), so it is not
/// passed on.
pub(crate) fn has_ambiguous_framing(headers: &HeaderMap) -> bool {
    headers.contains_key(TRANSFER_ENCODING) && headers.contains_key(CONTENT_LENGTH)
}

/// Leaves one `Content-Length` where an app sent several (or a list): hyper
/// has checked they agree; the client gets the one value.
pub(crate) fn one_content_length(headers: &mut HeaderMap) {
    let mut values = headers.get_all(CONTENT_LENGTH).iter();
    let Some(first) = values.next() else { return };
    if values.next().is_none() && !first.as_bytes().contains(&b',') {
        return;
    }
    let length = first
        .as_bytes()
        .split(|&b| b == b',')
        .next()
        .map(<[u8]>::trim_ascii)
        .and_then(|digits| HeaderValue::from_bytes(digits).ok());
    headers.remove(CONTENT_LENGTH);
    if let Some(length) = length {
        headers.insert(CONTENT_LENGTH, length);
    }
}

/// Marks a request that reached the router over TLS (its
/// `X-Forwarded-Port` is already the TLS listener's).
pub(crate) fn forwarded_over_tls(headers: &mut HeaderMap) {
    headers.insert("x-forwarded-proto", HeaderValue::from_static("https"));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hop_by_hop_headers_and_those_connection_names_go() {
        let mut headers = HeaderMap::new();
        headers.insert(
            "connection",
            HeaderValue::from_static("keep-alive, x-secret"),
        );
        headers.insert("keep-alive", HeaderValue::from_static("timeout=5"));
        headers.insert("x-secret", HeaderValue::from_static("1"));
        headers.insert("upgrade", HeaderValue::from_static("websocket"));
        headers.insert("accept", HeaderValue::from_static("*/*"));
        strip_hop_by_hop(&mut headers, false);
        let names: Vec<_> = headers.keys().map(|k| k.as_str()).collect();
        assert_eq!(names, ["accept"]);
    }

    #[test]
    fn upgrades_keep_their_upgrade_header() {
        let mut headers = HeaderMap::new();
        headers.insert("connection", HeaderValue::from_static("Upgrade"));
        headers.insert("upgrade", HeaderValue::from_static("websocket"));
        strip_hop_by_hop(&mut headers, true);
        assert_eq!(headers["upgrade"], "websocket");
        assert_eq!(headers["connection"], "upgrade");
    }

    #[test]
    fn forwarding_headers_are_added_to_what_came_before() {
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", HeaderValue::from_static("203.0.113.9"));
        let peer = SocketAddr::from(([127, 0, 0, 1], 5555));
        forward(
            &mut headers,
            "demo.localhost:8080",
            peer,
            8080,
            "abc",
            false,
        );
        assert_eq!(headers["x-forwarded-for"], "203.0.113.9, 127.0.0.1");
        assert_eq!(headers["x-forwarded-proto"], "http");
        assert_eq!(headers["x-forwarded-port"], "8080");
        assert_eq!(headers["x-forwarded-host"], "demo.localhost:8080");
        assert_eq!(headers["via"], "1.1 berth");
        assert_eq!(headers["host"], "demo.localhost:8080");
    }

    #[test]
    fn berth_cookies_never_go_upstream() {
        let mut headers = HeaderMap::new();
        headers.append(
            "cookie",
            HeaderValue::from_static("theme=dark; berth_session=s3cret"),
        );
        headers.append(
            "cookie",
            HeaderValue::from_static("__Host-berth_session=s3cret; cart=3"),
        );
        let peer = SocketAddr::from(([127, 0, 0, 1], 5555));
        forward(&mut headers, "demo.localhost", peer, 8080, "abc", false);
        let cookies: Vec<_> = headers.get_all("cookie").iter().collect();
        assert_eq!(cookies, ["theme=dark; cart=3"]);

        headers.insert(
            "cookie",
            HeaderValue::from_static("berth_csrf=1; berth_flash=2"),
        );
        strip_berth_cookies(&mut headers);
        assert!(!headers.contains_key("cookie"));
    }

    #[test]
    fn request_ids_are_kept_only_when_plausible() {
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-request-id",
            HeaderValue::from_static("0123456789abcdef0123"),
        );
        assert_eq!(request_id(&headers), "0123456789abcdef0123");
        headers.insert("x-request-id", HeaderValue::from_static("short"));
        let generated = request_id(&headers);
        assert_eq!(generated.len(), 32);
        assert_ne!(generated, "short");
    }
}
