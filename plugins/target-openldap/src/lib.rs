//! Directory target `openldap`: OpenLDAP with the ppolicy overlay.
//!
//! Resolves a cloud identity with a filter template (values escaped), requires exactly
//! one match, and writes passwords so that slapd's password policy judges them: resets
//! as a service account with `write` (not `manage`) access, changes as the user. See
//! docs/openldap.md for the config keys and the ACL.
#![deny(clippy::unwrap_used, clippy::expect_used)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

mod apply;
pub mod config;
pub mod doctor;
mod expiry;
mod selftest;
mod target;

use std::sync::Arc;

use async_trait::async_trait;
use writeback_core::{
    BuildContext, ConfigError, ConnectorConfig, ConnectorFactory, DirectoryTarget,
};

pub use config::OpenLdapConfig;
pub use target::{OpenLdapTarget, ACCOUNT_ATTRIBUTES};

/// Builds `type = "openldap"` targets.
pub struct OpenLdapFactory;

#[async_trait]
impl ConnectorFactory<dyn DirectoryTarget> for OpenLdapFactory {
    fn type_name(&self) -> &'static str {
        "openldap"
    }

    fn description(&self) -> &'static str {
        "OpenLDAP with ppolicy: Password Modify or userPassword modify over LDAPS/StartTLS, as a service account"
    }

    fn validate(&self, config: &ConnectorConfig) -> Result<(), ConfigError> {
        OpenLdapConfig::load(config).map(|_| ())
    }

    /// Loads the CA file (or the system trust store) and resolves the bind password;
    /// connects lazily (the first request or `check-config --connect` does).
    async fn build(
        &self,
        config: &ConnectorConfig,
        ctx: &BuildContext<'_>,
    ) -> Result<Arc<dyn DirectoryTarget>, ConfigError> {
        let cfg = OpenLdapConfig::load(config)?;
        let template = cfg.template().map_err(|m| config.error("filter", m))?;
        let server = cfg.server.open(&config::RULES, config, "", ctx)?;
        Ok(Arc::new(OpenLdapTarget {
            connector: server.connector,
            pool: server.pool,
            base_dn: cfg.base_dn.clone(),
            scope: cfg.scope,
            template,
            use_password_modify_exop: cfg.use_password_modify_exop,
            attribute_map: cfg.attribute_map(),
        }))
    }
}
