//! Where finished requests leave the pipeline for the notifiers. The source's reply
//! never waits on this: delivery runs in the background.
//!
//! Without `[outbox]` in the config, [`DirectDispatcher`] delivers straight away with a
//! few retries (lost if writeback stops first). With it, [`OutboxDispatcher`] stores
//! every notification on disk first and delivers from there (see `writeback-outbox`).
//! The scheduled expiry scan is a service of its own (crate::expiry).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use writeback_core::{ConfigError, Event, Notifier, OutcomeCode};
use writeback_outbox::{Outbox, OutboxConfig, Store};

use crate::config::{Config, NotifierSettings};

/// A configured notifier with its name and outcome filter.
#[derive(Clone)]
pub struct NotifierEntry {
    pub name: String,
    pub notifier: Arc<dyn Notifier>,
    pub settings: NotifierSettings,
}

impl NotifierEntry {
    pub fn wants(&self, event: &Event) -> bool {
        self.wants_code(event.outcome.code)
    }

    fn wants_code(&self, code: OutcomeCode) -> bool {
        self.settings.on.is_empty() || self.settings.on.contains(&code)
    }
}

/// Hands events to notifiers.
#[async_trait::async_trait]
pub trait Dispatcher: Send + Sync {
    /// Takes the event; must not wait for delivery.
    fn dispatch(&self, event: Event);

    /// Whether any notifier takes an event with this outcome: when none does, the
    /// pipeline does not build the event at all (an id, a time, copies per request).
    fn wants(&self, _code: OutcomeCode) -> bool {
        true
    }

    /// Called when the host starts serving: background work that should not run for
    /// `check-config` starts here.
    fn start(&self, _shutdown: CancellationToken) {}

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
    fn wants(&self, code: OutcomeCode) -> bool {
        self.notifiers.iter().any(|n| n.wants_code(code))
    }

    async fn drain(&self, grace: Duration) {
        self.tasks.close();
        if tokio::time::timeout(grace, self.tasks.wait())
            .await
            .is_err()
        {
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
                            tokio::time::sleep(Duration::from_millis(200 * 2u64.pow(attempt)))
                                .await;
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

/// `[outbox]`, if the file has one (checked at load, `path` absolute).
pub fn outbox_config(config: &Config) -> Result<Option<OutboxConfig>, ConfigError> {
    Ok(config.outbox.clone())
}

/// The outbox behind a dispatcher, when the config has one (the expiry service queues
/// its reminders there).
pub type OutboxHandle = Option<Arc<Outbox>>;

/// The dispatcher the config asks for: the durable outbox when there is an `[outbox]`
/// (returned too, for the expiry service), direct delivery otherwise. Starts the
/// outbox's delivery loop, which first delivers what an earlier run left pending.
pub fn dispatcher_for(
    config: &Config,
    notifiers: Vec<NotifierEntry>,
) -> Result<(Arc<dyn Dispatcher>, OutboxHandle), ConfigError> {
    let Some(outbox_config) = config.outbox.clone() else {
        let direct = DirectDispatcher {
            notifiers,
            tasks: TaskTracker::new(),
            attempts: 3,
        };
        return Ok((Arc::new(direct), None));
    };
    let store = Store::open(&outbox_config.path, outbox_config.sync)
        .map_err(|e| config.source.error("outbox.path", e.to_string()))?;
    // Another process (a running `writeback run` beside `check-config`, say) may be
    // delivering from this file: then this one only persists, and the loop takes over
    // delivery if that process stops.
    match store.try_become_deliverer() {
        Ok(true) => {}
        Ok(false) => tracing::warn!(
            path = %outbox_config.path.display(),
            "another process delivers from this outbox; this one only queues notifications \
             until that process stops"
        ),
        Err(e) => return Err(config.source.error("outbox.path", e.to_string())),
    }
    let outbox = Outbox::with_store(
        store,
        outbox_config,
        notifiers
            .iter()
            .map(|n| (n.name.clone(), n.notifier.clone()))
            .collect(),
    );
    let stop = CancellationToken::new();
    let delivery = tokio::spawn(outbox.clone().run(stop.clone()));
    let dispatcher = OutboxDispatcher {
        outbox: outbox.clone(),
        notifiers,
        persisting: TaskTracker::new(),
        stop,
        delivery: Mutex::new(Some(delivery)),
    };
    Ok((Arc::new(dispatcher), Some(outbox)))
}

/// Persists each event in the outbox (one row per notifier that wants it) and lets the
/// outbox's loop deliver it, with backoff, dead letters and restart recovery.
pub struct OutboxDispatcher {
    outbox: Arc<Outbox>,
    notifiers: Vec<NotifierEntry>,
    persisting: TaskTracker,
    stop: CancellationToken,
    delivery: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

#[async_trait::async_trait]
impl Dispatcher for OutboxDispatcher {
    fn wants(&self, code: OutcomeCode) -> bool {
        self.notifiers.iter().any(|n| n.wants_code(code))
    }

    fn dispatch(&self, event: Event) {
        let names: Vec<String> = self
            .notifiers
            .iter()
            .filter(|n| n.wants(&event))
            .map(|n| n.name.clone())
            .collect();
        if names.is_empty() {
            return;
        }
        let outbox = self.outbox.clone();
        // The source's reply does not wait for the disk either; shutdown waits for it.
        self.persisting.spawn(async move {
            if let Err(e) = outbox.enqueue(&event, &names).await {
                tracing::error!(event_id = %event.event_id, request_id = %event.request_id,
                    error = %e, "notification could not be stored and is lost");
            }
        });
    }

    async fn drain(&self, grace: Duration) {
        self.persisting.close();
        if tokio::time::timeout(grace, self.persisting.wait())
            .await
            .is_err()
        {
            tracing::warn!("shutdown: some notifications were not stored in time");
        }
        self.stop.cancel();
        let handle = self.delivery.lock().ok().and_then(|mut h| h.take());
        if let Some(handle) = handle {
            if tokio::time::timeout(grace, handle).await.is_err() {
                tracing::warn!(
                    "shutdown: deliveries still running; they are retried at the next start"
                );
            }
        }
    }
}
