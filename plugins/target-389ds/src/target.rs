//! The running `389ds` target: resolving identities, listing accounts. Password
//! writes are in `apply.rs`, the self-test in `selftest.rs`, expiry in `expiry.rs`.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use writeback_core::{Account, CloudIdentity, DirectoryTarget, HealthCheck, Operation, Outcome};
use writeback_ldap::ldap3::{Scope, SearchEntry};
use writeback_ldap::{Connector, FilterTemplate, Pool};

/// Attributes read for every account (Account.attributes keys are their lower-case names).
pub const ACCOUNT_ATTRIBUTES: [&str; 7] = [
    "nsUniqueId",
    "uid",
    "cn",
    "displayName",
    "givenName",
    "sn",
    "mail",
];

/// Most entries one `search` returns.
pub const MAX_SEARCH_LIMIT: usize = 1000;

pub struct Ds389Target {
    pub(crate) connector: Arc<Connector>,
    pub(crate) pool: Pool,
    pub(crate) base_dn: String,
    pub(crate) subtree: bool,
    pub(crate) template: FilterTemplate,
    pub(crate) attribute_map: BTreeMap<String, String>,
}

impl Ds389Target {
    pub(crate) fn scope(&self) -> Scope {
        if self.subtree {
            Scope::Subtree
        } else {
            Scope::OneLevel
        }
    }

    /// Searches `base_dn` for accounts (see [`writeback_ldap::account::find`]).
    async fn find(&self, filter: &str, limit: usize) -> Result<(Vec<Account>, bool), Outcome> {
        let search = writeback_ldap::account::Search {
            base_dn: &self.base_dn,
            scope: self.scope(),
            attributes: &ACCOUNT_ATTRIBUTES,
            id_attribute: "nsuniqueid",
        };
        writeback_ldap::account::find(&self.pool, &search, filter, limit).await
    }
}

/// An Account from a search entry: nsUniqueId as id, the other attributes lower-cased.
pub(crate) fn account_of(entry: SearchEntry) -> Account {
    writeback_ldap::account::account_of(entry, "nsuniqueid")
}

#[async_trait]
impl DirectoryTarget for Ds389Target {
    async fn resolve(&self, identity: &CloudIdentity) -> Result<Account, Outcome> {
        let filter = writeback_ldap::account::fill_filter(&self.template, identity)?;
        let (accounts, truncated) = self.find(&filter, 2).await?;
        writeback_ldap::account::exactly_one(
            self.connector.server(),
            &self.base_dn,
            &filter,
            accounts,
            truncated,
        )
    }

    async fn apply(&self, account: &Account, operation: &Operation) -> Result<(), Outcome> {
        match operation {
            Operation::Reset {
                new_password,
                must_change,
            } => self.reset(&account.dn, new_password, *must_change).await,
            Operation::Change {
                old_password,
                new_password,
            } => self.change(&account.dn, old_password, new_password).await,
            Operation::Unlock => self.unlock(&account.dn).await,
        }
    }

    async fn self_test(&self) -> Vec<HealthCheck> {
        crate::selftest::run(self).await
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
        let (accounts, _) = self.find(&filter, limit.clamp(1, MAX_SEARCH_LIMIT)).await?;
        Ok(accounts)
    }
}
