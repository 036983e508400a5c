//! A password request, as a source hands it to the pipeline.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::identity::{CloudIdentity, Initiator};
use crate::secret::Password;

/// Why a string is not a request id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RequestIdError {
    #[error("request id must be 1 to {} characters", RequestId::MAX_LEN)]
    Length,
    #[error("request id must be printable ASCII without spaces")]
    NotPrintable,
}

/// For callers whose own errors are still text (they used the message as it was).
impl From<RequestIdError> for String {
    fn from(e: RequestIdError) -> String {
        e.to_string()
    }
}

/// The request's id, chosen by the cloud side; the pipeline applies an id at most once.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct RequestId(String);

impl RequestId {
    pub const MAX_LEN: usize = 128;

    /// 1 to 128 printable ASCII characters without spaces.
    pub fn parse(value: &str) -> Result<Self, RequestIdError> {
        if value.is_empty() || value.len() > Self::MAX_LEN {
            return Err(RequestIdError::Length);
        }
        if !value.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(RequestIdError::NotPrintable);
        }
        Ok(RequestId(value.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for RequestId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        RequestId::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// What to do. The passwords live here, so an unlock carries none.
pub enum Operation {
    /// An administrator-style reset: no old password; optionally the person must change
    /// it at next logon.
    Reset {
        new_password: Password,
        must_change: bool,
    },
    /// A self-service change: the directory checks the old password, history and age.
    Change {
        old_password: Password,
        new_password: Password,
    },
    /// Clear a lockout; no password involved.
    Unlock,
}

impl Operation {
    pub fn kind(&self) -> OperationKind {
        match self {
            Operation::Reset { .. } => OperationKind::Reset,
            Operation::Change { .. } => OperationKind::Change,
            Operation::Unlock => OperationKind::Unlock,
        }
    }

    /// The password the policies judge and the target writes, if any.
    pub fn new_password(&self) -> Option<&Password> {
        match self {
            Operation::Reset { new_password, .. } | Operation::Change { new_password, .. } => {
                Some(new_password)
            }
            Operation::Unlock => None,
        }
    }
}

/// The operation without its secrets: what logs, audit records and events carry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OperationKind {
    Reset,
    Change,
    Unlock,
}

impl OperationKind {
    pub fn as_str(self) -> &'static str {
        match self {
            OperationKind::Reset => "reset",
            OperationKind::Change => "change",
            OperationKind::Unlock => "unlock",
        }
    }
}

impl fmt::Display for OperationKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One password request. `Debug` is written by hand and never shows a password.
pub struct Request {
    pub id: RequestId,
    /// The name of the source (from config) that received it.
    pub source: String,
    pub operation: Operation,
    pub identity: CloudIdentity,
    pub initiator: Initiator,
}

impl fmt::Debug for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Request")
            .field("id", &self.id)
            .field("source", &self.source)
            .field("operation", &self.operation.kind())
            .field("identity", &self.identity)
            .field("initiator", &self.initiator)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_id_rules() {
        assert!(RequestId::parse("req-1").is_ok());
        assert!(RequestId::parse("").is_err());
        assert!(RequestId::parse("a b").is_err());
        assert!(RequestId::parse(&"x".repeat(129)).is_err());
        let said = |id: &str| RequestId::parse(id).map_err(|e| e.to_string()).err();
        assert_eq!(
            said("").as_deref(),
            Some("request id must be 1 to 128 characters")
        );
        assert_eq!(
            said("a b").as_deref(),
            Some("request id must be printable ASCII without spaces")
        );
    }

    #[test]
    fn debug_never_shows_the_password() {
        let r = Request {
            id: RequestId::parse("r1").unwrap_or_else(|_| unreachable!()),
            source: "s".into(),
            operation: Operation::Change {
                old_password: Password::new("OldMarker-123"),
                new_password: Password::new("NewMarker-456"),
            },
            identity: CloudIdentity::default(),
            initiator: Initiator::default(),
        };
        let shown = format!("{r:?}");
        assert!(!shown.contains("Marker"), "{shown}");
        assert!(shown.contains("Change"));
    }
}
