//! `GET /api/v1/openapi.json`: the OpenAPI document of the API, generated
//! from each route's `#[utoipa::path(...)]` and the types of
//! `berth-api-types`, never written by hand.
//!
//! Each operation names the error statuses its use case can answer, as
//! [`ApiError`](super::ApiError) maps the platform's errors, with the types
//! below; every one of them carries the wire error body.

use std::sync::LazyLock;

use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use berth_api_types::ErrorBody;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

/// What every route adds to: the document's info, the bearer scheme that
/// operations name in `security(("token" = []))`, and the error body.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Berth API",
        version = env!("CARGO_PKG_VERSION"),
        description = "The JSON API of Berth, a self-hosted Heroku-style platform: what the \
                       `berth` CLI and the dashboard use. Authenticate with \
                       `Authorization: Bearer <token>`; `berth login` or `POST /api/v1/login` \
                       issues a token. Errors answer \
                       `{\"id\": \"not_found\", \"message\": \"…\"}`.",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    components(schemas(ErrorBody)),
    modifiers(&BearerToken),
)]
pub(super) struct Base;

struct BearerToken;

impl Modify for BearerToken {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let scheme = HttpBuilder::new()
            .scheme(HttpAuthScheme::Bearer)
            .description(Some(
                "An API token, e.g. `berth_…`: `berth login` or `POST /api/v1/login` issues one, \
                 `berth tokens:create` or `POST /api/v1/tokens` more.",
            ))
            .build();
        openapi
            .components
            .get_or_insert_with(Default::default)
            .add_security_scheme("token", SecurityScheme::Http(scheme));
    }
}

/// The document as served: made once, on first request.
static DOCUMENT: LazyLock<String> = LazyLock::new(|| {
    super::v1()
        .document
        .to_json()
        .expect("the OpenAPI document serializes")
});

/// This document.
#[utoipa::path(
    get,
    path = "/api/v1/openapi.json",
    operation_id = "openapi",
    tag = "meta",
    responses(
        (status = 200, description = "The OpenAPI document of `/api/v1`", body = Object),
    ),
)]
pub(super) async fn document() -> impl IntoResponse {
    ([(CONTENT_TYPE, "application/json")], DOCUMENT.as_str())
}

/// The error responses operations name, each with the wire error body.
#[expect(
    dead_code,
    reason = "these types only describe responses: `ApiError` builds the bodies"
)]
pub(super) mod errors {
    use berth_api_types::ErrorBody;
    use utoipa::IntoResponses;

    /// The request is malformed: its body is not the JSON this route takes.
    #[derive(IntoResponses)]
    #[response(status = 400)]
    pub(in crate::api) struct BadRequest(ErrorBody);

    /// No API token, or one that is unknown, revoked or expired.
    #[derive(IntoResponses)]
    #[response(status = 401)]
    pub(in crate::api) struct Unauthorized(ErrorBody);

    /// The token's scope, or the caller's role, does not allow this.
    #[derive(IntoResponses)]
    #[response(status = 403)]
    pub(in crate::api) struct Forbidden(ErrorBody);

    /// No such app (what a caller without access to it hears too), or no such
    /// thing in it.
    #[derive(IntoResponses)]
    #[response(status = 404)]
    pub(in crate::api) struct NotFound(ErrorBody);

    /// The change conflicts with how things are: a name already taken, the
    /// last owner, something still in use, another deploy under way.
    #[derive(IntoResponses)]
    #[response(status = 409)]
    pub(in crate::api) struct Conflict(ErrorBody);

    /// The request body is larger than this route takes.
    #[derive(IntoResponses)]
    #[response(status = 413)]
    pub(in crate::api) struct PayloadTooLarge(ErrorBody);

    /// A value is not valid (a name, a grammar, a query parameter), or the
    /// deploy the change started failed.
    #[derive(IntoResponses)]
    #[response(status = 422)]
    pub(in crate::api) struct Invalid(ErrorBody);

    /// Too many failed sign-ins: try again after `Retry-After` seconds.
    #[derive(IntoResponses)]
    #[response(status = 429, headers(("Retry-After" = u64, description = "Seconds to wait")))]
    pub(in crate::api) struct Throttled(ErrorBody);

    /// The server failed to handle the request; its log has the details.
    #[derive(IntoResponses)]
    #[response(status = 500)]
    pub(in crate::api) struct ServerError(ErrorBody);

    /// The server an add-on lives on failed or refused.
    #[derive(IntoResponses)]
    #[response(status = 502)]
    pub(in crate::api) struct AddonProviderFailed(ErrorBody);

    /// The container engine does not answer, or the server is at its limit
    /// for this kind of work: try again after `Retry-After` seconds.
    #[derive(IntoResponses)]
    #[response(status = 503, headers(("Retry-After" = u64, description = "Seconds to wait")))]
    pub(in crate::api) struct Unavailable(ErrorBody);
}
