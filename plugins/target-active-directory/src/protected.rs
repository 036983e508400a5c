//! Protected accounts: `adminCount=1`, or membership (direct or nested, found with the
//! in-chain matching rule 1.2.840.113556.1.4.1941) of a privileged group, or a
//! privileged primary group, or krbtgt. Samba has no SDProp, so `adminCount` alone
//! misses admins added after provisioning: membership is checked too.
//!
//! The groups are found by their well-known SIDs (names can be renamed or localized).

use writeback_ldap::escape::filter_value;
use writeback_ldap::ldap3::Scope;
use writeback_ldap::{LdapFailure, Session};

use crate::guid::filter_escape;

/// BUILTIN (S-1-5-32-x): Administrators, Account/Server/Print/Backup Operators.
const BUILTIN_RIDS: [u32; 5] = [544, 548, 549, 550, 551];
/// Domain-relative: Domain Admins, Schema Admins, Enterprise Admins (the last two exist
/// in the forest root domain only).
const DOMAIN_GROUP_RIDS: [u32; 3] = [512, 518, 519];
/// Primary groups that make an account privileged: Domain Admins, Domain Controllers,
/// Schema Admins, Enterprise Admins, Read-only Domain Controllers.
const PRIVILEGED_PRIMARY_GROUPS: [u32; 5] = [512, 516, 518, 519, 521];
const KRBTGT_RID: u32 = 502;

/// The privileged groups of one domain, and the SID prefix of that domain.
#[derive(Clone, Debug)]
pub struct Privileged {
    /// (name, DN) of every privileged group found.
    pub groups: Vec<(String, String)>,
    domain_sid: Vec<u8>,
}

/// A SID with one more sub-authority (the RID) appended.
fn with_rid(sid: &[u8], rid: u32) -> Vec<u8> {
    let mut out = sid.to_vec();
    if let Some(count) = out.get_mut(1) {
        *count += 1;
    }
    out.extend_from_slice(&rid.to_le_bytes());
    out
}

fn builtin_sid(rid: u32) -> Vec<u8> {
    with_rid(&[1, 1, 0, 0, 0, 0, 0, 5, 32, 0, 0, 0], rid)
}

impl Privileged {
    /// Reads the domain SID from the naming context above `base_dn` and finds the groups.
    pub async fn discover(session: &mut Session, base_dn: &str) -> Result<Privileged, LdapFailure> {
        let naming_context = writeback_ldap::RootDse::read(session)
            .await?
            .default_naming_context
            .unwrap_or_else(|| base_dn.to_string());
        let domain = session
            .search(
                &naming_context,
                Scope::Base,
                "(objectClass=*)",
                &["objectSid"],
                0,
            )
            .await?;
        let domain_sid = domain
            .entries
            .first()
            .and_then(|e| e.bin_attrs.get("objectSid"))
            .and_then(|v| v.first())
            .cloned()
            .unwrap_or_default();
        let mut sids: Vec<Vec<u8>> = BUILTIN_RIDS.iter().map(|r| builtin_sid(*r)).collect();
        if !domain_sid.is_empty() {
            sids.extend(DOMAIN_GROUP_RIDS.iter().map(|r| with_rid(&domain_sid, *r)));
        }
        let filter: String = sids
            .iter()
            .map(|s| format!("(objectSid={})", filter_escape(s)))
            .collect();
        let found = session
            .search(
                &naming_context,
                Scope::Subtree,
                &format!("(|{filter})"),
                &["cn"],
                0,
            )
            .await?;
        let groups = found
            .entries
            .into_iter()
            .map(|e| {
                let name = e
                    .attrs
                    .get("cn")
                    .and_then(|v| v.first())
                    .cloned()
                    .unwrap_or_else(|| e.dn.clone());
                (name, e.dn)
            })
            .collect();
        Ok(Privileged { groups, domain_sid })
    }

    /// Why the account at `dn` is protected, or `None`.
    pub async fn check(
        &self,
        session: &mut Session,
        dn: &str,
    ) -> Result<Option<String>, LdapFailure> {
        let mut any = String::from("(adminCount=1)");
        for rid in PRIVILEGED_PRIMARY_GROUPS {
            any.push_str(&format!("(primaryGroupID={rid})"));
        }
        if !self.domain_sid.is_empty() {
            any.push_str(&format!(
                "(objectSid={})",
                filter_escape(&with_rid(&self.domain_sid, KRBTGT_RID))
            ));
        }
        for (_, group) in &self.groups {
            any.push_str(&format!(
                "(memberOf:1.2.840.113556.1.4.1941:={})",
                filter_value(group)
            ));
        }
        let found = session
            .search(
                dn,
                Scope::Base,
                &format!("(|{any})"),
                &["adminCount", "memberOf", "primaryGroupID"],
                0,
            )
            .await?;
        let Some(entry) = found.entries.first() else {
            return Ok(None);
        };
        let direct: Vec<&str> = entry
            .attrs
            .get("memberOf")
            .into_iter()
            .flatten()
            .filter_map(|m| {
                self.groups
                    .iter()
                    .find(|(_, g)| g.eq_ignore_ascii_case(m))
                    .map(|(n, _)| n.as_str())
            })
            .collect();
        let reason = if !direct.is_empty() {
            format!("member of {}", direct.join(", "))
        } else if entry
            .attrs
            .get("adminCount")
            .is_some_and(|v| v.iter().any(|x| x == "1"))
        {
            "adminCount=1 (protected by AdminSDHolder)".to_string()
        } else {
            "a nested member of a privileged group, a privileged primary group, or krbtgt"
                .to_string()
        };
        Ok(Some(reason))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sids_with_rids() {
        assert_eq!(
            builtin_sid(544),
            vec![1, 2, 0, 0, 0, 0, 0, 5, 32, 0, 0, 0, 0x20, 0x02, 0, 0]
        );
        let domain = [
            1u8, 4, 0, 0, 0, 0, 0, 5, 21, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0,
        ];
        let da = with_rid(&domain, 512);
        assert_eq!(da[1], 5);
        assert_eq!(&da[24..], &[0, 2, 0, 0]);
    }
}
