//! Remembers recent `webhook-id`s to refuse a replay under an id already used for a
//! different body. A byte-identical resend (a retry) is let through: the pipeline
//! deduplicates by request id and answers with the first outcome again.
//!
//! Bounded two ways: ids older than the window (twice the timestamp tolerance, past
//! which the timestamp check refuses a replay anyway) are forgotten, and at most
//! `capacity` ids are kept (the oldest go first).

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use ring::hmac;

/// What the guard knows about an id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen {
    New,
    /// Seen before with the same body: a retry.
    SameBody,
    /// Seen before with another body: refused.
    DifferentBody,
}

pub struct ReplayGuard {
    /// Keyed with a random per-process key, so the remembered fingerprints cannot be
    /// used to guess a password inside a body.
    fingerprint_key: hmac::Key,
    capacity: usize,
    window: Duration,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    by_id: HashMap<String, [u8; 32]>,
    arrival: VecDeque<(Instant, String)>,
}

impl ReplayGuard {
    pub fn new(capacity: usize, window: Duration) -> Result<Self, ring::error::Unspecified> {
        let fingerprint_key =
            hmac::Key::generate(hmac::HMAC_SHA256, &ring::rand::SystemRandom::new())?;
        Ok(ReplayGuard {
            fingerprint_key,
            capacity,
            window,
            state: Mutex::new(State::default()),
        })
    }

    /// Records `id` with this body (when new) and says whether it was seen before.
    pub fn check(&self, id: &str, body: &[u8], now: Instant) -> Seen {
        let tag = hmac::sign(&self.fingerprint_key, body);
        let mut fingerprint = [0u8; 32];
        fingerprint.copy_from_slice(tag.as_ref());
        // A poisoned lock only means another request panicked mid-update; the map is
        // still usable.
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        state.forget_older_than(now.checked_sub(self.window));
        if let Some(known) = state.by_id.get(id) {
            // Not secret-dependent timing worth hiding: both are keyed fingerprints.
            return if *known == fingerprint {
                Seen::SameBody
            } else {
                Seen::DifferentBody
            };
        }
        while state.by_id.len() >= self.capacity {
            if !state.forget_oldest() {
                break;
            }
        }
        state.by_id.insert(id.to_string(), fingerprint);
        state.arrival.push_back((now, id.to_string()));
        Seen::New
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.state
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .by_id
            .len()
    }
}

impl State {
    fn forget_older_than(&mut self, cutoff: Option<Instant>) {
        let Some(cutoff) = cutoff else { return };
        while self.arrival.front().is_some_and(|(t, _)| *t < cutoff) {
            self.forget_oldest();
        }
    }

    fn forget_oldest(&mut self) -> bool {
        match self.arrival.pop_front() {
            Some((_, id)) => {
                self.by_id.remove(&id);
                true
            }
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_body_passes_different_body_refused() {
        let g = ReplayGuard::new(10, Duration::from_secs(600)).unwrap();
        let t = Instant::now();
        assert_eq!(g.check("m1", b"a", t), Seen::New);
        assert_eq!(g.check("m1", b"a", t), Seen::SameBody);
        assert_eq!(g.check("m1", b"b", t), Seen::DifferentBody);
        assert_eq!(g.check("m2", b"b", t), Seen::New);
    }

    #[test]
    fn bounded_by_capacity_and_window() {
        let g = ReplayGuard::new(3, Duration::from_secs(10)).unwrap();
        let t = Instant::now();
        for i in 0..5 {
            g.check(&format!("m{i}"), b"x", t);
        }
        assert_eq!(g.len(), 3);
        assert_eq!(
            g.check("m0", b"y", t),
            Seen::New,
            "the oldest was forgotten"
        );
        let later = t + Duration::from_secs(11);
        assert_eq!(g.check("m9", b"x", later), Seen::New);
        assert_eq!(g.len(), 1, "everything older than the window is gone");
    }
}
