//! Password expiry for reminders: an account's password expires at its
//! `pwdChangedTime` plus the `pwdMaxAge` of the policy that applies to it — the one its
//! `pwdPolicySubentry` names, or the overlay's default (`olcPPolicyDefault`). A policy
//! without `pwdMaxAge` (or 0) never expires passwords, and an account without
//! `pwdChangedTime` has no known age; neither is reported.
//!
//! One paged search per policy, filtered on the server by `pwdChangedTime<=…`, so only
//! accounts inside the window travel.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

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
            writeback_ldap::gentime::format(cutoff)
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
                .and_then(|v| writeback_ldap::gentime::parse(v));
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
