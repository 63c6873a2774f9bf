//! Signing in and out. A sign-in is the platform's own login: it issues an
//! API token, which the browser keeps in an HttpOnly cookie and which
//! signing out revokes. Failed attempts are throttled per address and per
//! email, so a password cannot be guessed at speed.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::header::SET_COOKIE;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::browser::{
    failure, redirect_with, set_cookie, success, CheckedForm, NoFields, OverTls, SignedIn,
    SESSION_COOKIE,
};
use super::error::DashboardError;
use crate::api::Origin;
use crate::AppState;

/// Failed sign-ins allowed per address, and per email, within `WINDOW`.
const FAILURES_PER_ADDRESS: usize = 20;
const FAILURES_PER_EMAIL: usize = 5;
const WINDOW: Duration = Duration::from_secs(10 * 60);
/// How long a dashboard sign-in lasts: its token expires, and its cookie with it.
const SESSION_LIFETIME_DAYS: i64 = 14;

/// Recent failed sign-ins, by `address:…` and `email:…`.
#[derive(Default)]
pub(crate) struct SignInThrottle {
    failures: Mutex<HashMap<String, Vec<Instant>>>,
}

impl SignInThrottle {
    fn keys(address: &str, email: &str) -> [(String, usize); 2] {
        [
            (format!("address:{address}"), FAILURES_PER_ADDRESS),
            (
                format!("email:{}", email.trim().to_lowercase()),
                FAILURES_PER_EMAIL,
            ),
        ]
    }

    /// Whether another attempt may be made now.
    fn allows(&self, address: &str, email: &str) -> bool {
        let mut failures = self.failures.lock().expect("throttle lock");
        let now = Instant::now();
        failures.retain(|_, times| {
            times.retain(|at| now.duration_since(*at) < WINDOW);
            !times.is_empty()
        });
        Self::keys(address, email)
            .iter()
            .all(|(key, limit)| failures.get(key).map_or(0, Vec::len) < *limit)
    }

    fn record_failure(&self, address: &str, email: &str) {
        let mut failures = self.failures.lock().expect("throttle lock");
        for (key, _) in Self::keys(address, email) {
            failures.entry(key).or_default().push(Instant::now());
        }
    }
}

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
    if !state.sign_in_throttle.allows(&origin, &form.email) {
        return Ok(redirect_with(
            "/",
            failure("Too many failed sign-ins: wait a few minutes, then try again."),
            tls,
        ));
    }
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
        Err(berth_platform::PlatformError::Unauthorized(message)) => {
            state.sign_in_throttle.record_failure(&origin, &form.email);
            return Ok(redirect_with("/", failure(capitalized(&message)), tls));
        }
        Err(other) => return Err(other.into()),
    };
    let mut response = redirect_with(
        "/apps",
        success(format!("Signed in as {}.", issued.email)),
        tls,
    );
    response.headers_mut().append(
        SET_COOKIE,
        set_cookie(
            SESSION_COOKIE,
            &issued.token,
            Some(SESSION_LIFETIME_DAYS as u64 * 24 * 3600),
            tls,
        ),
    );
    Ok(response)
}

pub(super) async fn sign_out(
    State(state): State<AppState>,
    Origin(origin): Origin,
    signed_in: SignedIn,
    CheckedForm(NoFields {}): CheckedForm<NoFields>,
) -> Result<Response, DashboardError> {
    state.platform.logout(&signed_in.session, &origin).await?;
    let mut response = redirect_with("/", success("Signed out."), signed_in.tls).into_response();
    response.headers_mut().append(
        SET_COOKIE,
        set_cookie(SESSION_COOKIE, "", Some(0), signed_in.tls),
    );
    Ok(response)
}

/// Platform messages are written for the CLI (`invalid email or
/// password`); a page shows them as sentences.
pub(super) fn capitalized(message: &str) -> String {
    let mut chars = message.chars();
    match chars.next() {
        Some(first) => {
            let rest: String = chars.collect();
            let sentence = format!("{}{rest}", first.to_uppercase());
            if sentence.ends_with('.') {
                sentence
            } else {
                format!("{sentence}.")
            }
        }
        None => String::new(),
    }
}
