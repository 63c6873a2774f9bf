//! An app's custom domains: the DNS record each needs and its certificate.

use askama::Template;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};

use super::apps::{elapsed, AppHeader};
use super::browser::{Chrome, SignedIn};
use super::error::DashboardError;
use super::render;
use crate::AppState;

struct DomainRow {
    hostname: String,
    /// `CNAME <app host>`, or `A/AAAA <addresses>`.
    record: String,
    since: String,
    /// The serving certificate, or how automatic TLS fares for the domain.
    certificate: String,
    /// The last failure of automatic TLS, in words.
    certificate_error: Option<String>,
}

#[derive(Template)]
#[template(path = "app_domains.html")]
struct DomainsPage {
    chrome: Chrome,
    app: AppHeader,
    domains: Vec<DomainRow>,
}

/// The app's custom domains and the DNS record each needs.
pub(super) async fn show(
    State(state): State<AppState>,
    Path(name): Path<String>,
    signed_in: SignedIn,
) -> Result<Response, DashboardError> {
    let actor = &signed_in.session.actor;
    let app = state.platform.app(actor, &name).await?;
    let certificates = state.platform.certificates(actor, &name).await?;
    let auto = state.platform.auto_certificates(actor, &name).await?;
    let domains = state
        .platform
        .domains(actor, &name)
        .await?
        .into_iter()
        .map(|domain| {
            let serving = certificates
                .iter()
                .find(|c| c.hostname == domain.hostname && c.status == "serving");
            let automatic = auto.domains.iter().find(|d| d.hostname == domain.hostname);
            let (certificate, certificate_error) = match (serving, automatic) {
                (Some(serving), _) => (
                    format!(
                        "{} from {}, expires {}",
                        if serving.source == "acme" {
                            "Automatic"
                        } else {
                            "Manual"
                        },
                        serving.issuer,
                        serving.not_after.format("%Y-%m-%d")
                    ),
                    None,
                ),
                (None, _) if !auto.enabled => ("None (automatic TLS is off)".to_string(), None),
                (None, Some(automatic)) => (
                    match automatic.status.as_str() {
                        "failing" => "Failing, retried with backoff".to_string(),
                        _ => "Being ordered".to_string(),
                    },
                    automatic.last_error.clone(),
                ),
                (None, None) => ("None".to_string(), None),
            };
            (domain, certificate, certificate_error)
        })
        .map(|(domain, certificate, certificate_error)| DomainRow {
            certificate,
            certificate_error,
            record: match domain.record {
                berth_platform::DnsRecord::Cname(target) => format!("CNAME {target}"),
                berth_platform::DnsRecord::Addresses(addresses) if addresses.is_empty() => {
                    "A/AAAA to this server's public addresses".to_string()
                }
                berth_platform::DnsRecord::Addresses(addresses) => {
                    let addresses: Vec<String> =
                        addresses.iter().map(ToString::to_string).collect();
                    format!("A/AAAA {}", addresses.join(", "))
                }
            },
            hostname: domain.hostname,
            since: format!("{} ago", elapsed(domain.created_at)),
        })
        .collect();
    let page = DomainsPage {
        chrome: signed_in.chrome,
        app: AppHeader::new(&state, &app, "Domains"),
        domains,
    };
    Ok(render(&page)?.into_response())
}
