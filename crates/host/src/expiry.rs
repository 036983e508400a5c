//! The scheduled expiry scan of `[expiry]` as a background service of its own: `Host::run`
//! starts it beside the sources, `check-config` never does. It queues reminders in the
//! outbox, whose delivery loop sends them.

use std::sync::Arc;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use writeback_core::DirectoryTarget;
use writeback_expiry::ExpiryConfig;
use writeback_outbox::Outbox;

/// What the scan needs: where reminders go, which directories, how often.
pub struct ExpiryService {
    pub outbox: Arc<Outbox>,
    pub targets: Vec<(String, Arc<dyn DirectoryTarget>)>,
    pub config: ExpiryConfig,
}

impl ExpiryService {
    /// Scans now and then every interval until `shutdown`.
    pub fn spawn(self, shutdown: CancellationToken) -> JoinHandle<()> {
        tokio::spawn(writeback_expiry::run_scheduled(
            self.outbox,
            self.targets,
            self.config,
            shutdown,
        ))
    }
}
