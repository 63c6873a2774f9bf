//! An app's custom domains.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use berth_api_types::{AddDomainRequest, DnsCheck, Domain, DomainInfo};
use berth_platform::DnsRecord;

use super::extract::{Authenticated, JsonBody};
use super::ApiError;
use crate::AppState;

fn view(domain: berth_platform::Domain) -> Domain {
    let (record_type, record_values) = match domain.record {
        DnsRecord::Cname(target) => ("cname", vec![target]),
        DnsRecord::Addresses(addresses) => {
            ("a", addresses.iter().map(ToString::to_string).collect())
        }
    };
    Domain {
        hostname: domain.hostname,
        record_type: record_type.to_string(),
        record_values,
        created_at: domain.created_at,
    }
}

pub(super) async fn list(
    State(state): State<AppState>,
    Authenticated(session): Authenticated,
    Path(name): Path<String>,
) -> Result<Json<Vec<Domain>>, ApiError> {
    let domains = state.platform.domains(&session.actor, &name).await?;
    Ok(Json(domains.into_iter().map(view).collect()))
}

pub(super) async fn add(
    State(state): State<AppState>,
    Authenticated(session): Authenticated,
    Path(name): Path<String>,
    JsonBody(request): JsonBody<AddDomainRequest>,
) -> Result<(StatusCode, Json<Domain>), ApiError> {
    let domain = state
        .platform
        .add_domain(&session.actor, &name, &request.hostname)
        .await?;
    Ok((StatusCode::CREATED, Json(view(domain))))
}

pub(super) async fn info(
    State(state): State<AppState>,
    Authenticated(session): Authenticated,
    Path((name, hostname)): Path<(String, String)>,
) -> Result<Json<DomainInfo>, ApiError> {
    let check = state
        .platform
        .domain_check(&session.actor, &name, &hostname)
        .await?;
    Ok(Json(DomainInfo {
        domain: view(check.domain),
        dns: DnsCheck {
            resolver: check.resolver,
            cnames: check.answer.cnames,
            addresses: check
                .answer
                .addresses
                .iter()
                .map(ToString::to_string)
                .collect(),
            points_here: check.points_here,
            problem: check.problem,
        },
    }))
}

pub(super) async fn remove(
    State(state): State<AppState>,
    Authenticated(session): Authenticated,
    Path((name, hostname)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    state
        .platform
        .remove_domain(&session.actor, &name, &hostname)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
