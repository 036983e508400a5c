//! What a request asks, reduced to 32 bytes, so a request id can be bound to it: a
//! retry (same id, same fingerprint) is the same request, the same id asking something
//! else is refused. The password goes in only through an HMAC under a key made at
//! start and never stored or shown, so a fingerprint tells nothing about it (an unkeyed
//! hash of a password could be guessed offline).

use ring::hmac;
use ring::rand::{SecureRandom, SystemRandom};
use writeback_core::{Operation, Request};

/// A keyed digest of what a request asks (compare, never show).
#[derive(Clone, PartialEq, Eq)]
pub struct Fingerprint([u8; 32]);

impl Fingerprint {
    #[cfg(test)]
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Fingerprint(bytes)
    }
}

/// Makes fingerprints under this process's random key.
pub struct Fingerprinter {
    key: hmac::Key,
}

impl Default for Fingerprinter {
    fn default() -> Self {
        Fingerprinter::new()
    }
}

impl Fingerprinter {
    /// A fresh random key for this process.
    pub fn new() -> Self {
        let mut secret = zeroize::Zeroizing::new([0u8; 32]);
        if SystemRandom::new().fill(secret.as_mut()).is_err() {
            // ring's generator failed; uuid v4 draws from the OS generator as well.
            secret[..16].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
            secret[16..].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
        }
        Fingerprinter {
            key: hmac::Key::new(hmac::HMAC_SHA256, secret.as_ref()),
        }
    }

    /// Source, operation, every identity field, the must-change flag and the
    /// password(s), each length-prefixed so no two requests feed the same bytes.
    pub fn of(&self, request: &Request) -> Fingerprint {
        let mut ctx = hmac::Context::with_key(&self.key);
        let mut part = |bytes: &[u8]| {
            ctx.update(&(bytes.len() as u64).to_be_bytes());
            ctx.update(bytes);
        };
        part(request.source.as_bytes());
        part(request.operation.kind().as_str().as_bytes());
        // serde_json writes the fields in declaration order and `extra` sorted.
        let identity = serde_json::to_vec(&request.identity).unwrap_or_default();
        part(&identity);
        match &request.operation {
            Operation::Reset {
                new_password,
                must_change,
            } => {
                part(&[u8::from(*must_change)]);
                part(new_password.expose().as_bytes());
            }
            Operation::Change {
                old_password,
                new_password,
            } => {
                part(old_password.expose().as_bytes());
                part(new_password.expose().as_bytes());
            }
            Operation::Unlock => {}
        }
        let mut out = [0u8; 32];
        out.copy_from_slice(ctx.sign().as_ref());
        Fingerprint(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use writeback_core::{CloudIdentity, Initiator, Password, RequestId};

    fn reset(user: &str, password: &str, must_change: bool) -> Request {
        Request {
            id: RequestId::parse("r").unwrap_or_else(|_| unreachable!()),
            source: "webhook".into(),
            operation: Operation::Reset {
                new_password: Password::new(password),
                must_change,
            },
            identity: CloudIdentity {
                username: Some(user.into()),
                ..Default::default()
            },
            initiator: Initiator::default(),
        }
    }

    #[test]
    fn equal_for_the_same_request_different_for_anything_else() {
        let f = Fingerprinter::new();
        let a = f.of(&reset("alice", "Marker-1", false));
        assert!(a == f.of(&reset("alice", "Marker-1", false)));
        assert!(a != f.of(&reset("bob", "Marker-1", false)));
        assert!(a != f.of(&reset("alice", "Marker-2", false)));
        assert!(a != f.of(&reset("alice", "Marker-1", true)));
        let mut unlock = reset("alice", "Marker-1", false);
        unlock.operation = Operation::Unlock;
        assert!(a != f.of(&unlock));
        // Another process (another key) fingerprints the same request differently.
        let g = Fingerprinter::new();
        assert!(a != g.of(&reset("alice", "Marker-1", false)));
    }
}
