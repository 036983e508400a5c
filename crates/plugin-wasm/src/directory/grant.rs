//! What one WASM target was granted: a pool bound as the service account (the guest
//! never sees its password), the subtree and the operations allowed.

use std::sync::Arc;

use writeback_core::{BuildContext, ConfigError, ConnectorConfig, HealthCheck};
use writeback_ldap::{dn, Connector, Pool};

use super::config::{DirectoryConfig, RULES};

/// The directory one WASM target may use: a pool bound as the service account and
/// the limits of the grant.
pub struct DirectoryGrant {
    pub(super) connector: Arc<Connector>,
    pub(super) pool: Pool,
    pub(super) base_dn: String,
    pub(super) allow_extended: Vec<String>,
    pub(super) max_operations: u32,
}

impl DirectoryGrant {
    /// Resolves the secret and the CA file (or the system trust store); connects lazily
    /// (on the first call).
    pub fn build(config: &ConnectorConfig, ctx: &BuildContext<'_>) -> Result<Self, ConfigError> {
        let cfg = DirectoryConfig::load(config)?;
        let server = cfg.server.open(&RULES, config, "directory", ctx)?;
        Ok(DirectoryGrant {
            connector: server.connector,
            pool: server.pool,
            base_dn: cfg.base_dn,
            allow_extended: cfg.allow_extended,
            max_operations: cfg.max_operations_per_call,
        })
    }

    pub fn base_dn(&self) -> &str {
        &self.base_dn
    }

    pub fn server(&self) -> &str {
        self.connector.server()
    }

    /// Whether `dn` is inside the granted subtree.
    pub fn contains(&self, entry: &str) -> Result<bool, dn::DnError> {
        dn::is_within(entry, &self.base_dn)
    }

    /// connect, tls, bind, read base_dn: for `check-config --connect` and /health.
    pub async fn self_test(&self) -> Vec<HealthCheck> {
        let mut checks = Vec::new();
        if let Some(session) = self
            .pool
            .connection_checks(&self.base_dn, &mut checks)
            .await
        {
            session.unbind().await;
        }
        checks
    }
}
