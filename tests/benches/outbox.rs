//! Outbox throughput: N notifications persisted to SQLite and delivered by the outbox's
//! loop to a real local webhook receiver (signature checked, deduplicated), beside a
//! bare loop posting the same signed webhooks with the same notifier and concurrency but
//! no persistence. Prints a table and the ratios.
//!
//! `cargo bench -p writeback-tests --bench outbox` (N with OUTBOX_BENCH_N). It lives
//! here, not in crates/outbox, because it needs a connector (the webhook notifier): a
//! low crate's dev-dependencies do not pull in connectors.
// Test code: a failed step stops the test with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;
use writeback_core::{
    BuildContext, CloudIdentity, ConnectorConfig, ConnectorFactory, ConnectorKind, Event,
    Initiator, Notifier, OperationKind, Outcome, Password, SecretRef, SecretResolver,
};
use writeback_outbox::{Outbox, OutboxConfig, Store, SyncMode};
use writeback_testkit::http_receiver::HttpReceiver;

const SECRET: &str = "whsec_YmVuY2gtb3V0Ym94LXRocm91Z2hwdXQtc2VjcmV0LTE=";
const CONCURRENCY: usize = 16;

struct InlineOnly;

impl SecretResolver for InlineOnly {
    fn resolve(&self, secret: &SecretRef) -> Result<Password, writeback_core::SecretError> {
        secret.value.clone().ok_or_else(|| {
            writeback_core::SecretError::Unsupported("the bench uses inline secrets".into())
        })
    }
}

async fn notifier(url: &str) -> Arc<dyn Notifier> {
    let table: toml::Table = toml::from_str(&format!(
        "url = \"{url}\"\nsecret = {{ value = \"{SECRET}\" }}\nretries = 0\ntimeout_seconds = 10\n"
    ))
    .unwrap_or_else(|e| panic!("{e}"));
    let config = ConnectorConfig::in_code(ConnectorKind::Notifier, "webhook", "hook", table);
    let ctx = BuildContext {
        secrets: &InlineOnly,
        base_dir: Path::new("."),
    };
    writeback_notifier_webhook::WebhookNotifierFactory
        .build(&config, &ctx)
        .await
        .unwrap_or_else(|e| panic!("notifier: {e}"))
}

fn event(run: &str, i: usize) -> Event {
    Event {
        event_id: format!("{run}-{i}"),
        time: "2026-11-25T10:42:00Z".into(),
        request_id: format!("req-{i}"),
        source: "bench".into(),
        operation: OperationKind::Reset,
        identity: CloudIdentity {
            upn: Some(format!("user{i}@example.org")),
            ..Default::default()
        },
        initiator: Initiator::default(),
        targets: vec![],
        outcome: Outcome::succeeded(),
        after_deadline: false,
    }
}

/// Posts every event straight away with `CONCURRENCY` workers; nothing stored.
async fn bare(n: usize) -> Duration {
    let receiver = HttpReceiver::start(SECRET).unwrap_or_else(|e| panic!("{e}"));
    let hook = notifier(&receiver.url()).await;
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let workers: Vec<_> = (0..CONCURRENCY)
        .map(|_| {
            let (hook, next) = (hook.clone(), next.clone());
            tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= n {
                        return;
                    }
                    if let Err(e) = hook.notify(&event("bare", i)).await {
                        panic!("bare post failed: {e}");
                    }
                }
            })
        })
        .collect();
    for w in workers {
        let _ = w.await;
    }
    let took = started.elapsed();
    assert_eq!(receiver.deliveries().len(), n);
    took
}

/// Persists every event (each from its own task, as the host does) while the outbox's
/// loop delivers them; the clock stops when the receiver has all of them.
async fn outbox(n: usize, sync: SyncMode) -> Duration {
    let receiver = HttpReceiver::start(SECRET).unwrap_or_else(|e| panic!("{e}"));
    let hook = notifier(&receiver.url()).await;
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let mut config = OutboxConfig::at(dir.path().join("outbox.db"));
    config.sync = sync;
    config.concurrency = CONCURRENCY;
    let store = Store::open_for_delivery(&config.path, sync).unwrap_or_else(|e| panic!("{e}"));
    let outbox = Outbox::with_store(store, config, vec![("hook".into(), hook)]);
    let stop = CancellationToken::new();
    let delivery = tokio::spawn(outbox.clone().run(stop.clone()));
    let names = vec!["hook".to_string()];
    let started = Instant::now();
    // As the host's dispatcher does: each event is persisted by its own task, so
    // events that arrive together share a commit.
    for i in 0..n {
        let (outbox, names) = (outbox.clone(), names.clone());
        tokio::spawn(async move {
            if let Err(e) = outbox.enqueue(&event("outbox", i), &names).await {
                panic!("enqueue: {e}");
            }
        });
    }
    while receiver.deliveries().len() < n {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let took = started.elapsed();
    stop.cancel();
    let _ = delivery.await;
    took
}

fn main() {
    let n: usize = std::env::var("OUTBOX_BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    runtime.block_on(async {
        // Warm-up (connections, page cache), not measured.
        bare(100).await;
        outbox(100, SyncMode::Normal).await;
        let base = bare(n).await;
        let normal = outbox(n, SyncMode::Normal).await;
        let full = outbox(n, SyncMode::Full).await;
        let rate = |d: Duration| n as f64 / d.as_secs_f64();
        println!(
            "outbox throughput: {n} signed webhooks to a local receiver, {CONCURRENCY} in flight"
        );
        println!(
            "{:<44} {:>10} {:>12} {:>8}",
            "mode", "time (s)", "notif./s", "ratio"
        );
        for (name, d) in [
            ("bare loop (no persistence)", base),
            ("outbox, sync = \"normal\"", normal),
            ("outbox, sync = \"full\" (default)", full),
        ] {
            println!(
                "{:<44} {:>10.3} {:>12.0} {:>8.2}",
                name,
                d.as_secs_f64(),
                rate(d),
                rate(d) / rate(base)
            );
        }
    });
}
