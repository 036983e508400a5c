//! Directory entries → [`Account`]s: objectGUID as the stable id (GUID text), string
//! attributes under lower-case names, binary GUIDs as text/base64.

use writeback_core::Account;
use writeback_ldap::ldap3::SearchEntry;

use crate::guid;

/// The attributes every lookup reads.
pub const ATTRIBUTES: &[&str] = &[
    "sAMAccountName",
    "userPrincipalName",
    "mail",
    "displayName",
    "givenName",
    "sn",
    "objectGUID",
    "mS-DS-ConsistencyGuid",
    "proxyAddresses",
    "pwdLastSet",
    "userAccountControl",
    "lockoutTime",
    "adminCount",
];

/// A binary attribute's first value, wherever ldap3 put it (a value that happens to be
/// valid UTF-8 lands in `attrs`).
fn binary(entry: &SearchEntry, name: &str) -> Option<Vec<u8>> {
    if let Some((_, values)) = entry
        .bin_attrs
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
    {
        return values.first().cloned();
    }
    let (_, values) = entry
        .attrs
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))?;
    values.first().map(|s| s.as_bytes().to_vec())
}

pub fn from_entry(entry: SearchEntry) -> Account {
    let object_guid = binary(&entry, "objectGUID");
    let consistency = binary(&entry, "mS-DS-ConsistencyGuid");
    let mut account = Account {
        dn: entry.dn.clone(),
        id: object_guid.as_deref().and_then(guid::to_text),
        attributes: Default::default(),
    };
    for (name, values) in entry.attrs {
        let lower = name.to_ascii_lowercase();
        if lower == "objectguid" || lower == "ms-ds-consistencyguid" {
            continue;
        }
        account.attributes.insert(lower, values);
    }
    if let Some(id) = &account.id {
        account
            .attributes
            .insert("objectguid".into(), vec![id.clone()]);
    }
    if let Some(bytes) = object_guid {
        account
            .attributes
            .insert("immutable_id".into(), vec![guid::to_base64(&bytes)]);
    }
    if let Some(bytes) = consistency {
        account.attributes.insert(
            "ms-ds-consistencyguid".into(),
            vec![guid::to_base64(&bytes)],
        );
    }
    account
}
