//! Where finished requests leave the pipeline for the notifiers. The source's reply
//! never waits on this: delivery runs in the background.
//!
//! Without `[outbox]` in the config, [`DirectDispatcher`] delivers straight away with a
//! few retries (lost if writeback stops first). With it, [`OutboxDispatcher`] stores
//! every notification on disk first and delivers from there (see `writeback-outbox`),
//! and runs the scheduled expiry scan of `[expiry]`.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use writeback_core::config::parse_section;
use writeback_core::{ConfigError, DirectoryTarget, Event, Notifier};
use writeback_expiry::ExpiryConfig;
use writeback_outbox::{Outbox, OutboxConfig, Store};

use crate::config::{Config, NotifierSettings};
use crate::pipeline::TargetEntry;

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

    /// Called when the host starts serving: background work that should not run for
    /// `check-config` (the scheduled expiry scan) starts here.
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

/// Reads `[outbox]`, if the file has one; `path` made absolute against the config
/// file's directory.
pub fn outbox_config(config: &Config) -> Result<Option<OutboxConfig>, ConfigError> {
    let Some(value) = config.extra.get("outbox") else {
        return Ok(None);
    };
    let mut c: OutboxConfig = parse_section(&config.source, "outbox", value.clone())?;
    c.check()
        .map_err(|(key, m)| config.source.error(&format!("outbox.{key}"), m))?;
    if c.path.is_relative() {
        c.path = config.base_dir().join(&c.path);
    }
    Ok(Some(c))
}

/// Reads `[expiry]`, if the file has one, and checks the names it uses.
pub fn expiry_config(config: &Config) -> Result<Option<ExpiryConfig>, ConfigError> {
    let Some(value) = config.extra.get("expiry") else {
        return Ok(None);
    };
    let c: ExpiryConfig = parse_section(&config.source, "expiry", value.clone())?;
    c.check()
        .map_err(|(key, m)| config.source.error(&format!("expiry.{key}"), m))?;
    if !config.extra.contains_key("outbox") {
        return Err(config.source.error(
            "expiry",
            "expiry reminders need an [outbox] (it keeps who was reminded): add one with a `path`",
        ));
    }
    let unknown = |names: &Option<Vec<String>>, known: Vec<&str>, key: &str| {
        for name in names.iter().flatten() {
            if !known.contains(&name.as_str()) {
                return Err(config.source.error(
                    &format!("expiry.{key}"),
                    format!("no {key} named `{name}`; configured: {}", known.join(", ")),
                ));
            }
        }
        Ok(())
    };
    unknown(
        &c.targets,
        config.targets.iter().map(|t| t.name.as_str()).collect(),
        "targets",
    )?;
    unknown(
        &c.notifiers,
        config
            .notifiers
            .iter()
            .map(|(n, _)| n.name.as_str())
            .collect(),
        "notifiers",
    )?;
    Ok(Some(c))
}

/// The dispatcher the config asks for: the durable outbox when there is an `[outbox]`,
/// direct delivery otherwise. Starts the outbox's delivery loop, which first delivers
/// what an earlier run left pending.
pub fn dispatcher_for(
    config: &Config,
    notifiers: Vec<NotifierEntry>,
    targets: &[TargetEntry],
) -> Result<Arc<dyn Dispatcher>, ConfigError> {
    let expiry = expiry_config(config)?;
    let Some(outbox_config) = outbox_config(config)? else {
        return Ok(Arc::new(DirectDispatcher {
            notifiers,
            tasks: TaskTracker::new(),
            attempts: 3,
        }));
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
    Ok(Arc::new(OutboxDispatcher {
        outbox,
        notifiers,
        persisting: TaskTracker::new(),
        stop,
        delivery: Mutex::new(Some(delivery)),
        expiry: expiry.map(|c| {
            let targets = targets
                .iter()
                .map(|t| (t.name.clone(), t.target.clone()))
                .collect();
            (c, targets)
        }),
    }))
}

/// Directory targets by name, for the expiry scan.
type NamedTargets = Vec<(String, Arc<dyn DirectoryTarget>)>;

/// Persists each event in the outbox (one row per notifier that wants it) and lets the
/// outbox's loop deliver it, with backoff, dead letters and restart recovery.
pub struct OutboxDispatcher {
    outbox: Arc<Outbox>,
    notifiers: Vec<NotifierEntry>,
    persisting: TaskTracker,
    stop: CancellationToken,
    delivery: Mutex<Option<tokio::task::JoinHandle<()>>>,
    expiry: Option<(ExpiryConfig, NamedTargets)>,
}

impl OutboxDispatcher {
    pub fn outbox(&self) -> &Arc<Outbox> {
        &self.outbox
    }
}

#[async_trait::async_trait]
impl Dispatcher for OutboxDispatcher {
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

    fn start(&self, shutdown: CancellationToken) {
        if let Some((config, targets)) = &self.expiry {
            tokio::spawn(writeback_expiry::run_scheduled(
                self.outbox.clone(),
                targets.clone(),
                config.clone(),
                shutdown,
            ));
        }
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

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    const TARGET: &str = "[[targets]]\ntype = \"openldap\"\n\n";

    fn parse(text: &str) -> Config {
        Config::parse(text, Path::new("/etc/wb/wb.toml")).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn outbox_section_is_read_with_paths_relative_to_the_file() {
        let c = parse(&format!(
            "[outbox]\npath = \"state/outbox.db\"\nmax_attempts = 3\n\n{TARGET}"
        ));
        let o = outbox_config(&c).ok().flatten();
        let o = o.unwrap_or_else(|| panic!("no outbox"));
        assert_eq!(o.path, Path::new("/etc/wb/state/outbox.db"));
        assert_eq!(o.max_attempts, 3);
        assert!(outbox_config(&parse(TARGET)).ok().flatten().is_none());
    }

    #[test]
    fn outbox_and_expiry_errors_name_line_and_key() {
        let c = parse(&format!(
            "{TARGET}[outbox]\npath = \"o.db\"\nmax_attempts = 0\n"
        ));
        let e = outbox_config(&c)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            e.starts_with("/etc/wb/wb.toml:6: `outbox.max_attempts`"),
            "{e}"
        );

        let c = parse(&format!("{TARGET}[expiry]\nthresholds_days = [7]\n"));
        let e = expiry_config(&c)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("need an [outbox]"), "{e}");

        let c = parse(&format!(
            "{TARGET}[outbox]\npath = \"o.db\"\n[expiry]\ntargets = [\"nope\"]\n"
        ));
        let e = expiry_config(&c)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            e.contains("`expiry.targets`") && e.contains("no targets named `nope`"),
            "{e}"
        );
    }
}
