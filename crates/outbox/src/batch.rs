//! Group commit: writes that arrive together (new notifications, delivery results) go
//! to SQLite in one transaction, so one fsync serves many of them. A caller of
//! `enqueue` still returns only once its notification is on disk.

use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use crate::notification::Notification;
use crate::store::{Store, StoreError};

/// Most writes in one transaction.
const MAX_BATCH: usize = 512;

pub(crate) enum Write {
    Enqueue {
        notification: Box<Notification>,
        notifiers: Vec<String>,
        reply: oneshot::Sender<Result<usize, StoreError>>,
    },
    Delivered {
        id: i64,
        attempts: u32,
    },
    Retry {
        id: i64,
        attempts: u32,
        next_at: i64,
        error: String,
    },
    Dead {
        id: i64,
        attempts: u32,
        error: String,
    },
    /// Answered once every write queued before it is committed.
    Flush(oneshot::Sender<()>),
}

/// Starts the writer task (needs a tokio runtime); it ends when every sender is gone.
pub(crate) fn spawn_writer(store: Arc<Store>) -> mpsc::UnboundedSender<Write> {
    let (tx, mut rx) = mpsc::unbounded_channel::<Write>();
    tokio::spawn(async move {
        while let Some(first) = rx.recv().await {
            let mut batch = vec![first];
            while batch.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(w) => batch.push(w),
                    Err(_) => break,
                }
            }
            let store = store.clone();
            let written = tokio::task::spawn_blocking(move || {
                let result = store.write_batch(&batch);
                (batch, result)
            })
            .await;
            let Ok((batch, result)) = written else {
                tracing::error!("outbox: the writer thread panicked");
                continue;
            };
            if let Err(e) = &result {
                // Results not recorded stay in flight: they are delivered again on the
                // next start (at least once). New notifications get the error.
                tracing::error!(error = %e, "outbox: a batch of writes failed");
            }
            answer(batch, result);
        }
    });
    tx
}

fn answer(batch: Vec<Write>, result: Result<Vec<usize>, StoreError>) {
    let mut added = match &result {
        Ok(counts) => counts.clone().into_iter(),
        Err(_) => Vec::new().into_iter(),
    };
    for w in batch {
        match w {
            Write::Enqueue { reply, .. } => {
                let r = match &result {
                    Ok(_) => Ok(added.next().unwrap_or(0)),
                    Err(e) => Err(StoreError::Batch(e.to_string())),
                };
                let _ = reply.send(r);
            }
            Write::Flush(reply) => {
                let _ = reply.send(());
            }
            _ => {}
        }
    }
}
