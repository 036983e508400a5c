//! The `breached` table (the filter file; its checks are opening it, at build time).

use std::path::PathBuf;

use serde::Deserialize;
use writeback_policy_support::TargetScope;

/// ```toml
/// [[policies]]
/// type = "breached"
/// file = "/var/lib/writeback/pwned.bin"   # from `writeback breached build`
/// verify_checksum = true                  # read the whole file once at start (default true)
/// targets = ["corp-ad"]                   # only for accounts in these targets (default: all)
/// ```
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BreachedConfig {
    pub file: PathBuf,
    #[serde(default = "yes")]
    pub verify_checksum: bool,
    #[serde(default)]
    pub targets: TargetScope,
}

fn yes() -> bool {
    true
}
