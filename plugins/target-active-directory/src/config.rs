//! The `active-directory` target's TOML table, checked without I/O.

use serde::Deserialize;
use writeback_core::{ConfigError, ConnectorConfig};
use writeback_ldap::server::{self, HasServer, Plaintext, ServerConfig, ServerRules};

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
    /// The server keys (`url`, `starttls`, `ca_file`, `bind_dn` — a DN or a UPN such
    /// as `svc-writeback@example.org` —, `bind_password`, `pool_size`,
    /// `connect_timeout_ms`, `timeout_ms`), written in the same table; see
    /// [`ServerConfig`]. `allow_plaintext` is refused: see [`RULES`].
    #[serde(skip)]
    pub server: ServerConfig,
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
    /// Read the account back after a reset or unlock and report what did not take
    /// effect (must-change, lockout, disabled, expired); one extra search per write.
    #[serde(default = "default_true")]
    pub verify_writes: bool,
}

fn default_true() -> bool {
    true
}

fn default_match() -> Vec<MatchRule> {
    vec![MatchRule::upn()]
}
fn default_user_filter() -> String {
    "(&(objectCategory=person)(objectClass=user))".into()
}

/// TLS only. The operation timeout is longer than OpenLDAP's: a reset costs an AD DC
/// ~25 ms of CPU, one at a time, so under load writes queue.
pub const RULES: ServerRules = ServerRules {
    plaintext: Plaintext::Refused {
        url_hint: "Active Directory refuses password writes without TLS \
                   (and Samba refuses the bind). Use ldaps://host:636, or keep ldap:// and \
                   set `starttls = true`",
        key_hint: "Active Directory accepts password writes only over TLS, so plain LDAP is not \
                   available for this target: remove `allow_plaintext` and use ldaps:// or \
                   `starttls = true`",
    },
    bind_upn: true,
    pool_size: 16,
    connect_timeout_ms: 3_000,
    timeout_ms: 10_000,
};

impl HasServer for AdConfig {
    fn server_mut(&mut self) -> &mut ServerConfig {
        &mut self.server
    }
}

impl AdConfig {
    /// Parses and checks the table: TLS only, a filter that parses, sane sizes. The
    /// first error (the factory reports them all).
    pub fn from_connector(config: &ConnectorConfig) -> Result<Self, ConfigError> {
        let first = |errors: Vec<ConfigError>| {
            errors
                .into_iter()
                .next()
                .unwrap_or_else(|| config.error("", "invalid configuration"))
        };
        let parsed: AdConfig = server::parse_connector(config, &RULES).map_err(first)?;
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
        if self.base_dn.trim().is_empty() {
            errors.push(config.error("base_dn", "give the search base, e.g. `DC=example,DC=org`"));
        }
        if self.match_rules.is_empty() {
            errors.push(config.error("match", "give at least one matching rule"));
        }
        for (i, rule) in self.match_rules.iter().enumerate() {
            if let Err(m) = rule.check() {
                errors.push(config.error(&format!("match[{i}]"), m));
            }
        }
        let parenthesized = self.user_filter.starts_with('(') && self.user_filter.ends_with(')');
        let parsed = writeback_ldap::ldap3::parse_filter(&self.user_filter);
        if parsed.ok().filter(|_| parenthesized).is_none() {
            errors.push(config.error(
                "user_filter",
                "not a valid LDAP filter, e.g. `(&(objectCategory=person)(objectClass=user))`",
            ));
        }
        errors
    }
}
