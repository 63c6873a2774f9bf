//! Signing in and out. A sign-in is the platform's own login (throttled
//! there, as the API's is): it issues an API token, which the browser keeps
//! in an HttpOnly cookie and which signing out revokes.

use axum::extract::State;
use axum::http::header::SET_COOKIE;
use axum::response::Response;
use berth_platform::PlatformError;
use serde::Deserialize;

use super::browser::{
    failure, redirect_with, set_session_cookie, success, CheckedForm, Flash, NoFields, OverTls,
    SignedIn,
};
use super::error::DashboardError;
use crate::api::Origin;
use crate::AppState;

/// How long a dashboard sign-in lasts: its token expires, and its cookie with it.
const SESSION_LIFETIME_DAYS: i64 = 14;

#[derive(Deserialize)]
pub(super) struct SignInForm {
    email: String,
    password: String,
}

pub(super) async fn sign_in(
    State(state): State<AppState>,
    Origin(origin): Origin,
    tls: OverTls,
    CheckedForm(form): CheckedForm<SignInForm>,
) -> Result<Response, DashboardError> {
    let issued = match state
        .platform
        .login_for(
            &form.email,
            &form.password,
            "dashboard session",
            Some(chrono::Duration::days(SESSION_LIFETIME_DAYS)),
            &origin,
        )
        .await
    {
        Ok(issued) => issued,
        Err(
            PlatformError::Unauthorized(message)
            | PlatformError::Invalid(message)
            | PlatformError::Busy(message),
        ) => {
            return Ok(redirect_with("/", retry(capitalized(&message), &form)));
        }
        Err(PlatformError::Throttled { retry_after_secs }) => {
            let message = format!(
                "Too many failed sign-ins: try again in {}.",
                wait_text(retry_after_secs)
            );
            return Ok(redirect_with("/", retry(message, &form)));
        }
        Err(other) => return Err(other.into()),
    };
    let mut response = redirect_with("/apps", success(format!("Signed in as {}.", issued.email)));
    response.headers_mut().append(
        SET_COOKIE,
        set_session_cookie(&issued.token, SESSION_LIFETIME_DAYS as u64 * 24 * 3600, tls),
    );
    Ok(response)
}

/// The longest email the sign-in form gets back (RFC 5321's limit).
pub(super) const MAX_EMAIL: usize = 254;

/// A failed sign-in's message, with the email typed (never the password)
/// for the form to show again.
fn retry(message: String, form: &SignInForm) -> Flash {
    Flash {
        typed: Some(form.email.trim().chars().take(MAX_EMAIL).collect()),
        ..failure(message)
    }
}

pub(super) async fn sign_out(
    State(state): State<AppState>,
    signed_in: SignedIn,
    CheckedForm(NoFields {}): CheckedForm<NoFields>,
) -> Result<Response, DashboardError> {
    state.platform.logout(&signed_in.session).await?;
    let mut response = redirect_with("/", success("Signed out."));
    response
        .headers_mut()
        .append(SET_COOKIE, set_session_cookie("", 0, signed_in.tls));
    Ok(response)
}

/// Platform messages are written for the CLI (`invalid email or
/// password`); a page shows them as sentences. One that starts with an
/// email keeps it as written.
pub(super) fn capitalized(message: &str) -> String {
    let starts_with_email = message
        .split_whitespace()
        .next()
        .is_some_and(|word| word.contains('@'));
    let mut chars = message.chars();
    match chars.next() {
        Some(first) => {
            let rest: String = chars.collect();
            let sentence = if starts_with_email {
                format!("{first}{rest}")
            } else {
                format!("{}{rest}", first.to_uppercase())
            };
            if sentence.ends_with('.') {
                sentence
            } else {
                format!("{sentence}.")
            }
        }
        None => String::new(),
    }
}

/// `90 seconds`, `4 minutes`.
fn wait_text(seconds: u64) -> String {
    match seconds {
        0..=90 => format!("{seconds} seconds"),
        _ => format!("{} minutes", seconds.div_ceil(60)),
    }
}
