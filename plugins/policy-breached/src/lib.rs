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

mod config;
mod policy;

use std::sync::Arc;

use async_trait::async_trait;
use writeback_breached_filter::BreachedFilter;
use writeback_core::{BuildContext, ConfigError, ConnectorConfig, Policy, TypedFactory};

pub use config::BreachedConfig;
pub use policy::{BreachedPolicy, MESSAGE};

/// Registers as `type = "breached"`.
pub struct BreachedPolicyFactory;

/// The earlier name of [`BreachedPolicyFactory`].
pub use BreachedPolicyFactory as BreachedFactory;

#[async_trait]
impl TypedFactory<dyn Policy> for BreachedPolicyFactory {
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
