//! Pre-flight checks over the relay: the password page's live verdicts and the webhook
//! source's `POST /v1/policy-check` on an edge, answered by an agent that runs its
//! pipeline's pre-flight (the account lookup and every policy, nothing written, nothing
//! audited). A check is a plain NATS request on `<prefix>.check` to the agents' queue
//! group — no stream, no ledger: it changes nothing, so it is not worth keeping. The
//! candidate password is sealed to the agents' keys like a request's, with the
//! identity, operation and deadline bound as associated data.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use serde::{Deserialize, Serialize};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use writeback_core::{
    CloudIdentity, OperationKind, Outcome, OutcomeCode, Password, Preflight, Submit,
};
use zeroize::Zeroizing;

use crate::config::RelayConfig;
use crate::seal::{self, PrivateKey, PublicKey, Sealed};
use crate::wire::{self, OpenError};

/// Check format version.
const VERSION: u32 = 1;
/// Checks one agent works on at once; more wait (the page retries on the next keystroke).
const AGENT_CONCURRENCY: usize = 64;
/// Largest check message an agent reads (an identity and one sealed password).
const MAX_CHECK_BYTES: usize = 64 * 1024;

/// What a check is about, bound as associated data (a request's sealed part cannot be
/// replayed as a check, nor a check's for another person or after its deadline).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct CheckBound {
    pub v: u32,
    pub kind: String,
    pub operation: OperationKind,
    pub identity: CloudIdentity,
    pub deadline_unix_ms: u64,
    pub key_ids: Vec<String>,
}

/// The message on `<prefix>.check`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CheckEnvelope {
    pub bound: CheckBound,
    pub sealed: Vec<Sealed>,
}

/// An agent's answer.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckReply {
    Verdict { agent: String, preflight: Preflight },
    Refused { agent: String, outcome: Outcome },
}

impl CheckBound {
    fn aad(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }
}

/// The subject checks are sent on.
pub fn subject(cfg: &RelayConfig) -> String {
    format!("{}.check", cfg.subject_prefix)
}

/// The agents' queue group: one agent answers each check.
fn queue_group(cfg: &RelayConfig) -> String {
    format!("{}-check", cfg.subject_prefix)
}

/// Seals a candidate password for the agents holding any of `keys`.
pub fn seal_check(
    identity: &CloudIdentity,
    operation: OperationKind,
    password: &Password,
    deadline_unix_ms: u64,
    keys: &[PublicKey],
) -> Result<CheckEnvelope, seal::SealError> {
    let bound = CheckBound {
        v: VERSION,
        kind: "check".into(),
        operation,
        identity: identity.clone(),
        deadline_unix_ms,
        key_ids: keys.iter().map(|k| k.id.clone()).collect(),
    };
    let plaintext = Zeroizing::new(password.expose().as_bytes().to_vec());
    let sealed = seal::seal(keys, &plaintext, &bound.aad())?;
    Ok(CheckEnvelope { bound, sealed })
}

/// Opens a check: the person, the operation and the candidate password.
pub fn open_check(
    envelope: &CheckEnvelope,
    keys: &[PrivateKey],
) -> Result<(CloudIdentity, OperationKind, Password), OpenError> {
    let b = &envelope.bound;
    if b.v != VERSION || b.kind != "check" {
        return Err(OpenError::Malformed(format!(
            "check version {} kind `{}` (this agent reads {VERSION} `check`)",
            b.v, b.kind
        )));
    }
    let plaintext = seal::open_listed(keys, &envelope.sealed, &b.key_ids, &b.aad())?;
    let text = std::str::from_utf8(&plaintext)
        .map_err(|_| OpenError::Malformed("the sealed part is not a password".into()))?;
    Ok((b.identity.clone(), b.operation, Password::new(text)))
}

/// The edge's side: asks one agent and waits until `timeout`.
pub async fn ask(
    client: &async_nats::Client,
    cfg: &RelayConfig,
    keys: &[PublicKey],
    identity: &CloudIdentity,
    operation: OperationKind,
    password: &Password,
    timeout: Duration,
) -> Result<Preflight, Outcome> {
    let deadline_unix_ms = wire::unix_ms() + timeout.as_millis() as u64;
    let envelope =
        seal_check(identity, operation, password, deadline_unix_ms, keys).map_err(|e| {
            Outcome::of(OutcomeCode::PluginFault)
                .with_admin_detail(format!("relay: cannot seal the check: {e}"))
        })?;
    let body = bytes::Bytes::from(serde_json::to_vec(&envelope).unwrap_or_default());
    let asked = tokio::time::timeout(timeout, client.request(subject(cfg), body)).await;
    let message = match asked {
        Ok(Ok(m)) => m,
        Ok(Err(e)) => {
            return Err(unavailable(format!(
                "relay: the check was not answered: {e}"
            )))
        }
        Err(_) => {
            return Err(unavailable(format!(
                "relay: no agent answered the check within {} ms",
                timeout.as_millis()
            )))
        }
    };
    match serde_json::from_slice::<CheckReply>(&message.payload) {
        Ok(CheckReply::Verdict { preflight, .. }) => Ok(preflight),
        Ok(CheckReply::Refused { outcome, .. }) => Err(outcome),
        Err(_) => Err(Outcome::of(OutcomeCode::PluginFault)
            .with_admin_detail("relay: an agent's check answer could not be read")),
    }
}

fn unavailable(detail: String) -> Outcome {
    Outcome::new(
        OutcomeCode::DirectoryUnavailable,
        "The password rules cannot be checked right now; they are checked again when the \
         password is set.",
    )
    .with_admin_detail(detail)
}

/// The agent's side: answers checks from the queue group until `shutdown`.
pub async fn serve(
    client: async_nats::Client,
    cfg: RelayConfig,
    agent: String,
    keys: Arc<Vec<PrivateKey>>,
    pipeline: Arc<dyn Submit>,
    shutdown: CancellationToken,
) {
    let mut checks = match client
        .queue_subscribe(subject(&cfg), queue_group(&cfg))
        .await
    {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "relay: cannot subscribe to pre-flight checks; the password page on the edge shows no live verdicts");
            return;
        }
    };
    let slots = Arc::new(Semaphore::new(AGENT_CONCURRENCY));
    loop {
        let message = tokio::select! {
            _ = shutdown.cancelled() => return,
            m = checks.next() => match m { Some(m) => m, None => return },
        };
        let Some(reply_to) = message.reply.clone() else {
            continue;
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            tracing::debug!("relay: a pre-flight check was dropped (agent busy)");
            continue;
        };
        let (client, agent, keys, pipeline) = (
            client.clone(),
            agent.clone(),
            keys.clone(),
            pipeline.clone(),
        );
        tokio::spawn(async move {
            let _slot = slot;
            let Some(reply) = answer(&message.payload, &agent, &keys, &*pipeline).await else {
                return;
            };
            let body = serde_json::to_vec(&reply).unwrap_or_default();
            if let Err(e) = client.publish(reply_to, body.into()).await {
                tracing::debug!(error = %e, "relay: a pre-flight answer was not sent");
            }
        });
    }
}

/// One check's answer; `None` for a check past its deadline (the edge stopped waiting).
async fn answer(
    payload: &[u8],
    agent: &str,
    keys: &[PrivateKey],
    pipeline: &dyn Submit,
) -> Option<CheckReply> {
    let refused = |outcome: Outcome| {
        Some(CheckReply::Refused {
            agent: agent.to_string(),
            outcome,
        })
    };
    if payload.len() > MAX_CHECK_BYTES {
        return refused(
            Outcome::of(OutcomeCode::InvalidRequest)
                .with_admin_detail(format!("relay: a check of {} bytes", payload.len())),
        );
    }
    let Ok(envelope) = serde_json::from_slice::<CheckEnvelope>(payload) else {
        return refused(
            Outcome::of(OutcomeCode::InvalidRequest)
                .with_admin_detail("relay: a check message that is not a check envelope"),
        );
    };
    let left_ms = envelope
        .bound
        .deadline_unix_ms
        .checked_sub(wire::unix_ms())?;
    let (identity, operation, password) = match open_check(&envelope, keys) {
        Ok(opened) => opened,
        Err(e) => {
            return refused(
                Outcome::of(OutcomeCode::AdminActionRequired).with_admin_detail(format!(
                    "relay agent `{agent}`: a check could not be opened ({e}); sealed to \
                     key(s) {}",
                    envelope.bound.key_ids.join(", ")
                )),
            )
        }
    };
    let checked = tokio::time::timeout(
        Duration::from_millis(left_ms),
        pipeline.preflight(&identity, operation, &password),
    )
    .await
    .ok()?;
    Some(match checked {
        Ok(preflight) => CheckReply::Verdict {
            agent: agent.to_string(),
            preflight,
        },
        Err(outcome) => CheckReply::Refused {
            agent: agent.to_string(),
            outcome,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alice() -> CloudIdentity {
        CloudIdentity {
            username: Some("alice".into()),
            ..Default::default()
        }
    }

    #[test]
    fn a_check_round_trips_and_carries_no_password_in_clear() {
        let (sk, pk) = PrivateKey::generate();
        let env = seal_check(
            &alice(),
            OperationKind::Reset,
            &Password::new("Check-Marker-7"),
            1,
            &[pk],
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let wire = serde_json::to_string(&env).unwrap_or_default();
        assert!(!wire.contains("Check-Marker"), "{wire}");
        let back: CheckEnvelope = serde_json::from_str(&wire).unwrap_or_else(|e| panic!("{e}"));
        let (who, op, password) = open_check(&back, &[sk]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(who, alice());
        assert_eq!(op, OperationKind::Reset);
        assert_eq!(password.expose(), "Check-Marker-7");
    }

    #[test]
    fn another_person_or_deadline_does_not_open() {
        let (sk, pk) = PrivateKey::generate();
        let env = seal_check(
            &alice(),
            OperationKind::Reset,
            &Password::new("x"),
            1,
            &[pk],
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let mut other = env.clone();
        other.bound.identity.username = Some("mallory".into());
        assert!(open_check(&other, std::slice::from_ref(&sk)).is_err());
        let mut later = env.clone();
        later.bound.deadline_unix_ms += 1;
        assert!(open_check(&later, std::slice::from_ref(&sk)).is_err());
        let mut request = env;
        request.bound.kind = "request".into();
        assert!(open_check(&request, &[sk]).is_err());
    }
}
