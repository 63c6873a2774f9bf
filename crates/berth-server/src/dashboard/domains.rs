//! An app's custom domains: adding and removing them, the DNS record each
//! needs and what DNS says of it now, their certificates (automatic or
//! uploaded), and the app's HTTPS policy.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use berth_platform::{Action, AutoCertificates, Certificate, DnsRecord, PlatformError};
use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::apps::AppHeader;
use super::browser::{CheckedForm, Chrome, SignedIn};
use super::error::DashboardError;
use super::moments::Moment;
use super::session::capitalized;
use super::{after_action, render};
use crate::AppState;

/// The longest hostname DNS allows.
const HOSTNAME_LIMIT: usize = 253;
/// The largest PEM chain or key taken, as the API's JSON body limit.
const PEM_LIMIT: usize = 64 * 1024;

struct DomainRow {
    hostname: String,
    /// `CNAME <app host>`, or `A/AAAA <addresses>`.
    record: String,
    since: Moment,
    certificate: CertificateState,
}

/// A domain's certificate as the page shows it.
struct CertificateState {
    /// `Manual from <issuer>, expires …`, or how automatic TLS fares.
    summary: String,
    /// The last failure of automatic TLS, in words.
    error: Option<String>,
    /// Whether automatic TLS may be asked to try again now.
    retry: bool,
}

/// What `Check DNS` found for one domain.
struct DnsCheckView {
    hostname: String,
    record: String,
    resolver: String,
    /// The records found, `nothing` if none.
    found: String,
    points_here: bool,
    problem: Option<String>,
    certificate: String,
}

/// What a form sent back with a mistake: the typed value and the sentence.
#[derive(Default)]
struct Drafts {
    hostname: String,
    hostname_error: Option<String>,
    certificate: String,
    certificate_error: Option<String>,
}

#[derive(Template)]
#[template(path = "app_domains.html")]
struct DomainsPage {
    chrome: Chrome,
    app: AppHeader,
    domains: Vec<DomainRow>,
    /// Whether the reader may change domains, certificates and HTTPS.
    can_manage: bool,
    redirect_http: bool,
    hsts: bool,
    /// `Check DNS` of one domain, or why it could not be checked.
    check: Option<Result<DnsCheckView, String>>,
    drafts: Drafts,
}

#[derive(Deserialize)]
pub(super) struct DomainsQuery {
    /// The domain whose DNS to look up now.
    check: Option<String>,
}

/// The app's custom domains and the DNS record each needs; one domain's
/// DNS check on request.
pub(super) async fn show(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Query(query): Query<DomainsQuery>,
    signed_in: SignedIn,
) -> Result<Response, DashboardError> {
    page(&state, &name, signed_in, query.check, Drafts::default()).await
}

async fn page(
    state: &AppState,
    name: &str,
    signed_in: SignedIn,
    check: Option<String>,
    drafts: Drafts,
) -> Result<Response, DashboardError> {
    let actor = &signed_in.session.actor;
    let app = state.platform.app(actor, name).await?;
    let certificates = state.platform.certificates(actor, name).await?;
    let auto = state.platform.auto_certificates(actor, name).await?;
    let settings = state.platform.tls_settings(actor, name).await?;
    let can_manage = match state
        .platform
        .authorize_app(actor, name, Action::ManageDomains)
        .await
    {
        Ok(_) => true,
        Err(PlatformError::Forbidden(_)) => false,
        Err(error) => return Err(error.into()),
    };
    let domains = state
        .platform
        .domains(actor, name)
        .await?
        .into_iter()
        .map(|domain| DomainRow {
            certificate: certificate_state(&domain.hostname, &certificates, &auto, can_manage),
            record: record_words(&domain.record),
            since: Moment::of(domain.created_at),
            hostname: domain.hostname,
        })
        .collect();
    let check = match check {
        None => None,
        Some(hostname) if hostname.len() > HOSTNAME_LIMIT => {
            Some(Err("That is longer than any hostname.".to_string()))
        }
        Some(hostname) => match state.platform.domain_check(actor, name, &hostname).await {
            Ok(check) => Some(Ok(DnsCheckView {
                certificate: certificate_state(&check.domain.hostname, &certificates, &auto, false)
                    .summary,
                record: record_words(&check.domain.record),
                hostname: check.domain.hostname,
                resolver: check.resolver,
                found: found_words(&check.answer.cnames, &check.answer.addresses),
                points_here: check.points_here,
                problem: check.problem.map(sentence),
            })),
            // The app was found above: this is about the domain.
            Err(PlatformError::NotFound(message) | PlatformError::Invalid(message)) => {
                Some(Err(sentence(message)))
            }
            Err(error) => return Err(error.into()),
        },
    };
    let status = if drafts.hostname_error.is_some() || drafts.certificate_error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let page = DomainsPage {
        chrome: signed_in.chrome,
        app: AppHeader::new(state, &app, "Domains"),
        domains,
        can_manage,
        redirect_http: settings.redirect_http,
        hsts: settings.hsts,
        check,
        drafts,
    };
    Ok((status, render(&page)?).into_response())
}

#[derive(Deserialize)]
pub(super) struct HostnameForm {
    #[serde(default)]
    hostname: String,
}

/// Adds a domain; the flash says which DNS record to create for it. A
/// hostname that is invalid or taken comes back beside the form.
pub(super) async fn add(
    State(state): State<AppState>,
    Path(name): Path<String>,
    signed_in: SignedIn,
    CheckedForm(form): CheckedForm<HostnameForm>,
) -> Result<Response, DashboardError> {
    let to = format!("/apps/{name}/domains");
    let hostname = form.hostname.trim().to_string();
    if hostname.len() > HOSTNAME_LIMIT {
        let drafts = Drafts {
            hostname_error: Some("That is longer than any hostname (253 characters).".into()),
            ..Drafts::default()
        };
        return page(&state, &name, signed_in, None, drafts).await;
    }
    let actor = &signed_in.session.actor;
    match state.platform.add_domain(actor, &name, &hostname).await {
        Ok(domain) => {
            let mut message = format!(
                "Added {host} to {name}. Create this DNS record at your DNS provider: {host} {}, \
                 then check it with Check DNS.",
                record_words(&domain.record),
                host = domain.hostname,
            );
            if matches!(domain.record, DnsRecord::Addresses(_)) {
                message.push_str(
                    " An apex domain cannot have a CNAME record; some DNS hosts offer ALIAS or \
                     ANAME records, which act like one at the apex.",
                );
            }
            // The domain is added: a failed look at automatic TLS only
            // leaves this sentence out.
            if state
                .platform
                .auto_certificates(actor, &name)
                .await
                .is_ok_and(|auto| auto.enabled)
            {
                message.push_str(" A certificate is being ordered now (it needs the DNS record).");
            }
            after_action(&to, Ok(message))
        }
        Err(PlatformError::Invalid(message) | PlatformError::Conflict(message)) => {
            let drafts = Drafts {
                hostname,
                hostname_error: Some(sentence(message)),
                ..Drafts::default()
            };
            page(&state, &name, signed_in, None, drafts).await
        }
        Err(error) => after_action(&to, Err(error)),
    }
}

#[derive(Deserialize)]
pub(super) struct RemoveForm {
    #[serde(default)]
    hostname: String,
    /// The hostname typed again, to confirm.
    #[serde(default)]
    confirm: String,
}

/// Removes a domain once its hostname is typed again to confirm.
pub(super) async fn remove(
    State(state): State<AppState>,
    Path(name): Path<String>,
    signed_in: SignedIn,
    CheckedForm(form): CheckedForm<RemoveForm>,
) -> Result<Response, DashboardError> {
    let to = format!("/apps/{name}/domains");
    let actor = &signed_in.session.actor;
    let hostname = form.hostname.trim();
    let unconfirmed = if hostname.is_empty() || hostname.len() > HOSTNAME_LIMIT {
        Some("say which domain to remove".to_string())
    } else if !form.confirm.trim().eq_ignore_ascii_case(hostname) {
        Some(format!("type the hostname, {hostname}, to remove it"))
    } else {
        None
    };
    if let Some(message) = unconfirmed {
        // Ask the platform first, so an app the user cannot see stays a 404.
        state.platform.app(actor, &name).await?;
        return after_action(&to, Err(PlatformError::Invalid(message)));
    }
    let result = state
        .platform
        .remove_domain(actor, &name, hostname)
        .await
        .map(|()| format!("Removed {hostname} from {name}: the router no longer serves it."));
    after_action(&to, result)
}

/// Asks automatic TLS to try the app's domains again now, without waiting
/// out the backoff. The platform retries every waiting domain of the app;
/// the hostname is the one whose button was pressed.
pub(super) async fn retry(
    State(state): State<AppState>,
    Path(name): Path<String>,
    signed_in: SignedIn,
    CheckedForm(form): CheckedForm<HostnameForm>,
) -> Result<Response, DashboardError> {
    let hostname: String = form.hostname.chars().take(HOSTNAME_LIMIT).collect();
    let result = state
        .platform
        .refresh_auto_certificates(&signed_in.session.actor, &name)
        .await
        .map(|()| {
            format!(
                "Ordering a certificate for {hostname} now, with any other domain of {name} \
                 that waits for one."
            )
        });
    after_action(&format!("/apps/{name}/domains"), result)
}

#[derive(Deserialize)]
pub(super) struct CertificateForm {
    /// The PEM chain, leaf first.
    #[serde(default)]
    certificate: String,
    #[serde(default)]
    private_key: String,
}

/// Uploads a certificate of the user's own for the domains it covers. A
/// chain or key that is refused comes back beside the form, the chain kept
/// and the key not.
pub(super) async fn upload_certificate(
    State(state): State<AppState>,
    Path(name): Path<String>,
    signed_in: SignedIn,
    CheckedForm(form): CheckedForm<CertificateForm>,
) -> Result<Response, DashboardError> {
    let to = format!("/apps/{name}/domains");
    if form.certificate.len() > PEM_LIMIT || form.private_key.len() > PEM_LIMIT {
        let drafts = Drafts {
            certificate_error: Some("A certificate chain or key is at most 64 KiB.".into()),
            ..Drafts::default()
        };
        return page(&state, &name, signed_in, None, drafts).await;
    }
    let result = state
        .platform
        .add_certificate(
            &signed_in.session.actor,
            &name,
            &form.certificate,
            &form.private_key,
        )
        .await;
    match result {
        Ok(added) => {
            let hostnames: Vec<&str> = added.iter().map(|c| c.hostname.as_str()).collect();
            let message = format!(
                "The certificate serves {} now, instead of any automatic one.",
                hostnames.join(", ")
            );
            after_action(&to, Ok(message))
        }
        Err(PlatformError::Invalid(message)) => {
            let drafts = Drafts {
                certificate: form.certificate,
                certificate_error: Some(capitalized(&message)),
                ..Drafts::default()
            };
            page(&state, &name, signed_in, None, drafts).await
        }
        Err(error) => after_action(&to, Err(error)),
    }
}

#[derive(Deserialize)]
pub(super) struct TlsSettingsForm {
    /// Present (`on`) when the box is ticked, absent when not.
    redirect_http: Option<String>,
    hsts: Option<String>,
}

/// Sets the app's HTTPS policy: both switches as the form shows them.
pub(super) async fn tls_settings(
    State(state): State<AppState>,
    Path(name): Path<String>,
    signed_in: SignedIn,
    CheckedForm(form): CheckedForm<TlsSettingsForm>,
) -> Result<Response, DashboardError> {
    let on_off = |on: bool| if on { "on" } else { "off" };
    let result = state
        .platform
        .set_tls_settings(
            &signed_in.session.actor,
            &name,
            Some(form.redirect_http.is_some()),
            Some(form.hsts.is_some()),
        )
        .await
        .map(|settings| {
            format!(
                "HTTPS of {name}: redirect from HTTP {}, HSTS {}.",
                on_off(settings.redirect_http),
                on_off(settings.hsts)
            )
        });
    after_action(&format!("/apps/{name}/domains"), result)
}

/// The domain's serving certificate, else how automatic TLS fares for it.
fn certificate_state(
    hostname: &str,
    certificates: &[Certificate],
    auto: &AutoCertificates,
    can_manage: bool,
) -> CertificateState {
    let serving = certificates
        .iter()
        .find(|c| c.hostname == hostname && c.status == "serving");
    let automatic = auto.domains.iter().find(|d| d.hostname == hostname);
    let waiting = |summary: String, error: Option<String>| CertificateState {
        summary,
        error,
        retry: can_manage,
    };
    match (serving, automatic) {
        (Some(serving), _) => CertificateState {
            summary: format!(
                "{} from {}, expires {}",
                if serving.source == "acme" {
                    "Automatic"
                } else {
                    "Manual"
                },
                serving.issuer,
                utc(serving.not_after)
            ),
            error: None,
            retry: false,
        },
        (None, _) if !auto.enabled => CertificateState {
            summary: "None (automatic TLS is off)".to_string(),
            error: None,
            retry: false,
        },
        (None, Some(automatic)) if automatic.status == "failing" => waiting(
            match automatic.next_attempt_at {
                Some(next) => format!("Failing, next try at {}", utc(next)),
                None => "Failing, retried with backoff".to_string(),
            },
            automatic.last_error.clone(),
        ),
        (None, Some(_)) => waiting("Being ordered".to_string(), None),
        (None, None) => waiting("None".to_string(), None),
    }
}

/// A message about a hostname as a sentence: it may begin with the
/// hostname, which keeps its case.
fn sentence(message: String) -> String {
    if message.ends_with('.') {
        message
    } else {
        message + "."
    }
}

fn utc(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}

fn record_words(record: &DnsRecord) -> String {
    match record {
        DnsRecord::Cname(target) => format!("CNAME {target}"),
        DnsRecord::Addresses(addresses) if addresses.is_empty() => {
            "A/AAAA to this server's public addresses".to_string()
        }
        DnsRecord::Addresses(addresses) => {
            let addresses: Vec<String> = addresses.iter().map(ToString::to_string).collect();
            format!("A/AAAA {}", addresses.join(", "))
        }
    }
}

/// What DNS answered, as `berth domains:info` says it.
fn found_words(cnames: &[String], addresses: &[std::net::IpAddr]) -> String {
    let found: Vec<String> = cnames
        .iter()
        .map(|target| format!("CNAME {target}"))
        .chain(addresses.iter().map(ToString::to_string))
        .collect();
    if found.is_empty() {
        "nothing".to_string()
    } else {
        found.join(", ")
    }
}
