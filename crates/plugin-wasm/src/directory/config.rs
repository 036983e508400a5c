//! `[targets.directory]`: the one server a WASM target may use, its subtree and the
//! operations allowed; checked without I/O.

use serde::Deserialize;
use writeback_core::{ConfigError, ConnectorConfig};
use writeback_ldap::dn;
use writeback_ldap::server::{self, HasServer, ServerConfig, ServerRules};

use super::PASSWORD_MODIFY_OID;

/// `[targets.directory]`: the connection a WASM target may use.
///
/// ```toml
/// [targets.directory]
/// url = "ldaps://ldap.example.org"
/// ca_file = "/etc/writeback/ldap-ca.pem"
/// bind_dn = "cn=pwmgr,ou=system,dc=example,dc=org"
/// bind_password = { env = "WRITEBACK_LDAP_PASSWORD" }
/// base_dn = "ou=people,dc=example,dc=org"
/// ```
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct DirectoryConfig {
    /// The server keys (`url`, `starttls`, `ca_file`, `allow_plaintext`, `bind_dn`,
    /// `bind_password`, `pool_size`, `connect_timeout_ms`, `timeout_ms` — the plugin
    /// call's own deadline applies too), in the same table; see [`ServerConfig`].
    #[serde(skip)]
    pub server: ServerConfig,
    /// Every DN the plugin reads or writes must be this entry or below it.
    pub base_dn: String,
    /// Extended operations the plugin may send, by OID. Password Modify's user must be
    /// inside `base_dn`; other operations cannot be confined by the host, so allow only
    /// ones you trust with the whole server.
    #[serde(default = "default_extended")]
    pub allow_extended: Vec<String>,
    /// Directory operations one plugin call may make.
    #[serde(default = "default_max_operations")]
    pub max_operations_per_call: u32,
}

/// As the `openldap` target, with a smaller pool: a plugin's calls are short.
pub const RULES: ServerRules = ServerRules {
    pool_size: 2,
    ..ServerRules::with_consent()
};

impl HasServer for DirectoryConfig {
    fn server_mut(&mut self) -> &mut ServerConfig {
        &mut self.server
    }
}

fn default_extended() -> Vec<String> {
    vec![PASSWORD_MODIFY_OID.to_string()]
}
fn default_max_operations() -> u32 {
    16
}

impl DirectoryConfig {
    /// The `directory` table of a target's config, checked without I/O. Errors name
    /// `directory.<key>`.
    pub fn load(config: &ConnectorConfig) -> Result<Self, ConfigError> {
        let Some(value) = config.table.get("directory") else {
            return Err(config.error(
                "",
                "a WASM target needs a `[targets.directory]` table: the connection (url, bind_dn, \
                 bind_password, base_dn) its directory handle may use",
            ));
        };
        let Some(table) = value.as_table() else {
            return Err(config.error("directory", "must be a table: `[targets.directory]`"));
        };
        let parsed: DirectoryConfig = server::parse_table(table, &RULES)
            .map_err(|e| config.error(&server::prefixed("directory", &e.key), e.message))?;
        parsed.check(config)?;
        Ok(parsed)
    }

    fn check(&self, config: &ConnectorConfig) -> Result<(), ConfigError> {
        let ok = matches!(dn::parse(&self.base_dn), Ok(rdns) if !rdns.is_empty());
        if !ok {
            return Err(config.error(
                "directory.base_dn",
                "give a distinguished name, e.g. `ou=people,dc=example,dc=org`",
            ));
        }
        for oid in &self.allow_extended {
            let ok = !oid.is_empty()
                && oid
                    .split('.')
                    .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
            if !ok {
                return Err(config.error(
                    "directory.allow_extended",
                    format!("`{oid}` is not an OID (digits and dots)"),
                ));
            }
        }
        if !(1..=1000).contains(&self.max_operations_per_call) {
            return Err(config.error(
                "directory.max_operations_per_call",
                "must be from 1 to 1000",
            ));
        }
        Ok(())
    }
}
