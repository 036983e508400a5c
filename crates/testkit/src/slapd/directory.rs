//! What tests do to the test tree: add users with unique names, bind, read
//! attributes, give a user a password policy of their own. All over loopback LDAP as
//! the rootdn (which bypasses ACLs and password policy checks).

use std::collections::HashSet;
use std::sync::atomic::Ordering;

use ldap3::{Ldap, Mod};

use super::Slapd;

impl Slapd {
    /// A connection bound as the rootdn.
    pub async fn admin(&self) -> Result<Ldap, String> {
        crate::ldap_admin::bound(&self.ldap_url(), &self.admin_dn, &self.admin_password).await
    }

    /// An unauthenticated connection over plain loopback LDAP.
    pub async fn connect(&self) -> Result<Ldap, String> {
        crate::ldap_admin::connect(&self.ldap_url()).await
    }

    /// A uid no other test in this binary (or an earlier run) uses: `prefix-PID-N`.
    pub fn unique_uid(&self, prefix: &str) -> String {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        format!("{prefix}-{}-{n}", std::process::id())
    }

    /// `uid=<uid>,ou=people,…` (the uid is assumed to need no DN escaping).
    pub fn user_dn(&self, uid: &str) -> String {
        format!("uid={uid},{}", self.people_dn())
    }

    /// Adds an inetOrgPerson under ou=people with `password` (hashed by slapd) and
    /// returns its DN. `attributes` adds or overrides values (`cn`, `sn`, `mail`, …;
    /// `cn` and `sn` default to the uid).
    pub async fn add_user(
        &self,
        uid: &str,
        password: &str,
        attributes: &[(&str, &str)],
    ) -> Result<String, String> {
        let dn = self.user_dn(uid);
        let mut ldap = self.admin().await?;
        crate::ldap_admin::add_person(&mut ldap, &dn, uid, password, attributes).await?;
        let _ = ldap.unbind().await;
        Ok(dn)
    }

    /// Whether a simple bind as `dn` with `password` succeeds. A failed bind counts
    /// toward the lockout threshold, as it would for a person.
    pub async fn can_bind(&self, dn: &str, password: &str) -> bool {
        self.bind_code(dn, password).await == Ok(0)
    }

    /// The result code of a simple bind (0 success, 49 invalid credentials).
    pub async fn bind_code(&self, dn: &str, password: &str) -> Result<u32, String> {
        crate::ldap_admin::bind_code(&self.ldap_url(), dn, password).await
    }

    /// The values of `attribute` on `dn` (operational ones too: pwdReset,
    /// pwdAccountLockedTime, pwdChangedTime …), read as the rootdn. Empty when absent.
    pub async fn read_attr(&self, dn: &str, attribute: &str) -> Result<Vec<String>, String> {
        let mut ldap = self.admin().await?;
        let values = crate::ldap_admin::read_attr(&mut ldap, dn, attribute).await;
        let _ = ldap.unbind().await;
        values
    }

    /// Applies modifications as the rootdn.
    pub async fn modify_as_admin(&self, dn: &str, mods: Vec<Mod<String>>) -> Result<(), String> {
        let mut ldap = self.admin().await?;
        let done = crate::ldap_admin::modify(&mut ldap, dn, mods).await;
        let _ = ldap.unbind().await;
        done
    }

    /// Adds a password policy `cn=<name>,ou=policies,…`: the default policy with
    /// `overrides` (e.g. `[("pwdMinAge", "3600")]`). Returns its DN.
    pub async fn add_policy(
        &self,
        name: &str,
        overrides: &[(&str, &str)],
    ) -> Result<String, String> {
        let dn = format!("cn={name},ou=policies,{}", self.base_dn);
        let mut attrs: Vec<(String, HashSet<String>)> = vec![
            (
                "objectClass".into(),
                crate::ldap_admin::set(&["organizationalRole", "pwdPolicy"]),
            ),
            ("cn".into(), crate::ldap_admin::set(&[name])),
        ];
        for (k, v) in super::DEFAULT_POLICY {
            let v = overrides
                .iter()
                .find(|(o, _)| o.eq_ignore_ascii_case(k))
                .map_or(v, |(_, o)| *o);
            attrs.push((k.to_string(), crate::ldap_admin::set(&[v])));
        }
        let mut ldap = self.admin().await?;
        ldap.add(&dn, attrs)
            .await
            .and_then(|r| r.success())
            .map_err(|e| format!("adding policy {dn} failed: {e}"))?;
        let _ = ldap.unbind().await;
        Ok(dn)
    }

    /// Makes `policy_dn` the password policy of `user_dn` (pwdPolicySubentry).
    pub async fn set_user_policy(&self, user_dn: &str, policy_dn: &str) -> Result<(), String> {
        self.modify_as_admin(
            user_dn,
            vec![Mod::Replace(
                "pwdPolicySubentry".to_string(),
                crate::ldap_admin::set(&[policy_dn]),
            )],
        )
        .await
    }
}
