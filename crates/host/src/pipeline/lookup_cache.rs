//! The pre-flight's short memory of "which account is this person on that target":
//! a password page asks for a pre-flight on nearly every keystroke, and looking the
//! account up in the directory each time was most of a check's time under load.
//!
//! Only the pre-flight reads it. A submit always looks the account up again, so a
//! stale entry can at worst show verdicts for an account that just moved; it can
//! never send a write to the wrong entry. Failures are not remembered (the person may
//! be being provisioned right now). Bounded in entries and in age.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use writeback_core::{Account, CloudIdentity};

/// How long a found account is reused for pre-flights: long enough to cover a
/// person typing a password, short enough that a moved account is seen soon.
pub(super) const TTL: Duration = Duration::from_secs(30);
/// At most this many (target, person) pairs are remembered.
pub(super) const CAPACITY: usize = 4096;

pub(super) struct LookupCache {
    ttl: Duration,
    capacity: usize,
    entries: Mutex<HashMap<(String, String), (Instant, Account)>>,
}

impl LookupCache {
    pub(super) fn new(ttl: Duration, capacity: usize) -> LookupCache {
        LookupCache {
            ttl,
            capacity,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// The whole identity is the key: two requests that could resolve differently
    /// (another upn, another extra attribute) never share an entry.
    fn key(target: &str, identity: &CloudIdentity) -> Option<(String, String)> {
        serde_json::to_string(identity)
            .ok()
            .map(|who| (target.to_string(), who))
    }

    pub(super) fn get(&self, target: &str, identity: &CloudIdentity) -> Option<Account> {
        if self.ttl.is_zero() {
            return None;
        }
        let key = Self::key(target, identity)?;
        let mut entries = self.entries.lock().ok()?;
        match entries.get(&key) {
            Some((at, account)) if at.elapsed() < self.ttl => Some(account.clone()),
            Some(_) => {
                entries.remove(&key);
                None
            }
            None => None,
        }
    }

    pub(super) fn put(&self, target: &str, identity: &CloudIdentity, account: &Account) {
        if self.ttl.is_zero() || self.capacity == 0 {
            return;
        }
        let Some(key) = Self::key(target, identity) else {
            return;
        };
        let Ok(mut entries) = self.entries.lock() else {
            return;
        };
        if entries.len() >= self.capacity && !entries.contains_key(&key) {
            let ttl = self.ttl;
            entries.retain(|_, (at, _)| at.elapsed() < ttl);
            // Still full of live entries (a crowd typing at once): start over rather
            // than grow; the next pre-flights simply look their accounts up again.
            if entries.len() >= self.capacity {
                entries.clear();
            }
        }
        entries.insert(key, (Instant::now(), account.clone()));
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries.lock().map(|e| e.len()).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn person(upn: &str) -> CloudIdentity {
        CloudIdentity {
            upn: Some(upn.into()),
            ..CloudIdentity::default()
        }
    }

    fn account(dn: &str) -> Account {
        Account {
            dn: dn.into(),
            ..Account::default()
        }
    }

    #[test]
    fn a_found_account_is_reused_for_the_same_person_and_target_only() {
        let cache = LookupCache::new(TTL, 16);
        cache.put("ad", &person("a@x"), &account("cn=a"));
        assert_eq!(
            cache.get("ad", &person("a@x")).map(|a| a.dn),
            Some("cn=a".into())
        );
        assert!(cache.get("ldap", &person("a@x")).is_none());
        assert!(cache.get("ad", &person("b@x")).is_none());
        let mut more = person("a@x");
        more.extra.insert("cloud_anchor".into(), "User_1".into());
        assert!(cache.get("ad", &more).is_none());
    }

    #[test]
    fn entries_expire() {
        let cache = LookupCache::new(Duration::from_millis(30), 16);
        cache.put("ad", &person("a@x"), &account("cn=a"));
        std::thread::sleep(Duration::from_millis(60));
        assert!(cache.get("ad", &person("a@x")).is_none());
        assert_eq!(cache.len(), 0);
    }

    #[test]
    fn it_never_holds_more_than_its_capacity() {
        let cache = LookupCache::new(TTL, 8);
        for i in 0..100 {
            cache.put("ad", &person(&format!("u{i}@x")), &account("cn=x"));
            assert!(cache.len() <= 8);
        }
        assert!(cache.get("ad", &person("u99@x")).is_some());
    }

    #[test]
    fn a_zero_ttl_turns_it_off() {
        let cache = LookupCache::new(Duration::ZERO, 8);
        cache.put("ad", &person("a@x"), &account("cn=a"));
        assert!(cache.get("ad", &person("a@x")).is_none());
    }
}
