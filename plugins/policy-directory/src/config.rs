//! The `directory` policy's TOML table.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;
use writeback_core::{ConfigError, ConnectorConfig, SecretRef};
use writeback_ldap::{check_options, ConnectOptions};

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DirectoryPolicyConfig {
    /// The AD target (its `name`) whose resolved account is judged. May be left out
    /// when exactly one target resolves the request.
    #[serde(default)]
    pub target: Option<String>,
    /// The domain controller to read the policy from (LDAPS or StartTLS only).
    pub url: String,
    #[serde(default)]
    pub starttls: bool,
    pub ca_file: PathBuf,
    /// An account that may read the domain object, users' `msDS-ResultantPSO` and the
    /// Password Settings Container (often the target's service account).
    pub bind_dn: String,
    pub bind_password: SecretRef,
    /// How long a read policy is used before it is read again.
    #[serde(default = "default_refresh")]
    pub refresh_seconds: u64,
    /// Pre-check the minimum password age (pwdLastSet + minimum age) for changes; as in
    /// AD itself, resets are never held to it.
    #[serde(default = "default_true")]
    pub check_min_age: bool,
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
}

fn default_refresh() -> u64 {
    300
}
fn default_true() -> bool {
    true
}
fn default_timeout_ms() -> u64 {
    5_000
}

impl DirectoryPolicyConfig {
    pub fn from_connector(config: &ConnectorConfig) -> Result<Self, ConfigError> {
        let parsed: DirectoryPolicyConfig = config.parse()?;
        if parsed.url.starts_with("ldap://") && !parsed.starttls {
            return Err(config.error(
                "url",
                format!(
                    "`{}` is plain LDAP: use ldaps:// or set `starttls = true`",
                    parsed.url
                ),
            ));
        }
        check_options(&parsed.connect_options()).map_err(|e| config.error(e.key, e.message))?;
        if parsed.refresh_seconds == 0 {
            return Err(config.error("refresh_seconds", "must be at least 1"));
        }
        if parsed.timeout_ms == 0 {
            return Err(config.error("timeout_ms", "must be greater than zero"));
        }
        Ok(parsed)
    }

    pub fn connect_options(&self) -> ConnectOptions {
        let mut options = ConnectOptions::new(self.url.clone());
        options.starttls = self.starttls;
        options.ca_file = Some(self.ca_file.clone());
        options.operation_timeout = Duration::from_millis(self.timeout_ms);
        options
    }
}
