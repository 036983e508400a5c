//! The JSON wire format of `POST /v1/requests`: the body the cloud side sends and the
//! reply it gets. docs/webhook-protocol.md describes the same thing for integrators.

use serde::{Deserialize, Serialize};
use writeback_core::{
    CloudIdentity, Initiator, Operation, OperationKind, Outcome, OutcomeCode, Password, Request,
    RequestId, RuleViolation,
};

/// The body as received. Passwords go straight into [`Password`]: never a plain
/// `String`, never in a log or an error message.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WireRequest {
    id: RequestId,
    operation: OperationKind,
    #[serde(default)]
    must_change: bool,
    identity: CloudIdentity,
    #[serde(default)]
    initiator: Initiator,
    #[serde(default)]
    new_password: Option<Password>,
    #[serde(default)]
    old_password: Option<Password>,
}

/// Why a body was refused, for the `invalid_request` reply. Never quotes a value from
/// the body (it could be a password sent in the wrong place).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidRequest {
    /// The request id, when it could be read.
    pub id: Option<String>,
    pub message: String,
}

/// Parses and checks a body that has already passed signature verification.
pub fn parse_request(body: &[u8], source: &str) -> Result<Request, InvalidRequest> {
    // The common case parses once, without tracking paths; only a refused body is
    // parsed again to say which field is wrong.
    let wire: WireRequest = serde_json::from_slice(body).map_err(|_| explain(body))?;
    let id = wire.id.clone();
    into_request(wire, source).map_err(|message| InvalidRequest {
        id: Some(id.to_string()),
        message,
    })
}

/// Why `body` does not parse, naming the field.
fn explain(body: &[u8]) -> InvalidRequest {
    let refuse = |path: &str, e: &serde_json::Error| InvalidRequest {
        id: peek_id(body),
        message: describe_json_error(path, e),
    };
    let mut de = serde_json::Deserializer::from_slice(body);
    match serde_path_to_error::deserialize::<_, WireRequest>(&mut de) {
        Err(e) => refuse(&e.path().to_string(), e.inner()),
        Ok(_) => match de.end() {
            Err(e) => refuse("", &e),
            Ok(()) => InvalidRequest {
                id: peek_id(body),
                message: "the body is not a valid request".into(),
            },
        },
    }
}

fn into_request(wire: WireRequest, source: &str) -> Result<Request, String> {
    let WireRequest {
        id,
        operation,
        must_change,
        identity,
        initiator,
        new_password,
        old_password,
    } = wire;
    if must_change && operation != OperationKind::Reset {
        return Err("`must_change` applies only to operation \"reset\"".into());
    }
    let operation = match (operation, new_password, old_password) {
        (OperationKind::Reset, Some(new_password), None) => Operation::Reset {
            new_password: checked("new_password", new_password)?,
            must_change,
        },
        (OperationKind::Change, Some(new_password), Some(old_password)) => Operation::Change {
            old_password: old_shape("old_password", old_password)?,
            new_password: checked("new_password", new_password)?,
        },
        (OperationKind::Unlock, None, None) => Operation::Unlock,
        (OperationKind::Reset, None, _) => {
            return Err("operation \"reset\" needs `new_password`".into())
        }
        (OperationKind::Reset, Some(_), Some(_)) => return Err(
            "operation \"reset\" takes no `old_password`; use \"change\" for a self-service change"
                .into(),
        ),
        (OperationKind::Change, _, _) => {
            return Err("operation \"change\" needs both `old_password` and `new_password`".into())
        }
        (OperationKind::Unlock, _, _) => {
            return Err("operation \"unlock\" takes no password".into())
        }
    };
    identity.validate()?;
    if let Some(who) = &initiator.id {
        if who.len() > 1024 || who.chars().any(char::is_control) {
            return Err(
                "`initiator.id` must be at most 1024 bytes without control characters".into(),
            );
        }
    }
    Ok(Request {
        id,
        source: source.to_string(),
        operation,
        identity,
        initiator,
    })
}

fn checked(field: &str, password: Password) -> Result<Password, String> {
    password
        .validate_shape()
        .map_err(|why| format!("`{field}`: {why}"))?;
    Ok(password)
}

/// The old password is the person's current one: only its length and emptiness are
/// judged (the directory decides whether it is right).
fn old_shape(field: &str, password: Password) -> Result<Password, String> {
    if password.is_empty() {
        return Err(format!("`{field}` is empty"));
    }
    if password.char_count() > Password::MAX_CHARS {
        return Err(format!(
            "`{field}` is longer than {} characters",
            Password::MAX_CHARS
        ));
    }
    Ok(password)
}

/// The request id, read on its own, so a malformed body still gets its id back.
fn peek_id(body: &[u8]) -> Option<String> {
    #[derive(Deserialize)]
    struct IdOnly {
        id: RequestId,
    }
    serde_json::from_slice::<IdOnly>(body)
        .ok()
        .map(|v| v.id.to_string())
}

/// A serde error as a message that names the field but never repeats a value:
/// `invalid type: string "hunter2", expected ...` becomes `invalid type, expected ...`.
fn describe_json_error(path: &str, error: &serde_json::Error) -> String {
    use serde_json::error::Category;
    let full = error.to_string();
    let text = full
        .rsplit_once(" at line ")
        .map_or(full.as_str(), |(head, _)| head);
    let safe = if text.starts_with("invalid type") || text.starts_with("invalid value") {
        match text.split_once(", expected ") {
            Some((kind, expected)) => {
                let kind = kind.split(':').next().unwrap_or(kind);
                format!("{kind}, expected {expected}")
            }
            None => "invalid value".to_string(),
        }
    } else if text.starts_with("unknown variant") {
        match text.split_once(", expected ") {
            Some((_, expected)) => format!("unknown value, expected {expected}"),
            None => "unknown value".to_string(),
        }
    } else {
        text.to_string()
    };
    let place = match error.classify() {
        Category::Syntax | Category::Eof => {
            format!(" (line {}, column {})", error.line(), error.column())
        }
        _ => String::new(),
    };
    let prefix = match path {
        "" | "." => String::new(),
        p => format!("`{p}`: "),
    };
    match error.classify() {
        Category::Syntax | Category::Eof => format!("the body is not valid JSON: {safe}{place}"),
        _ => format!("{prefix}{safe}"),
    }
}

/// The reply to every `POST /v1/requests`, with the HTTP status beside it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reply {
    /// The request id, when the body could be read.
    pub id: Option<String>,
    pub outcome: OutcomeCode,
    /// For the person: what happened and what to do.
    pub message: String,
    /// Every rule the password broke (with `rejected_policy`, and the directory's reasons).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<RuleViolation>,
    /// Whether sending the same request again later may succeed.
    pub retryable: bool,
}

impl Reply {
    /// The reply for an outcome. `admin_detail` stays on this side (audit log, notifiers).
    pub fn from_outcome(id: Option<String>, outcome: Outcome) -> Self {
        Reply {
            id,
            outcome: outcome.code,
            retryable: outcome.code.is_retryable(),
            message: outcome.message,
            rules: outcome.rules,
        }
    }

    /// A refusal before the pipeline (bad signature, malformed body, ...).
    pub fn refusal(id: Option<String>, code: OutcomeCode, message: impl Into<String>) -> Self {
        Reply {
            id,
            outcome: code,
            message: message.into(),
            rules: Vec::new(),
            retryable: code.is_retryable(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MARKER: &str = "Marker-Pw-9a7";

    fn parse(json: &str) -> Result<Request, InvalidRequest> {
        parse_request(json.as_bytes(), "hook")
    }

    fn message(json: &str) -> String {
        match parse(json) {
            Ok(_) => String::from("(accepted)"),
            Err(e) => e.message,
        }
    }

    #[test]
    fn parses_each_operation() {
        let reset = parse(&format!(
            r#"{{"id":"r1","operation":"reset","must_change":true,"identity":{{"upn":"a@x"}},"new_password":"{MARKER}"}}"#
        ))
        .unwrap();
        assert!(matches!(
            reset.operation,
            Operation::Reset {
                must_change: true,
                ..
            }
        ));
        assert_eq!(
            reset.operation.new_password().map(Password::expose),
            Some(MARKER)
        );
        assert_eq!(reset.source, "hook");
        let change = parse(&format!(
            r#"{{"id":"r2","operation":"change","identity":{{"username":"a"}},"initiator":{{"kind":"user"}},"old_password":"old-{MARKER}","new_password":"{MARKER}"}}"#
        ))
        .unwrap();
        assert_eq!(change.operation.kind(), OperationKind::Change);
        let unlock = parse(r#"{"id":"r3","operation":"unlock","identity":{"mail":"a@x"},"initiator":{"kind":"admin","id":"helpdesk"}}"#).unwrap();
        assert_eq!(unlock.operation.kind(), OperationKind::Unlock);
    }

    #[test]
    fn the_documented_example_body_parses() {
        let body = r#"{"id":"req-2026-0001","operation":"reset","must_change":true,"identity":{"upn":"alice@example.test"},"initiator":{"kind":"user"},"new_password":"Correct-Horse-42"}"#;
        let r = parse(body).unwrap();
        assert_eq!(r.id.as_str(), "req-2026-0001");
        assert!(matches!(
            r.operation,
            Operation::Reset {
                must_change: true,
                ..
            }
        ));
    }

    #[test]
    fn refuses_wrong_password_combinations() {
        assert!(
            message(r#"{"id":"r","operation":"reset","identity":{"upn":"a"}}"#)
                .contains("needs `new_password`")
        );
        assert!(message(&format!(r#"{{"id":"r","operation":"change","identity":{{"upn":"a"}},"new_password":"{MARKER}"}}"#)).contains("needs both"));
        assert!(message(&format!(r#"{{"id":"r","operation":"unlock","identity":{{"upn":"a"}},"new_password":"{MARKER}"}}"#)).contains("takes no password"));
        assert!(message(
            r#"{"id":"r","operation":"unlock","must_change":true,"identity":{"upn":"a"}}"#
        )
        .contains("must_change"));
        assert!(message(
            r#"{"id":"r","operation":"reset","identity":{"upn":"a"},"new_password":"a\u0007b"}"#
        )
        .contains("control characters"));
        assert!(
            message(r#"{"id":"r","operation":"unlock","identity":{"display_name":"A"}}"#)
                .contains("no identifier")
        );
    }

    #[test]
    fn refuses_unknown_fields_and_bad_json_without_echoing_values() {
        let m = message(r#"{"id":"r","operation":"unlock","identity":{"upn":"a"},"password":"x"}"#);
        assert!(m.contains("unknown field `password`"), "{m}");
        let m = message(&format!(
            r#"{{"id":"r","operation":"{MARKER}","identity":{{"upn":"a"}}}}"#
        ));
        assert!(
            m.contains("`operation`: unknown value") && !m.contains(MARKER),
            "{m}"
        );
        let m = message(&format!(
            r#"{{"id":"r","operation":"reset","identity":"{MARKER}","new_password":"x"}}"#
        ));
        assert!(
            m.contains("`identity`: invalid type") && !m.contains(MARKER),
            "{m}"
        );
        let m = message(&format!(
            r#"{{"id":"r","operation":"reset","identity":{{"upn":"a"}},"new_password":"{MARKER}""#
        ));
        assert!(m.contains("not valid JSON") && !m.contains(MARKER), "{m}");
        let m = message(r#"{"id":"r","operation":"unlock","identity":{"upn":"a"}} trailing"#);
        assert!(m.contains("not valid JSON"), "{m}");
        let m = message(r#"{"id":"a b","operation":"unlock","identity":{"upn":"a"}}"#);
        assert!(m.contains("`id`"), "{m}");
        // The id comes back when it can be read.
        let e = parse(r#"{"id":"r9","operation":"nope","identity":{"upn":"a"}}"#)
            .err()
            .unwrap();
        assert_eq!(e.id.as_deref(), Some("r9"));
    }

    #[test]
    fn reply_keeps_admin_detail_on_this_side() {
        let outcome = Outcome::of(OutcomeCode::DirectoryUnavailable)
            .with_admin_detail("ldaps://dc1: refused");
        let reply = Reply::from_outcome(Some("r".into()), outcome);
        let json = serde_json::to_string(&reply).unwrap();
        assert!(!json.contains("dc1"), "{json}");
        assert!(json.contains("\"retryable\":true"), "{json}");
        assert!(!json.contains("rules"), "{json}");
    }
}
