//! Request ids that make an identity provider's retries safe.
//!
//! SCIM has no request id. Identity providers retry a push that timed out or got a 5xx
//! with the very same body, and the first attempt may already have been written. So an
//! identical push (same method, resource and body) seen again within the retry window
//! reuses the first attempt's request id: the pipeline, which applies an id at most once,
//! answers it with the first outcome instead of writing again (a second write of the same
//! password would be refused by history and report a failure for a push that worked).
//!
//! The body holds the password, so it is never kept: only an HMAC of it under a key made
//! at start and held in memory, and request ids are random (they reach the audit log).
//! A client-chosen key in the configured idempotency header wins over all this, and is
//! bound, within the window, to the resource and body it first came with: the same
//! key with another user or body is refused, not answered with the first outcome.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use ring::hmac;
use ring::rand::{SecureRandom, SystemRandom};
use writeback_core::RequestId;

use crate::error::ScimError;

/// Most pushes remembered at once; the oldest are forgotten first.
const MAX_REMEMBERED: usize = 100_000;
const CLIENT_KEY_MAX: usize = 100;

type Tag = [u8; 32];

pub struct RetryIds {
    key: hmac::Key,
    window: Duration,
    seen: Mutex<Seen>,
}

#[derive(Default)]
struct Seen {
    ids: HashMap<Tag, (RequestId, Instant)>,
    order: VecDeque<(Tag, Instant)>,
    /// Client keys → the push (method, resource, body) each first came with.
    keys: HashMap<String, (Tag, Instant)>,
    key_order: VecDeque<(String, Instant)>,
}

impl RetryIds {
    pub fn new(window: Duration) -> Result<Self, String> {
        let mut secret = [0u8; 32];
        SystemRandom::new()
            .fill(&mut secret)
            .map_err(|_| "the system random generator failed".to_string())?;
        Ok(RetryIds {
            key: hmac::Key::new(hmac::HMAC_SHA256, &secret),
            window,
            seen: Mutex::new(Seen::default()),
        })
    }

    /// The request id for a push: from the client's idempotency key when it sent one,
    /// else the id of an identical push within the window, else a new random one.
    pub fn id_for(
        &self,
        client_key: Option<&str>,
        method: &str,
        resource_id: &str,
        body: &[u8],
    ) -> Result<RequestId, ScimError> {
        if let Some(key) = client_key {
            if key.is_empty()
                || key.len() > CLIENT_KEY_MAX
                || !key.bytes().all(|b| b.is_ascii_graphic())
            {
                return Err(ScimError::invalid_syntax(format!(
                    "The idempotency key must be 1 to {CLIENT_KEY_MAX} printable ASCII characters without spaces."
                )));
            }
            let id =
                RequestId::parse(&format!("scim-key:{key}")).map_err(ScimError::invalid_syntax)?;
            let tag = self.tag(method, resource_id, body);
            let now = Instant::now();
            let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
            seen.forget_older_than(now, self.window);
            match seen.keys.get(key) {
                Some((first, _)) if *first != tag => {
                    return Err(ScimError::invalid_value(
                        "This idempotency key was already used for a different request (another \
                         user or body), so nothing was done. Send this request with a new key.",
                    ));
                }
                Some(_) => {}
                None => {
                    if seen.key_order.len() >= MAX_REMEMBERED {
                        if let Some((old, _)) = seen.key_order.pop_front() {
                            seen.keys.remove(&old);
                        }
                    }
                    seen.keys.insert(key.to_string(), (tag, now));
                    seen.key_order.push_back((key.to_string(), now));
                }
            }
            return Ok(id);
        }
        let tag = self.tag(method, resource_id, body);
        let now = Instant::now();
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        seen.forget_older_than(now, self.window);
        if let Some((id, _)) = seen.ids.get(&tag) {
            return Ok(id.clone());
        }
        let id = RequestId::parse(&format!("scim-{}", uuid::Uuid::new_v4().simple()))
            .map_err(|e| ScimError::new(axum::http::StatusCode::INTERNAL_SERVER_ERROR, None, e))?;
        if seen.order.len() >= MAX_REMEMBERED {
            if let Some((old, _)) = seen.order.pop_front() {
                seen.ids.remove(&old);
            }
        }
        seen.ids.insert(tag, (id.clone(), now));
        seen.order.push_back((tag, now));
        Ok(id)
    }

    fn tag(&self, method: &str, resource_id: &str, body: &[u8]) -> Tag {
        let mut ctx = hmac::Context::with_key(&self.key);
        // Lengths first, so no two different inputs concatenate to the same bytes.
        for part in [method.as_bytes(), resource_id.as_bytes(), body] {
            ctx.update(&(part.len() as u64).to_be_bytes());
            ctx.update(part);
        }
        let mut tag = [0u8; 32];
        tag.copy_from_slice(ctx.sign().as_ref());
        tag
    }
}

impl Seen {
    fn forget_older_than(&mut self, now: Instant, window: Duration) {
        while let Some((tag, at)) = self.order.front().copied() {
            if now.duration_since(at) < window {
                break;
            }
            self.order.pop_front();
            if self.ids.get(&tag).is_some_and(|(_, t)| *t == at) {
                self.ids.remove(&tag);
            }
        }
        while let Some((key, at)) = self.key_order.front() {
            if now.duration_since(*at) < window {
                break;
            }
            if self.keys.get(key).is_some_and(|(_, t)| t == at) {
                self.keys.remove(key);
            }
            self.key_order.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(window: Duration) -> RetryIds {
        RetryIds::new(window).unwrap_or_else(|e| panic!("{e}"))
    }

    fn id(r: &RetryIds, key: Option<&str>, body: &[u8]) -> String {
        r.id_for(key, "PATCH", "u1", body)
            .map(|i| i.to_string())
            .unwrap_or_else(|e| panic!("{}", e.detail))
    }

    #[test]
    fn an_identical_retry_reuses_the_id() {
        let r = ids(Duration::from_secs(60));
        let a = id(&r, None, b"{\"password\":\"Marker-1\"}");
        assert_eq!(a, id(&r, None, b"{\"password\":\"Marker-1\"}"));
        assert_ne!(a, id(&r, None, b"{\"password\":\"Marker-2\"}"));
        assert_ne!(
            a,
            r.id_for(None, "PUT", "u1", b"{\"password\":\"Marker-1\"}")
                .map(|i| i.to_string())
                .unwrap_or_default()
        );
        assert!(!a.contains("Marker"));
    }

    #[test]
    fn the_window_expires() {
        let r = ids(Duration::from_millis(0));
        assert_ne!(id(&r, None, b"x"), id(&r, None, b"x"));
    }

    #[test]
    fn a_client_key_wins_and_is_checked() {
        let r = ids(Duration::from_secs(60));
        assert_eq!(id(&r, Some("abc-1"), b"x"), "scim-key:abc-1");
        assert!(r.id_for(Some("a b"), "PATCH", "u1", b"x").is_err());
        assert!(r
            .id_for(Some(&"k".repeat(101)), "PATCH", "u1", b"x")
            .is_err());
    }

    #[test]
    fn a_client_key_is_bound_to_its_resource_and_body() {
        let r = ids(Duration::from_secs(60));
        let body = b"{\"password\":\"Marker-1\"}";
        assert_eq!(id(&r, Some("k-1"), body), "scim-key:k-1");
        // The identical retry is the same request.
        assert_eq!(id(&r, Some("k-1"), body), "scim-key:k-1");
        // The key with another body or another user is refused, with what to do.
        let other_body = r.id_for(Some("k-1"), "PATCH", "u1", b"{\"password\":\"Marker-2\"}");
        let err = other_body
            .err()
            .unwrap_or_else(|| panic!("another body was accepted"));
        assert!(err.detail.contains("new key"), "{}", err.detail);
        assert!(r.id_for(Some("k-1"), "PATCH", "u2", body).is_err());
        // Past the window the key is free again (the pipeline still binds the id).
        let r = ids(Duration::from_millis(0));
        assert!(r.id_for(Some("k-2"), "PATCH", "u1", b"a").is_ok());
        assert!(r.id_for(Some("k-2"), "PATCH", "u2", b"b").is_ok());
    }
}
