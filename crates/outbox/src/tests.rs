//! The delivery rules, with an in-process notifier that fails on demand (a unit test
//! of the loop's bookkeeping; real receivers are in tests/e2e/notifications.rs).

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use writeback_core::{
    CloudIdentity, Event, Initiator, Notifier, NotifyError, OperationKind, Outcome,
};

use crate::{ListFilter, Outbox, OutboxConfig, RowState, Store, SyncMode};

struct Flaky {
    fail_first: u32,
    retryable: bool,
    calls: AtomicU32,
}

#[async_trait]
impl Notifier for Flaky {
    async fn notify(&self, _event: &Event) -> Result<(), NotifyError> {
        let n = self.calls.fetch_add(1, Ordering::SeqCst);
        if n < self.fail_first {
            return Err(NotifyError {
                message: format!("down ({n})"),
                retryable: self.retryable,
            });
        }
        Ok(())
    }
}

fn event(id: &str) -> Event {
    Event {
        event_id: id.into(),
        time: "2026-11-25T10:42:00Z".into(),
        request_id: "r".into(),
        source: "s".into(),
        operation: OperationKind::Reset,
        identity: CloudIdentity::default(),
        initiator: Initiator::default(),
        targets: vec![],
        outcome: Outcome::succeeded(),
        after_deadline: false,
    }
}

fn config(dir: &tempfile::TempDir) -> OutboxConfig {
    let mut c = OutboxConfig::at(dir.path().join("outbox.db"));
    c.backoff_initial_ms = 1;
    c.backoff_max_ms = 2;
    c.max_attempts = 3;
    c
}

async fn drain(outbox: &Arc<Outbox>) {
    for _ in 0..50 {
        let _ = outbox.deliver_due_now().await;
        tokio::time::sleep(std::time::Duration::from_millis(3)).await;
    }
}

#[tokio::test]
async fn retries_then_delivers_and_dead_letters_after_max_attempts() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let ok_later = Arc::new(Flaky {
        fail_first: 2,
        retryable: true,
        calls: AtomicU32::new(0),
    });
    let never = Arc::new(Flaky {
        fail_first: 99,
        retryable: true,
        calls: AtomicU32::new(0),
    });
    let outbox = Outbox::open(
        config(&dir),
        vec![
            ("a".into(), ok_later.clone() as Arc<dyn Notifier>),
            ("b".into(), never.clone()),
        ],
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    let names = outbox.notifier_names();
    assert_eq!(outbox.enqueue(&event("e1"), &names).await.ok(), Some(2));
    // the same event again adds nothing: the key is the idempotency key
    assert_eq!(outbox.enqueue(&event("e1"), &names).await.ok(), Some(0));
    drain(&outbox).await;
    assert_eq!(ok_later.calls.load(Ordering::SeqCst), 3);
    assert_eq!(never.calls.load(Ordering::SeqCst), 3);
    let rows = outbox
        .store()
        .list(ListFilter::default())
        .unwrap_or_default();
    let state = |n: &str| {
        rows.iter()
            .find(|r| r.notifier == n)
            .map(|r| (r.state, r.attempts))
    };
    assert_eq!(state("a"), Some((RowState::Delivered, 3)));
    assert_eq!(state("b"), Some((RowState::Dead, 3)));
    // retry brings the dead row back with fresh attempts
    assert_eq!(outbox.store().retry(&[]).ok(), Some(1));
    drain(&outbox).await;
    assert_eq!(never.calls.load(Ordering::SeqCst), 6);
}

#[tokio::test]
async fn permanent_errors_dead_letter_at_once() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let bad = Arc::new(Flaky {
        fail_first: 99,
        retryable: false,
        calls: AtomicU32::new(0),
    });
    let outbox = Outbox::open(
        config(&dir),
        vec![("a".into(), bad.clone() as Arc<dyn Notifier>)],
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    let _ = outbox.enqueue(&event("e1"), &["a".into()]).await;
    drain(&outbox).await;
    assert_eq!(bad.calls.load(Ordering::SeqCst), 1);
    let dead = outbox.store().list(ListFilter {
        state: Some(RowState::Dead),
        limit: None,
    });
    assert_eq!(dead.map(|d| d.len()).ok(), Some(1));
}

#[test]
fn rows_in_flight_at_a_crash_are_due_on_the_next_open() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = dir.path().join("o.db");
    {
        let store = Store::open(&path, SyncMode::Normal).unwrap_or_else(|e| panic!("{e}"));
        let n = crate::Notification::Outcome(Box::new(event("e1")));
        let _ = store.enqueue(&n, &["a".into()]);
        assert_eq!(store.claim_due(i64::MAX, 10).map(|r| r.len()).ok(), Some(1));
        assert_eq!(store.claim_due(i64::MAX, 10).map(|r| r.len()).ok(), Some(0));
        // dropped without recording a result: as if killed mid-delivery
    }
    let store = Store::open(&path, SyncMode::Normal).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        store
            .claim_due(crate::store::now_ms(), 10)
            .map(|r| r.len())
            .ok(),
        Some(1)
    );
}

#[tokio::test]
async fn purge_never_deletes_pending_rows() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let ok = Arc::new(Flaky {
        fail_first: 0,
        retryable: true,
        calls: AtomicU32::new(0),
    });
    let outbox = Outbox::open(config(&dir), vec![("a".into(), ok as Arc<dyn Notifier>)])
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let _ = outbox.enqueue(&event("delivered"), &["a".into()]).await;
    drain(&outbox).await;
    let _ = outbox.enqueue(&event("pending"), &["a".into()]).await;
    let store = outbox.store();
    assert_eq!(
        store
            .purge(
                &[RowState::Pending, RowState::Delivered, RowState::Dead],
                i64::MAX
            )
            .ok(),
        Some(1)
    );
    let left = store.list(ListFilter::default()).unwrap_or_default();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].state, RowState::Pending);
}
