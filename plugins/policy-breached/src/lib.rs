//! Policy `breached`: refuses passwords that appear in a breach corpus, offline.
//!
//! The corpus is a filter file built by `writeback breached build` from the Have I Been
//! Pwned "Pwned Passwords" SHA-1 download (see `writeback-breached-filter`). The file
//! is memory-mapped when the policy is built; a check hashes the candidate with SHA-1
//! and reads three 16-bit slots. Nothing leaves the machine.
//!
//! A password that is not in the corpus is refused with probability 1 in 65,536 (the
//! filter's false-positive rate): the message says to choose another, which is always
//! possible.
//!
//! Rule id: `breached.found`.

use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use serde::Deserialize;
use writeback_breached_filter::BreachedFilter;
use writeback_core::{
    BuildContext, ConfigError, ConnectorConfig, Outcome, Password, Policy, PolicyContext,
    RuleViolation, TypedFactory,
};
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

/// The rule's default message.
pub const MESSAGE: &str =
    "This password appears in lists of passwords exposed in data breaches, so attackers \
                           try it first. Choose a different one.";

pub struct BreachedPolicy {
    filter: BreachedFilter,
    targets: TargetScope,
}

impl BreachedPolicy {
    pub fn new(filter: BreachedFilter, targets: TargetScope) -> Self {
        BreachedPolicy { filter, targets }
    }

    /// The verdict for one password (no scoping).
    pub fn check(&self, password: &str) -> Vec<RuleViolation> {
        if self.filter.contains_password(password) {
            vec![RuleViolation::new("breached.found", MESSAGE)]
        } else {
            Vec::new()
        }
    }
}

#[async_trait]
impl Policy for BreachedPolicy {
    async fn evaluate(
        &self,
        password: &Password,
        context: &PolicyContext<'_>,
    ) -> Result<Vec<RuleViolation>, Outcome> {
        if !self.targets.applies(context) {
            return Ok(Vec::new());
        }
        // a page fault on a cold file is a disk read, but one of three 2-byte reads:
        // well under a millisecond, not worth a trip to the blocking pool
        Ok(self.check(password.expose()))
    }

    fn rule_ids(&self) -> Vec<String> {
        vec!["breached.found".to_string()]
    }
}

/// Registers as `type = "breached"`.
pub struct BreachedFactory;

#[async_trait]
impl TypedFactory<dyn Policy> for BreachedFactory {
    type Config = BreachedConfig;
    const TYPE_NAME: &'static str = "breached";
    const DESCRIPTION: &'static str = "Refuses passwords found in a breach corpus (HIBP Pwned Passwords), offline, from a memory-mapped filter.";

    async fn build_from(
        &self,
        c: BreachedConfig,
        config: &ConnectorConfig,
        ctx: &BuildContext<'_>,
    ) -> Result<Arc<dyn Policy>, ConfigError> {
        let path = ctx.path(&c.file);
        let verify = c.verify_checksum;
        // opening verifies a checksum over the whole file (seconds for the full corpus)
        let opened = tokio::task::spawn_blocking(move || BreachedFilter::open(&path, verify))
            .await
            .map_err(|e| config.error("file", format!("opening the file stopped: {e}")))?;
        let filter = opened.map_err(|e| config.error("file", e.to_string()))?;
        Ok(Arc::new(BreachedPolicy::new(filter, c.targets)))
    }
}
