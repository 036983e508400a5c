//! Standard Webhooks signing and verification (HMAC-SHA256, constant time).
//!
//! The scheme (<https://www.standardwebhooks.com>): the sender signs
//! `{webhook-id}.{webhook-timestamp}.{body}` with HMAC-SHA256 under a shared secret
//! written `whsec_<base64>`, and sends three headers:
//!
//! * `webhook-id` — unique per message, the receiver's idempotency key;
//! * `webhook-timestamp` — integer Unix seconds of this attempt;
//! * `webhook-signature` — space-separated `v1,<base64 tag>` entries (one per key, so a
//!   key can be rotated without downtime).
//!
//! ```
//! use std::time::{Duration, UNIX_EPOCH};
//! use writeback_signing::{sign_headers, verify, Secret};
//!
//! let secret = Secret::parse("whsec_d3JpdGViYWNrLXRlc3Qtc2lnbmluZy1rZXktMDAwMSE=").unwrap();
//! let body = br#"{"hello":"world"}"#;
//! let headers = sign_headers(&[&secret], "msg_1", 1_764_000_000, body).unwrap();
//! let now = UNIX_EPOCH + Duration::from_secs(1_764_000_010);
//! let verified = verify(&[secret], &headers, body, now, Duration::from_secs(300)).unwrap();
//! assert_eq!(verified.id, "msg_1");
//! ```

mod headers;
mod secret;
mod sign;
mod verify;

pub use headers::{WEBHOOK_ID, WEBHOOK_SIGNATURE, WEBHOOK_TIMESTAMP};
pub use secret::{Secret, SecretError};
pub use sign::{sign, sign_headers, signed_content};
pub use verify::{verify, Verified, VerifyError, DEFAULT_TOLERANCE};
