//! The rootDSE: what a server says about itself (supported controls and extended
//! operations, its naming contexts, its host name), read in one search. Every
//! connector reads it here rather than with its own search of `""`.

use ldap3::Scope;

use crate::error::LdapFailure;
use crate::session::Session;

/// The attributes [`RootDse::read`] asks for.
pub const ATTRIBUTES: [&str; 6] = [
    "supportedControl",
    "supportedExtension",
    "namingContexts",
    "defaultNamingContext",
    "dnsHostName",
    "vendorName",
];

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RootDse {
    pub supported_controls: Vec<String>,
    pub supported_extensions: Vec<String>,
    pub naming_contexts: Vec<String>,
    /// Active Directory's domain naming context (`DC=example,DC=org`).
    pub default_naming_context: Option<String>,
    /// Active Directory's name for the DC that answered.
    pub dns_host_name: Option<String>,
    pub vendor_name: Option<String>,
}

impl RootDse {
    /// One base search of `""` for [`ATTRIBUTES`]; missing attributes stay empty.
    pub async fn read(session: &mut Session) -> Result<RootDse, LdapFailure> {
        let found = session
            .search("", Scope::Base, "(objectClass=*)", &ATTRIBUTES, 0)
            .await?;
        let mut entry = found
            .entries
            .into_iter()
            .next()
            .map(|e| e.attrs)
            .unwrap_or_default();
        let mut take = |name: &str| entry.remove(name).unwrap_or_default();
        Ok(RootDse {
            supported_controls: take("supportedControl"),
            supported_extensions: take("supportedExtension"),
            naming_contexts: take("namingContexts"),
            default_naming_context: take("defaultNamingContext").into_iter().next(),
            dns_host_name: take("dnsHostName").into_iter().next(),
            vendor_name: take("vendorName").into_iter().next(),
        })
    }

    pub fn supports_control(&self, oid: &str) -> bool {
        self.supported_controls.iter().any(|c| c == oid)
    }

    pub fn supports_extension(&self, oid: &str) -> bool {
        self.supported_extensions.iter().any(|c| c == oid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookups() {
        let root = RootDse {
            supported_controls: vec!["1.2.3".into()],
            supported_extensions: vec!["1.3.6.1.4.1.4203.1.11.1".into()],
            ..RootDse::default()
        };
        assert!(root.supports_control("1.2.3"));
        assert!(!root.supports_control("1.2.4"));
        assert!(root.supports_extension("1.3.6.1.4.1.4203.1.11.1"));
    }
}
