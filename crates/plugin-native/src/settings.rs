//! The keys of a `[[plugins]]` entry that the native loader reads (besides `path`).

use std::time::Duration;

use serde::Deserialize;

/// How the host calls a library's connectors.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CallSettings {
    /// Longest a single plugin call may take before the request fails with
    /// `plugin_fault`. Keep it below `pipeline.deadline_ms`, so the person learns
    /// which part failed rather than a bare `timeout`.
    #[serde(default = "default_call_timeout_ms")]
    pub call_timeout_ms: u64,
    /// Most calls running at once per connector instance. Each call holds one of the
    /// blocking pool's threads; a stuck plugin holds at most this many.
    #[serde(default = "default_max_concurrent_calls")]
    pub max_concurrent_calls: usize,
}

fn default_call_timeout_ms() -> u64 {
    5_000
}

fn default_max_concurrent_calls() -> usize {
    16
}

impl Default for CallSettings {
    fn default() -> Self {
        CallSettings {
            call_timeout_ms: default_call_timeout_ms(),
            max_concurrent_calls: default_max_concurrent_calls(),
        }
    }
}

impl CallSettings {
    /// Reads the entry's table; errors name the key.
    pub fn from_table(table: &toml::Table) -> Result<Self, (String, String)> {
        let settings: CallSettings = toml::Value::Table(table.clone())
            .try_into()
            .map_err(|e: toml::de::Error| (String::new(), e.message().to_string()))?;
        if settings.call_timeout_ms == 0 || settings.call_timeout_ms > 600_000 {
            return Err((
                "call_timeout_ms".into(),
                "must be between 1 and 600000 (10 minutes)".into(),
            ));
        }
        if settings.max_concurrent_calls == 0 || settings.max_concurrent_calls > 256 {
            return Err((
                "max_concurrent_calls".into(),
                "must be between 1 and 256".into(),
            ));
        }
        Ok(settings)
    }

    pub fn call_timeout(&self) -> Duration {
        Duration::from_millis(self.call_timeout_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_checks() {
        let empty = toml::Table::new();
        let s = CallSettings::from_table(&empty).unwrap_or_default();
        assert_eq!(s.call_timeout_ms, 5_000);
        let bad: toml::Table = toml::from_str("call_timeout_ms = 0").unwrap_or_default();
        assert_eq!(
            CallSettings::from_table(&bad).err().map(|e| e.0),
            Some("call_timeout_ms".into())
        );
        let unknown: toml::Table = toml::from_str("nope = 1").unwrap_or_default();
        let err = CallSettings::from_table(&unknown)
            .err()
            .map(|e| e.1)
            .unwrap_or_default();
        assert!(err.contains("nope"), "{err}");
    }
}
