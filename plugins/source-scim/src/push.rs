//! Password pushes: `PUT` and `PATCH /Users/{id}` become reset (and unlock) requests
//! through the pipeline, and the HTTP response waits for the outcome.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use writeback_core::{Initiator, InitiatorKind, Operation, OperationKind, Outcome, Request};

use crate::config::OtherAttributes;
use crate::error::{scim_json, ScimError};
use crate::resource::Projection;
use crate::routes::{scrub, Params, Shared};
use crate::update::{self, UserUpdate};
use crate::users;

#[derive(Clone, Copy)]
enum Method {
    Put,
    Patch,
}

impl Method {
    fn as_str(self) -> &'static str {
        match self {
            Method::Put => "PUT",
            Method::Patch => "PATCH",
        }
    }
}

pub async fn put(
    s: State<Shared>,
    h: HeaderMap,
    id: Path<String>,
    q: Params,
    body: Body,
) -> Response {
    handle(Method::Put, s, h, id, q, body).await
}

pub async fn patch(
    s: State<Shared>,
    h: HeaderMap,
    id: Path<String>,
    q: Params,
    body: Body,
) -> Response {
    handle(Method::Patch, s, h, id, q, body).await
}

async fn handle(
    method: Method,
    State(s): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(params): Params,
    body: Body,
) -> Response {
    match run(method, &s, &headers, &id, &params, body).await {
        Ok(resource) => scim_json(&resource),
        Err(e) => e.into_response(),
    }
}

async fn run(
    method: Method,
    s: &Shared,
    headers: &HeaderMap,
    id: &str,
    params: &std::collections::HashMap<String, String>,
    body: Body,
) -> Result<Value, ScimError> {
    let pick = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    };
    let projection = Projection::from_params(pick("attributes"), pick("excludedAttributes"))?;
    let (raw, mut body) = s.json_body(headers, body).await?;
    let parsed = match users::current(s, headers, id).await {
        Ok((account, resource)) => match method {
            Method::Put => update::from_put(&body, &resource),
            Method::Patch => update::from_patch(&body, &resource),
        }
        .map(|update| (account, resource, update)),
        Err(e) => Err(e),
    };
    scrub(&mut body);
    let (account, resource, mut update) = parsed?;
    if update.active == Some(false) {
        // Deactivating is deprovisioning, which happens in the directory.
        update.other_changes.push("active".into());
    }
    refuse_other_changes(s, &update)?;

    let client_key = headers
        .get(&s.settings.idempotency_header)
        .map(|v| {
            v.to_str()
                .map_err(|_| ScimError::invalid_syntax("The idempotency key must be ASCII."))
        })
        .transpose()?;
    let identity = s.directory.identity_of(&account, id);
    if let Some(password) = update.password.take() {
        let request_id = s.retry_ids.id_for(client_key, method.as_str(), id, &raw)?;
        let operation = Operation::Reset {
            new_password: password,
            must_change: s.settings.must_change,
        };
        submit(s, request_id, operation, identity.clone(), id).await?;
    }
    // Only a PATCH says "make active" on purpose: a PUT carries `active: true` every time.
    let activate = matches!(method, Method::Patch) && update.active == Some(true);
    if activate && s.settings.unlock_on_activate {
        let unlock_key = client_key.map(|k| format!("{k}:unlock"));
        let request_id = s.retry_ids.id_for(
            unlock_key.as_deref(),
            &format!("{}+unlock", method.as_str()),
            id,
            &raw,
        )?;
        submit(s, request_id, Operation::Unlock, identity, id).await?;
    }
    Ok(projection.apply(resource))
}

fn refuse_other_changes(s: &Shared, update: &UserUpdate) -> Result<(), ScimError> {
    if update.other_changes.is_empty() || s.settings.other_attributes == OtherAttributes::Ignore {
        return Ok(());
    }
    Err(ScimError::mutability(format!(
        "writeback only sets passwords{}: it does not change {}. Change them in the on-premises directory, \
         stop the identity provider from pushing them, or set `other_attributes = \"ignore\"` on this source.",
        if s.settings.unlock_on_activate { " and clears lockouts (active: true)" } else { "" },
        update.other_changes.join(", ")
    )))
}

/// Runs one request through the pipeline and waits for its outcome. The request runs
/// in its own task: if the client hangs up or the wait times out, it still completes
/// and its outcome is kept for a retry with the same id.
async fn submit(
    s: &Shared,
    request_id: writeback_core::RequestId,
    operation: Operation,
    identity: writeback_core::CloudIdentity,
    scim_id: &str,
) -> Result<(), ScimError> {
    let kind = operation.kind();
    let request = Request {
        id: request_id.clone(),
        source: s.source_name.clone(),
        operation,
        identity,
        initiator: Initiator {
            kind: InitiatorKind::System,
            id: Some(format!("scim:{}", s.source_name)),
        },
    };
    let pipeline = Arc::clone(&s.pipeline);
    let task = tokio::spawn(async move { pipeline.submit(request).await });
    let outcome = match tokio::time::timeout(s.settings.outcome_timeout, task).await {
        Ok(Ok(outcome)) => outcome,
        Ok(Err(_)) => Outcome::new(writeback_core::OutcomeCode::PluginFault, "The request stopped unexpectedly. Try again."),
        Err(_) => {
            return Err(ScimError::unavailable(
                "The directory has not answered yet. Retry the same request: it will not be applied twice.",
            ))
        }
    };
    log_outcome(&s.source_name, &request_id, kind, scim_id, &outcome);
    if outcome.is_success() {
        Ok(())
    } else {
        Err(ScimError::from_outcome(&outcome))
    }
}

fn log_outcome(
    source: &str,
    request_id: &writeback_core::RequestId,
    kind: OperationKind,
    scim_id: &str,
    outcome: &Outcome,
) {
    // Debug: the audit's "request finished" line (with the admin detail) is the
    // request's line at the default level.
    if outcome.is_success() {
        tracing::debug!(source, request_id = %request_id, operation = %kind, scim_id, "SCIM push applied");
    } else {
        tracing::debug!(
            source,
            request_id = %request_id,
            operation = %kind,
            scim_id,
            code = %outcome.code,
            admin_detail = outcome.admin_detail.as_deref().unwrap_or(""),
            "SCIM push refused"
        );
    }
}
