//! The TOML file: `[pipeline]`, `[audit]`, `[admin]`, `[outbox]`, `[expiry]`, and the
//! arrays of connector tables. Everything is checked at load, with errors that name
//! file, line and key; [`Config::parse_all`] finds every error of a file in one run.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use writeback_core::config::{parse_section, ConfigSource};
use writeback_core::{ConfigError, ConnectorConfig, ConnectorKind, OutcomeCode};
use writeback_expiry::ExpiryConfig;
use writeback_outbox::OutboxConfig;

use crate::registry::PluginSpec;

/// `[pipeline]`
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PipelineConfig {
    /// Every request gets its outcome within this many milliseconds.
    pub deadline_ms: u64,
    /// How many finished request ids are remembered to refuse duplicates.
    pub dedupe_capacity: usize,
    /// How long a finished request id is remembered, in seconds.
    pub dedupe_ttl_secs: u64,
    /// Requests in progress at once; more are refused as `directory_unavailable`
    /// (retryable) instead of queueing past their deadline.
    pub max_in_flight: usize,
    /// On shutdown, how long in-flight requests may take to finish, in seconds.
    pub drain_secs: u64,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        PipelineConfig {
            deadline_ms: 10_000,
            dedupe_capacity: 100_000,
            dedupe_ttl_secs: 24 * 3600,
            max_in_flight: 1024,
            drain_secs: 30,
        }
    }
}

impl PipelineConfig {
    pub fn deadline(&self) -> Duration {
        Duration::from_millis(self.deadline_ms)
    }
}

/// `[audit]`
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditConfig {
    /// JSON lines file, appended to. Without it, audit records go to the log only.
    pub path: Option<PathBuf>,
    /// Past this many bytes the file is renamed `<path>.<UTC time>` and a new one is
    /// started whose first line carries the old file's last hash. Unset: never.
    #[serde(default)]
    pub rotate_bytes: Option<u64>,
    /// A file holding the secret for keyed checkpoints (HMAC-SHA-256 of the chain head).
    #[serde(default)]
    pub checkpoint_key_file: Option<PathBuf>,
    /// A checkpoint after this many records (with a key).
    #[serde(default = "default_checkpoint_every")]
    pub checkpoint_every: u64,
    /// A checkpoint at least this often while records come in, in seconds (with a key).
    #[serde(default = "default_checkpoint_secs")]
    pub checkpoint_secs: u64,
}

impl Default for AuditConfig {
    fn default() -> Self {
        AuditConfig {
            path: None,
            rotate_bytes: None,
            checkpoint_key_file: None,
            checkpoint_every: default_checkpoint_every(),
            checkpoint_secs: default_checkpoint_secs(),
        }
    }
}

fn default_checkpoint_every() -> u64 {
    1000
}

fn default_checkpoint_secs() -> u64 {
    300
}

/// `[admin]`: health and metrics over plain HTTP for operators (loopback by default).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminConfig {
    pub listen: SocketAddr,
    /// How often targets run their self-test for `/health`, in seconds.
    #[serde(default = "default_health_interval")]
    pub health_interval_secs: u64,
    /// A file holding a token for `/status`: with it the page is served to any client
    /// that sends it (`Authorization: Bearer …` or `?token=…`); without it, to
    /// loopback clients only.
    #[serde(default)]
    pub status_token_file: Option<PathBuf>,
}

fn default_health_interval() -> u64 {
    60
}

/// Generic settings the host takes out of a policy table.
#[derive(Clone, Debug, Default)]
pub struct PolicySettings {
    /// Rule id → the organisation's own message.
    pub messages: BTreeMap<String, String>,
}

/// Generic settings the host takes out of a notifier table.
#[derive(Clone, Debug, Default)]
pub struct NotifierSettings {
    /// Which outcome codes notify; empty means all.
    pub on: BTreeSet<OutcomeCode>,
}

/// A loaded, checked config file.
#[derive(Clone, Debug)]
pub struct Config {
    pub path: PathBuf,
    pub pipeline: PipelineConfig,
    pub audit: AuditConfig,
    pub admin: Option<AdminConfig>,
    pub plugins: Vec<PluginSpec>,
    pub sources: Vec<ConnectorConfig>,
    pub targets: Vec<ConnectorConfig>,
    pub policies: Vec<(ConnectorConfig, PolicySettings)>,
    pub notifiers: Vec<(ConnectorConfig, NotifierSettings)>,
    /// `[outbox]`, checked, its `path` made absolute against the file's directory.
    pub outbox: Option<OutboxConfig>,
    /// `[expiry]`, checked (it needs an `[outbox]`; the names it uses exist).
    pub expiry: Option<ExpiryConfig>,
    /// Sections not known to the host, for the parts that read them.
    pub extra: BTreeMap<String, toml::Value>,
    pub source: Arc<ConfigSource>,
}

/// Top-level tables the host hands on untouched to other parts of writeback.
const EXTRA_SECTIONS: &[&str] = &["relay"];

/// The sections the host reads itself, for "unknown section" errors.
const SECTIONS: &[&str] = &[
    "pipeline",
    "audit",
    "admin",
    "outbox",
    "expiry",
    "plugins",
    "sources",
    "targets",
    "policies",
    "notifiers",
];

impl Config {
    /// Reads and checks a config file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            file: Some(path.to_path_buf()),
            line: None,
            key: None,
            message: format!("cannot read the config file: {e}"),
        })?;
        Config::parse(&text, path)
    }

    /// Reads a config file and reports every error in it ([`Config::parse_all`]).
    pub fn load_all(path: &Path) -> (Option<Config>, Vec<ConfigError>) {
        match std::fs::read_to_string(path) {
            Ok(text) => Config::parse_all(&text, path),
            Err(e) => (
                None,
                vec![ConfigError {
                    file: Some(path.to_path_buf()),
                    line: None,
                    key: None,
                    message: format!("cannot read the config file: {e}"),
                }],
            ),
        }
    }

    /// Checks config text; `path` names it in errors and anchors relative paths.
    /// Returns the first error; [`Config::parse_all`] returns every one.
    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let (config, errors) = Config::parse_all(text, path);
        match (config, errors.into_iter().next()) {
            (Some(config), None) => Ok(config),
            (_, Some(error)) => Err(error),
            (None, None) => Err(ConfigError::new("the config could not be read")),
        }
    }

    /// Checks config text and reports every error in it, not only the first: a section
    /// or connector table with an error is reported and left out (or left at its
    /// defaults), and the rest is still checked. The config is `None` only when the
    /// text is not TOML; with errors it is incomplete, good only for checking more.
    pub fn parse_all(text: &str, path: &Path) -> (Option<Config>, Vec<ConfigError>) {
        let source = Arc::new(ConfigSource {
            path: path.to_path_buf(),
            text: text.to_string(),
        });
        let doc: toml::Table = match toml::from_str(text) {
            Ok(doc) => doc,
            Err(e) => {
                let error = ConfigError {
                    file: Some(path.to_path_buf()),
                    line: e.span().map(|s| line_at(text, s.start)),
                    key: None,
                    message: format!("not valid TOML: {}", e.message()),
                };
                return (None, vec![error]);
            }
        };
        let mut config = Config {
            path: path.to_path_buf(),
            pipeline: PipelineConfig::default(),
            audit: AuditConfig::default(),
            admin: None,
            plugins: Vec::new(),
            sources: Vec::new(),
            targets: Vec::new(),
            policies: Vec::new(),
            notifiers: Vec::new(),
            outbox: None,
            expiry: None,
            extra: BTreeMap::new(),
            source: source.clone(),
        };
        let mut errors = Vec::new();
        let base_dir = config.base_dir();
        // The other sections first: `[expiry]` checks the names of targets and notifiers.
        let mut expiry = None;
        let outbox_written = doc.contains_key("outbox");
        for (key, value) in doc {
            match key.as_str() {
                "pipeline" => match parse_section(&source, "pipeline", value) {
                    Ok(p) => config.pipeline = p,
                    Err(e) => errors.push(e),
                },
                "audit" => match parse_section(&source, "audit", value) {
                    Ok(a) => config.audit = a,
                    Err(e) => errors.push(e),
                },
                "admin" => match parse_section(&source, "admin", value) {
                    Ok(a) => config.admin = Some(a),
                    Err(e) => errors.push(e),
                },
                "outbox" => match outbox_section(&source, value, &base_dir) {
                    Ok(o) => config.outbox = Some(o),
                    Err(e) => errors.push(e),
                },
                "expiry" => expiry = Some(value),
                "plugins" => match plugin_specs(&source, value, &base_dir) {
                    Ok(p) => config.plugins = p,
                    Err(e) => errors.push(e),
                },
                "sources" => {
                    config.sources = connectors(&source, ConnectorKind::Source, value, &mut errors)
                }
                "targets" => {
                    config.targets = connectors(&source, ConnectorKind::Target, value, &mut errors)
                }
                "policies" => {
                    for mut c in connectors(&source, ConnectorKind::Policy, value, &mut errors) {
                        match policy_settings(&mut c) {
                            Ok(settings) => config.policies.push((c, settings)),
                            Err(e) => errors.push(e),
                        }
                    }
                }
                "notifiers" => {
                    for mut c in connectors(&source, ConnectorKind::Notifier, value, &mut errors) {
                        match notifier_settings(&mut c) {
                            Ok(settings) => config.notifiers.push((c, settings)),
                            Err(e) => errors.push(e),
                        }
                    }
                }
                other if EXTRA_SECTIONS.contains(&other) => {
                    config.extra.insert(key, value);
                }
                other => {
                    let mut known = SECTIONS.to_vec();
                    known.extend(EXTRA_SECTIONS);
                    errors.push(source.error(
                        other,
                        format!("unknown section; expected one of {}", known.join(", ")),
                    ))
                }
            }
        }
        if let Some(value) = expiry {
            match config.expiry_section(value, outbox_written) {
                Ok(e) => config.expiry = Some(e),
                Err(e) => errors.push(e),
            }
        }
        errors.extend(config.check());
        (Some(config), errors)
    }

    /// The directory relative paths in the file are relative to.
    pub fn base_dir(&self) -> PathBuf {
        self.path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."))
    }

    fn check(&self) -> Vec<ConfigError> {
        let p = &self.pipeline;
        let mut errors = Vec::new();
        if p.deadline_ms == 0 || p.deadline_ms > 600_000 {
            errors.push(self.source.error(
                "pipeline.deadline_ms",
                "must be between 1 and 600000 (10 minutes)",
            ));
        }
        if p.max_in_flight == 0 {
            errors.push(
                self.source
                    .error("pipeline.max_in_flight", "must be at least 1"),
            );
        }
        errors
    }

    /// `[expiry]`: needs an `[outbox]` (it keeps who was reminded), and the targets and
    /// notifiers it names must be configured.
    fn expiry_section(
        &self,
        value: toml::Value,
        outbox_written: bool,
    ) -> Result<ExpiryConfig, ConfigError> {
        let c: ExpiryConfig = parse_section(&self.source, "expiry", value)?;
        c.check()
            .map_err(|(key, m)| self.source.error(&format!("expiry.{key}"), m))?;
        if !outbox_written {
            return Err(self.source.error(
                "expiry",
                "expiry reminders need an [outbox] (it keeps who was reminded): add one with a `path`",
            ));
        }
        let unknown = |names: &Option<Vec<String>>, known: Vec<&str>, key: &str| {
            for name in names.iter().flatten() {
                if !known.contains(&name.as_str()) {
                    return Err(self.source.error(
                        &format!("expiry.{key}"),
                        format!("no {key} named `{name}`; configured: {}", known.join(", ")),
                    ));
                }
            }
            Ok(())
        };
        unknown(
            &c.targets,
            self.targets.iter().map(|t| t.name.as_str()).collect(),
            "targets",
        )?;
        unknown(
            &c.notifiers,
            self.notifiers
                .iter()
                .map(|(n, _)| n.name.as_str())
                .collect(),
            "notifiers",
        )?;
        Ok(c)
    }

    /// Every connector, in build order (targets, policies, notifiers, sources).
    pub fn all_connectors(&self) -> Vec<&ConnectorConfig> {
        let mut all: Vec<&ConnectorConfig> = self.targets.iter().collect();
        all.extend(self.policies.iter().map(|(c, _)| c));
        all.extend(self.notifiers.iter().map(|(c, _)| c));
        all.extend(self.sources.iter());
        all
    }
}

fn line_at(text: &str, offset: usize) -> usize {
    text.as_bytes()
        .iter()
        .take(offset)
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

fn array_of_tables(
    source: &ConfigSource,
    key: &str,
    value: toml::Value,
) -> Result<Vec<(String, toml::Table)>, ConfigError> {
    let toml::Value::Array(items) = value else {
        return Err(source.error(key, format!("must be an array of tables: write [[{key}]]")));
    };
    items
        .into_iter()
        .enumerate()
        .map(|(i, item)| {
            let path = format!("{key}[{i}]");
            match item {
                toml::Value::Table(t) => Ok((path, t)),
                _ => Err(source.error(&path, "must be a table")),
            }
        })
        .collect()
}

/// The tables of one connector kind; a table with an error is reported and left out.
fn connectors(
    source: &Arc<ConfigSource>,
    kind: ConnectorKind,
    value: toml::Value,
    errors: &mut Vec<ConfigError>,
) -> Vec<ConnectorConfig> {
    let tables = match array_of_tables(source, kind.table_name(), value) {
        Ok(t) => t,
        Err(e) => {
            errors.push(e);
            return Vec::new();
        }
    };
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for (key_path, table) in tables {
        match connector(source, kind, key_path, table, &mut seen) {
            Ok(c) => out.push(c),
            Err(e) => errors.push(e),
        }
    }
    out
}

fn connector(
    source: &Arc<ConfigSource>,
    kind: ConnectorKind,
    key_path: String,
    mut table: toml::Table,
    seen: &mut BTreeSet<String>,
) -> Result<ConnectorConfig, ConfigError> {
    let type_name = match table.remove("type") {
        Some(toml::Value::String(s)) if !s.is_empty() => s,
        Some(_) => return Err(source.error(&format!("{key_path}.type"), "must be a string")),
        None => {
            return Err(source.error(
                &key_path,
                format!("missing `type`: every {} names its type", kind.singular()),
            ))
        }
    };
    let name = match table.remove("name") {
        Some(toml::Value::String(s)) if valid_name(&s) => s,
        Some(_) => {
            return Err(source.error(
                &format!("{key_path}.name"),
                "must be 1-64 characters of letters, digits, '-', '_' or '.'",
            ))
        }
        None => type_name.clone(),
    };
    if !seen.insert(name.clone()) {
        return Err(source.error(
            &key_path,
            format!(
                "a second {} named `{name}`: give each one a distinct `name`",
                kind.singular()
            ),
        ));
    }
    Ok(ConnectorConfig {
        kind,
        type_name,
        name,
        table,
        key_path,
        source: Some(source.clone()),
    })
}

/// `[outbox]`, checked, with `path` made absolute against the config file's directory.
fn outbox_section(
    source: &ConfigSource,
    value: toml::Value,
    base_dir: &Path,
) -> Result<OutboxConfig, ConfigError> {
    let mut c: OutboxConfig = parse_section(source, "outbox", value)?;
    c.check()
        .map_err(|(key, m)| source.error(&format!("outbox.{key}"), m))?;
    if c.path.is_relative() {
        c.path = base_dir.join(&c.path);
    }
    Ok(c)
}

fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
}

fn policy_settings(config: &mut ConnectorConfig) -> Result<PolicySettings, ConfigError> {
    let Some(value) = config.table.remove("messages") else {
        return Ok(PolicySettings::default());
    };
    let toml::Value::Table(t) = value else {
        return Err(config.error("messages", "must be a table of rule id = \"message\""));
    };
    let mut messages = BTreeMap::new();
    for (rule, message) in t {
        match message {
            toml::Value::String(m) if !m.trim().is_empty() => {
                messages.insert(rule, m);
            }
            _ => {
                return Err(config.error(
                    &format!("messages.{rule}"),
                    "must be a non-empty string (the message shown for this rule)",
                ))
            }
        }
    }
    Ok(PolicySettings { messages })
}

fn notifier_settings(config: &mut ConnectorConfig) -> Result<NotifierSettings, ConfigError> {
    let Some(value) = config.table.remove("on") else {
        return Ok(NotifierSettings::default());
    };
    let codes: Vec<OutcomeCode> =
        writeback_core::config::deserialize_value(value).map_err(|_| {
            let names: Vec<_> = OutcomeCode::ALL.iter().map(|c| c.as_str()).collect();
            config.error(
                "on",
                format!("must be a list of outcome codes: {}", names.join(", ")),
            )
        })?;
    Ok(NotifierSettings {
        on: codes.into_iter().collect(),
    })
}

fn plugin_specs(
    source: &ConfigSource,
    value: toml::Value,
    base_dir: &Path,
) -> Result<Vec<PluginSpec>, ConfigError> {
    array_of_tables(source, "plugins", value)?
        .into_iter()
        .map(|(key_path, mut table)| {
            let path = match table.remove("path") {
                Some(toml::Value::String(p)) if !p.is_empty() => PathBuf::from(p),
                _ => {
                    return Err(source.error(
                        &key_path,
                        "missing `path`: the plugin file (a .so library or a .wasm component)",
                    ))
                }
            };
            let path = if path.is_absolute() {
                path
            } else {
                base_dir.join(path)
            };
            Ok(PluginSpec {
                path,
                table,
                key_path,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, String> {
        Config::parse(text, Path::new("/etc/wb.toml")).map_err(|e| e.to_string())
    }

    const MINIMAL: &str = "[[sources]]\ntype = \"webhook\"\n\n[[targets]]\ntype = \"openldap\"\n";

    #[test]
    fn minimal_config_loads_with_defaults() {
        let c = parse(MINIMAL).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.pipeline.deadline_ms, 10_000);
        assert_eq!(c.sources[0].name, "webhook");
        assert_eq!(c.base_dir(), PathBuf::from("/etc"));
    }

    #[test]
    fn errors_name_line_and_key() {
        let text = format!("{MINIMAL}\n[pipeline]\ndeadline_ms = \"soon\"\n");
        let e = parse(&text).err().unwrap_or_default();
        assert!(
            e.starts_with("/etc/wb.toml:8: `pipeline.deadline_ms`"),
            "{e}"
        );

        let e = parse(&format!("{MINIMAL}[pipeline]\ndeadlin_ms = 5\n"))
            .err()
            .unwrap_or_default();
        assert!(e.contains("unknown field `deadlin_ms`"), "{e}");

        let e = parse("[[sources]]\nname = \"x\"\n[[targets]]\ntype = \"t\"\n")
            .err()
            .unwrap_or_default();
        assert!(
            e.starts_with("/etc/wb.toml:1: `sources[0]`: missing `type`"),
            "{e}"
        );

        let e =
            parse("[[sources]]\ntype = 'a'\n[[targets]]\ntype = 't'\n[[targets]]\ntype = 't'\n")
                .err()
                .unwrap_or_default();
        assert!(e.contains("a second target named `t`"), "{e}");

        let e = parse("oops = 1\n").err().unwrap_or_default();
        assert!(e.contains("`oops`: unknown section"), "{e}");

        let e = parse("[[sources]\n").err().unwrap_or_default();
        assert!(e.starts_with("/etc/wb.toml:1: not valid TOML"), "{e}");
    }

    #[test]
    fn generic_keys_are_taken_out() {
        let text = format!(
            "{MINIMAL}[[policies]]\ntype = \"basic\"\nmin_length = 8\nmessages = {{ \"length.min\" = \"Zu kurz\" }}\n\
             [[notifiers]]\ntype = \"webhook\"\non = [\"succeeded\", \"rejected_policy\"]\n"
        );
        let c = parse(&text).unwrap_or_else(|e| panic!("{e}"));
        let (p, s) = &c.policies[0];
        assert!(!p.table.contains_key("messages"));
        assert_eq!(
            s.messages.get("length.min").map(String::as_str),
            Some("Zu kurz")
        );
        let (n, s) = &c.notifiers[0];
        assert!(!n.table.contains_key("on"));
        assert!(s.on.contains(&OutcomeCode::RejectedPolicy));

        let bad = format!("{MINIMAL}[[notifiers]]\ntype = \"webhook\"\non = [\"won\"]\n");
        let e = parse(&bad).err().unwrap_or_default();
        assert!(e.contains("`notifiers[0].on`"), "{e}");
    }

    const TARGET: &str = "[[targets]]\ntype = \"openldap\"\n\n";

    fn parse_in_wb(text: &str) -> Result<Config, String> {
        Config::parse(text, Path::new("/etc/wb/wb.toml")).map_err(|e| e.to_string())
    }

    #[test]
    fn outbox_section_is_read_with_paths_relative_to_the_file() {
        let c = parse_in_wb(&format!(
            "[outbox]\npath = \"state/outbox.db\"\nmax_attempts = 3\n\n{TARGET}"
        ))
        .unwrap_or_else(|e| panic!("{e}"));
        let o = c.outbox.unwrap_or_else(|| panic!("no outbox"));
        assert_eq!(o.path, Path::new("/etc/wb/state/outbox.db"));
        assert_eq!(o.max_attempts, 3);
        let none = parse_in_wb(TARGET).unwrap_or_else(|e| panic!("{e}"));
        assert!(none.outbox.is_none() && none.expiry.is_none());
    }

    #[test]
    fn outbox_and_expiry_errors_name_line_and_key() {
        let e = parse_in_wb(&format!(
            "{TARGET}[outbox]\npath = \"o.db\"\nmax_attempts = 0\n"
        ))
        .err()
        .unwrap_or_default();
        assert!(
            e.starts_with("/etc/wb/wb.toml:6: `outbox.max_attempts`"),
            "{e}"
        );

        let e = parse_in_wb(&format!("{TARGET}[expiry]\nthresholds_days = [7]\n"))
            .err()
            .unwrap_or_default();
        assert!(e.contains("need an [outbox]"), "{e}");

        let e = parse_in_wb(&format!(
            "{TARGET}[outbox]\npath = \"o.db\"\n[expiry]\ntargets = [\"nope\"]\n"
        ))
        .err()
        .unwrap_or_default();
        assert!(
            e.contains("`expiry.targets`") && e.contains("no targets named `nope`"),
            "{e}"
        );
    }

    #[test]
    fn parse_all_reports_every_section_error_in_one_run() {
        let text = "oops = 1\n[pipeline]\ndeadline_ms = \"soon\"\n\n[[sources]]\nname = \"x\"\n\n\
                    [[targets]]\ntype = \"t\"\n[[targets]]\ntype = \"t\"\n";
        let (config, errors) = Config::parse_all(text, Path::new("/etc/wb.toml"));
        let errors: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
        assert_eq!(errors.len(), 4, "{errors:#?}");
        for expected in [
            "/etc/wb.toml:3: `pipeline.deadline_ms`",
            "/etc/wb.toml:5: `sources[0]`: missing `type`",
            "a second target named `t`",
            "`oops`: unknown section",
        ] {
            assert!(
                errors.iter().any(|e| e.contains(expected)),
                "{expected}: {errors:#?}"
            );
        }
        // What could be read is there, for the connectors' own checks.
        assert_eq!(config.map(|c| c.targets.len()), Some(1));
    }
}
