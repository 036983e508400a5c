//! What the domain controller says about itself: which controls it supports.

use writeback_ldap::ldap3::Scope;
use writeback_ldap::{LdapFailure, Session};

/// LDAP_SERVER_POLICY_HINTS (Windows Server 2012 and later): history applies to resets.
pub const POLICY_HINTS_OID: &str = "1.2.840.113556.1.4.2239";
/// The same control under its Windows Server 2008 R2 OID.
pub const POLICY_HINTS_DEPRECATED_OID: &str = "1.2.840.113556.1.4.2066";

#[derive(Clone, Debug, Default)]
pub struct RootDse {
    pub supported_controls: Vec<String>,
    pub dns_host_name: Option<String>,
}

impl RootDse {
    pub async fn read(session: &mut Session) -> Result<RootDse, LdapFailure> {
        let found = session
            .search(
                "",
                Scope::Base,
                "(objectClass=*)",
                &["supportedControl", "dnsHostName"],
                0,
            )
            .await?;
        let entry = found.entries.into_iter().next();
        let attr = |name: &str| {
            entry
                .as_ref()
                .and_then(|e| e.attrs.get(name))
                .cloned()
                .unwrap_or_default()
        };
        Ok(RootDse {
            supported_controls: attr("supportedControl"),
            dns_host_name: attr("dnsHostName").into_iter().next(),
        })
    }

    /// The policy hints OID the DC supports, if any (Samba 4.17 supports neither).
    pub fn policy_hints_oid(&self) -> Option<&'static str> {
        [POLICY_HINTS_OID, POLICY_HINTS_DEPRECATED_OID]
            .into_iter()
            .find(|oid| self.supported_controls.iter().any(|c| c == oid))
    }
}
