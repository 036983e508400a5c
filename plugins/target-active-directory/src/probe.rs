//! The read-only permission probe of the self-test: the service account's token as the
//! DC computed it (`tokenGroups` on the rootDSE, plus the account's own SID), and the
//! DACL of the search base and the OUs right below it (read with the SD_FLAGS control:
//! without it a non-admin silently gets no descriptor), evaluated for the rights a write
//! needs on user objects created there.

use writeback_core::HealthCheck;
use writeback_ldap::escape::filter_value;
use writeback_ldap::ldap3::controls::RawControl;
use writeback_ldap::ldap3::{Scope, SearchEntry};
use writeback_ldap::Session;

use crate::acl::{self, Wanted, DS_CONTROL_ACCESS, DS_WRITE_PROPERTY};
use crate::config::AdConfig;
use crate::errors::Right;

/// LDAP_SERVER_SD_FLAGS_OID with DACL_SECURITY_INFORMATION (4).
pub(crate) fn sd_flags_dacl() -> RawControl {
    RawControl {
        ctype: "1.2.840.113556.1.4.801".into(),
        crit: true,
        val: Some(vec![0x30, 0x03, 0x02, 0x01, 0x04]),
    }
}

/// User-Account-Restrictions: the property set pwdLastSet belongs to.
const ACCOUNT_RESTRICTIONS: &str = "4c164200-20c0-11d0-a768-00aa006e0529";

pub(crate) fn wanted(right: Right) -> Wanted<'static> {
    match right {
        Right::ResetPassword => Wanted {
            bit: DS_CONTROL_ACCESS,
            object_types: &["00299570-246d-11d0-a768-00aa006e0529"],
        },
        Right::ChangePassword => Wanted {
            bit: DS_CONTROL_ACCESS,
            object_types: &["ab721a53-1e2f-11d0-9819-00aa0040529b"],
        },
        Right::WriteLockoutTime => Wanted {
            bit: DS_WRITE_PROPERTY,
            object_types: &["28630ebf-41d5-11d1-a9c1-0000f80367c1"],
        },
        Right::WritePwdLastSet => Wanted {
            bit: DS_WRITE_PROPERTY,
            object_types: &["bf967a0a-0de6-11d0-a285-00aa003049e2", ACCOUNT_RESTRICTIONS],
        },
    }
}

pub(crate) async fn search(
    session: &mut Session,
    base: &str,
    scope: Scope,
    filter: &str,
    attrs: &[&str],
    controls: Vec<RawControl>,
) -> Result<Vec<SearchEntry>, String> {
    let timeout = std::time::Duration::from_secs(10);
    let result = session
        .ldap()
        .with_timeout(timeout)
        .with_controls(controls)
        .search(base, scope, filter, attrs.to_vec())
        .await
        .and_then(|r| r.success())
        .map_err(|e| format!("reading {base}: {e}"))?;
    Ok(result.0.into_iter().map(SearchEntry::construct).collect())
}

pub(crate) fn binary(entry: &SearchEntry, name: &str) -> Vec<Vec<u8>> {
    entry
        .bin_attrs
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.clone())
        .unwrap_or_default()
}

/// The connection's token: tokenGroups from the rootDSE, the account's own SID,
/// Everyone and Authenticated Users.
pub(crate) async fn token(
    session: &mut Session,
    config: &AdConfig,
) -> Result<Vec<Vec<u8>>, String> {
    let root = search(
        session,
        "",
        Scope::Base,
        "(objectClass=*)",
        &["tokenGroups", "defaultNamingContext"],
        Vec::new(),
    )
    .await?;
    let mut sids: Vec<Vec<u8>> = root
        .first()
        .map(|e| binary(e, "tokenGroups"))
        .unwrap_or_default();
    if sids.is_empty() {
        return Err("the rootDSE returned no tokenGroups for this connection".into());
    }
    let naming_context = root.first().and_then(|e| {
        e.attrs
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("defaultNamingContext"))
            .and_then(|(_, v)| v.first().cloned())
    });
    let (base, scope, filter) = own_sid_search(config, naming_context.as_deref());
    let own = search(session, base, scope, &filter, &["objectSid"], Vec::new()).await?;
    sids.extend(
        own.first()
            .map(|e| binary(e, "objectSid"))
            .unwrap_or_default(),
    );
    sids.push(vec![1, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0]); // Everyone
    sids.push(vec![1, 1, 0, 0, 0, 0, 0, 5, 11, 0, 0, 0]); // Authenticated Users
    Ok(sids)
}

/// Where the service account's own entry is read: its DN, or for a UPN bind a search
/// of the whole domain — a service account usually lives outside the users' OU, and
/// Windows does not list the account's own SID in tokenGroups (Samba does).
fn own_sid_search<'a>(
    config: &'a AdConfig,
    naming_context: Option<&'a str>,
) -> (&'a str, Scope, String) {
    let bind = &config.server.bind_dn;
    if bind.contains('=') {
        (bind, Scope::Base, "(objectClass=*)".to_string())
    } else {
        (
            naming_context.unwrap_or(&config.base_dn),
            Scope::Subtree,
            format!("(userPrincipalName={})", filter_value(bind)),
        )
    }
}

const PROBED: [Right; 3] = [
    Right::ResetPassword,
    Right::WritePwdLastSet,
    Right::WriteLockoutTime,
];

pub async fn permissions(session: &mut Session, config: &AdConfig) -> HealthCheck {
    match probe(session, config).await {
        Ok(lines) => {
            let any_reset = lines
                .iter()
                .any(|(_, rights)| rights.contains(&Right::ResetPassword));
            let detail: Vec<String> = lines
                .iter()
                .map(|(dn, rights)| {
                    let names: Vec<&str> = rights.iter().map(|r| r.name()).collect();
                    let names = if names.is_empty() {
                        "none".to_string()
                    } else {
                        names.join(", ")
                    };
                    format!("{dn}: {names}")
                })
                .collect();
            let text = format!(
                "inherited by user objects, from the DACLs: {}",
                detail.join("; ")
            );
            if any_reset {
                HealthCheck::pass("permissions", text)
            } else {
                HealthCheck::fail(
                    "permissions",
                    format!(
                        "{text}. The service account has Reset Password on no container probed \
                         (base_dn and the OUs right below it): delegate it (docs/active-directory.md)"
                    ),
                )
            }
        }
        Err(why) => HealthCheck::fail("permissions", format!("could not probe: {why}")),
    }
}

async fn probe(
    session: &mut Session,
    config: &AdConfig,
) -> Result<Vec<(String, Vec<Right>)>, String> {
    let sids = token(session, config).await?;
    let mut places = search(
        session,
        &config.base_dn,
        Scope::Base,
        "(objectClass=*)",
        &["nTSecurityDescriptor"],
        vec![sd_flags_dacl()],
    )
    .await?;
    places.extend(
        search(
            session,
            &config.base_dn,
            Scope::OneLevel,
            "(objectClass=organizationalUnit)",
            &["nTSecurityDescriptor"],
            vec![sd_flags_dacl()],
        )
        .await?
        .into_iter()
        .take(50),
    );
    let mut lines = Vec::new();
    for place in places {
        let descriptor = binary(&place, "nTSecurityDescriptor");
        let Some(aces) = descriptor.first().and_then(|d| acl::dacl(d)) else {
            lines.push((place.dn, Vec::new()));
            continue;
        };
        let granted = PROBED
            .into_iter()
            .filter(|r| acl::inherited_grant(&aces, &sids, &wanted(*r)))
            .collect();
        lines.push((place.dn, granted));
    }
    Ok(lines)
}

#[cfg(test)]
mod tests {
    use super::*;
    use writeback_core::{ConnectorConfig, ConnectorKind};

    fn config(bind_dn: &str) -> AdConfig {
        let text = format!(
            "url = \"ldaps://dc.example.org\"\nbind_dn = \"{bind_dn}\"\n\
             bind_password = {{ env = \"AD_BIND\" }}\nbase_dn = \"OU=Staff,DC=example,DC=org\"\n"
        );
        let table: toml::Table = toml::from_str(&text).unwrap_or_default();
        let connector =
            ConnectorConfig::in_code(ConnectorKind::Target, "active-directory", "ad", table);
        match AdConfig::from_connector(&connector) {
            Ok(c) => c,
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn a_upn_bound_service_account_is_looked_up_in_the_whole_domain() {
        // Before: under base_dn (OU=Staff), where a service account in OU=Service
        // Accounts is not, so its own SID was missing from the token on Windows.
        let c = config("svc@example.org");
        let (base, scope, filter) = own_sid_search(&c, Some("DC=example,DC=org"));
        assert_eq!(base, "DC=example,DC=org");
        assert_eq!(scope, Scope::Subtree);
        assert_eq!(filter, "(userPrincipalName=svc@example.org)");
        // Without a naming context from the rootDSE, the users' base is the fallback.
        assert_eq!(own_sid_search(&c, None).0, "OU=Staff,DC=example,DC=org");
        let c = config("CN=svc,OU=Service Accounts,DC=example,DC=org");
        let (base, scope, _) = own_sid_search(&c, Some("DC=example,DC=org"));
        assert_eq!(base, "CN=svc,OU=Service Accounts,DC=example,DC=org");
        assert_eq!(scope, Scope::Base);
    }
}
