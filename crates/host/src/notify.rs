//! Where finished requests leave the pipeline for the notifiers. The source's reply
//! never waits on this: delivery runs in the background.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::task::TaskTracker;
use writeback_core::{Event, Notifier};

use crate::config::NotifierSettings;

/// A configured notifier with its name and outcome filter.
#[derive(Clone)]
pub struct NotifierEntry {
    pub name: String,
    pub notifier: Arc<dyn Notifier>,
    pub settings: NotifierSettings,
}

impl NotifierEntry {
    pub fn wants(&self, event: &Event) -> bool {
        self.settings.on.is_empty() || self.settings.on.contains(&event.outcome.code)
    }
}

/// Hands events to notifiers.
#[async_trait::async_trait]
pub trait Dispatcher: Send + Sync {
    /// Takes the event; must not wait for delivery.
    fn dispatch(&self, event: Event);

    /// On shutdown: finish or persist what is pending, within `grace`.
    async fn drain(&self, _grace: Duration) {}
}

/// Delivers straight away, in the background, with a few retries on retryable
/// errors. Lost if the process stops first: use an outbox for delivery that survives.
pub struct DirectDispatcher {
    pub notifiers: Vec<NotifierEntry>,
    pub tasks: TaskTracker,
    pub attempts: u32,
}

#[async_trait::async_trait]
impl Dispatcher for DirectDispatcher {
    async fn drain(&self, grace: Duration) {
        self.tasks.close();
        if tokio::time::timeout(grace, self.tasks.wait()).await.is_err() {
            tracing::warn!("shutdown: some notifications were not delivered in time");
        }
    }

    fn dispatch(&self, event: Event) {
        let event = Arc::new(event);
        for entry in self.notifiers.iter().filter(|n| n.wants(&event)) {
            let entry = entry.clone();
            let event = event.clone();
            let attempts = self.attempts.max(1);
            self.tasks.spawn(async move {
                for attempt in 1..=attempts {
                    match entry.notifier.notify(&event).await {
                        Ok(()) => return,
                        Err(e) if e.retryable && attempt < attempts => {
                            tracing::warn!(notifier = %entry.name, event_id = %event.event_id,
                                attempt, error = %e, "notification failed; retrying");
                            tokio::time::sleep(Duration::from_millis(200 * 2u64.pow(attempt))).await;
                        }
                        Err(e) => {
                            tracing::error!(notifier = %entry.name, event_id = %event.event_id,
                                attempt, error = %e, "notification not delivered");
                            return;
                        }
                    }
                }
            });
        }
    }
}
