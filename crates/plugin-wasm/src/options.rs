//! The sandbox settings of one `[[plugins]]` entry: limits and capability grants.
//! Everything not granted here is denied.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

/// How instances are used between calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InstanceMode {
    /// A new instance for every call (default for policies, targets and sources): no password
    /// outlives its call in guest memory, no state leaks between requests.
    Fresh,
    /// Instances are kept and reused (default for notifiers, which see no password).
    /// A call that faults discards its instance.
    Reused,
}

/// `[[plugins]] path = "x.wasm"` and its sandbox keys.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PluginOptions {
    /// The component file (relative paths are relative to the config file).
    pub path: PathBuf,
    /// Linear memory cap per instance, in MiB (default 64).
    #[serde(default = "default_memory_mb")]
    pub memory_mb: u32,
    /// Time limit of one call, instantiation included, in milliseconds (default 1000).
    /// Keep it below `[pipeline] deadline` so a stuck plugin gives `plugin_fault`.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// `fresh` or `reused`; the default depends on the plugin kind.
    #[serde(default)]
    pub instances: Option<InstanceMode>,
    /// URLs a notifier or source may send requests to (exact, or a prefix ending in
    /// `/`). Empty: none.
    #[serde(default)]
    pub allow_http: Vec<String>,
    /// CA certificates (PEM) for HTTPS; default: the system bundle when there is one.
    #[serde(default)]
    pub http_ca_file: Option<PathBuf>,
}

fn default_memory_mb() -> u32 {
    64
}

fn default_timeout_ms() -> u64 {
    1000
}

impl PluginOptions {
    /// Options with defaults for the component at `path`.
    pub fn for_path(path: impl Into<PathBuf>) -> Self {
        PluginOptions {
            path: path.into(),
            memory_mb: default_memory_mb(),
            timeout_ms: default_timeout_ms(),
            instances: None,
            allow_http: Vec::new(),
            http_ca_file: None,
        }
    }

    /// Checks values that cannot work. Errors name the key.
    pub fn check(&self) -> Result<(), (&'static str, String)> {
        if !(1..=4096).contains(&self.memory_mb) {
            return Err(("memory_mb", "must be between 1 and 4096 (MiB)".into()));
        }
        if !(1..=600_000).contains(&self.timeout_ms) {
            return Err(("timeout_ms", "must be between 1 and 600000 (ms)".into()));
        }
        Ok(())
    }

    pub fn memory_bytes(&self) -> usize {
        self.memory_mb as usize * 1024 * 1024
    }

    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms)
    }
}
