//! The HTTP surface: routes, the bearer-token gate, discovery endpoints, and the
//! conformant refusals for what this provider does not do.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Path, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderName, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use axum::Router;
use http_body_util::BodyExt;
use writeback_core::Submit;
use zeroize::Zeroizing;

use crate::auth::BearerToken;
use crate::config::OtherAttributes;
use crate::directory::Directory;
use crate::discovery;
use crate::error::{scim_json, ScimError};
use crate::idempotency::RetryIds;
use crate::resource::USER_SCHEMA;
use crate::{push, users};

/// What the handlers need at run time.
pub struct ScimState {
    pub source_name: String,
    pub settings: Settings,
    pub token: BearerToken,
    pub retry_ids: RetryIds,
    pub pipeline: Arc<dyn Submit>,
    pub directory: Directory,
    /// Served over TLS (for the scheme of `meta.location`).
    pub tls: bool,
}

pub struct Settings {
    pub base_path: String,
    pub public_url: Option<String>,
    pub max_body_bytes: usize,
    pub max_results: usize,
    pub other_attributes: OtherAttributes,
    pub unlock_on_activate: bool,
    pub must_change: bool,
    pub idempotency_header: HeaderName,
    pub outcome_timeout: Duration,
}

pub type Shared = Arc<ScimState>;
pub type Params = Query<HashMap<String, String>>;

impl ScimState {
    /// The SCIM base URL as the client reaches it (no trailing slash).
    pub fn base_url(&self, headers: &HeaderMap) -> String {
        if let Some(url) = &self.settings.public_url {
            return url.clone();
        }
        let host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .filter(|h| {
                !h.is_empty()
                    && h.len() < 256
                    && h.chars()
                        .all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c))
            })
            .unwrap_or("localhost");
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{host}{}", self.settings.base_path)
    }

    /// Reads a request body up to the configured limit (413 beyond it) as JSON. The
    /// bytes are wiped when dropped: a push's body holds a password.
    pub async fn json_body(
        &self,
        headers: &HeaderMap,
        body: Body,
    ) -> Result<(Zeroizing<Vec<u8>>, serde_json::Value), ScimError> {
        if let Some(ct) = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
        {
            let media = ct
                .split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase();
            if media != "application/scim+json" && media != "application/json" {
                return Err(ScimError::new(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    None,
                    "Send the body as application/scim+json (or application/json).",
                ));
            }
        }
        let limit = self.settings.max_body_bytes;
        let too_large = || {
            ScimError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                None,
                format!("The request body is larger than {limit} bytes (max_body_bytes)."),
            )
        };
        let declared = headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > limit as u64) {
            return Err(too_large());
        }
        let bytes = http_body_util::Limited::new(body, limit)
            .collect()
            .await
            .map_err(|e| {
                if e.is::<http_body_util::LengthLimitError>() {
                    too_large()
                } else if let Some(slow) = timed_out(&*e) {
                    ScimError::new(StatusCode::REQUEST_TIMEOUT, None, slow.to_string())
                } else {
                    ScimError::invalid_syntax("The request body could not be read.")
                }
            })?
            .to_bytes();
        let bytes = Zeroizing::new(Vec::from(bytes));
        let value = serde_json::from_slice(&bytes).map_err(|e| {
            ScimError::invalid_syntax(format!(
                "The body is not valid JSON: line {}, column {}.",
                e.line(),
                e.column()
            ))
        })?;
        Ok((bytes, value))
    }
}

/// Wipes every string of a parsed body (a push's password among them) before it is
/// dropped; serde_json's own buffers are not zeroized otherwise.
pub fn scrub(value: &mut serde_json::Value) {
    use zeroize::Zeroize;
    match value {
        serde_json::Value::String(s) => s.zeroize(),
        serde_json::Value::Array(items) => items.iter_mut().for_each(scrub),
        serde_json::Value::Object(map) => map.values_mut().for_each(scrub),
        _ => {}
    }
}

pub fn router(state: Shared) -> Router {
    let api = Router::new()
        .route(
            "/ServiceProviderConfig",
            get(service_provider_config).fallback(method_not_allowed),
        )
        .route(
            "/ResourceTypes",
            get(resource_types).fallback(method_not_allowed),
        )
        .route(
            "/ResourceTypes/{name}",
            get(resource_type).fallback(method_not_allowed),
        )
        .route("/Schemas", get(schemas).fallback(method_not_allowed))
        .route("/Schemas/{urn}", get(schema).fallback(method_not_allowed))
        .route(
            "/Users",
            get(users::list)
                .post(create_refused)
                .fallback(method_not_allowed),
        )
        .route(
            "/Users/.search",
            post(users::search).fallback(method_not_allowed),
        )
        .route(
            "/Users/{id}",
            get(users::get_one)
                .put(push::put)
                .patch(push::patch)
                .delete(delete_refused)
                .fallback(method_not_allowed),
        )
        .route("/Bulk", any(bulk_refused))
        .route("/Me", any(me_refused))
        .route("/.search", any(root_search_refused));
    let base = state.settings.base_path.clone();
    let app = if base.is_empty() {
        api
    } else {
        Router::new().nest(&base, api)
    };
    app.fallback(not_found)
        .layer(middleware::from_fn_with_state(state.clone(), require_token))
        .with_state(state)
}

async fn require_token(State(state): State<Shared>, request: Request, next: Next) -> Response {
    if !state.token.admits(request.headers()) {
        return ScimError::unauthorized().into_response();
    }
    next.run(request).await
}

/// Discovery endpoints are not searchable (RFC 7644 §4): a filter is refused rather than
/// silently ignored, so a client cannot take an unfiltered answer for a filtered one.
fn refuse_filter(params: &HashMap<String, String>) -> Result<(), ScimError> {
    if params.keys().any(|k| k.eq_ignore_ascii_case("filter")) {
        return Err(ScimError::new(
            StatusCode::FORBIDDEN,
            None,
            "Discovery endpoints do not support `filter`.",
        ));
    }
    Ok(())
}

async fn service_provider_config(
    State(s): State<Shared>,
    headers: HeaderMap,
    Query(p): Params,
) -> Response {
    if let Err(e) = refuse_filter(&p) {
        return e.into_response();
    }
    scim_json(&discovery::service_provider_config(
        &s.base_url(&headers),
        s.settings.max_results,
    ))
}

async fn resource_types(State(s): State<Shared>, headers: HeaderMap, Query(p): Params) -> Response {
    if let Err(e) = refuse_filter(&p) {
        return e.into_response();
    }
    scim_json(&discovery::list(vec![discovery::user_resource_type(
        &s.base_url(&headers),
    )]))
}

async fn resource_type(
    State(s): State<Shared>,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> Response {
    if name == "User" {
        scim_json(&discovery::user_resource_type(&s.base_url(&headers)))
    } else {
        ScimError::not_found("This provider serves one resource type: User.").into_response()
    }
}

async fn schemas(State(s): State<Shared>, headers: HeaderMap, Query(p): Params) -> Response {
    if let Err(e) = refuse_filter(&p) {
        return e.into_response();
    }
    scim_json(&discovery::list(vec![discovery::user_schema(
        &s.base_url(&headers),
    )]))
}

async fn schema(State(s): State<Shared>, headers: HeaderMap, Path(urn): Path<String>) -> Response {
    if urn.eq_ignore_ascii_case(USER_SCHEMA) {
        scim_json(&discovery::user_schema(&s.base_url(&headers)))
    } else {
        ScimError::not_found(format!(
            "This provider publishes one schema: {USER_SCHEMA}."
        ))
        .into_response()
    }
}

const NO_PROVISIONING: &str = "writeback does not provision: users are created and deleted in the \
     on-premises directory. Turn off \"Create Users\" and \"Deactivate Users\" for this application \
     in the identity provider and link existing users (GET /Users?filter=userName eq \"…\").";

async fn create_refused() -> ScimError {
    ScimError::new(
        StatusCode::NOT_IMPLEMENTED,
        None,
        format!("Creating users is not supported. {NO_PROVISIONING}"),
    )
}

async fn delete_refused() -> ScimError {
    ScimError::new(
        StatusCode::NOT_IMPLEMENTED,
        None,
        format!("Deleting users is not supported. {NO_PROVISIONING}"),
    )
}

async fn bulk_refused() -> ScimError {
    ScimError::not_implemented("Bulk operations are not supported (see /ServiceProviderConfig).")
}

async fn me_refused() -> ScimError {
    ScimError::not_implemented(
        "The /Me endpoint is not supported: address users by id under /Users.",
    )
}

async fn root_search_refused() -> ScimError {
    ScimError::not_implemented(
        "Search across resource types is not supported: use POST /Users/.search.",
    )
}

async fn method_not_allowed() -> ScimError {
    ScimError::method_not_allowed()
}

async fn not_found() -> ScimError {
    ScimError::not_found(
        "No such SCIM endpoint. This provider serves /ServiceProviderConfig, /ResourceTypes, /Schemas and /Users under its base URL.",
    )
}

/// The listener's body-read timeout, wherever it sits in the chain (axum wraps it).
fn timed_out<'a>(
    e: &'a (dyn std::error::Error + 'static),
) -> Option<&'a writeback_listener::BodyTimedOut> {
    let mut next = Some(e);
    while let Some(err) = next {
        if let Some(t) = err.downcast_ref::<writeback_listener::BodyTimedOut>() {
            return Some(t);
        }
        next = err.source();
    }
    None
}
