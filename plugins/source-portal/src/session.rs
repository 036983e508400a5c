//! Server-side state: sign-ins under way (state → nonce and PKCE verifier, bound to a
//! cookie of the browser that started them, used once), sessions (an unguessable id in
//! a `__Host-` cookie; the identity and the CSRF token stay on the server), and the
//! rate limits (fixed windows per key).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ring::rand::{SecureRandom, SystemRandom};
use writeback_core::CloudIdentity;

/// Sign-ins under way expire after this long (the person is at the provider).
pub const PENDING_FOR: Duration = Duration::from_secs(600);
/// At most this many sign-ins under way and sessions: beyond, the oldest go.
const MAX_ENTRIES: usize = 100_000;

pub const SESSION_COOKIE: &str = "__Host-wb-portal";
pub const LOGIN_COOKIE: &str = "__Host-wb-login";

/// 32 random bytes, base64url.
pub fn random_token() -> Result<String, ring::error::Unspecified> {
    let mut bytes = [0u8; 32];
    SystemRandom::new().fill(&mut bytes)?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

/// Constant-time comparison of two tokens.
pub fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

pub struct Pending {
    /// The value of the browser's login cookie: the callback must come from it.
    pub binding: String,
    pub nonce: String,
    pub verifier: String,
    pub started: Instant,
}

#[derive(Clone)]
pub struct Session {
    pub identity: CloudIdentity,
    /// The key the per-account limits count by (the ID token's `sub`).
    pub subject: String,
    pub csrf: String,
    pub started: Instant,
    /// When the person authenticated at the provider (seconds since 1970).
    pub auth_time: Option<i64>,
}

pub struct Store {
    pending: Mutex<HashMap<String, Pending>>,
    sessions: Mutex<HashMap<String, Session>>,
    session_for: Duration,
}

fn prune<V>(map: &mut HashMap<String, V>, age: impl Fn(&V) -> Duration, limit: Duration) {
    if map.len() >= MAX_ENTRIES / 2 {
        map.retain(|_, v| age(v) < limit);
    }
    while map.len() >= MAX_ENTRIES {
        let Some(oldest) = map
            .iter()
            .max_by_key(|(_, v)| age(v))
            .map(|(k, _)| k.clone())
        else {
            break;
        };
        map.remove(&oldest);
    }
}

impl Store {
    pub fn new(session_for: Duration) -> Store {
        Store {
            pending: Mutex::new(HashMap::new()),
            sessions: Mutex::new(HashMap::new()),
            session_for,
        }
    }

    pub fn start_login(&self, state: String, pending: Pending) {
        let mut map = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        prune(&mut map, |p| p.started.elapsed(), PENDING_FOR);
        map.insert(state, pending);
    }

    /// Takes (once) the sign-in for `state`, if it was started by this browser and is
    /// recent.
    pub fn finish_login(&self, state: &str, binding: &str) -> Option<Pending> {
        let mut map = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        let matches = map
            .get(state)
            .is_some_and(|p| same(&p.binding, binding) && p.started.elapsed() < PENDING_FOR);
        if matches {
            map.remove(state)
        } else {
            None
        }
    }

    pub fn create(&self, id: String, session: Session) {
        let mut map = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
        prune(&mut map, |s| s.started.elapsed(), self.session_for);
        map.insert(id, session);
    }

    pub fn get(&self, id: &str) -> Option<Session> {
        let mut map = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
        match map.get(id) {
            Some(s) if s.started.elapsed() < self.session_for => Some(s.clone()),
            Some(_) => {
                map.remove(id);
                None
            }
            None => None,
        }
    }

    pub fn end(&self, id: &str) {
        self.sessions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(id);
    }
}

/// Fixed-window counters: at most `limit` events per key per window.
pub struct RateLimiter {
    window: Duration,
    counts: Mutex<HashMap<String, (Instant, u32)>>,
}

impl RateLimiter {
    pub fn new(window: Duration) -> RateLimiter {
        RateLimiter {
            window,
            counts: Mutex::new(HashMap::new()),
        }
    }

    /// Counts one event for `key`; false when the key is over `limit` in this window.
    pub fn allow(&self, key: &str, limit: u32) -> bool {
        let mut map = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        if map.len() >= MAX_ENTRIES {
            let window = self.window;
            map.retain(|_, (start, _)| now.duration_since(*start) < window);
        }
        let entry = map.entry(key.to_string()).or_insert((now, 0));
        if now.duration_since(entry.0) >= self.window {
            *entry = (now, 0);
        }
        entry.1 = entry.1.saturating_add(1);
        entry.1 <= limit
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sign_in_is_finished_once_and_only_by_its_browser() {
        let store = Store::new(Duration::from_secs(60));
        let pending = || Pending {
            binding: "b1".into(),
            nonce: "n".into(),
            verifier: "v".into(),
            started: Instant::now(),
        };
        store.start_login("s1".into(), pending());
        assert!(store.finish_login("s1", "other-browser").is_none());
        assert!(store.finish_login("s1", "b1").is_some());
        assert!(store.finish_login("s1", "b1").is_none(), "used twice");
        assert!(store.finish_login("unknown", "b1").is_none());
    }

    #[test]
    fn sessions_expire() {
        let store = Store::new(Duration::from_millis(30));
        store.create(
            "id".into(),
            Session {
                identity: CloudIdentity::default(),
                subject: "s".into(),
                csrf: "c".into(),
                started: Instant::now(),
                auth_time: None,
            },
        );
        assert!(store.get("id").is_some());
        std::thread::sleep(Duration::from_millis(40));
        assert!(store.get("id").is_none());
    }

    #[test]
    fn the_limiter_counts_per_key_and_window() {
        let l = RateLimiter::new(Duration::from_millis(50));
        assert!(l.allow("a", 2) && l.allow("a", 2));
        assert!(!l.allow("a", 2));
        assert!(l.allow("b", 2));
        std::thread::sleep(Duration::from_millis(60));
        assert!(l.allow("a", 2));
    }

    #[test]
    fn tokens_are_random_and_compared_in_full() {
        let (a, b) = (random_token().unwrap(), random_token().unwrap());
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert!(same(&a, &a.clone()) && !same(&a, &b) && !same(&a, &a[..42]));
    }
}
