//! Policy `directory`: the password policy Active Directory will apply to the account,
//! read from the DC (the domain's `minPwdLength`, `pwdProperties`, `pwdHistoryLength`,
//! `minPwdAge`, `maxPwdAge`, lockout settings, or the account's resultant fine-grained
//! policy `msDS-ResultantPSO`), checked before the write so the person gets a precise
//! reason: `directory.min_length`, `directory.complexity`, `directory.complexity.name`,
//! `directory.min_age`. History cannot be checked before the write (AD keeps only
//! hashes); the `active-directory` target maps AD's own history refusal.
//!
//! Policy `directory-389ds` ([`ds389`]) does the same for 389 Directory Server.

pub mod complexity;
pub mod config;
pub mod ds389;
pub mod effective;
pub mod policy;
pub mod reader;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use writeback_core::{BuildContext, ConfigError, ConnectorConfig, Policy, TypedFactory};

pub use config::DirectoryPolicyConfig;
pub use ds389::{Ds389DirectoryPolicy, Ds389DirectoryPolicyFactory};
pub use policy::DirectoryPolicy;

pub struct DirectoryPolicyFactory;

impl DirectoryPolicyFactory {
    pub const TYPE_NAME: &'static str = "directory";

    pub async fn build_policy(
        &self,
        config: &ConnectorConfig,
        ctx: &BuildContext<'_>,
    ) -> Result<DirectoryPolicy, ConfigError> {
        let parsed = DirectoryPolicyConfig::from_connector(config)?;
        self.build_from_config(parsed, config, ctx)
    }

    /// The policy from a table already parsed and checked.
    fn build_from_config(
        &self,
        parsed: DirectoryPolicyConfig,
        config: &ConnectorConfig,
        ctx: &BuildContext<'_>,
    ) -> Result<DirectoryPolicy, ConfigError> {
        let pool = parsed.server.open(&config::RULES, config, "", ctx)?.pool;
        Ok(DirectoryPolicy {
            name: config.name.clone(),
            target: parsed.target.clone(),
            check_min_age: parsed.check_min_age,
            reader: reader::PolicyReader::new(pool, Duration::from_secs(parsed.refresh_seconds)),
        })
    }
}

#[async_trait]
impl TypedFactory<dyn Policy> for DirectoryPolicyFactory {
    type Config = DirectoryPolicyConfig;
    const TYPE_NAME: &'static str = DirectoryPolicyFactory::TYPE_NAME;
    const DESCRIPTION: &'static str = "The password policy read from Active Directory (domain and fine-grained), checked before the write";

    fn parse(&self, config: &ConnectorConfig) -> Result<DirectoryPolicyConfig, Vec<ConfigError>> {
        writeback_ldap::server::parse_connector(config, &config::RULES)
    }

    fn check(&self, typed: &DirectoryPolicyConfig, config: &ConnectorConfig) -> Vec<ConfigError> {
        typed.check(config)
    }

    async fn build_from(
        &self,
        typed: DirectoryPolicyConfig,
        config: &ConnectorConfig,
        ctx: &BuildContext<'_>,
    ) -> Result<Arc<dyn Policy>, ConfigError> {
        Ok(Arc::new(self.build_from_config(typed, config, ctx)?))
    }
}

impl DirectoryPolicy {
    /// The effective policy for an account DN (for tests and `check-config`).
    pub async fn effective_for(
        &self,
        dn: &str,
    ) -> Result<effective::EffectivePolicy, writeback_core::Outcome> {
        Ok(self.reader.account(dn).await?.policy)
    }

    /// The domain's policy.
    pub async fn domain_policy(
        &self,
    ) -> Result<effective::EffectivePolicy, writeback_core::Outcome> {
        self.reader.domain().await
    }
}

#[cfg(test)]
mod tests;
