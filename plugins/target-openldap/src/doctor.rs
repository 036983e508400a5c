//! `writeback doctor` for OpenLDAP: the service account's access to `userPassword`
//! (`write` as required, not `manage`, which makes it a "password administrator" whose
//! writes skip ppolicy's quality and history checks) and to `pwdReset`, read from the
//! database's `olcAccess` rules; the ppolicy overlay and its default policy;
//! `olcPPolicyHashCleartext`. Read-only. cn=config is usually readable only by its
//! administrator: then the ACL checks say "unknown" and how to let doctor read it.

use writeback_core::{DoctorOptions, Finding, Verdict};
use writeback_ldap::ldap3::{Scope, SearchEntry};
use writeback_ldap::Session;

use crate::target::OpenLdapTarget;

/// OpenLDAP access levels, weakest first (slapd.access(5)).
const LEVELS: [&str; 10] = [
    "none", "disclose", "auth", "compare", "search", "read", "write", "add", "delete", "manage",
];

/// What one `by` clause grants, as a level from [`LEVELS`] ("=wx" privilege sets
/// are mapped to the strongest level they include).
fn level(access: &str) -> Option<&'static str> {
    if let Some(privs) = access
        .strip_prefix('=')
        .or_else(|| access.strip_prefix('+'))
    {
        let pick = if privs.contains('m') {
            "manage"
        } else if privs.contains('w') {
            "write"
        } else if privs.contains('r') {
            "read"
        } else {
            "none"
        };
        return Some(pick);
    }
    let word = access.trim_start_matches("self");
    LEVELS.iter().copied().find(|l| *l == word)
}

/// One `olcAccess` value split into its `to` part and its `by` clauses (quoted strings
/// kept whole).
fn words(rule: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    for c in rule.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                cur.push(c);
            }
            c if c.is_whitespace() && !quoted => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
            c => cur.push(c),
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

fn unquote(s: &str) -> &str {
    s.trim_matches('"')
}

fn dn_eq(a: &str, b: &str) -> bool {
    let norm = |s: &str| {
        s.split(',')
            .map(|p| p.trim().to_ascii_lowercase())
            .collect::<Vec<_>>()
    };
    norm(a) == norm(b)
}

fn within(dn: &str, base: &str) -> bool {
    writeback_ldap::dn::is_within(dn, base).unwrap_or(false)
}

/// The access the first matching rule gives `who` on `attribute` of entries at `entry`
/// (`None`: no rule matches, so slapd's default, none, applies), and the rule itself.
pub fn access(
    rules: &[String],
    entry: &str,
    attribute: &str,
    who: &str,
) -> Option<(&'static str, String)> {
    for rule in rules {
        // "{0}to …": drop the ordering prefix.
        let text = match rule.find('}') {
            Some(i) if rule.starts_with('{') => &rule[i + 1..],
            _ => rule.as_str(),
        };
        let w = words(text);
        let Some(by_at) = w.iter().position(|x| x == "by") else {
            continue;
        };
        let target = &w[..by_at];
        if target.first().map(String::as_str) != Some("to") {
            continue;
        }
        let mut entry_matches = true;
        let mut attr_matches = true;
        for t in &target[1..] {
            if let Some(v) = t
                .strip_prefix("dn.subtree=")
                .or_else(|| t.strip_prefix("dn.sub="))
            {
                entry_matches &= within(entry, unquote(v));
            } else if let Some(v) = t.strip_prefix("dn.children=") {
                entry_matches &= within(entry, unquote(v)) && !dn_eq(entry, unquote(v));
            } else if let Some(v) = t
                .strip_prefix("dn.base=")
                .or_else(|| t.strip_prefix("dn.exact="))
                .or_else(|| t.strip_prefix("dn="))
            {
                entry_matches &= dn_eq(entry, unquote(v));
            } else if let Some(v) = t.strip_prefix("attrs=").or_else(|| t.strip_prefix("attr=")) {
                attr_matches &= v
                    .split(',')
                    .any(|a| a.eq_ignore_ascii_case(attribute) || a == "*");
            } else if t == "*" {
            } else if t.starts_with("filter=") || t.starts_with("dn.") || t.starts_with("dn.regex")
            {
                // A filter or regex scope this reading cannot judge: skip the rule, as if it
                // did not match (the result says which rule decided).
                entry_matches = false;
            }
        }
        if !(entry_matches && attr_matches) {
            continue;
        }
        let mut i = by_at;
        while w.get(i).map(String::as_str) == Some("by") {
            let Some(subject) = w.get(i + 1) else { break };
            let Some(grant) = w.get(i + 2) else { break };
            let matches = match subject.as_str() {
                "*" | "users" => true,
                s => s
                    .strip_prefix("dn.exact=")
                    .or_else(|| s.strip_prefix("dn.base="))
                    .or_else(|| s.strip_prefix("dn="))
                    .is_some_and(|v| dn_eq(unquote(v), who)),
            };
            if matches {
                return level(grant).map(|l| (l, rule.clone()));
            }
            // Skip to the next `by` (a clause may end with break/continue/stop).
            i += 3;
            while i < w.len() && w[i] != "by" {
                i += 1;
            }
        }
        return Some(("none", rule.clone()));
    }
    None
}

fn values<'e>(entry: &'e SearchEntry, name: &str) -> &'e [String] {
    entry
        .attrs
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_slice())
        .unwrap_or(&[])
}

pub async fn run(target: &OpenLdapTarget, options: &DoctorOptions) -> Vec<Finding> {
    let mut out = Vec::new();
    let who = target.pool.bind_dn().to_string();
    let mut session = match target.pool.get().await {
        Ok(s) => s,
        Err(f) => {
            out.push(
                Finding::fail("ldap.bind", f.to_string())
                    .with_fix("check bind_dn and bind_password"),
            );
            return out;
        }
    };
    out.push(Finding::ok("ldap.bind", format!("bound as {who}")));
    out.push(clock(&mut session, options).await);
    out.extend(acls(&mut session, &target.base_dn, &who).await);
    out.extend(ppolicy(&mut session, &target.base_dn).await);
    let hashing: Finding = crate::selftest::hash_cleartext(&mut session, &target.base_dn)
        .await
        .into();
    let hashing = if hashing.evidence.starts_with("unknown") {
        Finding {
            verdict: Verdict::Warn,
            ..hashing
        }
    } else {
        hashing
    };
    out.push(Finding {
        check: "ldap.hash_cleartext".into(),
        fix: if hashing.verdict == Verdict::Ok {
            String::new()
        } else {
            "ldapmodify -Y EXTERNAL -H ldapi:/// <<'EOF'\ndn: olcOverlay={0}ppolicy,olcDatabase={1}mdb,cn=config\nchangetype: modify\nreplace: olcPPolicyHashCleartext\nolcPPolicyHashCleartext: TRUE\nEOF".into()
        },
        ..hashing
    });
    out
}

/// `clock`: slapd shows its time only in the monitor database
/// (`cn=Current,cn=Time,cn=Monitor`); without read access there it is not measured.
async fn clock(session: &mut Session, options: &DoctorOptions) -> Finding {
    let before = std::time::SystemTime::now();
    let found = session
        .search(
            "cn=Current,cn=Time,cn=Monitor",
            Scope::Base,
            "(objectClass=*)",
            &["monitorTimestamp"],
            1,
        )
        .await;
    let theirs = found
        .ok()
        .and_then(|f| f.entries.into_iter().next())
        .and_then(|e| values(&e, "monitorTimestamp").first().cloned())
        .and_then(|t| writeback_ldap::clock::generalized_time(&t));
    match theirs {
        Some(t) => writeback_ldap::clock::skew(
            "slapd's",
            t,
            before,
            options.max_clock_skew_secs,
            "synchronise both with NTP: ppolicy's lockout and expiry times use the server's clock",
        ),
        None => Finding::ok(
            "clock",
            "not measured: slapd shows its time only in cn=Monitor (a monitor database the \
             service account may read)",
        ),
    }
}

/// The ldapmodify that grants `write` on userPassword and pwdReset to `who` under `base`.
fn acl_fix(database: &str, base: &str, who: &str) -> String {
    format!(
        "ldapmodify -Y EXTERNAL -H ldapi:/// <<'EOF'\ndn: {database}\nchangetype: modify\nadd: olcAccess\n\
         olcAccess: {{0}}to dn.subtree=\"{base}\" attrs=userPassword by self write by dn.exact=\"{who}\" write by anonymous auth by * none\n\
         olcAccess: {{1}}to dn.subtree=\"{base}\" attrs=pwdReset,pwdAccountLockedTime by dn.exact=\"{who}\" write by * none\nEOF"
    )
}

/// `ldap.userPassword` and `ldap.pwdReset` from the olcAccess rules of the database
/// holding base_dn.
async fn acls(session: &mut Session, base: &str, who: &str) -> Vec<Finding> {
    let found = session
        .search(
            "cn=config",
            Scope::OneLevel,
            "(objectClass=olcDatabaseConfig)",
            &["olcSuffix", "olcAccess", "olcRootDN"],
            100,
        )
        .await;
    let entries = match found {
        Ok(f) => f.entries,
        Err(_) => Vec::new(),
    };
    let database = entries
        .iter()
        .flat_map(|e| values(e, "olcSuffix").iter().map(move |s| (e, s)))
        .filter(|(_, suffix)| within(base, suffix))
        .max_by_key(|(_, suffix)| suffix.len())
        .map(|(e, _)| e);
    let Some(database) = database else {
        let why = "unknown: the service account cannot read the database's olcAccess in cn=config";
        let fix = format!(
            "to let doctor check it, grant read on cn=config: olcAccess: to dn.subtree=\"cn=config\" by dn.exact=\"{who}\" read \
             (on olcDatabase={{0}}config); make sure the ACL gives `{who}` write (not manage) on userPassword and pwdReset"
        );
        return vec![
            Finding::warn("ldap.userPassword", why).with_fix(fix.clone()),
            Finding::warn("ldap.pwdReset", why).with_fix(fix),
        ];
    };
    if values(database, "olcRootDN").iter().any(|r| dn_eq(r, who)) {
        return vec![Finding::warn(
            "ldap.userPassword",
            format!("{who} is the database's rootdn: every write bypasses the ACLs and ppolicy's quality and history checks"),
        )
        .with_fix("bind as a dedicated service account with `write` on userPassword (docs/openldap.md)")];
    }
    let rules: Vec<String> = values(database, "olcAccess").to_vec();
    let sample = format!("uid=example,{base}");
    let mut out = Vec::new();
    let fix = acl_fix(&database.dn, base, who);
    match access(&rules, &sample, "userPassword", who) {
        Some(("manage", rule)) => out.push(
            Finding::warn(
                "ldap.userPassword",
                format!(
                    "{who} has `manage` on userPassword under {base} (rule `{rule}`): slapd treats it as a password \
                     administrator, so resets skip ppolicy's quality and history checks"
                ),
            )
            .with_fix(format!("give it `write` instead of `manage`:\n{fix}")),
        ),
        Some(("write", rule)) | Some(("add", rule)) | Some(("delete", rule)) => out.push(Finding::ok(
            "ldap.userPassword",
            format!("{who} has `write` on userPassword under {base} (rule `{rule}`): ppolicy checks its resets"),
        )),
        Some((level, rule)) => out.push(
            Finding::fail(
                "ldap.userPassword",
                format!("{who} has only `{level}` on userPassword under {base} (rule `{rule}`): resets are refused"),
            )
            .with_fix(fix.clone()),
        ),
        None => out.push(
            Finding::fail(
                "ldap.userPassword",
                format!("no olcAccess rule of {} gives {who} access to userPassword under {base}", database.dn),
            )
            .with_fix(fix.clone()),
        ),
    }
    match access(&rules, &sample, "pwdReset", who) {
        Some((level, rule)) if ["write", "add", "delete", "manage"].contains(&level) => out.push(Finding::ok(
            "ldap.pwdReset",
            format!("{who} may write pwdReset (rule `{rule}`): must-change resets work"),
        )),
        other => out.push(
            Finding::warn(
                "ldap.pwdReset",
                format!(
                    "{who} cannot write pwdReset under {base} ({}): a reset with must-change is refused",
                    other.map(|(l, r)| format!("`{l}` by rule `{r}`")).unwrap_or_else(|| "no rule".into())
                ),
            )
            .with_fix(fix),
        ),
    }
    out
}

/// `ldap.ppolicy`: the overlay answers, and the default policy (and any other policy
/// entry) summarised.
async fn ppolicy(session: &mut Session, base: &str) -> Vec<Finding> {
    let mut out = Vec::new();
    match writeback_ldap::RootDse::read(session).await {
        Ok(root) if root.supports_control(writeback_ldap::ppolicy::PPOLICY_OID) => {}
        Ok(_) => {
            out.push(
                Finding::fail("ldap.ppolicy", "the server does not advertise the password policy control: the ppolicy overlay is not loaded")
                    .with_fix("load the ppolicy module and add the overlay to the database (docs/openldap.md)"),
            );
            return out;
        }
        Err(f) => {
            out.push(Finding::fail("ldap.ppolicy", f.to_string()));
            return out;
        }
    }
    let default = session
        .search(
            "cn=config",
            Scope::Subtree,
            "(objectClass=olcPPolicyConfig)",
            &["olcPPolicyDefault"],
            50,
        )
        .await
        .ok()
        .and_then(|f| {
            f.entries
                .into_iter()
                .find_map(|e| values(&e, "olcPPolicyDefault").first().cloned())
        });
    let naming = writeback_ldap::RootDse::read(session)
        .await
        .ok()
        .and_then(|r| r.naming_contexts.into_iter().find(|n| within(base, n)))
        .unwrap_or_else(|| base.to_string());
    let attrs = [
        "pwdMinLength",
        "pwdInHistory",
        "pwdMinAge",
        "pwdMaxAge",
        "pwdMaxFailure",
        "pwdMustChange",
        "pwdCheckQuality",
    ];
    let found = session
        .search(
            &naming,
            Scope::Subtree,
            "(objectClass=pwdPolicy)",
            &attrs,
            50,
        )
        .await;
    match found {
        Ok(f) if f.entries.is_empty() => out.push(Finding::warn(
            "ldap.ppolicy",
            format!("ppolicy is loaded, but no pwdPolicy entry under {naming} is readable by the service account"),
        )),
        Ok(f) => {
            for e in &f.entries {
                let get = |k: &str| values(e, k).first().cloned().unwrap_or_else(|| "-".into());
                let is_default = default.as_deref().is_some_and(|d| dn_eq(d, &e.dn));
                let min_age: u64 = get("pwdMinAge").parse().unwrap_or(0);
                let text = format!(
                    "{}{}: length ≥ {}, history {}, minimum age {} s, maximum age {} s, lockout after {}, must change {}, quality check {}",
                    e.dn,
                    if is_default { " (the default policy)" } else { "" },
                    get("pwdMinLength"),
                    get("pwdInHistory"),
                    get("pwdMinAge"),
                    get("pwdMaxAge"),
                    get("pwdMaxFailure"),
                    get("pwdMustChange"),
                    get("pwdCheckQuality"),
                );
                out.push(if min_age > 0 {
                    Finding::warn("ldap.ppolicy", format!("{text}. A person's own change within {min_age} s of a reset is refused"))
                } else {
                    Finding::ok("ldap.ppolicy", text)
                });
            }
        }
        Err(e) => out.push(Finding::warn("ldap.ppolicy", format!("cannot read the policy entries: {e}"))),
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const SVC: &str = "cn=svc,ou=system,dc=example,dc=org";

    fn rules(svc_level: &str) -> Vec<String> {
        vec![
            format!("{{0}}to dn.subtree=\"ou=people,dc=example,dc=org\" attrs=userPassword by self write by dn.exact=\"{SVC}\" {svc_level} by anonymous auth by * none"),
            format!("{{1}}to dn.subtree=\"ou=people,dc=example,dc=org\" attrs=pwdReset,pwdAccountLockedTime by dn.exact=\"{SVC}\" write by * none"),
            "{2}to * by self read by users read by * none".to_string(),
        ]
    }

    #[test]
    fn first_matching_rule_and_clause_decide() {
        let entry = "uid=a,ou=people,dc=example,dc=org";
        assert_eq!(
            access(&rules("write"), entry, "userPassword", SVC).map(|a| a.0),
            Some("write")
        );
        assert_eq!(
            access(&rules("manage"), entry, "userPassword", SVC).map(|a| a.0),
            Some("manage")
        );
        assert_eq!(
            access(&rules("=wx"), entry, "userPassword", SVC).map(|a| a.0),
            Some("write")
        );
        assert_eq!(
            access(&rules("write"), entry, "pwdReset", SVC).map(|a| a.0),
            Some("write")
        );
        // Outside ou=people only the catch-all applies: users read.
        assert_eq!(
            access(
                &rules("write"),
                "uid=a,ou=x,dc=example,dc=org",
                "userPassword",
                SVC
            )
            .map(|a| a.0),
            Some("read")
        );
        assert_eq!(
            access(&rules("write"), entry, "userPassword", "cn=other").map(|a| a.0),
            Some("none")
        );
        assert_eq!(access(&[], entry, "userPassword", SVC), None);
    }
}
