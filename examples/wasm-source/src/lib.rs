//! A cloud source as a WASM plugin: polls a cloud API for pending password requests
//! and posts each outcome back, through the HTTP capability the administrator grants.
//! A WASM source cannot listen for pushes, so the host calls `poll` on an interval.
//!
//! The cloud API it expects (any service that queues requests can offer it):
//!
//! * `GET {base_url}/pending` answers `200` with `{"requests": [...]}` (or `204`), each
//!   request in writeback's webhook format (docs/webhook-protocol.md):
//!   `{"id": "r-1", "operation": "reset", "must_change": false,
//!   "identity": {"upn": "alice@example.org"}, "initiator": {"kind": "admin", "id": "helpdesk"},
//!   "new_password": "..."}`; `change` adds `old_password`, `unlock` carries no password.
//!   A request stays pending until its result is posted.
//! * `POST {base_url}/results/{id}` (the id percent-encoded) with
//!   `{"id": "r-1", "outcome": "succeeded", "message": "...", "rules": [...], "retryable": false}`.
//!
//! ```toml
//! [[plugins]]
//! path = "wasm_source_example.wasm"
//! allow_http = ["https://cloud.example.com/api/writeback/"]
//! timeout_ms = 5000                  # each poll and report is one HTTP round trip
//!
//! [[sources]]
//! type = "cloud-poll"
//! name = "cloud"
//! poll_interval_ms = 5000            # the host's key, not passed to the plugin
//! base_url = "https://cloud.example.com/api/writeback"
//! # token = "..."                   # sent as `Authorization: Bearer ...`; see below
//! # send_admin_detail = false        # the administrator's detail stays on-premises
//! ```
//!
//! The host does not resolve `{ env = "..." }` or `{ file = "..." }` in a plugin's own
//! keys: a `token` is written in the config file itself, so keep that file readable
//! by writeback's user alone (mode 0600).

use serde::Deserialize;
use serde_json::{json, Value};
use writeback_plugin_wasm_guest::model;
use writeback_plugin_wasm_guest::source::{
    http, log, About, Initiator, InitiatorKind, Operation, Outcome, OutcomeCode, PendingRequest,
    SourcePlugin, MAX_BATCH,
};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    /// The API's root, without the trailing `/`; must be under an `allow_http` entry.
    base_url: String,
    /// A bearer token for the API, if it wants one.
    #[serde(default)]
    token: Option<String>,
    /// Also send the administrator's detail (DNs, directory diagnostics) to the cloud.
    #[serde(default)]
    send_admin_detail: bool,
}

impl Config {
    fn url(&self, path: &str) -> String {
        format!("{}/{path}", self.base_url.trim_end_matches('/'))
    }

    fn headers(&self) -> Vec<(&'static str, String)> {
        let mut headers = vec![("accept", "application/json".to_string())];
        if let Some(token) = &self.token {
            headers.push(("authorization", format!("Bearer {token}")));
        }
        headers
    }
}

/// `GET /pending`.
#[derive(Deserialize)]
struct PendingList {
    #[serde(default)]
    requests: Vec<Value>,
}

/// One request as the API sends it (the webhook source's format).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WireRequest {
    id: String,
    operation: String,
    #[serde(default)]
    must_change: bool,
    /// The writeback model's identity: the webhook source's format, unknown keys refused.
    identity: model::CloudIdentity,
    #[serde(default)]
    initiator: WireInitiator,
    #[serde(default)]
    new_password: Option<String>,
    #[serde(default)]
    old_password: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct WireInitiator {
    #[serde(default)]
    kind: Option<String>,
    #[serde(default)]
    id: Option<String>,
}

/// Checks the shape; the host checks the values (id, identity, password rules).
/// Messages never quote a value: it could be a password sent in the wrong field.
fn into_pending(w: WireRequest) -> Result<PendingRequest, &'static str> {
    let operation = match (w.operation.as_str(), w.new_password, w.old_password) {
        ("reset", Some(new), None) => Operation::reset(new, w.must_change),
        ("change", Some(new), Some(old)) if !w.must_change => Operation::change(old, new),
        ("unlock", None, None) if !w.must_change => Operation::Unlock,
        ("reset", ..) => return Err("a reset needs `new_password` and no `old_password`"),
        ("change", ..) => return Err("a change needs `old_password` and `new_password`"),
        ("unlock", ..) => return Err("an unlock carries no password"),
        _ => return Err("`operation` must be reset, change or unlock"),
    };
    let kind = match w.initiator.kind.as_deref() {
        None | Some("user") => InitiatorKind::User,
        Some("admin") => InitiatorKind::Admin,
        Some("system") => InitiatorKind::System,
        Some(_) => return Err("`initiator.kind` must be user, admin or system"),
    };
    Ok(PendingRequest {
        id: w.id,
        operation,
        identity: w.identity.into(),
        initiator: Initiator {
            kind,
            id: w.initiator.id,
        },
    })
}

/// A path segment, percent-encoded (RFC 3986 unreserved characters stay).
fn encode(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for b in segment.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn post_result(config: &Config, id: &str, outcome: &Outcome) -> Result<(), String> {
    let rules: Vec<Value> = outcome
        .rules
        .iter()
        .map(|r| json!({ "rule": r.rule, "message": r.message }))
        .collect();
    let mut body = json!({
        "id": id,
        "outcome": outcome.code.as_str(),
        "message": outcome.message,
        "rules": rules,
        "retryable": matches!(outcome.code, OutcomeCode::DirectoryUnavailable | OutcomeCode::Timeout),
    });
    if config.send_admin_detail {
        if let Some(detail) = &outcome.admin_detail {
            body["admin_detail"] = json!(detail);
        }
    }
    let headers = config.headers();
    let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let url = config.url(&format!("results/{}", encode(id)));
    match http::post_json(&url, &headers, &body) {
        Ok(r) if r.is_success() => Ok(()),
        Ok(r) if r.status == 404 || r.status == 410 => {
            // Expired or withdrawn on the cloud side: nothing left to tell.
            log::event(
                log::Level::Warn,
                "the cloud no longer knows this request; its result is dropped",
                &[("request_id", id), ("outcome", outcome.code.as_str())],
            );
            Ok(())
        }
        Ok(r) => Err(format!(
            "the cloud answered HTTP {} to the result",
            r.status
        )),
        Err(e) => Err(format!("cannot post the result: {e}")),
    }
}

struct CloudPoll;

impl SourcePlugin for CloudPoll {
    type Config = Config;
    const ABOUT: About = About {
        name: "cloud-poll",
        version: "1.0.0",
        description: "polls a cloud API for pending password requests and posts each outcome back",
    };

    fn poll(config: &Config) -> Result<Vec<PendingRequest>, String> {
        let headers = config.headers();
        let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let response = match http::get(&config.url("pending"), &headers) {
            Ok(r) => r,
            Err(http::HttpError::NotAllowed(m)) => {
                log::error(
                    "the API URL is not granted: add it to `allow_http` in the [[plugins]] entry",
                );
                return Err(format!("cannot fetch pending requests: {m}"));
            }
            Err(e) => return Err(format!("cannot fetch pending requests: {e}")),
        };
        match response.status {
            200 => {}
            204 => return Ok(Vec::new()),
            401 | 403 => {
                return Err(format!(
                    "the cloud refused the credentials (HTTP {}): check `token`",
                    response.status
                ))
            }
            s => return Err(format!("the cloud answered HTTP {s} to GET pending")),
        }
        let list: PendingList = response.json()?;
        let mut pending = Vec::new();
        for value in list.requests.into_iter().take(MAX_BATCH) {
            let id = value.get("id").and_then(Value::as_str).map(str::to_string);
            let why = match serde_json::from_value::<WireRequest>(value) {
                Ok(wire) => match into_pending(wire) {
                    Ok(p) => {
                        pending.push(p);
                        continue;
                    }
                    Err(why) => why,
                },
                // serde's message may quote a value; say only what kind of error it is.
                Err(_) => "a field is missing, unknown or of the wrong type",
            };
            // The host never sees it: tell the cloud here, so it stops handing it over.
            match id {
                Some(id) => {
                    log::event(
                        log::Level::Warn,
                        "a pending request is malformed; reported as invalid_request",
                        &[("request_id", &id), ("reason", why)],
                    );
                    let outcome = Outcome::failure(
                        OutcomeCode::InvalidRequest,
                        format!("The request was not accepted: {why}."),
                        None,
                    );
                    if let Err(e) = post_result(config, &id, &outcome) {
                        log::event(log::Level::Warn, &e, &[("request_id", &id)]);
                    }
                }
                None => log::event(
                    log::Level::Warn,
                    "a pending request without an id was skipped",
                    &[("reason", why)],
                ),
            }
        }
        Ok(pending)
    }

    fn report(config: &Config, request_id: &str, outcome: &Outcome) -> Result<(), String> {
        post_result(config, request_id, outcome)
    }
}

writeback_plugin_wasm_guest::source_plugin!(CloudPoll);
