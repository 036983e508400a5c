//! What the domain controller says about itself, read by [`writeback_ldap::RootDse`],
//! and what this target makes of it: which policy hints control it supports.

use std::ops::Deref;

use writeback_ldap::{LdapFailure, Session};

/// LDAP_SERVER_POLICY_HINTS (Windows Server 2012 and later): history applies to resets.
pub const POLICY_HINTS_OID: &str = "1.2.840.113556.1.4.2239";
/// The same control under its Windows Server 2008 R2 OID.
pub const POLICY_HINTS_DEPRECATED_OID: &str = "1.2.840.113556.1.4.2066";

/// The shared rootDSE with the DC-specific question on top (its fields via `Deref`).
#[derive(Clone, Debug, Default)]
pub struct RootDse(pub writeback_ldap::RootDse);

impl Deref for RootDse {
    type Target = writeback_ldap::RootDse;

    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl RootDse {
    pub async fn read(session: &mut Session) -> Result<RootDse, LdapFailure> {
        writeback_ldap::RootDse::read(session).await.map(RootDse)
    }

    /// The policy hints OID the DC supports, if any (Samba 4.17 supports neither).
    pub fn policy_hints_oid(&self) -> Option<&'static str> {
        [POLICY_HINTS_OID, POLICY_HINTS_DEPRECATED_OID]
            .into_iter()
            .find(|oid| self.supports_control(oid))
    }
}
