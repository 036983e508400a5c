//! What notifiers and the audit trail receive: the request's facts and its outcome,
//! never a password (the type holds none).

use serde::{Deserialize, Serialize};

use crate::identity::{CloudIdentity, Initiator};
use crate::outcome::Outcome;
use crate::request::OperationKind;

/// One target's part in a request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetResult {
    pub target: String,
    /// The DN the identity resolved to, when it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dn: Option<String>,
    /// The account's `mail`, when the directory has one (notifiers write to it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mail: Option<String>,
}

/// A finished request, as notifiers see it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// Unique per event: the idempotency key receivers deduplicate by.
    pub event_id: String,
    /// RFC 3339 UTC time the outcome was decided.
    pub time: String,
    pub request_id: String,
    pub source: String,
    pub operation: OperationKind,
    pub identity: CloudIdentity,
    pub initiator: Initiator,
    #[serde(default)]
    pub targets: Vec<TargetResult>,
    pub outcome: Outcome,
    /// The real result of a request whose caller was already answered `timeout` at
    /// its deadline: a second event for the same `request_id` (absent when false).
    #[serde(default, skip_serializing_if = "is_false")]
    pub after_deadline: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}
