//! Directory target `389ds`: 389 Directory Server (the engine of FreeIPA and Red Hat
//! Directory Server), with its own password semantics.
//!
//! Resets with Password Modify over TLS as a service account that an ACI lets write
//! `userPassword` (not a password administrator, so the policy is enforced); changes as
//! the user; unlocks by resetting `passwordRetryCount` and removing
//! `accountUnlockTime`. Refusals are mapped from the password policy response control
//! (389 DS's text is always "Failed to update password"). Must-change follows the
//! policy's `passwordMustChange`; expiry comes from `passwordExpirationTime`. A crate of
//! its own rather than a flavour of `openldap`: the write, unlock, must-change and
//! expiry paths all differ, and the shared parts live in `writeback-ldap`. See
//! docs/389ds.md.

mod apply;
pub mod config;
mod expiry;
mod selftest;
mod target;

use std::sync::Arc;

use async_trait::async_trait;
use writeback_core::{BuildContext, ConfigError, ConnectorConfig, DirectoryTarget, TypedFactory};

pub use config::Ds389Config;
pub use target::{Ds389Target, ACCOUNT_ATTRIBUTES};

/// Builds `type = "389ds"` targets.
pub struct Ds389TargetFactory;

/// The earlier name of [`Ds389TargetFactory`].
pub use Ds389TargetFactory as Ds389Factory;

#[async_trait]
impl TypedFactory<dyn DirectoryTarget> for Ds389TargetFactory {
    type Config = Ds389Config;
    const TYPE_NAME: &'static str = "389ds";
    const DESCRIPTION: &'static str = "389 Directory Server (FreeIPA, Red Hat DS): Password Modify over LDAPS/StartTLS as a service account with an ACI";

    fn parse(&self, config: &ConnectorConfig) -> Result<Ds389Config, Vec<ConfigError>> {
        writeback_ldap::server::parse_connector(config, &config::RULES)
    }

    fn check(&self, typed: &Ds389Config, config: &ConnectorConfig) -> Vec<ConfigError> {
        typed.check(config)
    }

    /// Loads the CA file (or the system trust store) and resolves the bind password;
    /// connects lazily (the first request or `check-config --connect` does).
    async fn build_from(
        &self,
        cfg: Ds389Config,
        config: &ConnectorConfig,
        ctx: &BuildContext<'_>,
    ) -> Result<Arc<dyn DirectoryTarget>, ConfigError> {
        let template = cfg
            .template()
            .map_err(|e| config.error("filter", e.to_string()))?;
        let server = cfg.server.open(&config::RULES, config, "", ctx)?;
        Ok(Arc::new(Ds389Target {
            connector: server.connector,
            pool: server.pool,
            base_dn: cfg.base_dn.clone(),
            subtree: cfg.scope == config::SearchScope::Sub,
            template,
            attribute_map: cfg.attribute_map(),
        }))
    }
}

#[cfg(test)]
mod tests;
