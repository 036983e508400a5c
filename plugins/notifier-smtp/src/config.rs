//! The smtp notifier's table in the config file.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;
use writeback_core::{ConfigError, ConnectorConfig, SecretRef};

use crate::recipients;

/// How the connection is protected.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TlsMode {
    /// Plain connect, then STARTTLS (required, never skipped). Port 587 by default.
    #[default]
    Starttls,
    /// TLS from the first byte ("SMTPS"). Port 465 by default.
    Tls,
    /// No TLS at all: only with `allow_plaintext = true` (a relay on the same host).
    None,
}

/// Who gets the mail for one kind of notification.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Recipients {
    /// Send to the person: the account's `mail` from the directory (or the cloud
    /// identity's mail when the directory has none).
    #[serde(default)]
    pub to_user: Option<bool>,
    /// Fixed addresses (help desk, security team).
    #[serde(default)]
    pub to: Option<Vec<String>>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpConfig {
    pub host: String,
    #[serde(default)]
    pub port: Option<u16>,
    #[serde(default)]
    pub tls: TlsMode,
    /// Set to send over a connection without TLS (tls = "none").
    #[serde(default)]
    pub allow_plaintext: bool,
    /// A PEM file of CA certificates for a server with a private CA (added to the
    /// system's roots).
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub password: Option<SecretRef>,
    /// The sender, `Name <address>` or `address`.
    pub from: String,
    /// Connect, TLS and each SMTP command, in milliseconds.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// Recipients for every kind of notification…
    #[serde(default)]
    pub to_user: Option<bool>,
    #[serde(default)]
    pub to: Option<Vec<String>>,
    /// …and per kind: an outcome code (`succeeded`, `rejected_policy`, …),
    /// `failed` (every code but succeeded) or `expiry_reminder`. Keys left out of a
    /// route fall back to the ones above.
    #[serde(default)]
    pub routes: BTreeMap<String, Recipients>,
    /// A directory of template files that replace the built-in English ones:
    /// `outcome.subject`, `outcome.txt`, `outcome.html`, `expiry_reminder.subject`,
    /// `expiry_reminder.txt`, `expiry_reminder.html` (any subset).
    #[serde(default)]
    pub templates_dir: Option<PathBuf>,
    /// Extra values the templates can use as `{{ vars.NAME }}` (help desk phone …).
    #[serde(default)]
    pub vars: BTreeMap<String, String>,
}

fn default_timeout_ms() -> u64 {
    10_000
}

/// The keys of `routes` that mean something.
pub fn is_route_key(key: &str) -> bool {
    key == "failed"
        || key == "expiry_reminder"
        || writeback_core::OutcomeCode::ALL
            .iter()
            .any(|c| c.as_str() == key)
}

impl SmtpConfig {
    /// Everything that can be checked without I/O, every problem with its key.
    pub fn check(&self, config: &ConnectorConfig) -> Vec<ConfigError> {
        let c = self;
        let mut errors = Vec::new();
        if c.host.trim().is_empty() {
            errors.push(config.error("host", "give the SMTP server's host name"));
        }
        if c.tls == TlsMode::None && !c.allow_plaintext {
            errors.push(config.error(
                "tls",
                "`none` sends mail (and any SMTP password) unencrypted; use `starttls` or `tls`, \
                 or set `allow_plaintext = true` for a relay on the same host",
            ));
        }
        if c.tls == TlsMode::None && c.ca_file.is_some() {
            errors.push(config.error(
                "ca_file",
                "a CA file needs `tls = \"starttls\"` or `\"tls\"`",
            ));
        }
        if c.password.is_some() != c.username.is_some() {
            errors.push(config.error(
                "username",
                "give both `username` and `password`, or neither",
            ));
        }
        if c.timeout_ms == 0 || c.timeout_ms > 600_000 {
            errors.push(config.error("timeout_ms", "must be between 1 and 600000"));
        }
        if let Err(m) = recipients::parse_mailbox(&c.from) {
            errors.push(config.error("from", m));
        }
        if let Err((k, m)) = recipients::Routing::from_config(c) {
            errors.push(config.error(&k, m));
        }
        errors
    }

    /// What to tell the operator when this config sends mail unencrypted to another
    /// host, if it does.
    pub fn plaintext_warning(&self) -> Option<String> {
        plaintext_warning(self)
    }
}

/// What to tell the operator when `allow_plaintext` sends mail unencrypted to a host
/// that is not this machine. A name is taken at its word (no DNS lookup at startup):
/// only `localhost` and loopback addresses count as the same host.
fn plaintext_warning(c: &SmtpConfig) -> Option<String> {
    if c.tls != TlsMode::None || is_loopback(&c.host) {
        return None;
    }
    Some(format!(
        "allow_plaintext = true with tls = \"none\" sends mail, and the SMTP password if one \
         is set, unencrypted to {}, which is not this machine: anyone on the network path can \
         read or change it. Use tls = \"starttls\" or \"tls\", or a relay on the same host",
        c.host.trim()
    ))
}

fn is_loopback(host: &str) -> bool {
    let host = host.trim().trim_end_matches('.');
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || bare
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}
