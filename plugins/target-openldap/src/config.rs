//! The `openldap` target's TOML table, and its checks without I/O.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;
use writeback_core::{ConfigError, ConnectorConfig, SecretRef};
use writeback_ldap::{check_options, ConnectOptions, FilterTemplate, Pool};

/// ```toml
/// [[targets]]
/// type = "openldap"
/// url = "ldaps://ldap.example.org"
/// ca_file = "/etc/writeback/ldap-ca.pem"
/// bind_dn = "cn=pwmgr,ou=system,dc=example,dc=org"
/// bind_password = { env = "WRITEBACK_LDAP_PASSWORD" }
/// base_dn = "ou=people,dc=example,dc=org"
/// filter = "(&(objectClass=inetOrgPerson)(uid={username}))"
/// ```
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct OpenLdapConfig {
    /// `ldaps://host[:port]`, or `ldap://host[:port]` with `starttls = true`.
    pub url: String,
    #[serde(default)]
    pub starttls: bool,
    /// PEM file of the CA that signed the directory's certificate (relative paths are
    /// relative to the config file).
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// Permit `ldap://` without StartTLS: passwords travel in clear. Loopback tests only.
    #[serde(default)]
    pub allow_plaintext: bool,
    /// The service account: `write` (not `manage`) on userPassword, see docs/openldap.md.
    pub bind_dn: String,
    pub bind_password: SecretRef,
    /// Where accounts are searched.
    pub base_dn: String,
    /// `sub` (default) or `one`.
    #[serde(default)]
    pub scope: SearchScope,
    /// Filter template with `{identity_attribute}` placeholders, values escaped.
    #[serde(default = "default_filter")]
    pub filter: String,
    /// Bound service-account connections kept open (1 to 64).
    #[serde(default = "default_pool_size")]
    pub pool_size: usize,
    #[serde(default = "default_connect_timeout_ms")]
    pub connect_timeout_ms: u64,
    /// Limit for each LDAP operation.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// Reset with the Password Modify extended operation (RFC 3062) instead of a
    /// modify of userPassword. A reset with must-change always uses one modify, so that
    /// `pwdReset: TRUE` is set together with the password.
    #[serde(default = "default_true")]
    pub use_password_modify_exop: bool,
    /// Cloud identity attribute → LDAP attribute, for searches (SCIM). Merged over the
    /// defaults `upn`/`username` → `uid`, `mail` → `mail`, `object_id` → `entryUUID`.
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
fn default_pool_size() -> usize {
    4
}
fn default_connect_timeout_ms() -> u64 {
    3_000
}
fn default_timeout_ms() -> u64 {
    5_000
}
fn default_true() -> bool {
    true
}

/// Longest timeout accepted (10 minutes): longer is a typo, not a setting.
const MAX_TIMEOUT_MS: u64 = 600_000;

impl OpenLdapConfig {
    /// Parses the table and checks every value that can be checked without I/O.
    pub fn load(config: &ConnectorConfig) -> Result<Self, ConfigError> {
        let cfg: OpenLdapConfig = config.parse()?;
        cfg.check(config)?;
        Ok(cfg)
    }

    fn check(&self, config: &ConnectorConfig) -> Result<(), ConfigError> {
        check_options(&self.connect_options(None)).map_err(|e| config.error(e.key, e.message))?;
        self.template().map_err(|m| config.error("filter", m))?;
        self.bind_password
            .check()
            .map_err(|m| config.error("bind_password", m))?;
        for (key, value) in [("bind_dn", &self.bind_dn), ("base_dn", &self.base_dn)] {
            if value.trim().is_empty() || !value.contains('=') {
                return Err(config.error(
                    key,
                    "give a distinguished name, e.g. `ou=people,dc=example,dc=org`",
                ));
            }
        }
        if !(1..=Pool::MAX_SIZE).contains(&self.pool_size) {
            return Err(config.error("pool_size", format!("must be from 1 to {}", Pool::MAX_SIZE)));
        }
        for (key, ms) in [
            ("connect_timeout_ms", self.connect_timeout_ms),
            ("timeout_ms", self.timeout_ms),
        ] {
            if ms == 0 || ms > MAX_TIMEOUT_MS {
                return Err(config.error(
                    key,
                    format!("must be from 1 to {MAX_TIMEOUT_MS} milliseconds"),
                ));
            }
        }
        for (cloud, ldap) in &self.attribute_map {
            let ok = !ldap.is_empty()
                && ldap
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == ';');
            if !ok {
                return Err(config.error(
                    &format!("attribute_map.{cloud}"),
                    "must be an LDAP attribute name (letters, digits, `-`)",
                ));
            }
        }
        Ok(())
    }

    pub fn template(&self) -> Result<FilterTemplate, String> {
        FilterTemplate::parse(&self.filter)
    }

    /// The connection options, with `ca_file` resolved by the caller when given.
    pub fn connect_options(&self, ca_file: Option<PathBuf>) -> ConnectOptions {
        let mut o = ConnectOptions::new(self.url.clone());
        o.starttls = self.starttls;
        o.ca_file = ca_file.or_else(|| self.ca_file.clone());
        o.allow_plaintext = self.allow_plaintext;
        o.connect_timeout = Duration::from_millis(self.connect_timeout_ms);
        o.operation_timeout = Duration::from_millis(self.timeout_ms);
        o
    }

    /// The attribute map with the defaults filled in (keys lower-case).
    pub fn attribute_map(&self) -> BTreeMap<String, String> {
        let mut map: BTreeMap<String, String> = [
            ("upn", "uid"),
            ("username", "uid"),
            ("mail", "mail"),
            ("object_id", "entryUUID"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        for (k, v) in &self.attribute_map {
            map.insert(k.to_ascii_lowercase(), v.clone());
        }
        map
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use writeback_core::ConnectorKind;

    fn table(extra: &str) -> toml::Table {
        let text = format!(
            "url = \"ldaps://127.0.0.1:1636\"\nca_file = \"ca.pem\"\nbind_dn = \"cn=pwmgr,dc=x\"\n\
             bind_password = {{ env = \"LDAP_PW\" }}\nbase_dn = \"ou=people,dc=x\"\n{extra}"
        );
        text.parse().unwrap_or_default()
    }

    fn load(extra: &str) -> Result<OpenLdapConfig, ConfigError> {
        OpenLdapConfig::load(&ConnectorConfig::in_code(
            ConnectorKind::Target,
            "openldap",
            "ldap",
            table(extra),
        ))
    }

    #[test]
    fn defaults() {
        let c = load("").unwrap();
        assert_eq!(c.filter, "(&(objectClass=inetOrgPerson)(uid={username}))");
        assert_eq!(c.pool_size, 4);
        assert!(c.use_password_modify_exop);
        assert_eq!(
            c.attribute_map().get("object_id").map(String::as_str),
            Some("entryUUID")
        );
    }

    #[test]
    fn refusals_name_the_key() {
        let e = load("allow_plaintext = false\nstarttls = false\nurl2 = 1").unwrap_err();
        assert!(e.to_string().contains("url2"), "{e}");
        let mut t = table("");
        t.insert(
            "url".into(),
            toml::Value::String("ldap://127.0.0.1:389".into()),
        );
        let e = OpenLdapConfig::load(&ConnectorConfig::in_code(
            ConnectorKind::Target,
            "openldap",
            "ldap",
            t,
        ))
        .unwrap_err();
        assert!(e.to_string().contains("allow_plaintext"), "{e}");
        assert_eq!(e.key.as_deref(), Some("targets.ldap.url"));
        let e = load("filter = \"(uid=x)\"").unwrap_err();
        assert_eq!(e.key.as_deref(), Some("targets.ldap.filter"));
        let e = load("pool_size = 0").unwrap_err();
        assert_eq!(e.key.as_deref(), Some("targets.ldap.pool_size"));
        let e = load("attribute_map = { upn = \"uid)(x\" }").unwrap_err();
        assert_eq!(e.key.as_deref(), Some("targets.ldap.attribute_map.upn"));
    }
}
