//! What tests do to a test directory over loopback LDAP, the same for every server the
//! kit starts (slapd, 389 DS): connect, bind as the administrator, add a person, bind
//! as someone, read an attribute, modify. The servers' own modules name their
//! administrator and tree and call these.

use std::collections::HashSet;

use ldap3::{Ldap, LdapConnAsync, Mod, Scope, SearchEntry};

/// An unauthenticated connection to `url`.
pub async fn connect(url: &str) -> Result<Ldap, String> {
    let (conn, ldap) = LdapConnAsync::new(url)
        .await
        .map_err(|e| format!("cannot connect to {url}: {e}"))?;
    tokio::spawn(async move {
        let _ = conn.drive().await;
    });
    Ok(ldap)
}

/// A connection to `url` bound as `dn` (the administrator: no ACLs, no policy checks).
pub async fn bound(url: &str, dn: &str, password: &str) -> Result<Ldap, String> {
    let mut ldap = connect(url).await?;
    ldap.simple_bind(dn, password)
        .await
        .and_then(|r| r.success())
        .map_err(|e| format!("admin bind to {url} failed: {e}"))?;
    Ok(ldap)
}

/// Adds the inetOrgPerson `dn` with `uid` and `password` (hashed by the server).
/// `attributes` adds or overrides values (`cn`, `sn`, `mail`, …; `cn` and `sn` default
/// to the uid; an `objectClass` is added to inetOrgPerson).
pub async fn add_person(
    ldap: &mut Ldap,
    dn: &str,
    uid: &str,
    password: &str,
    attributes: &[(&str, &str)],
) -> Result<(), String> {
    let mut attrs: Vec<(String, HashSet<String>)> = vec![
        ("objectClass".into(), set(&["inetOrgPerson"])),
        ("uid".into(), set(&[uid])),
        ("userPassword".into(), set(&[password])),
    ];
    for name in ["cn", "sn"] {
        if !attributes.iter().any(|(k, _)| k.eq_ignore_ascii_case(name)) {
            attrs.push((name.into(), set(&[uid])));
        }
    }
    for (name, value) in attributes {
        match attrs.iter_mut().find(|(k, _)| k.eq_ignore_ascii_case(name)) {
            Some((_, values)) => {
                values.insert(value.to_string());
            }
            None => attrs.push((name.to_string(), set(&[value]))),
        }
    }
    ldap.add(dn, attrs)
        .await
        .and_then(|r| r.success())
        .map_err(|e| format!("adding {dn} failed: {e}"))?;
    Ok(())
}

/// The result code of a simple bind as `dn` on a fresh connection (0 success, 49
/// invalid credentials, 19 locked on 389 DS). A failed bind counts toward lockout.
pub async fn bind_code(url: &str, dn: &str, password: &str) -> Result<u32, String> {
    let mut ldap = connect(url).await?;
    let rc = ldap
        .simple_bind(dn, password)
        .await
        .map(|r| r.rc)
        .map_err(|e| format!("bind as {dn} failed to run: {e}"))?;
    let _ = ldap.unbind().await;
    Ok(rc)
}

/// The values of `attribute` on `dn` (operational ones too). Empty when absent.
pub async fn read_attr(ldap: &mut Ldap, dn: &str, attribute: &str) -> Result<Vec<String>, String> {
    let (entries, _) = ldap
        .search(dn, Scope::Base, "(objectClass=*)", vec![attribute])
        .await
        .and_then(|r| r.success())
        .map_err(|e| format!("reading {attribute} of {dn} failed: {e}"))?;
    Ok(entries
        .into_iter()
        .next()
        .map(SearchEntry::construct)
        .and_then(|e| {
            e.attrs
                .into_iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(attribute))
                .map(|(_, v)| v)
        })
        .unwrap_or_default())
}

/// Applies `mods` to `dn`.
pub async fn modify(ldap: &mut Ldap, dn: &str, mods: Vec<Mod<String>>) -> Result<(), String> {
    ldap.modify(dn, mods)
        .await
        .and_then(|r| r.success())
        .map(|_| ())
        .map_err(|e| format!("modifying {dn} failed: {e}"))
}

pub(crate) fn set(values: &[&str]) -> HashSet<String> {
    values.iter().map(|v| v.to_string()).collect()
}
