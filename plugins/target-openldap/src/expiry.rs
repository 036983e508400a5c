//! Password expiry for reminders: an account's password expires at its
//! `pwdChangedTime` plus the `pwdMaxAge` of the policy that applies to it — the one its
//! `pwdPolicySubentry` names, or the overlay's default (`olcPPolicyDefault`). A policy
//! without `pwdMaxAge` (or 0) never expires passwords, and an account without
//! `pwdChangedTime` has no known age; neither is reported.
//!
//! One paged search per policy, filtered on the server by `pwdChangedTime<=…`, so only
//! accounts inside the window travel.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use writeback_core::{Account, Outcome, OutcomeCode};
use writeback_ldap::escape;
use writeback_ldap::ldap3::adapters::{EntriesOnly, PagedResults};
use writeback_ldap::ldap3::{Scope, SearchEntry};

use crate::target::{OpenLdapTarget, ACCOUNT_ATTRIBUTES};

const PAGE: i32 = 500;

/// A password policy and its maximum age (seconds; 0 = never expires).
struct PolicyAge {
    dn: String,
    max_age: u64,
}

pub(crate) async fn password_expiries(
    target: &OpenLdapTarget,
    within: Duration,
) -> Result<Vec<(Account, SystemTime)>, Outcome> {
    let mut session = target.pool.get().await.map_err(|f| f.to_outcome())?;
    let server = session.server().to_string();
    let fail = |what: &str, e: String| {
        Outcome::of(OutcomeCode::DirectoryUnavailable)
            .with_admin_detail(format!("{server}: {what}: {e}"))
    };

    let root = writeback_ldap::RootDse::read(&mut session)
        .await
        .map_err(|e| fail("reading the root DSE", e.to_string()))?;
    let mut policies = Vec::new();
    for base in &root.naming_contexts {
        let found = search_all(
            session.ldap(),
            base,
            Scope::Subtree,
            "(objectClass=pwdPolicy)",
            &["pwdMaxAge"],
        )
        .await
        .map_err(|e| fail("listing password policies", e))?;
        policies.extend(found.iter().map(|e| {
            PolicyAge {
                dn: e.dn.clone(),
                max_age: values(e, "pwdMaxAge")
                    .first()
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0),
            }
        }));
    }
    let default = default_policy(session.ldap(), &policies).await;

    let now = SystemTime::now();
    let object_classes = target.template.object_class_filter();
    let mut attributes: Vec<&str> = ACCOUNT_ATTRIBUTES.to_vec();
    attributes.push("pwdChangedTime");
    let mut out = Vec::new();
    let mut queries = Vec::new();
    for p in policies.iter().filter(|p| p.max_age > 0) {
        queries.push((
            p.max_age,
            format!("(pwdPolicySubentry={})", escape::filter_value(&p.dn)),
        ));
    }
    match default.as_ref().and_then(|d| policies.iter().find(|p| p.dn.eq_ignore_ascii_case(d))) {
        Some(p) if p.max_age > 0 => queries.push((p.max_age, "(!(pwdPolicySubentry=*))".to_string())),
        Some(_) => {}
        None => tracing::warn!(
            server,
            "cannot tell the default password policy (cn=config is not readable and there is not exactly \
             one pwdPolicy entry): accounts without pwdPolicySubentry are not checked for expiry"
        ),
    }
    for (max_age, which) in queries {
        // Changed at or before this time ⇒ expires at or before now + within.
        let Some(cutoff) = (now + within).checked_sub(Duration::from_secs(max_age)) else {
            continue;
        };
        let filter = format!(
            "(&{object_classes}{which}(pwdChangedTime<={}))",
            generalized_time(cutoff)
        );
        let entries = search_all(
            session.ldap(),
            &target.base_dn,
            target_scope(target),
            &filter,
            &attributes,
        )
        .await
        .map_err(|e| fail("searching accounts by pwdChangedTime", e))?;
        for entry in entries {
            let changed = values(&entry, "pwdChangedTime")
                .first()
                .and_then(|v| parse_generalized_time(v));
            if let Some(changed) = changed {
                out.push((account(entry), changed + Duration::from_secs(max_age)));
            }
        }
    }
    Ok(out)
}

fn target_scope(target: &OpenLdapTarget) -> Scope {
    match target.scope {
        crate::config::SearchScope::Sub => Scope::Subtree,
        crate::config::SearchScope::One => Scope::OneLevel,
    }
}

/// The overlay's default policy from cn=config when readable; otherwise the only
/// policy, if there is exactly one.
async fn default_policy(
    ldap: &mut writeback_ldap::ldap3::Ldap,
    policies: &[PolicyAge],
) -> Option<String> {
    let from_config = search_all(
        ldap,
        "cn=config",
        Scope::Subtree,
        "(olcPPolicyDefault=*)",
        &["olcPPolicyDefault"],
    )
    .await
    .ok()
    .and_then(|found| {
        found
            .first()
            .and_then(|e| values(e, "olcPPolicyDefault").first().cloned())
    });
    match (from_config, policies) {
        (Some(dn), _) => Some(dn),
        (None, [only]) => Some(only.dn.clone()),
        _ => None,
    }
}

/// A paged search (the server's size limit does not cut a large directory short).
async fn search_all(
    ldap: &mut writeback_ldap::ldap3::Ldap,
    base: &str,
    scope: Scope,
    filter: &str,
    attributes: &[&str],
) -> Result<Vec<SearchEntry>, String> {
    let adapters: Vec<Box<dyn writeback_ldap::ldap3::adapters::Adapter<_, _>>> = vec![
        Box::new(EntriesOnly::new()),
        Box::new(PagedResults::new(PAGE)),
    ];
    let mut stream = ldap
        .with_timeout(Duration::from_secs(30))
        .streaming_search_with(adapters, base, scope, filter, attributes.to_vec())
        .await
        .map_err(|e| e.to_string())?;
    let mut entries = Vec::new();
    while let Some(entry) = stream.next().await.map_err(|e| e.to_string())? {
        entries.push(SearchEntry::construct(entry));
    }
    let result = stream.finish().await;
    match result.rc {
        0 => Ok(entries),
        // No such object (e.g. no cn=config to read): nothing there.
        32 => Ok(Vec::new()),
        rc => Err(format!("result {rc} {}", result.text)),
    }
}

fn values(entry: &SearchEntry, name: &str) -> Vec<String> {
    entry
        .attrs
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.clone())
        .unwrap_or_default()
}

fn account(entry: SearchEntry) -> Account {
    let mut attributes = BTreeMap::new();
    let mut id = None;
    for (name, values) in entry.attrs {
        match name.to_ascii_lowercase().as_str() {
            "entryuuid" => id = values.first().cloned(),
            "pwdchangedtime" => {}
            key => {
                attributes.insert(key.to_string(), values);
            }
        }
    }
    Account {
        dn: entry.dn,
        id,
        attributes,
    }
}

/// `YYYYMMDDHHMMSSZ` (UTC) for a filter.
fn generalized_time(t: SystemTime) -> String {
    let secs = t
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days as i64);
    format!(
        "{y:04}{m:02}{d:02}{:02}{:02}{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Reads `YYYYMMDDHHMMSS[.fraction]Z`; other forms (offsets) are not written by slapd.
fn parse_generalized_time(s: &str) -> Option<SystemTime> {
    let digits = s.get(..14)?;
    if !digits.bytes().all(|b| b.is_ascii_digit()) || !s.ends_with('Z') {
        return None;
    }
    let n = |r: std::ops::Range<usize>| digits[r].parse::<i64>().ok();
    let (y, mo, d, h, mi, se) = (
        n(0..4)?,
        n(4..6)?,
        n(6..8)?,
        n(8..10)?,
        n(10..12)?,
        n(12..14)?,
    );
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || se > 60 {
        return None;
    }
    let secs = days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + se;
    u64::try_from(secs)
        .ok()
        .map(|s| UNIX_EPOCH + Duration::from_secs(s))
}

// Proleptic Gregorian calendar <-> days since 1970-01-01 (H. Hinnant's algorithms).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (
        if m <= 2 {
            yoe + era * 400 + 1
        } else {
            yoe + era * 400
        },
        m,
        d,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generalized_time_round_trips() {
        let t = UNIX_EPOCH + Duration::from_secs(1_764_097_445); // 2025-11-25T19:04:05Z
        assert_eq!(generalized_time(t), "20251125190405Z");
        assert_eq!(parse_generalized_time("20251125190405Z"), Some(t));
        assert_eq!(parse_generalized_time("20251125190405.123456Z"), Some(t));
        assert_eq!(
            parse_generalized_time("20240229000000Z")
                .map(generalized_time)
                .as_deref(),
            Some("20240229000000Z")
        );
        assert_eq!(parse_generalized_time("2025112519Z"), None);
        assert_eq!(parse_generalized_time("20251325190405Z"), None);
    }
}
