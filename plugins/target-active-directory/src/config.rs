//! The `active-directory` target's TOML table, checked without I/O.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;
use writeback_core::{ConfigError, ConnectorConfig, SecretRef};
use writeback_ldap::{check_options, ConnectOptions};

use crate::matching::MatchRule;

/// What to do with protected accounts (adminCount=1, members of privileged groups).
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Protected {
    /// Refuse with `admin_action_required` (the default): a writeback agent must not
    /// become a way to take over a domain admin.
    #[default]
    Refuse,
    /// Write them like any account (the service account still needs the rights).
    Allow,
}

/// Whether resets send LDAP_SERVER_POLICY_HINTS so that history applies to them.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum PolicyHints {
    /// When the rootDSE lists the control in supportedControl (the default).
    #[default]
    Auto,
    /// Never (resets then skip the history check, as an administrator's reset does).
    Never,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdConfig {
    /// `ldaps://dc.example.org` or `ldap://dc.example.org` with `starttls = true`.
    pub url: String,
    #[serde(default)]
    pub starttls: bool,
    /// PEM file of the CA that signed the domain controller's certificate.
    pub ca_file: PathBuf,
    /// The service account: a DN or a UPN (`svc-writeback@example.org`).
    pub bind_dn: String,
    pub bind_password: SecretRef,
    /// Where accounts are searched (subtree), e.g. `DC=example,DC=org`.
    pub base_dn: String,
    /// How a cloud identity finds its account; the first rule whose cloud attribute
    /// the request carries decides (no fallback to the next rule on no match).
    #[serde(default = "default_match", rename = "match")]
    pub match_rules: Vec<MatchRule>,
    /// ANDed with the match: which entries are accounts at all.
    #[serde(default = "default_user_filter")]
    pub user_filter: String,
    #[serde(default)]
    pub protected_accounts: Protected,
    /// Also clear a lockout (lockoutTime = 0) on every reset.
    #[serde(default)]
    pub unlock_on_reset: bool,
    #[serde(default)]
    pub policy_hints: PolicyHints,
    /// Connections kept bound as the service account.
    #[serde(default = "default_pool_size")]
    pub pool_size: usize,
    #[serde(default = "default_connect_timeout_ms")]
    pub connect_timeout_ms: u64,
    /// Limit for each LDAP operation. A reset costs an AD DC ~25 ms of CPU, one at a
    /// time: under load, writes queue.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
}

fn default_match() -> Vec<MatchRule> {
    vec![MatchRule::upn()]
}
fn default_user_filter() -> String {
    "(&(objectCategory=person)(objectClass=user))".into()
}
fn default_pool_size() -> usize {
    4
}
fn default_connect_timeout_ms() -> u64 {
    3_000
}
fn default_timeout_ms() -> u64 {
    10_000
}

impl AdConfig {
    /// Parses and checks the table: TLS only, a filter that parses, sane sizes.
    pub fn from_connector(config: &ConnectorConfig) -> Result<Self, ConfigError> {
        if config.table.contains_key("allow_plaintext") {
            return Err(config.error(
                "allow_plaintext",
                "Active Directory accepts password writes only over TLS, so plain LDAP is not \
                 available for this target: remove `allow_plaintext` and use ldaps:// or \
                 `starttls = true`",
            ));
        }
        let parsed: AdConfig = config.parse()?;
        parsed.check(config)?;
        Ok(parsed)
    }

    fn check(&self, config: &ConnectorConfig) -> Result<(), ConfigError> {
        if self.url.starts_with("ldap://") && !self.starttls {
            return Err(config.error(
                "url",
                format!(
                    "`{}` is plain LDAP: Active Directory refuses password writes without TLS \
                     (and Samba refuses the bind). Use ldaps://host:636, or keep ldap:// and \
                     set `starttls = true`",
                    self.url
                ),
            ));
        }
        check_options(&self.connect_options()).map_err(|e| config.error(e.key, e.message))?;
        if self.base_dn.trim().is_empty() {
            return Err(config.error("base_dn", "give the search base, e.g. `DC=example,DC=org`"));
        }
        if self.bind_dn.trim().is_empty() {
            return Err(config.error("bind_dn", "give the service account's DN or UPN"));
        }
        if self.match_rules.is_empty() {
            return Err(config.error("match", "give at least one matching rule"));
        }
        for (i, rule) in self.match_rules.iter().enumerate() {
            rule.check()
                .map_err(|m| config.error(&format!("match[{i}]"), m))?;
        }
        let parenthesized = self.user_filter.starts_with('(') && self.user_filter.ends_with(')');
        let parsed = writeback_ldap::ldap3::parse_filter(&self.user_filter);
        parsed.ok().filter(|_| parenthesized).ok_or_else(|| {
            config.error(
                "user_filter",
                "not a valid LDAP filter, e.g. `(&(objectCategory=person)(objectClass=user))`",
            )
        })?;
        if !(1..=64).contains(&self.pool_size) {
            return Err(config.error("pool_size", "must be from 1 to 64"));
        }
        if self.timeout_ms == 0 || self.connect_timeout_ms == 0 {
            return Err(config.error("timeout_ms", "timeouts must be greater than zero"));
        }
        Ok(())
    }

    pub fn connect_options(&self) -> ConnectOptions {
        let mut options = ConnectOptions::new(self.url.clone());
        options.starttls = self.starttls;
        options.ca_file = Some(self.ca_file.clone());
        options.allow_plaintext = false;
        options.connect_timeout = Duration::from_millis(self.connect_timeout_ms);
        options.operation_timeout = Duration::from_millis(self.timeout_ms);
        options
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use writeback_core::ConnectorKind;

    fn config(extra: &str) -> ConnectorConfig {
        let text = format!(
            "url = \"ldaps://dc.example.org\"\nca_file = \"ca.pem\"\nbind_dn = \"svc@example.org\"\n\
             bind_password = {{ env = \"AD_BIND\" }}\nbase_dn = \"DC=example,DC=org\"\n{extra}"
        );
        let table: toml::Table = toml::from_str(&text).unwrap();
        ConnectorConfig::in_code(ConnectorKind::Target, "active-directory", "ad", table)
    }

    fn error(extra: &str) -> String {
        AdConfig::from_connector(&config(extra))
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn defaults() {
        let c = AdConfig::from_connector(&config("")).unwrap();
        assert_eq!(c.match_rules, vec![MatchRule::upn()]);
        assert_eq!(c.protected_accounts, Protected::Refuse);
        assert_eq!(c.policy_hints, PolicyHints::Auto);
        assert!(!c.unlock_on_reset);
    }

    #[test]
    fn refusals_name_the_key() {
        let mut plain = config("");
        plain
            .table
            .insert("url".into(), "ldap://dc.example.org".into());
        let e = AdConfig::from_connector(&plain).unwrap_err().to_string();
        assert!(
            e.contains("targets.ad.url") && e.contains("starttls = true"),
            "{e}"
        );
        assert!(error("allow_plaintext = true").contains("only over TLS"));
        assert!(error("starttls = true").contains("starttls"));
        assert!(error("match = [{ attribute = \"cn\" }]").contains("match"));
        assert!(error("match = [{ attribute = \"mail\", from = \"a b\" }]").contains("match[0]"));
        assert!(error("user_filter = \"objectClass=user\"").contains("user_filter"));
        assert!(error("pool_size = 0").contains("pool_size"));
        assert!(error("protected_accounts = \"maybe\"").contains("protected_accounts"));
    }
}
