//! What a browser carries between pages: the session cookie, the
//! pre-session cookie of a browser not signed in, and the flash message of
//! the last action; the CSRF check of every form and the origin check of
//! every change; and the security headers every page is sent with.
//!
//! Cookies can be planted by any site under the same registrable domain
//! (an app at `shop.localhost` on the dashboard at `localhost`), so no
//! cookie vouches for a form by itself. A form's token is an HMAC, under the
//! platform's secret key, of the session's token id (or, before sign-in, of
//! the pre-session cookie): a planted cookie gives a token nobody but the
//! server can compute, and a token of one session fails in another. Every
//! change must also come from the dashboard's own origin. Over TLS, cookie
//! names carry the `__Host-` prefix, which browsers refuse to let another
//! host set.

use std::collections::BTreeMap;

use axum::extract::{FromRequest, FromRequestParts, Request, State};
use axum::http::header::{COOKIE, HOST, ORIGIN, REFERER, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use base64::Engine as _;
use berth_platform::secrets::SecretKey;
use berth_platform::Session;
use rand::RngCore;
use serde::de::DeserializeOwned;

use super::error::DashboardError;
use crate::AppState;

/// Holds the signed-in browser's API token.
const SESSION_COOKIE: &str = "berth_session";
/// A random value naming a browser before it signs in: the sign-in form's
/// token is bound to it.
const PRESESSION_COOKIE: &str = "berth_presession";
const FLASH_COOKIE: &str = "berth_flash";
/// The MAC purpose of flash cookies.
const FLASH_PURPOSE: &str = "dashboard-flash";

/// What the form tokens of signed-in browsers and of the sign-in form are
/// MACs for: one never passes for the other.
const SESSION_FORM_PURPOSE: &str = "dashboard-form/session";
const SIGN_IN_FORM_PURPOSE: &str = "dashboard-form/sign-in";

/// Scripts and styles come from `static/` only: no inline code runs.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; \
     frame-ancestors 'none'; base-uri 'none'; object-src 'none'";

/// The value every form of this browser must send back in its `csrf` field.
#[derive(Clone)]
pub(crate) struct CsrfToken(pub String);

/// Whether the browser reached us over TLS (directly or through a proxy
/// that says so): cookies are then `Secure` and named `__Host-…`.
#[derive(Clone, Copy)]
pub(crate) struct OverTls(pub bool);

impl OverTls {
    fn of(headers: &HeaderMap) -> Self {
        Self(
            headers
                .get("x-forwarded-proto")
                .is_some_and(|proto| proto == "https"),
        )
    }
}

/// A Berth cookie's name on this transport: `berth_…`, or over TLS
/// `__Host-berth_…` (Secure, `Path=/`, no `Domain`: only this host sets it).
pub(crate) fn cookie_name(base: &str, tls: OverTls) -> String {
    if tls.0 {
        format!("__Host-{base}")
    } else {
        base.to_string()
    }
}

/// The dashboard session's token a request carries, under the cookie name
/// of the transport it came over.
pub(crate) fn session_token(headers: &HeaderMap) -> Option<&str> {
    cookie(headers, &cookie_name(SESSION_COOKIE, OverTls::of(headers)))
}

/// Sets (or with `max_age` 0 clears) the session cookie.
pub(crate) fn set_session_cookie(token: &str, max_age: u64, tls: OverTls) -> HeaderValue {
    set_cookie(SESSION_COOKIE, token, Some(max_age), tls)
}

/// What the last action said, shown once on the next page.
#[derive(Clone)]
pub(crate) struct Flash {
    pub kind: FlashKind,
    pub message: String,
    /// What was typed into the form the message is about, to put back in
    /// it (a failed sign-in's email; never a secret).
    pub typed: Option<String>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum FlashKind {
    Success,
    Error,
}

impl Flash {
    pub(crate) fn class(&self) -> &'static str {
        match self.kind {
            FlashKind::Success => "flash flash-success",
            FlashKind::Error => "flash flash-error",
        }
    }

    /// The cookie's value: the flash, then its MAC under the platform's
    /// key, so that a cookie set by another site on a parent domain (an
    /// app's, say) never puts its words or an email on a dashboard page.
    fn encode(&self, secrets: &SecretKey) -> String {
        let kind = match self.kind {
            FlashKind::Success => "ok",
            FlashKind::Error => "error",
        };
        let base64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let message = base64.encode(&self.message);
        let payload = match &self.typed {
            Some(typed) => format!("{kind}.{message}.{}", base64.encode(typed)),
            None => format!("{kind}.{message}"),
        };
        let tag = base64.encode(secrets.mac(FLASH_PURPOSE, payload.as_bytes()));
        format!("{payload}.{tag}")
    }

    fn decode(value: &str, secrets: &SecretKey) -> Option<Self> {
        let (payload, tag) = value.rsplit_once('.')?;
        let tag = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(tag)
            .ok()?;
        if !secrets.verify_mac(FLASH_PURPOSE, payload.as_bytes(), &tag) {
            return None;
        }
        let mut parts = payload.split('.');
        let kind = match parts.next()? {
            "ok" => FlashKind::Success,
            "error" => FlashKind::Error,
            _ => return None,
        };
        let text = |part: &str| {
            let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(part)
                .ok()?;
            String::from_utf8(bytes).ok()
        };
        let message = text(parts.next()?)?;
        let typed = match parts.next() {
            Some(part) => Some(text(part)?),
            None => None,
        };
        Some(Self {
            kind,
            message,
            typed,
        })
    }
}

pub(crate) fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
        .filter(|value| !value.is_empty())
}

/// A `Set-Cookie` value for the cookie `base` (named for the transport):
/// HttpOnly and SameSite=Lax always, Secure over TLS; no `max_age` means a
/// cookie that lasts as long as the browser session.
fn set_cookie(base: &str, value: &str, max_age: Option<u64>, tls: OverTls) -> HeaderValue {
    let name = cookie_name(base, tls);
    let mut cookie = format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax");
    if let Some(seconds) = max_age {
        cookie.push_str(&format!("; Max-Age={seconds}"));
    }
    if tls.0 {
        cookie.push_str("; Secure");
    }
    HeaderValue::from_str(&cookie).expect("cookie values are ASCII")
}

fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// Refuses changes from other origins; gives every request the sign-in
/// form's token (minting the pre-session cookie on first visit) and the
/// pending flash message, and every response the security headers.
pub(crate) async fn browser_state(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let tls = OverTls::of(request.headers());
    if request.method() != Method::GET
        && request.method() != Method::HEAD
        && !from_own_origin(request.headers(), tls)
    {
        return DashboardError::ForeignOrigin.into_response();
    }
    let flash_cookie = cookie_name(FLASH_COOKIE, tls);
    let existing = cookie(request.headers(), &cookie_name(PRESESSION_COOKIE, tls))
        .filter(|value| value.len() == 64 && value.bytes().all(|b| b.is_ascii_hexdigit()))
        .map(str::to_string);
    let minted = existing.is_none();
    let presession = existing.unwrap_or_else(random_token);
    let secrets = state.platform.secrets();
    let flash =
        cookie(request.headers(), &flash_cookie).and_then(|value| Flash::decode(value, secrets));
    let had_flash = cookie(request.headers(), &flash_cookie).is_some();
    let sign_in_token = form_token(&state, SIGN_IN_FORM_PURPOSE, &presession);
    request.extensions_mut().insert(CsrfToken(sign_in_token));
    request.extensions_mut().insert(tls);
    if let Some(flash) = flash {
        request.extensions_mut().insert(flash);
    }

    let mut response = next.run(request).await;
    let carried = response.extensions_mut().remove::<Flash>();
    let headers = response.headers_mut();
    if let Some(flash) = carried {
        let sealed = flash.encode(secrets);
        headers.append(SET_COOKIE, set_cookie(FLASH_COOKIE, &sealed, Some(60), tls));
    } else if had_flash {
        headers.append(SET_COOKIE, set_cookie(FLASH_COOKIE, "", Some(0), tls));
    }
    if minted {
        headers.append(
            SET_COOKIE,
            set_cookie(PRESESSION_COOKIE, &presession, None, tls),
        );
    }
    for (name, value) in [
        ("content-security-policy", CONTENT_SECURITY_POLICY),
        ("x-content-type-options", "nosniff"),
        ("referrer-policy", "same-origin"),
        ("x-frame-options", "DENY"),
        ("cache-control", "no-store"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}

/// Whether a change comes from the dashboard's own origin, by `Origin`, or
/// by `Referer` when a browser sent no `Origin`. A request with neither is
/// not from a browser page (browsers send `Origin` with every form POST),
/// so no other site can have caused it; its form token still must match.
fn from_own_origin(headers: &HeaderMap, tls: OverTls) -> bool {
    let Some(host) = headers.get(HOST).and_then(|host| host.to_str().ok()) else {
        return false;
    };
    let own = format!("{}://{host}", if tls.0 { "https" } else { "http" });
    let header = |name| headers.get(name).map(|value| value.to_str().unwrap_or(""));
    match (header(ORIGIN), header(REFERER)) {
        (Some(origin), _) => origin.eq_ignore_ascii_case(&own),
        (None, Some(referer)) => referer
            .strip_prefix(own.as_str())
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/')),
        (None, None) => true,
    }
}

/// The token forms carry for `purpose`, bound to `subject` (a session's
/// token id, or a pre-session value) by the platform's secret key.
fn form_token(state: &AppState, purpose: &str, subject: &str) -> String {
    hex::encode(state.platform.secrets().mac(purpose, subject.as_bytes()))
}

/// A redirect after an action, carrying what happened to the next page
/// (in a cookie that [`browser_state`] seals).
pub(crate) fn redirect_with(to: &str, flash: Flash) -> Response {
    let mut response = Redirect::to(to).into_response();
    response.extensions_mut().insert(flash);
    response
}

pub(crate) fn success(message: impl Into<String>) -> Flash {
    Flash {
        kind: FlashKind::Success,
        message: bounded(message.into()),
        typed: None,
    }
}

pub(crate) fn failure(message: impl Into<String>) -> Flash {
    Flash {
        kind: FlashKind::Error,
        message: bounded(message.into()),
        typed: None,
    }
}

/// The most characters a flash message keeps: it travels in a cookie,
/// which browsers drop past about 4 KB, and may quote what a form sent.
const FLASH_CHARS: usize = 400;

fn bounded(message: String) -> String {
    if message.chars().count() <= FLASH_CHARS {
        return message;
    }
    let mut cut: String = message.chars().take(FLASH_CHARS).collect();
    cut.push('…');
    cut
}

/// What every page shows around its content: who is signed in, the CSRF
/// token its forms carry, and the flash message.
pub(crate) struct Chrome {
    pub email: Option<String>,
    pub csrf: String,
    pub flash: Option<Flash>,
    pub version: &'static str,
}

impl<S: Send + Sync> FromRequestParts<S> for Chrome {
    type Rejection = DashboardError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, DashboardError> {
        Ok(Self {
            email: None,
            csrf: parts
                .extensions
                .get::<CsrfToken>()
                .map(|token| token.0.clone())
                .unwrap_or_default(),
            flash: parts.extensions.get::<Flash>().cloned(),
            version: env!("CARGO_PKG_VERSION"),
        })
    }
}

impl<S: Send + Sync> FromRequestParts<S> for OverTls {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(parts
            .extensions
            .get::<OverTls>()
            .copied()
            .unwrap_or(OverTls(false)))
    }
}

/// A signed-in browser: the platform session its cookie's token opens, and
/// the page chrome for it. Without a valid session the browser is sent to
/// the sign-in page.
pub(crate) struct SignedIn {
    pub session: Session,
    pub chrome: Chrome,
    pub tls: OverTls,
}

impl FromRequestParts<AppState> for SignedIn {
    type Rejection = DashboardError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, DashboardError> {
        let token = session_token(&parts.headers).ok_or(DashboardError::SignInFirst)?;
        let session = state
            .platform
            .authenticate(token, &crate::api::client_address(parts))
            .await?;
        // Forms of a signed-in browser carry, and must send back, the token
        // of this session, whatever pre-session cookie it has.
        let csrf = form_token(state, SESSION_FORM_PURPOSE, &session.token_id);
        parts.extensions.insert(CsrfToken(csrf));
        let mut chrome = Chrome::from_request_parts(parts, state).await?;
        chrome.email = Some(session.actor.email.clone());
        let tls = OverTls::from_request_parts(parts, state)
            .await
            .unwrap_or(OverTls(false));
        Ok(Self {
            session,
            chrome,
            tls,
        })
    }
}

/// A submitted form whose `csrf` field is this browser's form token: its
/// session's when a `SignedIn` was taken from the request first, else the
/// sign-in form's. Its other fields deserialize into `T` (strings only).
pub(crate) struct CheckedForm<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for CheckedForm<T> {
    type Rejection = DashboardError;

    async fn from_request(request: Request, state: &S) -> Result<Self, DashboardError> {
        // A browser's first request gets a pre-session value minted for it,
        // which nobody else has seen: a token for it cannot be forged either.
        let expected = request
            .extensions()
            .get::<CsrfToken>()
            .map(|token| token.0.clone());
        let axum::Form(mut fields) =
            axum::Form::<BTreeMap<String, String>>::from_request(request, state)
                .await
                .map_err(|_| DashboardError::BadForm)?;
        let submitted = fields.remove("csrf");
        let valid = matches!(
            (&expected, &submitted),
            (Some(expected), Some(submitted)) if constant_time_eq(expected, submitted)
        );
        if !valid {
            return Err(DashboardError::Csrf);
        }
        let value = serde_json::to_value(fields).map_err(|_| DashboardError::BadForm)?;
        Ok(Self(
            serde_json::from_value(value).map_err(|_| DashboardError::BadForm)?,
        ))
    }
}

/// A form that carries nothing but its CSRF token (sign out, revoke).
#[derive(serde::Deserialize)]
pub(crate) struct NoFields {}

fn constant_time_eq(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |diff, (x, y)| diff | (x ^ y))
            == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A key given as if in BERTH_SECRET_KEY: `byte` hex, 32 times.
    fn key(byte: &str) -> SecretKey {
        SecretKey::load_or_create(std::path::Path::new("/nonexistent"), Some(&byte.repeat(32)))
            .unwrap()
    }

    #[test]
    fn a_flash_quoting_a_huge_field_still_fits_its_cookie() {
        let secrets = key("11");
        let flash = failure(format!("no add-on {} here", "x".repeat(1 << 20)));
        assert_eq!(flash.message.chars().count(), FLASH_CHARS + 1);
        assert!(flash.message.ends_with('…'));
        let encoded = flash.encode(&secrets);
        assert!(encoded.len() < 3000, "{}", encoded.len());
        assert_eq!(success("Done.").message, "Done.");
    }

    #[test]
    fn a_flash_reads_back_only_as_sealed_by_the_platforms_key() {
        let secrets = key("11");
        let flash = Flash {
            typed: Some("dev@example.com".into()),
            ..failure("Invalid email or password.")
        };
        let encoded = flash.encode(&secrets);
        let read = Flash::decode(&encoded, &secrets).expect("its own flash reads back");
        assert_eq!(
            (read.message.as_str(), read.typed.as_deref()),
            ("Invalid email or password.", Some("dev@example.com"))
        );
        let (payload, _) = encoded.rsplit_once('.').unwrap();
        assert!(Flash::decode(payload, &secrets).is_none(), "unsealed");
        let forged = encoded.replacen("error", "ok", 1);
        assert!(Flash::decode(&forged, &secrets).is_none(), "changed");
        let other_key = key("22");
        assert!(
            Flash::decode(&encoded, &other_key).is_none(),
            "another key's"
        );
    }
}
