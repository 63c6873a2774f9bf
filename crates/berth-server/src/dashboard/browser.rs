//! What a browser carries between pages: the session cookie, the CSRF
//! cookie every form echoes, and the flash message of the last action; and
//! the security headers every page is sent with.

use std::collections::BTreeMap;

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header::{COOKIE, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use base64::Engine as _;
use berth_platform::Session;
use rand::RngCore;
use serde::de::DeserializeOwned;

use super::error::DashboardError;
use crate::AppState;

/// Holds the signed-in browser's API token.
pub(crate) const SESSION_COOKIE: &str = "berth_session";
const CSRF_COOKIE: &str = "berth_csrf";
const FLASH_COOKIE: &str = "berth_flash";

/// Scripts and styles come from `static/` only: no inline code runs.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; \
     frame-ancestors 'none'; base-uri 'none'; object-src 'none'";

/// The value every form of this browser must send back in its `csrf` field.
#[derive(Clone)]
pub(crate) struct CsrfToken(pub String);

/// Whether the browser reached us over TLS (directly or through a proxy
/// that says so): cookies are then marked `Secure`.
#[derive(Clone, Copy)]
pub(crate) struct OverTls(pub bool);

/// What the last action said, shown once on the next page.
#[derive(Clone)]
pub(crate) struct Flash {
    pub kind: FlashKind,
    pub message: String,
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

    fn encode(&self) -> String {
        let kind = match self.kind {
            FlashKind::Success => "ok",
            FlashKind::Error => "error",
        };
        let message = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&self.message);
        format!("{kind}.{message}")
    }

    fn decode(value: &str) -> Option<Self> {
        let (kind, message) = value.split_once('.')?;
        let kind = match kind {
            "ok" => FlashKind::Success,
            "error" => FlashKind::Error,
            _ => return None,
        };
        let message = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(message)
            .ok()?;
        Some(Self {
            kind,
            message: String::from_utf8(message).ok()?,
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

/// A `Set-Cookie` value: HttpOnly and SameSite=Lax always, Secure over TLS;
/// no `max_age` means a cookie that lasts as long as the browser session.
pub(crate) fn set_cookie(
    name: &str,
    value: &str,
    max_age: Option<u64>,
    tls: OverTls,
) -> HeaderValue {
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

/// Gives every request its CSRF token (minting the cookie on first visit)
/// and the pending flash message, and every response the security headers.
pub(crate) async fn browser_state(mut request: Request, next: Next) -> Response {
    let tls = OverTls(
        request
            .headers()
            .get("x-forwarded-proto")
            .is_some_and(|proto| proto == "https"),
    );
    let existing = cookie(request.headers(), CSRF_COOKIE)
        .filter(|token| token.len() == 64 && token.bytes().all(|b| b.is_ascii_hexdigit()))
        .map(str::to_string);
    let minted = existing.is_none();
    let csrf = existing.unwrap_or_else(random_token);
    let flash = cookie(request.headers(), FLASH_COOKIE).and_then(Flash::decode);
    let had_flash = cookie(request.headers(), FLASH_COOKIE).is_some();
    request.extensions_mut().insert(CsrfToken(csrf.clone()));
    request.extensions_mut().insert(tls);
    if let Some(flash) = flash {
        request.extensions_mut().insert(flash);
    }

    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    let sets_flash = headers
        .get_all(SET_COOKIE)
        .iter()
        .any(|value| value.as_bytes().starts_with(FLASH_COOKIE.as_bytes()));
    if had_flash && !sets_flash {
        headers.append(SET_COOKIE, set_cookie(FLASH_COOKIE, "", Some(0), tls));
    }
    if minted {
        headers.append(SET_COOKIE, set_cookie(CSRF_COOKIE, &csrf, None, tls));
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

/// A redirect after an action, carrying what happened to the next page.
pub(crate) fn redirect_with(to: &str, flash: Flash, tls: OverTls) -> Response {
    let mut response = Redirect::to(to).into_response();
    response.headers_mut().append(
        SET_COOKIE,
        set_cookie(FLASH_COOKIE, &flash.encode(), Some(60), tls),
    );
    response
}

pub(crate) fn success(message: impl Into<String>) -> Flash {
    Flash {
        kind: FlashKind::Success,
        message: message.into(),
    }
}

pub(crate) fn failure(message: impl Into<String>) -> Flash {
    Flash {
        kind: FlashKind::Error,
        message: message.into(),
    }
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
        let token = cookie(&parts.headers, SESSION_COOKIE).ok_or(DashboardError::SignInFirst)?;
        let session = state
            .platform
            .authenticate(token, &crate::api::client_address(parts))
            .await?;
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

/// A submitted form whose `csrf` field matches this browser's CSRF cookie;
/// its other fields deserialize into `T` (strings only).
pub(crate) struct CheckedForm<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for CheckedForm<T> {
    type Rejection = DashboardError;

    async fn from_request(request: Request, state: &S) -> Result<Self, DashboardError> {
        let expected = request
            .extensions()
            .get::<CsrfToken>()
            .map(|token| token.0.clone());
        // A browser's first request has a token minted for it but no cookie
        // yet: only a token the browser sent back can vouch for a form.
        let sent_cookie = cookie(request.headers(), CSRF_COOKIE).map(str::to_string);
        let axum::Form(mut fields) =
            axum::Form::<BTreeMap<String, String>>::from_request(request, state)
                .await
                .map_err(|_| DashboardError::BadForm)?;
        let submitted = fields.remove("csrf");
        let valid = matches!(
            (&expected, &sent_cookie, &submitted),
            (Some(expected), Some(sent), Some(submitted))
                if expected == sent && constant_time_eq(expected, submitted)
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
