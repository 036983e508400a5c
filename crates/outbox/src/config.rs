//! The `[outbox]` table of the config file.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use crate::backoff::Backoff;

/// How hard SQLite works to keep a commit across a power cut. Both survive a crash or
/// SIGKILL of writeback itself (the write-ahead log is in the OS's hands at commit).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SyncMode {
    /// fsync at every commit: nothing committed is lost, even on power loss.
    #[default]
    Full,
    /// fsync at checkpoints only: faster; a power cut may lose the last commits.
    Normal,
}

/// `[outbox]`: where the store lives and how delivery retries.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutboxConfig {
    /// The SQLite file (created if missing; relative to the config file's directory).
    pub path: PathBuf,
    /// Attempts per notification before it is dead-lettered.
    #[serde(default = "default_max_attempts")]
    pub max_attempts: u32,
    /// Delay before the first retry, in milliseconds; it doubles each attempt.
    #[serde(default = "default_backoff_initial_ms")]
    pub backoff_initial_ms: u64,
    /// Longest delay between two attempts, in milliseconds.
    #[serde(default = "default_backoff_max_ms")]
    pub backoff_max_ms: u64,
    /// Deliveries in flight at once.
    #[serde(default = "default_concurrency")]
    pub concurrency: usize,
    /// Longest one delivery attempt may take, in milliseconds.
    #[serde(default = "default_attempt_timeout_ms")]
    pub attempt_timeout_ms: u64,
    #[serde(default)]
    pub sync: SyncMode,
    /// Delivered notifications are deleted this many days after delivery (0: kept
    /// until `writeback outbox purge`). Dead ones are kept for `outbox retry`.
    #[serde(default = "default_retain_delivered_days")]
    pub retain_delivered_days: u64,
}

fn default_max_attempts() -> u32 {
    10
}
fn default_backoff_initial_ms() -> u64 {
    2_000
}
fn default_backoff_max_ms() -> u64 {
    15 * 60 * 1000
}
fn default_concurrency() -> usize {
    16
}
fn default_attempt_timeout_ms() -> u64 {
    30_000
}
fn default_retain_delivered_days() -> u64 {
    30
}

impl OutboxConfig {
    /// A config with the defaults, for embedding and tests.
    pub fn at(path: impl Into<PathBuf>) -> Self {
        OutboxConfig {
            path: path.into(),
            max_attempts: default_max_attempts(),
            backoff_initial_ms: default_backoff_initial_ms(),
            backoff_max_ms: default_backoff_max_ms(),
            concurrency: default_concurrency(),
            attempt_timeout_ms: default_attempt_timeout_ms(),
            sync: SyncMode::default(),
            retain_delivered_days: default_retain_delivered_days(),
        }
    }

    /// Values that cannot work, as (key, message).
    pub fn check(&self) -> Result<(), (&'static str, String)> {
        if self.max_attempts == 0 {
            return Err(("max_attempts", "must be at least 1".into()));
        }
        if self.concurrency == 0 || self.concurrency > 1024 {
            return Err(("concurrency", "must be between 1 and 1024".into()));
        }
        if self.backoff_initial_ms == 0 || self.backoff_initial_ms > self.backoff_max_ms {
            return Err((
                "backoff_initial_ms",
                "must be at least 1 and not more than backoff_max_ms".into(),
            ));
        }
        if self.attempt_timeout_ms == 0 {
            return Err(("attempt_timeout_ms", "must be at least 1".into()));
        }
        if self.path.as_os_str().is_empty() {
            return Err(("path", "give the file the outbox is kept in".into()));
        }
        Ok(())
    }

    pub fn backoff(&self) -> Backoff {
        Backoff {
            initial: Duration::from_millis(self.backoff_initial_ms),
            max: Duration::from_millis(self.backoff_max_ms),
        }
    }

    pub fn attempt_timeout(&self) -> Duration {
        Duration::from_millis(self.attempt_timeout_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_checks() {
        let c: OutboxConfig = toml::from_str("path = \"o.db\"").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.max_attempts, 10);
        assert!(c.check().is_ok());
        let bad: OutboxConfig =
            toml::from_str("path = \"o.db\"\nmax_attempts = 0").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(bad.check().err().map(|e| e.0), Some("max_attempts"));
        assert!(toml::from_str::<OutboxConfig>("path = \"o\"\nnope = 1").is_err());
    }
}
