//! The outbox as the host uses it: persist, then deliver in the background.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Notify, Semaphore};
use tokio_util::sync::CancellationToken;
use writeback_core::{Event, ExpiryReminder, Notifier, NotifyError};

use crate::batch::{spawn_writer, Write};
use crate::config::OutboxConfig;
use crate::notification::Notification;
use crate::store::{now_ms, Row, Store, StoreError};

/// How often the loop looks at the store even when nothing woke it: rows made due by
/// `writeback outbox retry` in another process are picked up within this time.
const POLL: Duration = Duration::from_secs(1);

/// How often delivered rows past `retain_delivered_days` are deleted.
const PURGE_EVERY: Duration = Duration::from_secs(3600);

pub struct Outbox {
    store: Arc<Store>,
    writes: tokio::sync::mpsc::UnboundedSender<Write>,
    notifiers: BTreeMap<String, Arc<dyn Notifier>>,
    config: OutboxConfig,
    wake: Notify,
}

impl Outbox {
    /// An outbox over an opened store, for these notifiers. Only the holder of the
    /// delivery lock delivers ([`Store::open_for_delivery`]); over a store from
    /// [`Store::open`], [`Outbox::run`] takes the lock when it is free and only persists
    /// until then. Call it inside a tokio runtime: it starts the task that writes to the
    /// store.
    pub fn with_store(
        store: Store,
        config: OutboxConfig,
        notifiers: Vec<(String, Arc<dyn Notifier>)>,
    ) -> Arc<Self> {
        let store = Arc::new(store);
        Arc::new(Outbox {
            writes: spawn_writer(store.clone()),
            store,
            notifiers: notifiers.into_iter().collect(),
            config,
            wake: Notify::new(),
        })
    }

    /// Opens the store at `config.path` (absolute, or relative to the working
    /// directory) as its deliverer ([`Store::open_for_delivery`]), for these notifiers,
    /// by name.
    pub async fn open(
        config: OutboxConfig,
        notifiers: Vec<(String, Arc<dyn Notifier>)>,
    ) -> Result<Arc<Self>, StoreError> {
        let (path, sync) = (config.path.clone(), config.sync);
        let store = tokio::task::spawn_blocking(move || Store::open_for_delivery(&path, sync))
            .await
            .map_err(|_| StoreError::Poisoned)??;
        Ok(Outbox::with_store(store, config, notifiers))
    }

    pub fn store(&self) -> Arc<Store> {
        self.store.clone()
    }

    /// The configured notifier names.
    pub fn notifier_names(&self) -> Vec<String> {
        self.notifiers.keys().cloned().collect()
    }

    /// Notifiers that send expiry reminders.
    pub fn reminder_notifiers(&self) -> Vec<String> {
        self.notifiers
            .iter()
            .filter(|(_, n)| n.sends_reminders())
            .map(|(k, _)| k.clone())
            .collect()
    }

    /// Persists the event for each named notifier; returns once it is on disk. Delivery
    /// happens later, in [`Outbox::run`].
    pub async fn enqueue(&self, event: &Event, notifiers: &[String]) -> Result<usize, StoreError> {
        let (reply, done) = tokio::sync::oneshot::channel();
        self.write(Write::Enqueue {
            notification: Box::new(Notification::Outcome(Box::new(event.clone()))),
            notifiers: notifiers.to_vec(),
            reply,
        })?;
        let added = done
            .await
            .map_err(|_| StoreError::Batch("the outbox writer stopped".into()))??;
        self.wake.notify_one();
        Ok(added)
    }

    fn write(&self, w: Write) -> Result<(), StoreError> {
        self.writes
            .send(w)
            .map_err(|_| StoreError::Batch("the outbox writer stopped".into()))
    }

    /// Waits until every write queued so far (delivery results included) is on disk.
    pub async fn flush(&self) {
        let (reply, done) = tokio::sync::oneshot::channel();
        if self.write(Write::Flush(reply)).is_ok() {
            let _ = done.await;
        }
    }

    /// Persists a reminder unless the ledger already has `ledger_key` (returns false).
    pub async fn enqueue_reminder(
        &self,
        reminder: &ExpiryReminder,
        notifiers: &[String],
        ledger_key: &str,
    ) -> Result<bool, StoreError> {
        let notification = Notification::ExpiryReminder(reminder.clone());
        let (names, key) = (notifiers.to_vec(), ledger_key.to_string());
        let fresh = self
            .blocking(move |s| s.enqueue_reminder(&notification, &names, &key))
            .await?;
        self.wake.notify_one();
        Ok(fresh)
    }

    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Store) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || f(&store))
            .await
            .map_err(|_| StoreError::Poisoned)?
    }

    /// Delivers due rows until `shutdown`, then waits (up to one attempt timeout) for
    /// the deliveries in flight. While another process holds the delivery lock, waits
    /// for it (checking every second) and delivers nothing. Rows still in flight at a
    /// crash are delivered again by the next deliverer: at least once.
    pub async fn run(self: Arc<Self>, shutdown: CancellationToken) {
        // While another process delivers from this file, this one only persists; it
        // takes over when that process ends (its lock goes with it).
        loop {
            match self.blocking(|s| s.try_become_deliverer()).await {
                Ok(true) => break,
                Ok(false) => {}
                Err(e) => tracing::error!(error = %e, "outbox: cannot take the delivery lock"),
            }
            tokio::select! {
                _ = tokio::time::sleep(POLL) => {}
                _ = shutdown.cancelled() => return,
            }
        }
        let slots = Arc::new(Semaphore::new(self.config.concurrency));
        let mut next_purge = std::time::Instant::now();
        loop {
            if shutdown.is_cancelled() {
                break;
            }
            if std::time::Instant::now() >= next_purge {
                next_purge += PURGE_EVERY;
                self.purge_old_deliveries().await;
            }
            let free = slots.available_permits();
            if free == 0 {
                tokio::select! {
                    permit = slots.acquire() => drop(permit),
                    _ = shutdown.cancelled() => break,
                }
                continue;
            }
            let rows = match self.blocking(move |s| s.claim_due(now_ms(), free)).await {
                Ok(rows) => rows,
                Err(e) => {
                    tracing::error!(error = %e, "outbox: cannot read due notifications; retrying");
                    self.idle(&shutdown, POLL).await;
                    continue;
                }
            };
            if rows.is_empty() {
                let wait = match self.blocking(|s| s.next_due()).await {
                    Ok(Some(at)) => Duration::from_millis((at - now_ms()).max(1) as u64).min(POLL),
                    _ => POLL,
                };
                self.idle(&shutdown, wait).await;
                continue;
            }
            for row in rows {
                let Ok(permit) = slots.clone().acquire_owned().await else {
                    break;
                };
                let me = self.clone();
                tokio::spawn(async move {
                    me.deliver(row).await;
                    drop(permit);
                });
            }
        }
        let all = self.config.concurrency as u32;
        let _ = tokio::time::timeout(self.config.attempt_timeout(), slots.acquire_many(all)).await;
    }

    /// Deletes delivered rows older than `retain_delivered_days`, so the file does not
    /// grow forever.
    async fn purge_old_deliveries(&self) {
        let days = self.config.retain_delivered_days;
        if days == 0 {
            return;
        }
        let before = now_ms() - (days as i64) * 86_400_000;
        match self
            .blocking(move |s| s.purge(&[crate::store::RowState::Delivered], before))
            .await
        {
            Ok(0) => {}
            Ok(n) => tracing::info!(
                deleted = n,
                days,
                "outbox: old delivered notifications deleted"
            ),
            Err(e) => {
                tracing::warn!(error = %e, "outbox: cannot delete old delivered notifications")
            }
        }
    }

    async fn idle(&self, shutdown: &CancellationToken, wait: Duration) {
        tokio::select! {
            _ = self.wake.notified() => {}
            _ = tokio::time::sleep(wait) => {}
            _ = shutdown.cancelled() => {}
        }
    }

    /// Delivers every row that is due now and those that become due while it runs, one
    /// pass, without the background loop (for `outbox` tooling and tests). Returns how
    /// many rows were attempted.
    pub async fn deliver_due_now(self: &Arc<Self>) -> Result<usize, StoreError> {
        let mut total = 0;
        loop {
            let limit = self.config.concurrency;
            let rows = self.blocking(move |s| s.claim_due(now_ms(), limit)).await?;
            if rows.is_empty() {
                return Ok(total);
            }
            total += rows.len();
            let tasks: Vec<_> = rows
                .into_iter()
                .map(|row| {
                    let me = self.clone();
                    tokio::spawn(async move { me.deliver(row).await })
                })
                .collect();
            for t in tasks {
                let _ = t.await;
            }
            self.flush().await;
        }
    }

    /// One attempt for one row, and its bookkeeping.
    async fn deliver(&self, row: Row) {
        let attempts = row.attempts.saturating_add(1);
        let result = match self.notifiers.get(&row.notifier) {
            None => Err(NotifyError {
                message: format!(
                    "notifier `{}` is not configured any more; add it back and run `writeback outbox retry`",
                    row.notifier
                ),
                retryable: false,
            }),
            Some(notifier) => {
                let attempt = async {
                    match &row.notification {
                        Notification::Outcome(e) => notifier.notify(e).await,
                        Notification::ExpiryReminder(r) => notifier.remind(r).await,
                    }
                };
                match tokio::time::timeout(self.config.attempt_timeout(), attempt).await {
                    Ok(r) => r,
                    Err(_) => Err(NotifyError {
                        message: format!(
                            "no answer within {} ms",
                            self.config.attempt_timeout_ms
                        ),
                        retryable: true,
                    }),
                }
            }
        };
        let (id, key, notifier) = (
            row.id,
            row.notification.key().to_string(),
            row.notifier.clone(),
        );
        let write = match result {
            Ok(()) => {
                tracing::debug!(notifier, key, attempts, "notification delivered");
                Write::Delivered { id, attempts }
            }
            Err(e) if e.retryable && attempts < self.config.max_attempts => {
                let delay = self.config.backoff().delay(attempts);
                tracing::warn!(notifier, key, attempts, retry_in_ms = delay.as_millis() as u64,
                    error = %e, "notification not delivered; will retry");
                Write::Retry {
                    id,
                    attempts,
                    next_at: now_ms() + delay.as_millis() as i64,
                    error: e.message,
                }
            }
            Err(e) => {
                tracing::error!(notifier, key, attempts, error = %e,
                    "notification dead-lettered; see `writeback outbox list --state dead`");
                Write::Dead {
                    id,
                    attempts,
                    error: e.message,
                }
            }
        };
        if let Err(e) = self.write(write) {
            // The row stays in flight until the next start, which delivers it again.
            tracing::error!(error = %e, "outbox: cannot record a delivery result");
        }
    }
}
