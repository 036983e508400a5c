//! Password expiry for reminders: the constructed attribute
//! `msDS-UserPasswordExpiryTimeComputed`, which the DC works out from `pwdLastSet`, the
//! domain's `maxPwdAge` and any fine-grained policy (PSO). It cannot be used in a
//! filter, so enabled user accounts are read page by page and compared here.
//! "Never expires" (the maximum value) and "must change now" (0) are left out.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use writeback_core::{Account, Outcome, OutcomeCode};
use writeback_ldap::ldap3::adapters::{Adapter, EntriesOnly, PagedResults};
use writeback_ldap::ldap3::{Scope, SearchEntry};

use crate::account::{self, ATTRIBUTES};
use crate::target::ActiveDirectoryTarget;

const EXPIRY: &str = "msDS-UserPasswordExpiryTimeComputed";
/// Enabled users (not ACCOUNTDISABLE) whose password can expire (not DONT_EXPIRE_PASSWORD).
const USERS: &str = "(&(objectCategory=person)(objectClass=user)\
    (!(userAccountControl:1.2.840.113556.1.4.803:=2))\
    (!(userAccountControl:1.2.840.113556.1.4.803:=65536)))";
/// Seconds between 1601-01-01 (FILETIME's epoch) and 1970-01-01.
const FILETIME_UNIX_OFFSET: u64 = 11_644_473_600;

pub(crate) async fn password_expiries(
    target: &ActiveDirectoryTarget,
    within: Duration,
) -> Result<Vec<(Account, SystemTime)>, Outcome> {
    let mut session = target.pool().get().await.map_err(|f| f.to_outcome())?;
    let server = session.server().to_string();
    let mut attributes: Vec<&str> = ATTRIBUTES.to_vec();
    attributes.push(EXPIRY);
    let adapters: Vec<Box<dyn Adapter<_, _>>> = vec![
        Box::new(EntriesOnly::new()),
        Box::new(PagedResults::new(500)),
    ];
    let fail = |e: String| {
        Outcome::of(OutcomeCode::DirectoryUnavailable).with_admin_detail(format!(
            "{server}: reading {EXPIRY} under {}: {e}",
            target.config().base_dn
        ))
    };
    let mut stream = session
        .ldap()
        .with_timeout(Duration::from_secs(60))
        .streaming_search_with(
            adapters,
            &target.config().base_dn,
            Scope::Subtree,
            USERS,
            attributes,
        )
        .await
        .map_err(|e| fail(e.to_string()))?;
    let horizon = SystemTime::now() + within;
    let mut out = Vec::new();
    while let Some(raw) = stream.next().await.map_err(|e| fail(e.to_string()))? {
        let entry = SearchEntry::construct(raw);
        let expires = entry
            .attrs
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(EXPIRY))
            .and_then(|(_, v)| v.first())
            .and_then(|v| filetime(v));
        if let Some(expires) = expires.filter(|e| *e <= horizon) {
            let mut account = account::from_entry(entry);
            account.attributes.remove(&EXPIRY.to_ascii_lowercase());
            out.push((account, expires));
        }
    }
    let result = stream.finish().await;
    if result.rc != 0 {
        return Err(fail(format!("result {} {}", result.rc, result.text)));
    }
    Ok(out)
}

/// A FILETIME (100 ns ticks since 1601) as a time; `None` for 0 and "never".
fn filetime(text: &str) -> Option<SystemTime> {
    let ticks: u64 = text.trim().parse().ok()?;
    if ticks == 0 || ticks >= i64::MAX as u64 {
        return None;
    }
    let secs = (ticks / 10_000_000).checked_sub(FILETIME_UNIX_OFFSET)?;
    Some(UNIX_EPOCH + Duration::from_secs(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filetime_values() {
        // 2025-11-25T19:04:05Z
        let t = UNIX_EPOCH + Duration::from_secs(1_764_097_445);
        assert_eq!(filetime("134085710450000000"), Some(t));
        assert_eq!(filetime("9223372036854775807"), None);
        assert_eq!(filetime("0"), None);
        assert_eq!(filetime("junk"), None);
    }
}
