//! The `389ds` target's TOML table, and its checks without I/O. The server keys are
//! `writeback-ldap`'s [`ServerConfig`], as for every LDAP connector.

use std::collections::BTreeMap;

use serde::Deserialize;
use writeback_core::{ConfigError, ConnectorConfig};
use writeback_ldap::server::{self, HasServer, ServerConfig, ServerRules};
use writeback_ldap::FilterTemplate;

/// ```toml
/// [[targets]]
/// type = "389ds"
/// url = "ldaps://ds.example.org"
/// ca_file = "/etc/writeback/ldap-ca.pem"
/// bind_dn = "cn=pwmgr,ou=system,dc=example,dc=org"
/// bind_password = { env = "WRITEBACK_LDAP_PASSWORD" }
/// base_dn = "ou=people,dc=example,dc=org"
/// filter = "(&(objectClass=inetOrgPerson)(uid={username}))"
/// ```
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct Ds389Config {
    /// The server keys (`url`, `starttls`, `ca_file`, `allow_plaintext`, `bind_dn`,
    /// `bind_password`, `pool_size`, `connect_timeout_ms`, `timeout_ms`), written in
    /// the same table; see [`ServerConfig`].
    #[serde(skip)]
    pub server: ServerConfig,
    /// Where accounts are searched.
    pub base_dn: String,
    /// `sub` (default) or `one`.
    #[serde(default)]
    pub scope: SearchScope,
    /// Filter template with `{identity_attribute}` placeholders, values escaped.
    #[serde(default = "default_filter")]
    pub filter: String,
    /// Cloud identity attribute → LDAP attribute, for searches (SCIM). Merged over the
    /// defaults `upn`/`username` → `uid`, `mail` → `mail`, `object_id` → `nsUniqueId`.
    #[serde(default)]
    pub attribute_map: BTreeMap<String, String>,
}

#[derive(Deserialize, Debug, Default, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum SearchScope {
    #[default]
    Sub,
    One,
}

fn default_filter() -> String {
    "(&(objectClass=inetOrgPerson)(uid={username}))".into()
}

/// Plain `ldap://` with `allow_plaintext = true` (warned about for a remote host).
pub const RULES: ServerRules = ServerRules::with_consent();

impl HasServer for Ds389Config {
    fn server_mut(&mut self) -> &mut ServerConfig {
        &mut self.server
    }
}

impl Ds389Config {
    /// Parses the table and checks every value that can be checked without I/O; the
    /// first error (the factory reports them all, see [`Ds389Config::check`]).
    pub fn from_connector(config: &ConnectorConfig) -> Result<Self, ConfigError> {
        server::load_connector(config, &RULES, |cfg: &Self| cfg.check(config))
    }

    /// Every problem of the parsed table that needs no I/O, each with its key.
    pub fn check(&self, config: &ConnectorConfig) -> Vec<ConfigError> {
        writeback_ldap::account::check_query(
            config,
            &self.filter,
            &self.base_dn,
            &self.attribute_map,
        )
    }

    pub fn template(&self) -> Result<FilterTemplate, writeback_ldap::TemplateError> {
        FilterTemplate::parse(&self.filter)
    }

    /// The attribute map with the defaults filled in (keys lower-case).
    pub fn attribute_map(&self) -> BTreeMap<String, String> {
        writeback_ldap::account::attribute_map("nsUniqueId", &self.attribute_map)
    }
}
