//! The smtp notifier's table in the config file.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;
use writeback_core::SecretRef;

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
