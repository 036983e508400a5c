//! A directory target for benchmarks: 500 accounts in memory, resolved and searched,
//! never written.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use writeback_core::{
    Account, BuildContext, CloudIdentity, ConfigError, ConnectorConfig, ConnectorFactory,
    DirectoryTarget, Operation, Outcome, OutcomeCode,
};

pub const USERS: usize = 500;

/// 500 accounts in memory; resolves and searches them, writes nothing.
pub struct NullDirectory;

fn account(n: usize) -> Account {
    let mut attributes = BTreeMap::new();
    attributes.insert("uid".to_string(), vec![format!("user{n}")]);
    attributes.insert("mail".to_string(), vec![format!("user{n}@example.org")]);
    attributes.insert("cn".to_string(), vec![format!("User {n}")]);
    Account {
        dn: format!("uid=user{n},ou=null"),
        id: Some(id_of(n)),
        attributes,
    }
}

pub fn id_of(n: usize) -> String {
    format!("00000000-0000-4000-8000-{n:012}")
}

#[async_trait]
impl DirectoryTarget for NullDirectory {
    async fn resolve(&self, identity: &CloudIdentity) -> Result<Account, Outcome> {
        Ok(Account {
            dn: format!("uid={},ou=null", identity.label()),
            id: None,
            attributes: BTreeMap::new(),
        })
    }

    async fn apply(&self, _account: &Account, _operation: &Operation) -> Result<(), Outcome> {
        Ok(())
    }

    async fn search(
        &self,
        query: Option<(&str, &str)>,
        limit: usize,
    ) -> Result<Vec<Account>, Outcome> {
        match query {
            Some(("object_id", id)) => Ok(id
                .rsplit('-')
                .next()
                .and_then(|n| n.parse::<usize>().ok())
                .filter(|n| *n < USERS && id_of(*n) == id)
                .map(account)
                .into_iter()
                .collect()),
            None => Ok((0..USERS.min(limit)).map(account).collect()),
            Some(_) => Err(Outcome::of(OutcomeCode::InvalidRequest)),
        }
    }
}

/// A factory for a benchmark target that takes no configuration: its type name, what
/// it is, and how to make one.
pub struct FixedTargetFactory {
    pub name: &'static str,
    pub description: &'static str,
    pub make: fn() -> Arc<dyn DirectoryTarget>,
}

#[async_trait]
impl ConnectorFactory<dyn DirectoryTarget> for FixedTargetFactory {
    fn type_name(&self) -> &'static str {
        self.name
    }
    fn description(&self) -> &'static str {
        self.description
    }
    fn validate(&self, _config: &ConnectorConfig) -> Result<(), ConfigError> {
        Ok(())
    }
    async fn build(
        &self,
        _config: &ConnectorConfig,
        _ctx: &BuildContext<'_>,
    ) -> Result<Arc<dyn DirectoryTarget>, ConfigError> {
        Ok((self.make)())
    }
}

/// The `null` target's factory.
#[allow(non_upper_case_globals)]
pub const NullFactory: FixedTargetFactory = FixedTargetFactory {
    name: "null",
    description: "benchmark: 500 accounts in memory, writes nothing",
    make: || Arc::new(NullDirectory),
};
