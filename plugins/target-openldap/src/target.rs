//! The running `openldap` target: resolving identities, listing accounts, and the
//! self-test. Password writes are in `apply.rs`.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use writeback_core::{Account, CloudIdentity, DirectoryTarget, HealthCheck, Operation, Outcome};
use writeback_ldap::ldap3::Scope;
use writeback_ldap::{Connector, FilterTemplate, Pool};

use crate::config::SearchScope;

/// Attributes read for every account (Account.attributes keys are their lower-case names).
pub const ACCOUNT_ATTRIBUTES: [&str; 7] = [
    "entryUUID",
    "uid",
    "cn",
    "displayName",
    "givenName",
    "sn",
    "mail",
];

/// ppolicy state read with the account when it is resolved (no extra round trip), for
/// the checks before and after a write (verify.rs). Operational: asked for by name.
pub const STATE_ATTRIBUTES: [&str; 3] = ["pwdAccountLockedTime", "pwdStartTime", "pwdEndTime"];

/// Most entries one `search` returns.
pub const MAX_SEARCH_LIMIT: usize = 1000;

pub struct OpenLdapTarget {
    pub(crate) connector: Arc<Connector>,
    pub(crate) pool: Pool,
    pub(crate) base_dn: String,
    pub(crate) scope: SearchScope,
    pub(crate) template: FilterTemplate,
    pub(crate) use_password_modify_exop: bool,
    pub(crate) attribute_map: BTreeMap<String, String>,
    pub(crate) verify_writes: bool,
    pub(crate) unlock_administrators_lock: bool,
}

impl OpenLdapTarget {
    fn scope(&self) -> Scope {
        match self.scope {
            SearchScope::Sub => Scope::Subtree,
            SearchScope::One => Scope::OneLevel,
        }
    }

    /// Searches `base_dn` for accounts (see [`writeback_ldap::account::find`]).
    async fn find(
        &self,
        filter: &str,
        attributes: &[&str],
        limit: usize,
    ) -> Result<(Vec<Account>, bool), Outcome> {
        let search = writeback_ldap::account::Search {
            base_dn: &self.base_dn,
            scope: self.scope(),
            attributes,
            id_attribute: "entryuuid",
        };
        writeback_ldap::account::find(&self.pool, &search, filter, limit).await
    }
}

#[async_trait]
impl DirectoryTarget for OpenLdapTarget {
    async fn resolve(&self, identity: &CloudIdentity) -> Result<Account, Outcome> {
        let filter = writeback_ldap::account::fill_filter(&self.template, identity)?;
        let attributes: Vec<&str> = ACCOUNT_ATTRIBUTES
            .iter()
            .chain(&STATE_ATTRIBUTES)
            .copied()
            .collect();
        let (accounts, truncated) = self.find(&filter, &attributes, 2).await?;
        writeback_ldap::account::exactly_one(
            self.connector.server(),
            &self.base_dn,
            &filter,
            accounts,
            truncated,
        )
    }

    async fn apply(&self, account: &Account, operation: &Operation) -> Result<(), Outcome> {
        crate::verify::refuse_administrators_lock(
            account,
            operation,
            self.unlock_administrators_lock,
        )?;
        match operation {
            Operation::Reset {
                new_password,
                must_change,
            } => self.reset(&account.dn, new_password, *must_change).await?,
            Operation::Change {
                old_password,
                new_password,
            } => self.change(&account.dn, old_password, new_password).await?,
            Operation::Unlock => self.unlock(&account.dn).await?,
        }
        self.verify_write(account, operation).await
    }

    async fn doctor(
        &self,
        options: &writeback_core::DoctorOptions,
    ) -> Vec<writeback_core::Finding> {
        crate::doctor::run(self, options).await
    }

    async fn self_test(&self) -> Vec<HealthCheck> {
        let mut checks = Vec::new();
        let Some(mut session) = self
            .pool
            .connection_checks(&self.base_dn, &mut checks)
            .await
        else {
            return checks;
        };
        match writeback_ldap::RootDse::read(&mut session).await {
            Ok(root) => {
                checks.push(if root.supports_control(writeback_ldap::ppolicy::PPOLICY_OID) {
                    HealthCheck::pass("ppolicy", "the password policy control is supported")
                } else {
                    HealthCheck::fail(
                        "ppolicy",
                        "the server does not advertise the password policy control: is the ppolicy overlay loaded?",
                    )
                });
            }
            Err(f) => checks.push(HealthCheck::fail("ppolicy", f.to_string())),
        }
        checks.push(crate::selftest::hash_cleartext(&mut session, &self.base_dn).await);
        session.unbind().await;
        checks
    }

    async fn password_expiries(
        &self,
        within: std::time::Duration,
    ) -> Result<Vec<(Account, std::time::SystemTime)>, Outcome> {
        crate::expiry::password_expiries(self, within).await
    }

    async fn search(
        &self,
        query: Option<(&str, &str)>,
        limit: usize,
    ) -> Result<Vec<Account>, Outcome> {
        let filter =
            writeback_ldap::account::query_filter(&self.template, &self.attribute_map, query)?;
        let (accounts, _) = self
            .find(
                &filter,
                &ACCOUNT_ATTRIBUTES,
                limit.clamp(1, MAX_SEARCH_LIMIT),
            )
            .await?;
        Ok(accounts)
    }
}
