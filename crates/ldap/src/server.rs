//! One directory server's settings, as every LDAP connector writes them in its TOML
//! table (`url`, `starttls`, `ca_file`, `allow_plaintext`, `bind_dn`, `bind_password`,
//! `pool_size`, `connect_timeout_ms`, `timeout_ms`), their checks, and the step that
//! turns them into a bound [`Pool`]. Each connector passes its own [`ServerRules`]: the
//! plaintext rule and its defaults differ, the code does not.
//!
//! The keys sit in the connector's own table (no sub-table). serde's `flatten` is not
//! used for that: it cannot be combined with `deny_unknown_fields`, and errors inside a
//! flattened struct lose their key path. [`split`] takes the server keys out of the
//! table instead, and both halves are parsed with unknown keys refused by name.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Deserialize;
use writeback_core::{BuildContext, ConfigError, ConnectorConfig, SecretRef};

use crate::connect::{check_options, host_of, ConnectOptions, Connector, Security};
use crate::pool::Pool;

/// Longest timeout accepted (10 minutes): longer is a typo, not a setting.
pub const MAX_TIMEOUT_MS: u64 = 600_000;

/// The server keys of a connector's table.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// `ldaps://host[:port]`, or `ldap://host[:port]` with `starttls = true`.
    pub url: String,
    #[serde(default)]
    pub starttls: bool,
    /// PEM file of the CA that signed the server's certificate (relative paths are
    /// relative to the config file). Without it, the system's trust store is used.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// Permit `ldap://` without StartTLS where the connector allows it at all.
    /// An `Option` so that a connector that refuses plain LDAP can refuse the key itself.
    #[serde(default)]
    pub allow_plaintext: Option<bool>,
    /// The service account (a DN; a UPN too where [`ServerRules::bind_upn`]).
    pub bind_dn: String,
    pub bind_password: SecretRef,
    #[serde(default)]
    pub pool_size: Option<usize>,
    #[serde(default)]
    pub connect_timeout_ms: Option<u64>,
    /// Limit for each LDAP operation.
    #[serde(default)]
    pub timeout_ms: Option<u64>,
}

/// An empty config, for a connector struct's `#[serde(skip)] server` field before
/// [`split`] has filled it in (it does not pass [`ServerConfig::check`]).
impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            url: String::new(),
            starttls: false,
            ca_file: None,
            allow_plaintext: None,
            bind_dn: String::new(),
            bind_password: SecretRef {
                env: None,
                file: None,
                value: None,
            },
            pool_size: None,
            connect_timeout_ms: None,
            timeout_ms: None,
        }
    }
}

/// The names of [`ServerConfig`]'s keys (what [`split`] takes out of a table).
pub const KEYS: [&str; 9] = [
    "url",
    "starttls",
    "ca_file",
    "allow_plaintext",
    "bind_dn",
    "bind_password",
    "pool_size",
    "connect_timeout_ms",
    "timeout_ms",
];

/// Whether a connector may talk plain `ldap://` at all.
#[derive(Clone, Copy, Debug)]
pub enum Plaintext {
    /// Never: `ldap://` without StartTLS is a config error. `url_hint` follows
    /// "`<url>` is plain LDAP: ", `key_hint` is the whole refusal of `allow_plaintext`.
    Refused {
        url_hint: &'static str,
        key_hint: &'static str,
    },
    /// With `allow_plaintext = true`; a startup warning when the host is not loopback.
    WithConsent,
}

/// What differs between the connectors that use [`ServerConfig`].
#[derive(Clone, Copy, Debug)]
pub struct ServerRules {
    pub plaintext: Plaintext,
    /// `bind_dn` may be a UPN (`svc@example.org`), as Active Directory allows.
    pub bind_upn: bool,
    pub pool_size: usize,
    pub connect_timeout_ms: u64,
    pub timeout_ms: u64,
}

impl ServerRules {
    /// Plain LDAP with consent, DN binds, up to 16 connections (each opened when demand
    /// first needs it), 3 s connect, 5 s operations.
    pub const fn with_consent() -> Self {
        ServerRules {
            plaintext: Plaintext::WithConsent,
            bind_upn: false,
            pool_size: 16,
            connect_timeout_ms: 3_000,
            timeout_ms: 5_000,
        }
    }
}

/// A problem with one key of the server settings (the caller adds its table's path).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyError {
    pub key: String,
    pub message: String,
}

fn key_error(key: &str, message: impl Into<String>) -> KeyError {
    KeyError {
        key: key.to_string(),
        message: message.into(),
    }
}

/// A connector config that holds a [`ServerConfig`] in a `#[serde(skip)]` field.
pub trait HasServer {
    fn server_mut(&mut self) -> &mut ServerConfig;
}

/// Parses a connector's table: the server keys into [`ServerConfig`] (checked with
/// `rules`), the rest into `T`, which should be `deny_unknown_fields` so that a key
/// that is in neither is refused with its name. Errors name the key inside the table.
pub fn parse_table<T: DeserializeOwned + HasServer>(
    table: &toml::Table,
    rules: &ServerRules,
) -> Result<T, KeyError> {
    let (server, mut own): (ServerConfig, T) = split(table)?;
    server.check(rules)?;
    *own.server_mut() = server;
    Ok(own)
}

/// [`parse_table`] for a typed connector factory: both halves are parsed and every bad
/// key of either is reported (each located in the connector's table), then the server
/// settings are checked with `rules`.
pub fn parse_connector<T: DeserializeOwned + HasServer>(
    config: &ConnectorConfig,
    rules: &ServerRules,
) -> Result<T, Vec<ConfigError>> {
    let (server, own) = partition(&config.table);
    let own = config.parse_table_all::<T>(own);
    let server = config
        .parse_table_all::<ServerConfig>(server)
        .and_then(|server| match server.check(rules) {
            Ok(_) => Ok(server),
            Err(e) => Err(vec![config.error(&e.key, e.message)]),
        });
    match (server, own) {
        (Ok(server), Ok(mut own)) => {
            *own.server_mut() = server;
            Ok(own)
        }
        (server, own) => Err(own
            .err()
            .unwrap_or_default()
            .into_iter()
            .chain(server.err().unwrap_or_default())
            .collect()),
    }
}

/// [`parse_connector`], then `check` on the parsed value: the first error only (a
/// typed factory reports them all). For a connector's own `load`.
pub fn load_connector<T: DeserializeOwned + HasServer>(
    config: &ConnectorConfig,
    rules: &ServerRules,
    check: impl FnOnce(&T) -> Vec<ConfigError>,
) -> Result<T, ConfigError> {
    let first = |errors: Vec<ConfigError>| {
        errors
            .into_iter()
            .next()
            .unwrap_or_else(|| config.error("", "invalid configuration"))
    };
    let parsed: T = parse_connector(config, rules).map_err(first)?;
    let errors = check(&parsed);
    if errors.is_empty() {
        Ok(parsed)
    } else {
        Err(first(errors))
    }
}

/// The server keys of a table, and the rest.
fn partition(table: &toml::Table) -> (toml::Table, toml::Table) {
    table
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .partition(|(k, _)| KEYS.contains(&k.as_str()))
}

/// Splits a connector's table into the server keys and the rest, and parses both.
pub fn split<T: DeserializeOwned>(table: &toml::Table) -> Result<(ServerConfig, T), KeyError> {
    let (server, own) = partition(table);
    let own: T = parse(own)?;
    let server: ServerConfig = parse(server)?;
    Ok((server, own))
}

fn parse<T: DeserializeOwned>(table: toml::Table) -> Result<T, KeyError> {
    writeback_core::config::deserialize_value(toml::Value::Table(table))
        .map_err(|(key, message)| KeyError { key, message })
}

impl ServerConfig {
    pub fn pool_size(&self, rules: &ServerRules) -> usize {
        self.pool_size.unwrap_or(rules.pool_size)
    }

    pub fn connect_timeout(&self, rules: &ServerRules) -> Duration {
        Duration::from_millis(self.connect_timeout_ms.unwrap_or(rules.connect_timeout_ms))
    }

    pub fn timeout(&self, rules: &ServerRules) -> Duration {
        Duration::from_millis(self.timeout_ms.unwrap_or(rules.timeout_ms))
    }

    /// Every check that needs no I/O. Returns how the connection will be protected.
    pub fn check(&self, rules: &ServerRules) -> Result<Security, KeyError> {
        if let Plaintext::Refused { url_hint, key_hint } = rules.plaintext {
            if self.allow_plaintext.is_some() {
                return Err(key_error("allow_plaintext", key_hint));
            }
            if self.url.starts_with("ldap://") && !self.starttls {
                return Err(key_error(
                    "url",
                    format!("`{}` is plain LDAP: {url_hint}", self.url),
                ));
            }
        }
        let security = check_options(&self.connect_options(rules, None))
            .map_err(|e| key_error(e.key, e.message))?;
        self.bind_password
            .check()
            .map_err(|e| key_error("bind_password", e.to_string()))?;
        let is_dn = matches!(crate::dn::parse(&self.bind_dn), Ok(rdns) if !rdns.is_empty());
        if rules.bind_upn {
            if self.bind_dn.trim().is_empty() {
                return Err(key_error("bind_dn", "give the service account's DN or UPN"));
            }
        } else if !is_dn {
            return Err(key_error(
                "bind_dn",
                "give a distinguished name, e.g. `cn=pwmgr,ou=system,dc=example,dc=org`",
            ));
        }
        if !(1..=Pool::MAX_SIZE).contains(&self.pool_size(rules)) {
            return Err(key_error(
                "pool_size",
                format!("must be from 1 to {}", Pool::MAX_SIZE),
            ));
        }
        for (key, ms) in [
            ("connect_timeout_ms", self.connect_timeout_ms),
            ("timeout_ms", self.timeout_ms),
        ] {
            if ms.is_some_and(|ms| ms == 0 || ms > MAX_TIMEOUT_MS) {
                return Err(key_error(
                    key,
                    format!("must be from 1 to {MAX_TIMEOUT_MS} milliseconds"),
                ));
            }
        }
        Ok(security)
    }

    /// What to warn about at startup: plain LDAP to a host that is not this machine.
    pub fn warnings(&self, rules: &ServerRules) -> Vec<(&'static str, String)> {
        let plain = matches!(rules.plaintext, Plaintext::WithConsent)
            && self.allow_plaintext == Some(true)
            && self.url.starts_with("ldap://")
            && !self.starttls;
        match host_of(&self.url) {
            Some(host) if plain && !is_loopback(host) => vec![(
                "allow_plaintext",
                format!(
                    "passwords and the service account's bind go in clear text to {host}, which is \
                     not this machine: use ldaps:// or `starttls = true`, and keep \
                     `allow_plaintext` for loopback tests"
                ),
            )],
            _ => Vec::new(),
        }
    }

    /// The connection options; `ca_file` already made absolute by the caller when given.
    pub fn connect_options(&self, rules: &ServerRules, ca_file: Option<PathBuf>) -> ConnectOptions {
        let mut o = ConnectOptions::new(self.url.clone());
        o.starttls = self.starttls;
        o.ca_file = ca_file.or_else(|| self.ca_file.clone());
        o.allow_plaintext =
            matches!(rules.plaintext, Plaintext::WithConsent) && self.allow_plaintext == Some(true);
        o.connect_timeout = self.connect_timeout(rules);
        o.operation_timeout = self.timeout(rules);
        o
    }

    /// The startup step: checks, logs the warnings, resolves the secret and the CA file,
    /// and makes the pool (which connects lazily). `prefix` is where the keys sit inside
    /// the connector's table (`""`, or `"directory"` for a WASM target's sub-table).
    pub fn open(
        &self,
        rules: &ServerRules,
        config: &ConnectorConfig,
        prefix: &str,
        ctx: &BuildContext<'_>,
    ) -> Result<OpenServer, ConfigError> {
        let at = |key: &str| prefixed(prefix, key);
        self.check(rules)
            .map_err(|e| config.error(&at(&e.key), e.message))?;
        for (key, message) in self.warnings(rules) {
            let key = format!("{}.{}", config.key_path, at(key));
            tracing::warn!(key = %key, "{message}");
        }
        let password = ctx.secret(config, &at("bind_password"), &self.bind_password)?;
        let ca_file = self.ca_file.as_deref().map(|p| ctx.path(p));
        let connector = Connector::new(&self.connect_options(rules, ca_file))
            .map_err(|e| config.error(&at(e.key), e.message))?;
        let connector = Arc::new(connector);
        let pool = Pool::new(
            connector.clone(),
            self.bind_dn.clone(),
            password,
            self.pool_size(rules),
        );
        Ok(OpenServer { connector, pool })
    }
}

/// What [`ServerConfig::open`] makes: the connector, and a pool bound as the service
/// account (connecting lazily; [`Pool::connection_checks`] is the self-test's start).
pub struct OpenServer {
    pub connector: Arc<Connector>,
    pub pool: Pool,
}

/// `key` inside the sub-table `prefix` (none when empty).
pub fn prefixed(prefix: &str, key: &str) -> String {
    match (prefix.is_empty(), key.is_empty()) {
        (true, _) => key.to_string(),
        (false, true) => prefix.to_string(),
        (false, false) => format!("{prefix}.{key}"),
    }
}

/// `localhost`, 127.0.0.0/8 or ::1, judged from the URL alone (no DNS lookup).
fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    struct Own {
        base_dn: String,
    }

    const BASE: &str = "url = \"ldaps://ldap.example.org\"\nbind_dn = \"cn=svc,dc=x\"\n\
                        bind_password = { env = \"PW\" }\nbase_dn = \"dc=x\"\n";

    fn parse(extra: &str) -> Result<(ServerConfig, Own), KeyError> {
        let table: toml::Table = toml::from_str(&format!("{BASE}{extra}")).unwrap();
        split(&table)
    }

    const AD: ServerRules = ServerRules {
        plaintext: Plaintext::Refused {
            url_hint: "use ldaps://",
            key_hint: "remove it",
        },
        bind_upn: true,
        pool_size: 4,
        connect_timeout_ms: 3_000,
        timeout_ms: 10_000,
    };

    #[test]
    fn defaults_come_from_the_rules() {
        let (server, own) = parse("").unwrap();
        assert_eq!(own.base_dn, "dc=x");
        assert_eq!(server.ca_file, None);
        let rules = ServerRules::with_consent();
        assert_eq!(server.pool_size(&rules), 16);
        assert_eq!(server.timeout(&rules), Duration::from_secs(5));
        assert_eq!(server.timeout(&AD), Duration::from_secs(10));
        assert_eq!(server.connect_timeout(&AD), Duration::from_secs(3));
        let (server, _) = parse("pool_size = 7\ntimeout_ms = 250").unwrap();
        assert_eq!(server.pool_size(&rules), 7);
        assert_eq!(server.timeout(&AD), Duration::from_millis(250));
    }

    #[test]
    fn unknown_keys_are_refused_by_name() {
        let e = parse("pool_sise = 3").unwrap_err();
        assert!(e.message.contains("pool_sise"), "{e:?}");
        let e = parse("pool_size = \"many\"").unwrap_err();
        assert_eq!(e.key, "pool_size");
        let table: toml::Table = toml::from_str("base_dn = \"dc=x\"").unwrap();
        let e = split::<Own>(&table).unwrap_err();
        assert!(e.message.contains("url"), "{e:?}");
    }

    #[test]
    fn tls_without_ca_file_is_accepted() {
        let (server, _) = parse("").unwrap();
        assert_eq!(
            server.check(&ServerRules::with_consent()),
            Ok(Security::Ldaps)
        );
    }

    #[test]
    fn the_plaintext_rule_is_the_connectors() {
        let (mut server, _) = parse("").unwrap();
        server.url = "ldap://ldap.example.org".into();
        let consent = ServerRules::with_consent();
        assert_eq!(server.check(&consent).unwrap_err().key, "url");
        server.allow_plaintext = Some(true);
        assert_eq!(server.check(&consent), Ok(Security::Plain));
        let warnings = server.warnings(&consent);
        assert_eq!(warnings.len(), 1);
        assert_eq!(warnings[0].0, "allow_plaintext");
        assert!(warnings[0].1.contains("ldap.example.org"), "{warnings:?}");
        assert_eq!(server.check(&AD).unwrap_err().key, "allow_plaintext");
        server.allow_plaintext = None;
        let e = server.check(&AD).unwrap_err();
        assert_eq!(e.key, "url");
        assert!(e.message.contains("is plain LDAP: use ldaps://"), "{e:?}");
        server.starttls = true;
        assert_eq!(server.check(&AD), Ok(Security::StartTls));
    }

    #[test]
    fn plaintext_to_loopback_is_not_warned_about() {
        let (mut server, _) = parse("allow_plaintext = true").unwrap();
        let rules = ServerRules::with_consent();
        for url in [
            "ldap://127.0.0.1:1389",
            "ldap://localhost",
            "ldap://127.8.0.1",
        ] {
            server.url = url.into();
            assert!(server.warnings(&rules).is_empty(), "{url}");
        }
        server.url = "ldaps://ldap.example.org".into();
        assert!(server.warnings(&rules).is_empty());
    }

    #[test]
    fn bind_names_and_ranges() {
        let (mut server, _) = parse("").unwrap();
        let rules = ServerRules::with_consent();
        server.bind_dn = "svc@example.org".into();
        assert_eq!(server.check(&rules).unwrap_err().key, "bind_dn");
        assert!(server.check(&AD).is_ok());
        server.pool_size = Some(0);
        assert_eq!(server.check(&AD).unwrap_err().key, "pool_size");
        server.pool_size = None;
        server.timeout_ms = Some(0);
        assert_eq!(server.check(&AD).unwrap_err().key, "timeout_ms");
        server.timeout_ms = None;
        server.connect_timeout_ms = Some(MAX_TIMEOUT_MS + 1);
        assert_eq!(server.check(&AD).unwrap_err().key, "connect_timeout_ms");
    }

    #[test]
    fn keys_in_a_sub_table_are_prefixed() {
        assert_eq!(prefixed("directory", "url"), "directory.url");
        assert_eq!(prefixed("", "url"), "url");
        assert_eq!(prefixed("directory", ""), "directory");
    }
}
