//! Directory target `active-directory`: Active Directory and Samba AD.
//!
//! * reset: `unicodePwd` replaced with the quoted UTF-16LE password, in one modify with
//!   `pwdLastSet: 0` (must change) and `lockoutTime: 0` (`unlock_on_reset`), and with
//!   LDAP_SERVER_POLICY_HINTS when the DC supports it (history then applies);
//! * change: one modify deleting the old value and adding the new one, so AD checks the
//!   old password, history and minimum age;
//! * unlock: `lockoutTime: 0`.
//!
//! LDAPS or StartTLS only. Accounts are matched by configurable rules (UPN, mail,
//! sAMAccountName, proxyAddresses, objectGUID / mS-DS-ConsistencyGuid from a base64
//! immutable id), escaped, exactly one match. Protected accounts are refused by default.
//! AD's diagnostics are mapped to outcome codes in [`errors`]. See docs/active-directory.md.

pub mod account;
pub mod acl;
pub mod config;
pub mod doctor;
pub mod errors;
mod expiry;
pub mod guid;
pub mod matching;
pub mod probe;
pub mod protected;
pub mod rootdse;
mod selftest;
pub mod target;
mod verify;

use std::sync::Arc;

use async_trait::async_trait;
use writeback_core::{BuildContext, ConfigError, ConnectorConfig, DirectoryTarget, TypedFactory};

pub use config::AdConfig;
pub use target::{unicode_pwd, ActiveDirectoryTarget};

/// Builds `active-directory` targets.
pub struct ActiveDirectoryTargetFactory;

/// The earlier name of [`ActiveDirectoryTargetFactory`].
pub use ActiveDirectoryTargetFactory as ActiveDirectoryFactory;

impl ActiveDirectoryTargetFactory {
    pub const TYPE_NAME: &'static str = "active-directory";

    /// The target itself (for embedding and tests that need more than the trait).
    pub async fn build_target(
        &self,
        config: &ConnectorConfig,
        ctx: &BuildContext<'_>,
    ) -> Result<ActiveDirectoryTarget, ConfigError> {
        let parsed = AdConfig::from_connector(config)?;
        self.build_from_config(parsed, config, ctx).await
    }

    /// The target from a table already parsed and checked.
    async fn build_from_config(
        &self,
        parsed: AdConfig,
        config: &ConnectorConfig,
        ctx: &BuildContext<'_>,
    ) -> Result<ActiveDirectoryTarget, ConfigError> {
        let server = parsed.server.open(&config::RULES, config, "", ctx)?;
        Ok(ActiveDirectoryTarget::new(
            config.name.clone(),
            parsed,
            server.pool,
        ))
    }
}

#[async_trait]
impl TypedFactory<dyn DirectoryTarget> for ActiveDirectoryTargetFactory {
    type Config = AdConfig;
    const TYPE_NAME: &'static str = ActiveDirectoryTargetFactory::TYPE_NAME;
    const DESCRIPTION: &'static str = "Active Directory / Samba AD: unicodePwd over LDAPS or StartTLS, AD error mapping, protected accounts refused";

    fn parse(&self, config: &ConnectorConfig) -> Result<AdConfig, Vec<ConfigError>> {
        writeback_ldap::server::parse_connector(config, &config::RULES)
    }

    fn check(&self, typed: &AdConfig, config: &ConnectorConfig) -> Vec<ConfigError> {
        typed.check(config)
    }

    async fn build_from(
        &self,
        typed: AdConfig,
        config: &ConnectorConfig,
        ctx: &BuildContext<'_>,
    ) -> Result<Arc<dyn DirectoryTarget>, ConfigError> {
        Ok(Arc::new(self.build_from_config(typed, config, ctx).await?))
    }
}

#[cfg(test)]
mod tests;
