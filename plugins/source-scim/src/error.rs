//! SCIM error responses (RFC 7644 §3.12) and how outcome codes map to them.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use writeback_core::{Outcome, OutcomeCode};

pub const ERROR_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
pub const SCIM_JSON: &str = "application/scim+json";

/// How long an identity provider should wait before retrying a retryable outcome.
const RETRY_AFTER_SECS: u64 = 30;

/// One SCIM error: the HTTP status, the `scimType` keyword when RFC 7644 has one, and a
/// `detail` a person can act on. Never carries a password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScimError {
    pub status: StatusCode,
    pub scim_type: Option<&'static str>,
    pub detail: String,
    pub retry_after: Option<u64>,
}

impl ScimError {
    pub fn new(
        status: StatusCode,
        scim_type: Option<&'static str>,
        detail: impl Into<String>,
    ) -> Self {
        ScimError {
            status,
            scim_type,
            detail: detail.into(),
            retry_after: None,
        }
    }

    pub fn bad_request(scim_type: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, Some(scim_type), detail)
    }

    pub fn invalid_filter(detail: impl Into<String>) -> Self {
        Self::bad_request("invalidFilter", detail)
    }

    pub fn invalid_syntax(detail: impl Into<String>) -> Self {
        Self::bad_request("invalidSyntax", detail)
    }

    pub fn invalid_value(detail: impl Into<String>) -> Self {
        Self::bad_request("invalidValue", detail)
    }

    pub fn mutability(detail: impl Into<String>) -> Self {
        Self::bad_request("mutability", detail)
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, None, detail)
    }

    pub fn not_implemented(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_IMPLEMENTED, None, detail)
    }

    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            None,
            "Missing or wrong bearer token: send `Authorization: Bearer <token>` with the token configured for this source.",
        )
    }

    pub fn method_not_allowed() -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            None,
            "This endpoint does not support that HTTP method.",
        )
    }

    pub fn unavailable(detail: impl Into<String>) -> Self {
        let mut e = Self::new(StatusCode::SERVICE_UNAVAILABLE, None, detail);
        e.retry_after = Some(RETRY_AFTER_SECS);
        e
    }

    /// The SCIM error for a request that did not succeed. The `admin_detail` stays in the
    /// audit log: the identity provider's console is not the place for DNs and rights.
    pub fn from_outcome(outcome: &Outcome) -> Self {
        let mut detail = outcome.message.clone();
        if !outcome.rules.is_empty() {
            let reasons: Vec<&str> = outcome.rules.iter().map(|r| r.message.as_str()).collect();
            detail = format!("{} {}", detail, reasons.join(" "));
        }
        let detail = format!("{detail} (writeback: {})", outcome.code);
        match outcome.code {
            OutcomeCode::RejectedPolicy
            | OutcomeCode::RejectedHistory
            | OutcomeCode::RejectedMinAge
            | OutcomeCode::WrongOldPassword
            | OutcomeCode::InvalidRequest => Self::invalid_value(detail),
            OutcomeCode::NotFound => Self::not_found(detail),
            // No SCIM keyword fits exactly; `uniqueness` says "values in use by others",
            // which is what several matching accounts are.
            OutcomeCode::AmbiguousIdentity => {
                Self::new(StatusCode::CONFLICT, Some("uniqueness"), detail)
            }
            OutcomeCode::AdminActionRequired => Self::new(StatusCode::FORBIDDEN, None, detail),
            OutcomeCode::DirectoryUnavailable | OutcomeCode::Timeout => Self::unavailable(detail),
            OutcomeCode::Unauthorized => Self::new(StatusCode::UNAUTHORIZED, None, detail),
            OutcomeCode::PluginFault | OutcomeCode::Succeeded => {
                Self::new(StatusCode::INTERNAL_SERVER_ERROR, None, detail)
            }
        }
    }

    pub fn body(&self) -> serde_json::Value {
        let mut body = json!({
            "schemas": [ERROR_SCHEMA],
            "status": self.status.as_u16().to_string(),
            "detail": self.detail,
        });
        if let (Some(t), Some(map)) = (self.scim_type, body.as_object_mut()) {
            map.insert("scimType".into(), json!(t));
        }
        body
    }
}

impl IntoResponse for ScimError {
    fn into_response(self) -> Response {
        let mut response = (self.status, scim_json(&self.body())).into_response();
        let headers = response.headers_mut();
        if self.status == StatusCode::UNAUTHORIZED {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"writeback-scim\""),
            );
        }
        if let Some(secs) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

/// A JSON body with the SCIM media type.
pub fn scim_json(value: &serde_json::Value) -> Response {
    let body = serde_json::to_vec(value).unwrap_or_default();
    (
        [(header::CONTENT_TYPE, HeaderValue::from_static(SCIM_JSON))],
        body,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use writeback_core::RuleViolation;

    #[test]
    fn policy_refusal_is_invalid_value_with_every_reason() {
        let outcome = Outcome::rejected(vec![
            RuleViolation {
                rule: "length.min".into(),
                message: "Use at least 12 characters.".into(),
            },
            RuleViolation {
                rule: "classes".into(),
                message: "Add a digit.".into(),
            },
        ]);
        let e = ScimError::from_outcome(&outcome);
        assert_eq!(e.status, StatusCode::BAD_REQUEST);
        assert_eq!(e.scim_type, Some("invalidValue"));
        assert!(
            e.detail.contains("12 characters") && e.detail.contains("digit"),
            "{}",
            e.detail
        );
        let body = e.body();
        assert_eq!(body["status"], "400");
        assert_eq!(body["schemas"][0], ERROR_SCHEMA);
    }

    #[test]
    fn retryable_outcomes_say_when_to_retry() {
        let e = ScimError::from_outcome(&Outcome::of(OutcomeCode::DirectoryUnavailable));
        assert_eq!(e.status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(e.retry_after, Some(RETRY_AFTER_SECS));
        let admin =
            Outcome::of(OutcomeCode::AdminActionRequired).with_admin_detail("cn=secret,dc=x");
        assert!(!ScimError::from_outcome(&admin).detail.contains("cn=secret"));
    }
}
