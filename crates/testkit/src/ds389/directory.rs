//! What tests do to the test 389 DS: add users with unique names, bind, read and
//! change attributes. All over loopback LDAP as cn=Directory Manager (which bypasses
//! ACIs and password policy checks).

use std::sync::atomic::Ordering;

use ldap3::{Ldap, Mod};

use super::Ds389;

impl Ds389 {
    /// A connection bound as cn=Directory Manager.
    pub async fn admin(&self) -> Result<Ldap, String> {
        crate::ldap_admin::bound(&self.ldap_url(), self.admin_dn(), self.admin_password()).await
    }

    /// An unauthenticated connection over plain loopback LDAP.
    pub async fn connect(&self) -> Result<Ldap, String> {
        crate::ldap_admin::connect(&self.ldap_url()).await
    }

    /// A uid no other test in this binary (or an earlier run) uses: `prefix-PID-N`
    /// with the digits written as letters `g`…`p`. 389 DS refuses a password that
    /// contains any 3-character piece of the uid, cn or sn: a uid without digits keeps
    /// that rule out of the way of test passwords made of short mixed runs like
    /// `Qz7#Wx9$Rv2!`.
    pub fn unique_uid(&self, prefix: &str) -> String {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let letters = |v: u64| -> String {
            v.to_string()
                .bytes()
                .map(|d| char::from(b'g' + (d - b'0')))
                .collect()
        };
        format!(
            "{prefix}-{}-{}",
            letters(u64::from(std::process::id())),
            letters(n)
        )
    }

    /// `uid=<uid>,ou=people,…` (the uid is assumed to need no DN escaping).
    pub fn user_dn(&self, uid: &str) -> String {
        format!("uid={uid},{}", self.people_dn())
    }

    /// Adds an inetOrgPerson under ou=people (the global policy).
    pub async fn add_user(
        &self,
        uid: &str,
        password: &str,
        attributes: &[(&str, &str)],
    ) -> Result<String, String> {
        self.add_user_in(&self.people_dn(), uid, password, attributes)
            .await
    }

    /// Adds an inetOrgPerson under `parent_dn` with `password` (hashed by the server)
    /// and returns its DN. `attributes` adds or overrides values (`cn`, `sn`, `mail`,
    /// …; `cn` and `sn` default to the uid). Under ou=strict the entry starts in the
    /// reset state (must change), as the subtree policy says.
    pub async fn add_user_in(
        &self,
        parent_dn: &str,
        uid: &str,
        password: &str,
        attributes: &[(&str, &str)],
    ) -> Result<String, String> {
        let dn = format!("uid={uid},{parent_dn}");
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

    /// The result code of a simple bind (0 success, 49 invalid credentials, 19 locked).
    pub async fn bind_code(&self, dn: &str, password: &str) -> Result<u32, String> {
        crate::ldap_admin::bind_code(&self.ldap_url(), dn, password).await
    }

    /// The values of `attribute` on `dn` (operational ones too: passwordExpirationTime,
    /// passwordRetryCount, accountUnlockTime …), read as cn=Directory Manager. Empty when absent.
    pub async fn read_attr(&self, dn: &str, attribute: &str) -> Result<Vec<String>, String> {
        let mut ldap = self.admin().await?;
        let values = crate::ldap_admin::read_attr(&mut ldap, dn, attribute).await;
        let _ = ldap.unbind().await;
        values
    }

    /// Applies modifications as cn=Directory Manager.
    pub async fn modify_as_admin(&self, dn: &str, mods: Vec<Mod<String>>) -> Result<(), String> {
        let mut ldap = self.admin().await?;
        let done = crate::ldap_admin::modify(&mut ldap, dn, mods).await;
        let _ = ldap.unbind().await;
        done
    }
}
