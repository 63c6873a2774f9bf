//! What the proxy changes in headers: hop-by-hop ones go, forwarding ones
//! come, and every request carries an id.

use std::net::SocketAddr;

use hyper::header::{HeaderMap, HeaderName, HeaderValue, CONNECTION, UPGRADE};

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
