//! The `[expiry]` table of the config file.

use std::time::Duration;

use serde::Deserialize;

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpiryConfig {
    /// Days before expiry at which a person is reminded, once each.
    #[serde(default = "default_thresholds")]
    pub thresholds_days: Vec<u64>,
    /// Minutes between two scheduled scans (0: only `writeback expiry scan`).
    #[serde(default = "default_interval_minutes")]
    pub interval_minutes: u64,
    /// Targets to scan, by name (default: every target).
    #[serde(default)]
    pub targets: Option<Vec<String>>,
    /// Notifiers that send reminders, by name (default: every notifier that can).
    #[serde(default)]
    pub notifiers: Option<Vec<String>>,
}

fn default_thresholds() -> Vec<u64> {
    vec![14, 7, 1]
}

fn default_interval_minutes() -> u64 {
    12 * 60
}

impl Default for ExpiryConfig {
    fn default() -> Self {
        ExpiryConfig {
            thresholds_days: default_thresholds(),
            interval_minutes: default_interval_minutes(),
            targets: None,
            notifiers: None,
        }
    }
}

impl ExpiryConfig {
    /// Values that cannot work, as (key, message).
    pub fn check(&self) -> Result<(), (&'static str, String)> {
        if self.thresholds_days.is_empty() {
            return Err(("thresholds_days", "give at least one number of days".into()));
        }
        if self.thresholds_days.iter().any(|d| *d == 0 || *d > 365) {
            return Err((
                "thresholds_days",
                "each threshold must be 1 to 365 days".into(),
            ));
        }
        Ok(())
    }

    /// The thresholds, smallest first, without repeats.
    pub fn thresholds(&self) -> Vec<u64> {
        let mut t = self.thresholds_days.clone();
        t.sort_unstable();
        t.dedup();
        t
    }

    pub fn interval(&self) -> Option<Duration> {
        (self.interval_minutes > 0).then(|| Duration::from_secs(self.interval_minutes * 60))
    }
}
