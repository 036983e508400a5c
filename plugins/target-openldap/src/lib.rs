//! Directory target `openldap`: OpenLDAP with the ppolicy overlay.
//!
//! Resolves a cloud identity with a filter template (values escaped), requires exactly
//! one match, and writes passwords so that slapd's password policy judges them: resets
//! as a service account with `write` (not `manage`) access, changes as the user. See
//! docs/openldap.md for the config keys and the ACL.

mod apply;
pub mod config;
pub mod doctor;
mod expiry;
mod selftest;
mod target;
mod verify;

use std::sync::Arc;

use async_trait::async_trait;
use writeback_core::{BuildContext, ConfigError, ConnectorConfig, DirectoryTarget, TypedFactory};

pub use config::OpenLdapConfig;
pub use target::{OpenLdapTarget, ACCOUNT_ATTRIBUTES};

/// Builds `type = "openldap"` targets.
pub struct OpenLdapTargetFactory;

/// The earlier name of [`OpenLdapTargetFactory`].
pub use OpenLdapTargetFactory as OpenLdapFactory;

#[async_trait]
impl TypedFactory<dyn DirectoryTarget> for OpenLdapTargetFactory {
    type Config = OpenLdapConfig;
    const TYPE_NAME: &'static str = "openldap";
    const DESCRIPTION: &'static str = "OpenLDAP with ppolicy: Password Modify or userPassword modify over LDAPS/StartTLS, as a service account";

    fn parse(&self, config: &ConnectorConfig) -> Result<OpenLdapConfig, Vec<ConfigError>> {
        writeback_ldap::server::parse_connector(config, &config::RULES)
    }

    fn check(&self, typed: &OpenLdapConfig, config: &ConnectorConfig) -> Vec<ConfigError> {
        typed.check(config)
    }

    /// Loads the CA file (or the system trust store) and resolves the bind password;
    /// connects lazily (the first request or `check-config --connect` does).
    async fn build_from(
        &self,
        cfg: OpenLdapConfig,
        config: &ConnectorConfig,
        ctx: &BuildContext<'_>,
    ) -> Result<Arc<dyn DirectoryTarget>, ConfigError> {
        let template = cfg
            .template()
            .map_err(|e| config.error("filter", e.to_string()))?;
        let server = cfg.server.open(&config::RULES, config, "", ctx)?;
        Ok(Arc::new(OpenLdapTarget {
            connector: server.connector,
            pool: server.pool,
            base_dn: cfg.base_dn.clone(),
            scope: cfg.scope,
            template,
            use_password_modify_exop: cfg.use_password_modify_exop,
            attribute_map: cfg.attribute_map(),
            verify_writes: cfg.verify_writes,
            unlock_administrators_lock: cfg.unlock_administrators_lock,
        }))
    }
}

#[cfg(test)]
mod tests;
