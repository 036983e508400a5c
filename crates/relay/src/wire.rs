//! What travels over NATS: the request envelope (fields in clear and bound as HPKE
//! associated data, passwords sealed), the reply, the ledger entry and the heartbeat;
//! and the names derived from a request (partition, ledger key).

use serde::{Deserialize, Serialize};
use writeback_core::{
    CloudIdentity, Initiator, Operation, OperationKind, Outcome, Password, Request, RequestId,
};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::seal::{self, PrivateKey, PublicKey, SealError, Sealed};

/// Header naming the edge's reply subject for one request.
pub const REPLY_HEADER: &str = "Writeback-Reply";
/// Envelope format version.
pub const VERSION: u32 = 1;

/// Everything about the request except its passwords; bound as associated data, so
/// none of it can be changed without the sealed part failing to open.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Bound {
    pub v: u32,
    pub id: String,
    pub source: String,
    pub operation: OperationKind,
    pub must_change: bool,
    pub identity: CloudIdentity,
    pub initiator: Initiator,
    pub deadline_unix_ms: u64,
    pub key_ids: Vec<String>,
}

/// The message body on `<prefix>.req.<partition>`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Envelope {
    pub bound: Bound,
    pub sealed: Vec<Sealed>,
}

#[derive(Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
struct Secrets {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    new: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    old: Option<String>,
}

impl Bound {
    fn aad(&self) -> Vec<u8> {
        // Serialising the same struct gives the same bytes on both sides (fields in
        // declaration order, maps sorted).
        serde_json::to_vec(self).unwrap_or_default()
    }
}

/// Seals a request for the agents holding any of `keys`.
pub fn seal_request(
    request: &Request,
    deadline_unix_ms: u64,
    keys: &[PublicKey],
) -> Result<Envelope, SealError> {
    let (must_change, secrets) = match &request.operation {
        Operation::Reset {
            new_password,
            must_change,
        } => (
            *must_change,
            Secrets {
                new: Some(new_password.expose().to_string()),
                old: None,
            },
        ),
        Operation::Change {
            old_password,
            new_password,
        } => (
            false,
            Secrets {
                new: Some(new_password.expose().to_string()),
                old: Some(old_password.expose().to_string()),
            },
        ),
        Operation::Unlock => (
            false,
            Secrets {
                new: None,
                old: None,
            },
        ),
    };
    let bound = Bound {
        v: VERSION,
        id: request.id.to_string(),
        source: request.source.clone(),
        operation: request.operation.kind(),
        must_change,
        identity: request.identity.clone(),
        initiator: request.initiator.clone(),
        deadline_unix_ms,
        key_ids: keys.iter().map(|k| k.id.clone()).collect(),
    };
    let plaintext =
        Zeroizing::new(serde_json::to_vec(&secrets).map_err(|e| SealError::Seal(e.to_string()))?);
    let sealed = seal::seal(keys, &plaintext, &bound.aad())?;
    Ok(Envelope { bound, sealed })
}

/// Why an envelope could not become a request.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error(transparent)]
    Seal(#[from] SealError),
    #[error("malformed relay message: {0}")]
    Malformed(String),
}

/// Opens an envelope into the request the pipeline runs.
pub fn open_request(envelope: &Envelope, keys: &[PrivateKey]) -> Result<Request, OpenError> {
    let b = &envelope.bound;
    if b.v != VERSION {
        return Err(OpenError::Malformed(format!(
            "envelope version {} (this agent reads {VERSION})",
            b.v
        )));
    }
    let plaintext = seal::open_listed(keys, &envelope.sealed, &b.key_ids, &b.aad())?;
    let secrets: Secrets = serde_json::from_slice(&plaintext)
        .map_err(|_| OpenError::Malformed("the sealed part is not a password set".into()))?;
    let id = RequestId::parse(&b.id).map_err(|e| OpenError::Malformed(e.to_string()))?;
    let need = |p: &Option<String>, what: &str| {
        p.as_deref()
            .map(Password::new)
            .ok_or_else(|| OpenError::Malformed(format!("a {} needs {what}", b.operation)))
    };
    let operation = match b.operation {
        OperationKind::Reset => Operation::Reset {
            new_password: need(&secrets.new, "a new password")?,
            must_change: b.must_change,
        },
        OperationKind::Change => Operation::Change {
            old_password: need(&secrets.old, "the old password")?,
            new_password: need(&secrets.new, "a new password")?,
        },
        OperationKind::Unlock => Operation::Unlock,
    };
    Ok(Request {
        id,
        source: b.source.clone(),
        operation,
        identity: b.identity.clone(),
        initiator: b.initiator.clone(),
    })
}

fn sha256_hex(parts: &[&str]) -> String {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    for p in parts {
        ctx.update(&(p.len() as u64).to_be_bytes());
        ctx.update(p.as_bytes());
    }
    ctx.finish()
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The partition of a user: a hash of the ordering key, so no UPN or mail appears in
/// a subject name.
pub fn partition(identity: &CloudIdentity, partitions: u16) -> u16 {
    let digest = ring::digest::digest(&ring::digest::SHA256, identity.ordering_key().as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest.as_ref()[..8]);
    (u64::from_be_bytes(first) % u64::from(partitions.max(1))) as u16
}

/// The ledger key (and `Nats-Msg-Id`) of a request: a hash of source and id, since
/// ids may hold characters a key cannot.
pub fn ledger_key(source: &str, id: &str) -> String {
    format!("r{}", &sha256_hex(&[source, id])[..40])
}

/// What the ledger binds an id to (not the password): another request reusing the id
/// is refused.
pub fn binding(operation: OperationKind, identity: &CloudIdentity) -> String {
    sha256_hex(&[operation.as_str(), &identity.ordering_key()])
}

/// The ledger entry of a request.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LedgerEntry {
    pub binding: String,
    /// The agent that claimed it.
    pub agent: String,
    pub claimed_unix_ms: u64,
    /// Present once the agent recorded the outcome.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<Outcome>,
}

/// What an agent publishes on the request's reply subject.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Reply {
    pub id: String,
    pub agent: String,
    pub outcome: Outcome,
}

/// An agent's heartbeat in the agents bucket.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Heartbeat {
    pub agent: String,
    pub version: String,
    pub key_ids: Vec<String>,
    /// Each target's self-test passed at the last check.
    pub targets_ok: bool,
    #[serde(default)]
    pub target_problems: Vec<String>,
    pub started_unix_ms: u64,
    pub sent_unix_ms: u64,
    #[serde(default)]
    pub last_request_unix_ms: Option<u64>,
    pub requests: u64,
}

pub fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(user: &str) -> Request {
        Request {
            id: RequestId::parse("req-1").unwrap_or_else(|_| unreachable!()),
            source: "webhook".into(),
            operation: Operation::Change {
                old_password: Password::new("Old-Marker-9"),
                new_password: Password::new("New-Marker-9"),
            },
            identity: CloudIdentity {
                username: Some(user.into()),
                ..Default::default()
            },
            initiator: Initiator::default(),
        }
    }

    #[test]
    fn round_trip_and_no_password_in_the_message() {
        let (sk, pk) = PrivateKey::generate();
        let env = seal_request(&request("alice"), 1, &[pk]).unwrap_or_else(|e| panic!("{e}"));
        let wire = serde_json::to_string(&env).unwrap_or_default();
        assert!(!wire.contains("Marker"), "{wire}");
        let back: Envelope = serde_json::from_str(&wire).unwrap_or_else(|e| panic!("{e}"));
        let r = open_request(&back, &[sk]).unwrap_or_else(|e| panic!("{e}"));
        match r.operation {
            Operation::Change {
                old_password,
                new_password,
            } => {
                assert_eq!(old_password.expose(), "Old-Marker-9");
                assert_eq!(new_password.expose(), "New-Marker-9");
            }
            _ => panic!("wrong operation"),
        }
    }

    #[test]
    fn changing_the_user_or_deadline_or_operation_fails_to_open() {
        let (sk, pk) = PrivateKey::generate();
        let env = seal_request(&request("alice"), 1, &[pk]).unwrap_or_else(|e| panic!("{e}"));
        let mut other = env.clone();
        other.bound.identity.username = Some("mallory".into());
        assert!(matches!(
            open_request(&other, std::slice::from_ref(&sk)),
            Err(OpenError::Seal(SealError::Open { .. }))
        ));
        let mut later = env.clone();
        later.bound.deadline_unix_ms += 60_000;
        assert!(open_request(&later, std::slice::from_ref(&sk)).is_err());
        let mut op = env;
        op.bound.operation = OperationKind::Reset;
        assert!(open_request(&op, &[sk]).is_err());
    }

    #[test]
    fn partition_is_stable_and_spread() {
        let a = CloudIdentity {
            upn: Some("Alice@Example.org".into()),
            ..Default::default()
        };
        let a2 = CloudIdentity {
            upn: Some("alice@example.org".into()),
            ..Default::default()
        };
        assert_eq!(partition(&a, 16), partition(&a2, 16));
        let used: std::collections::BTreeSet<u16> = (0..200)
            .map(|i| {
                partition(
                    &CloudIdentity {
                        username: Some(format!("u{i}")),
                        ..Default::default()
                    },
                    16,
                )
            })
            .collect();
        assert_eq!(used.len(), 16);
    }
}
