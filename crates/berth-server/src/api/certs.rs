//! Certificates of an app's domains, automatic TLS, and its HTTPS policy.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use berth_api_types::{
    AddCertificateRequest, AutoCertificate, AutoCertificates, Certificate, TlsSettings,
    TlsSettingsChange,
};

use super::extract::{Authenticated, JsonBody};
use super::openapi::errors::{
    BadRequest, Forbidden, Invalid, NotFound, PayloadTooLarge, ServerError, Unauthorized,
};
use super::ApiError;
use crate::AppState;

fn view(certificate: berth_platform::Certificate) -> Certificate {
    Certificate {
        hostname: certificate.hostname,
        source: certificate.source,
        issuer: certificate.issuer,
        expires_at: certificate.not_after,
        status: certificate.status,
    }
}

fn settings_view(settings: berth_platform::TlsSettings) -> TlsSettings {
    TlsSettings {
        redirect_http: settings.redirect_http,
        hsts: settings.hsts,
    }
}

/// The certificates of the app's domains.
#[utoipa::path(
    get,
    path = "/api/v1/apps/{name}/certs",
    operation_id = "list_certificates",
    tag = "certs",
    params(
        ("name" = String, Path, description = "The app's name"),
    ),
    responses(
        (status = 200, description = "The certificates", body = [Certificate]),
        Unauthorized, NotFound, ServerError,
    ),
    security(("token" = [])),
)]
pub(super) async fn list(
    State(state): State<AppState>,
    Authenticated(session): Authenticated,
    Path(name): Path<String>,
) -> Result<Json<Vec<Certificate>>, ApiError> {
    let certificates = state.platform.certificates(&session.actor, &name).await?;
    Ok(Json(certificates.into_iter().map(view).collect()))
}

/// Adds a manual certificate (PEM) for the app's domains it names.
#[utoipa::path(
    post,
    path = "/api/v1/apps/{name}/certs",
    operation_id = "add_certificate",
    tag = "certs",
    params(
        ("name" = String, Path, description = "The app's name"),
    ),
    request_body = AddCertificateRequest,
    responses(
        (
            status = 201,
            description = "The certificates added, one per domain",
            body = [Certificate],
        ),
        BadRequest, Unauthorized, Forbidden, NotFound, PayloadTooLarge, Invalid, ServerError,
    ),
    security(("token" = [])),
)]
pub(super) async fn add(
    State(state): State<AppState>,
    Authenticated(session): Authenticated,
    Path(name): Path<String>,
    JsonBody(request): JsonBody<AddCertificateRequest>,
) -> Result<(StatusCode, Json<Vec<Certificate>>), ApiError> {
    let added = state
        .platform
        .add_certificate(
            &session.actor,
            &name,
            &request.certificate_pem,
            &request.private_key_pem,
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(added.into_iter().map(view).collect()),
    ))
}

/// Removes the manual certificate of a domain.
#[utoipa::path(
    delete,
    path = "/api/v1/apps/{name}/certs/{hostname}",
    operation_id = "remove_certificate",
    tag = "certs",
    params(
        ("name" = String, Path, description = "The app's name"),
        ("hostname" = String, Path, description = "The domain"),
    ),
    responses(
        (status = 204, description = "The certificate is removed"),
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
        .remove_certificate(&session.actor, &name, &hostname)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Automatic (ACME) certificates of the app's domains.
#[utoipa::path(
    get,
    path = "/api/v1/apps/{name}/certs/auto",
    operation_id = "list_auto_certificates",
    tag = "certs",
    params(
        ("name" = String, Path, description = "The app's name"),
    ),
    responses(
        (status = 200, description = "Their state", body = AutoCertificates),
        Unauthorized, NotFound, ServerError,
    ),
    security(("token" = [])),
)]
pub(super) async fn auto(
    State(state): State<AppState>,
    Authenticated(session): Authenticated,
    Path(name): Path<String>,
) -> Result<Json<AutoCertificates>, ApiError> {
    let auto = state
        .platform
        .auto_certificates(&session.actor, &name)
        .await?;
    Ok(Json(AutoCertificates {
        enabled: auto.enabled,
        domains: auto
            .domains
            .into_iter()
            .map(|domain| AutoCertificate {
                hostname: domain.hostname,
                status: domain.status,
                last_error: domain.last_error,
                failures: domain.failures,
                next_attempt_at: domain.next_attempt_at,
                expires_at: domain.not_after,
            })
            .collect(),
    }))
}

/// Asks for the app's automatic certificates to be issued or renewed now.
#[utoipa::path(
    post,
    path = "/api/v1/apps/{name}/certs/auto/refresh",
    operation_id = "refresh_auto_certificates",
    tag = "certs",
    params(
        ("name" = String, Path, description = "The app's name"),
    ),
    responses(
        (status = 202, description = "Issuance is due now"),
        Unauthorized, Forbidden, NotFound, ServerError,
    ),
    security(("token" = [])),
)]
pub(super) async fn refresh(
    State(state): State<AppState>,
    Authenticated(session): Authenticated,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    state
        .platform
        .refresh_auto_certificates(&session.actor, &name)
        .await?;
    Ok(StatusCode::ACCEPTED)
}

/// The app's HTTPS policy.
#[utoipa::path(
    get,
    path = "/api/v1/apps/{name}/certs/settings",
    operation_id = "show_tls_settings",
    tag = "certs",
    params(
        ("name" = String, Path, description = "The app's name"),
    ),
    responses(
        (status = 200, description = "The policy", body = TlsSettings),
        Unauthorized, NotFound, ServerError,
    ),
    security(("token" = [])),
)]
pub(super) async fn settings(
    State(state): State<AppState>,
    Authenticated(session): Authenticated,
    Path(name): Path<String>,
) -> Result<Json<TlsSettings>, ApiError> {
    let settings = state.platform.tls_settings(&session.actor, &name).await?;
    Ok(Json(settings_view(settings)))
}

/// Changes the app's HTTPS policy.
#[utoipa::path(
    patch,
    path = "/api/v1/apps/{name}/certs/settings",
    operation_id = "change_tls_settings",
    tag = "certs",
    params(
        ("name" = String, Path, description = "The app's name"),
    ),
    request_body = TlsSettingsChange,
    responses(
        (status = 200, description = "The policy now", body = TlsSettings),
        BadRequest, Unauthorized, Forbidden, NotFound, PayloadTooLarge, ServerError,
    ),
    security(("token" = [])),
)]
pub(super) async fn change_settings(
    State(state): State<AppState>,
    Authenticated(session): Authenticated,
    Path(name): Path<String>,
    JsonBody(change): JsonBody<TlsSettingsChange>,
) -> Result<Json<TlsSettings>, ApiError> {
    let settings = state
        .platform
        .set_tls_settings(&session.actor, &name, change.redirect_http, change.hsts)
        .await?;
    Ok(Json(settings_view(settings)))
}
