//! 389 Directory Server specifics shared by its target and the directory policy:
//! which password policy applies to an entry (a per-user or subtree policy named by
//! the entry's `pwdpolicysubentry`, else the global one in `cn=config`), and what the
//! bound account may do to an entry (the Get Effective Rights control), for self-tests.

use std::collections::HashMap;
use std::fmt;

use ldap3::controls::RawControl;
use ldap3::{Scope, SearchEntry};

use crate::error::LdapFailure;
use crate::session::Session;

/// Get Effective Rights (supported by 389 DS; the subject is an OCTET STRING `dn:…`).
pub const GER_OID: &str = "1.3.6.1.4.1.42.2.27.9.5.2";

/// The `passwordExpirationTime` 389 DS writes when a password must be changed.
pub const MUST_CHANGE_MARK: &str = "19700101000000Z";

/// The attributes of a password policy, global (`cn=config`) or local.
pub const POLICY_ATTRIBUTES: &[&str] = &[
    "passwordMustChange",
    "passwordChange",
    "passwordCheckSyntax",
    "passwordMinLength",
    "passwordMinDigits",
    "passwordMinAlphas",
    "passwordMinUppers",
    "passwordMinLowers",
    "passwordMinSpecials",
    "passwordMinCategories",
    "passwordHistory",
    "passwordInHistory",
    "passwordMinAge",
    "passwordExp",
    "passwordMaxAge",
    "passwordLockout",
    "passwordMaxFailure",
];

/// Where an entry's policy comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PolicySource {
    /// `cn=config`.
    Global,
    /// A subtree or per-user policy entry (its DN).
    Local(String),
}

impl fmt::Display for PolicySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PolicySource::Global => f.write_str("the global policy (cn=config)"),
            PolicySource::Local(dn) => write!(f, "the local policy {dn}"),
        }
    }
}

/// The password policy 389 DS applies to one entry. Unset attributes of a local
/// policy count as 389 DS's defaults (off / 0), as the server treats them unless
/// `nsslapd-pwpolicy-inherit-global` is on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ds389Policy {
    pub source: PolicySource,
    /// An administrator's reset makes the user change the password at next bind.
    pub must_change: bool,
    /// Quality rules apply only when `passwordCheckSyntax` is on.
    pub check_syntax: bool,
    pub min_length: u32,
    pub min_digits: u32,
    pub min_alphas: u32,
    pub min_uppers: u32,
    pub min_lowers: u32,
    pub min_specials: u32,
    pub min_categories: u32,
    /// Passwords remembered (0: history off).
    pub history: u32,
    pub min_age_secs: u64,
    /// Seconds a password lives, when expiry is on.
    pub max_age_secs: Option<u64>,
    /// Failures before lockout, when lockout is on.
    pub lockout_after: Option<u32>,
}

impl Ds389Policy {
    /// The policy from an entry's attributes; `None` when none of the policy
    /// attributes is visible (the bound account may not read them).
    pub fn from_attrs(source: PolicySource, attrs: &HashMap<String, Vec<String>>) -> Option<Self> {
        let get = |name: &str| {
            attrs
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .and_then(|(_, v)| v.first())
                .map(|s| s.trim().to_string())
        };
        if !POLICY_ATTRIBUTES.iter().any(|a| get(a).is_some()) {
            return None;
        }
        let on = |name: &str| get(name).is_some_and(|v| v.eq_ignore_ascii_case("on"));
        let num = |name: &str| get(name).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
        let small = |name: &str| u32::try_from(num(name)).unwrap_or(u32::MAX);
        Some(Ds389Policy {
            source,
            must_change: on("passwordMustChange"),
            check_syntax: on("passwordCheckSyntax"),
            min_length: small("passwordMinLength"),
            min_digits: small("passwordMinDigits"),
            min_alphas: small("passwordMinAlphas"),
            min_uppers: small("passwordMinUppers"),
            min_lowers: small("passwordMinLowers"),
            min_specials: small("passwordMinSpecials"),
            min_categories: small("passwordMinCategories"),
            history: if on("passwordHistory") {
                small("passwordInHistory")
            } else {
                0
            },
            min_age_secs: num("passwordMinAge"),
            max_age_secs: on("passwordExp").then(|| num("passwordMaxAge")),
            lockout_after: on("passwordLockout").then(|| small("passwordMaxFailure")),
        })
    }

    /// One line for a self-test or an admin detail.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if self.check_syntax {
            parts.push(format!("min length {}", self.min_length));
        } else {
            parts.push("syntax checks off".to_string());
        }
        parts.push(if self.history > 0 {
            format!("history {}", self.history)
        } else {
            "history off".into()
        });
        parts.push(format!("min age {} s", self.min_age_secs));
        parts.push(format!(
            "must change after reset {}",
            if self.must_change { "on" } else { "off" }
        ));
        if let Some(max) = self.max_age_secs {
            parts.push(format!("expires after {max} s"));
        }
        if let Some(n) = self.lockout_after {
            parts.push(format!("lockout after {n} failures"));
        }
        format!("{}: {}", self.source, parts.join(", "))
    }
}

/// Why a policy could not be read.
#[derive(Clone, Debug)]
pub enum PolicyReadError {
    /// The directory failed or refused the search.
    Directory(LdapFailure),
    /// The search worked but the policy's attributes were not visible.
    Unreadable { dn: String },
}

impl fmt::Display for PolicyReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PolicyReadError::Directory(e) => write!(f, "{e}"),
            PolicyReadError::Unreadable { dn } => write!(
                f,
                "the password policy attributes of {dn} are not readable by the bound account \
                 (grant it read on them with an ACI; see docs/389ds.md)"
            ),
        }
    }
}

impl std::error::Error for PolicyReadError {}

impl From<LdapFailure> for PolicyReadError {
    fn from(e: LdapFailure) -> Self {
        PolicyReadError::Directory(e)
    }
}

/// The DN of the local policy that applies to `entry_dn` (`pwdpolicysubentry`, which
/// 389 DS computes for subtree policies too), or `None` for the global one.
pub async fn local_policy_of(
    session: &mut Session,
    entry_dn: &str,
) -> Result<Option<String>, LdapFailure> {
    let found = session
        .search(
            entry_dn,
            Scope::Base,
            "(objectClass=*)",
            &["pwdpolicysubentry"],
            0,
        )
        .await?;
    Ok(found
        .entries
        .first()
        .and_then(|e| first_value(e, "pwdpolicysubentry")))
}

/// Reads one policy.
pub async fn read_policy(
    session: &mut Session,
    source: PolicySource,
) -> Result<Ds389Policy, PolicyReadError> {
    let dn = match &source {
        PolicySource::Global => "cn=config".to_string(),
        PolicySource::Local(dn) => dn.clone(),
    };
    let found = session
        .search(&dn, Scope::Base, "(objectClass=*)", POLICY_ATTRIBUTES, 0)
        .await;
    let found = match found {
        Ok(found) => found,
        // Not visible at all (no read right on the entry) reads as "no such object".
        Err(f) if matches!(f.result_code(), Some(32 | 50)) => {
            return Err(PolicyReadError::Unreadable { dn })
        }
        Err(f) => return Err(f.into()),
    };
    let attrs = found
        .entries
        .into_iter()
        .next()
        .map(|e| e.attrs)
        .unwrap_or_default();
    Ds389Policy::from_attrs(source, &attrs).ok_or(PolicyReadError::Unreadable { dn })
}

/// The policy that applies to `entry_dn`.
pub async fn effective_policy(
    session: &mut Session,
    entry_dn: &str,
) -> Result<Ds389Policy, PolicyReadError> {
    let source = match local_policy_of(session, entry_dn).await? {
        Some(dn) => PolicySource::Local(dn),
        None => PolicySource::Global,
    };
    read_policy(session, source).await
}

/// The rights `subject_dn` has on the attributes of `entry_dn`, as 389 DS's Get
/// Effective Rights reports them (`attribute name` lower-case → letters such as
/// `rscwo`; `w` is write). An attribute missing from the map has no rights listed.
pub async fn effective_rights(
    session: &mut Session,
    entry_dn: &str,
    subject_dn: &str,
    attributes: &[&str],
) -> Result<HashMap<String, String>, LdapFailure> {
    let subject = format!("dn:{subject_dn}");
    let value = crate::ber::octet_string(subject.as_bytes());
    let control = RawControl {
        ctype: GER_OID.to_string(),
        crit: true,
        val: Some(value),
    };
    let mut wanted: Vec<&str> = attributes.to_vec();
    wanted.push("attributeLevelRights");
    let server = session.server().to_string();
    let timeout = session.timeout();
    let result = session
        .ldap()
        .with_timeout(timeout)
        .with_controls(control)
        .search(entry_dn, Scope::Base, "(objectClass=*)", wanted)
        .await;
    let (entries, result) = match result {
        Ok(r) => (r.0, r.1),
        Err(e) => {
            session.mark_broken();
            return Err(LdapFailure::Transport {
                server,
                detail: format!("get effective rights: {e}"),
            });
        }
    };
    if result.rc != 0 {
        return Err(LdapFailure::Directory {
            server,
            reply: crate::error::Reply::from_result(result),
        });
    }
    let text = entries
        .into_iter()
        .next()
        .map(SearchEntry::construct)
        .and_then(|e| first_value(&e, "attributeLevelRights"))
        .unwrap_or_default();
    Ok(parse_attribute_rights(&text))
}

/// `userPassword:wo, passwordRetryCount:rscwo` → {userpassword: wo, …}.
pub fn parse_attribute_rights(text: &str) -> HashMap<String, String> {
    text.split(',')
        .filter_map(|part| {
            let (name, rights) = part.trim().split_once(':')?;
            Some((name.trim().to_ascii_lowercase(), rights.trim().to_string()))
        })
        .collect()
}

fn first_value(entry: &SearchEntry, name: &str) -> Option<String> {
    entry
        .attrs
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .and_then(|(_, v)| v.first())
        .cloned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attrs(pairs: &[(&str, &str)]) -> HashMap<String, Vec<String>> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), vec![v.to_string()]))
            .collect()
    }

    #[test]
    fn reads_a_policy_and_knows_when_it_was_not_visible() {
        let p = Ds389Policy::from_attrs(
            PolicySource::Global,
            &attrs(&[
                ("passwordMustChange", "off"),
                ("passwordCheckSyntax", "on"),
                ("passwordMinLength", "10"),
                ("passwordHistory", "on"),
                ("passwordInHistory", "3"),
                ("passwordExp", "on"),
                ("passwordMaxAge", "2592000"),
                ("passwordLockout", "off"),
                ("passwordMaxFailure", "3"),
            ]),
        )
        .unwrap();
        assert!(!p.must_change && p.check_syntax);
        assert_eq!((p.min_length, p.history), (10, 3));
        assert_eq!(p.max_age_secs, Some(2_592_000));
        assert_eq!(p.lockout_after, None);
        assert!(p.describe().contains("global policy"), "{}", p.describe());
        let local = PolicySource::Local("cn=x,dc=y".into());
        let p = Ds389Policy::from_attrs(local, &attrs(&[("passwordMustChange", "on")])).unwrap();
        assert!(p.must_change && !p.check_syntax && p.history == 0);
        assert_eq!(
            Ds389Policy::from_attrs(PolicySource::Global, &attrs(&[("cn", "config")])),
            None
        );
    }

    #[test]
    fn parses_attribute_level_rights() {
        let r = parse_attribute_rights(
            "userPassword:wo, passwordRetryCount:rscwo, accountUnlock\u{0}Time:none",
        );
        assert_eq!(r.get("userpassword").map(String::as_str), Some("wo"));
        assert_eq!(
            r.get("passwordretrycount").map(String::as_str),
            Some("rscwo")
        );
    }
}
