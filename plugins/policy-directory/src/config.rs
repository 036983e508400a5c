//! The `directory` policy's TOML table.

use serde::Deserialize;
use writeback_core::{ConfigError, ConnectorConfig};
use writeback_ldap::server::{self, HasServer, Plaintext, ServerConfig, ServerRules};

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DirectoryPolicyConfig {
    /// The domain controller to read the policy from (LDAPS or StartTLS only): the
    /// server keys (`url`, `starttls`, `ca_file`, `bind_dn`, `bind_password`,
    /// `pool_size`, `connect_timeout_ms`, `timeout_ms`) in the same table. The account
    /// may be any that can read the domain object, users' `msDS-ResultantPSO` and the
    /// Password Settings Container (often the target's service account).
    #[serde(skip)]
    pub server: ServerConfig,
    /// The AD target (its `name`) whose resolved account is judged. May be left out
    /// when exactly one target resolves the request.
    #[serde(default)]
    pub target: Option<String>,
    /// How long a read policy is used before it is read again.
    #[serde(default = "default_refresh")]
    pub refresh_seconds: u64,
    /// Pre-check the minimum password age (pwdLastSet + minimum age) for changes; as in
    /// AD itself, resets are never held to it.
    #[serde(default = "default_true")]
    pub check_min_age: bool,
}

/// TLS only; two connections are plenty for policy reads (they are cached).
pub const RULES: ServerRules = ServerRules {
    plaintext: Plaintext::Refused {
        url_hint: "use ldaps:// or set `starttls = true`",
        key_hint: "the directory policy reads from a domain controller over TLS only: remove \
                   `allow_plaintext` and use ldaps:// or `starttls = true`",
    },
    bind_upn: true,
    pool_size: 2,
    connect_timeout_ms: 3_000,
    timeout_ms: 5_000,
};

impl HasServer for DirectoryPolicyConfig {
    fn server_mut(&mut self) -> &mut ServerConfig {
        &mut self.server
    }
}

fn default_refresh() -> u64 {
    300
}
fn default_true() -> bool {
    true
}

impl DirectoryPolicyConfig {
    /// Parses and checks the table; the first error (the factory reports them all).
    pub fn from_connector(config: &ConnectorConfig) -> Result<Self, ConfigError> {
        let first = |errors: Vec<ConfigError>| {
            errors
                .into_iter()
                .next()
                .unwrap_or_else(|| config.error("", "invalid configuration"))
        };
        let parsed: DirectoryPolicyConfig =
            server::parse_connector(config, &RULES).map_err(first)?;
        let errors = parsed.check(config);
        if errors.is_empty() {
            Ok(parsed)
        } else {
            Err(first(errors))
        }
    }

    /// Every problem of the parsed table that needs no I/O.
    pub fn check(&self, config: &ConnectorConfig) -> Vec<ConfigError> {
        let mut errors = Vec::new();
        if self.refresh_seconds == 0 {
            errors.push(config.error("refresh_seconds", "must be at least 1"));
        }
        errors
    }
}
