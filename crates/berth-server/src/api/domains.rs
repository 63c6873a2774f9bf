//! An app's custom domains.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use berth_api_types::{AddDomainRequest, DnsCheck, Domain, DomainInfo};
use berth_platform::DnsRecord;

use super::extract::{Authenticated, JsonBody};
use super::openapi::errors::{
    BadRequest, Conflict, Forbidden, Invalid, NotFound, PayloadTooLarge, ServerError, Unauthorized,
};
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

/// The app's custom domains.
#[utoipa::path(
    get,
    path = "/api/v1/apps/{name}/domains",
    operation_id = "list_domains",
    tag = "domains",
    params(
        ("name" = String, Path, description = "The app's name"),
    ),
    responses(
        (status = 200, description = "The domains", body = [Domain]),
        Unauthorized, NotFound, ServerError,
    ),
    security(("token" = [])),
)]
pub(super) async fn list(
    State(state): State<AppState>,
    Authenticated(session): Authenticated,
    Path(name): Path<String>,
) -> Result<Json<Vec<Domain>>, ApiError> {
    let domains = state.platform.domains(&session.actor, &name).await?;
    Ok(Json(domains.into_iter().map(view).collect()))
}

/// Adds a custom domain, with the DNS record to point it here.
#[utoipa::path(
    post,
    path = "/api/v1/apps/{name}/domains",
    operation_id = "add_domain",
    tag = "domains",
    params(
        ("name" = String, Path, description = "The app's name"),
    ),
    request_body = AddDomainRequest,
    responses(
        (status = 201, description = "The domain", body = Domain),
        BadRequest, Unauthorized, Forbidden, NotFound, Conflict, PayloadTooLarge, Invalid,
        ServerError,
    ),
    security(("token" = [])),
)]
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

/// A custom domain, and what DNS says of it now.
#[utoipa::path(
    get,
    path = "/api/v1/apps/{name}/domains/{hostname}",
    operation_id = "show_domain",
    tag = "domains",
    params(
        ("name" = String, Path, description = "The app's name"),
        ("hostname" = String, Path, description = "The domain"),
    ),
    responses(
        (status = 200, description = "The domain and its DNS check", body = DomainInfo),
        Unauthorized, NotFound, ServerError,
    ),
    security(("token" = [])),
)]
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

/// Removes a custom domain.
#[utoipa::path(
    delete,
    path = "/api/v1/apps/{name}/domains/{hostname}",
    operation_id = "remove_domain",
    tag = "domains",
    params(
        ("name" = String, Path, description = "The app's name"),
        ("hostname" = String, Path, description = "The domain"),
    ),
    responses(
        (status = 204, description = "The domain is removed"),
        Unauthorized, Forbidden, NotFound, ServerError,
    ),
    security(("token" = [])),
)]
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
