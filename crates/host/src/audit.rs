//! The audit trail: one JSON line per finished request, never a password (the record
//! type cannot hold one). Written by a dedicated thread so a slow disk never stalls
//! the runtime.
//!
//! The queue to that thread is bounded ([`QUEUE`] records). A request never waits for
//! the disk: when the queue is full (the disk has stalled for thousands of records) the
//! record is left out of the file, counted in `writeback_audit_dropped_total` and logged
//! as an error; its summary is still in the process log (target `writeback::audit`).
//! The thread writes what has queued up as one batch and fsyncs the file after each
//! batch, so a crash or power loss loses at most the records still queued plus the
//! batch being written ([`BATCH`] records), and in practice those of the last
//! milliseconds.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::thread::JoinHandle;

use serde::Serialize;
use writeback_core::event::TargetResult;
use writeback_core::{CloudIdentity, Initiator, OperationKind, OutcomeCode};

/// Records waiting for the writer thread at most.
pub const QUEUE: usize = 4096;

/// Records written between two fsyncs at most.
pub const BATCH: usize = 256;

#[derive(Clone, Debug, Serialize)]
pub struct AuditRecord {
    pub time: String,
    pub request_id: String,
    pub source: String,
    pub operation: OperationKind,
    pub identity: CloudIdentity,
    pub initiator: Initiator,
    pub targets: Vec<TargetResult>,
    pub outcome: OutcomeCode,
    pub message: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub admin_detail: Option<String>,
    pub duration_ms: u64,
    /// The request's work finished after its deadline; the caller was told `timeout`.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub after_deadline: bool,
    /// A repeated request id answered with the first outcome; nothing applied.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub duplicate: bool,
}

pub struct AuditLog {
    sender: Option<mpsc::SyncSender<AuditRecord>>,
    writer: Option<JoinHandle<()>>,
    /// Records the full queue could not take (shared with the metrics).
    dropped: Arc<AtomicU64>,
}

impl AuditLog {
    /// Opens (creating, appending) the file; `None` logs records through tracing only.
    /// `dropped` counts records left out because the queue was full.
    pub fn open(path: Option<&Path>, dropped: Arc<AtomicU64>) -> Result<AuditLog, String> {
        Self::open_with_queue(path, dropped, QUEUE)
    }

    fn open_with_queue(
        path: Option<&Path>,
        dropped: Arc<AtomicU64>,
        queue: usize,
    ) -> Result<AuditLog, String> {
        let Some(path) = path else {
            return Ok(AuditLog {
                sender: None,
                writer: None,
                dropped,
            });
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| format!("cannot create the audit directory {}: {e}", dir.display()))?;
        }
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| format!("cannot open the audit file {}: {e}", path.display()))?;
        let (sender, receiver) = mpsc::sync_channel::<AuditRecord>(queue);
        let shown = path.display().to_string();
        let writer = std::thread::Builder::new()
            .name("writeback-audit".into())
            .spawn(move || write_batches(file, &receiver, &shown))
            .map_err(|e| format!("cannot start the audit writer: {e}"))?;
        Ok(AuditLog {
            sender: Some(sender),
            writer: Some(writer),
            dropped,
        })
    }

    /// Also the request's one log line at the default level (sources log theirs at
    /// debug), so a busy host writes one line per request besides the audit file.
    pub fn record(&self, record: AuditRecord) {
        tracing::info!(
            target: "writeback::audit",
            request_id = %record.request_id,
            source = %record.source,
            operation = %record.operation,
            identity = %record.identity.label(),
            outcome = %record.outcome,
            duration_ms = record.duration_ms,
            duplicate = record.duplicate,
            after_deadline = record.after_deadline,
            admin_detail = record.admin_detail.as_deref().unwrap_or(""),
            "request finished"
        );
        let Some(sender) = &self.sender else { return };
        match sender.try_send(record) {
            Ok(()) => {}
            Err(mpsc::TrySendError::Full(record)) => {
                let total = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
                tracing::error!(
                    request_id = %record.request_id,
                    dropped_total = total,
                    "the audit file is not keeping up (queue of {} records full): this record \
                     is only in this log; check the audit disk",
                    QUEUE
                );
            }
            Err(mpsc::TrySendError::Disconnected(record)) => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
                tracing::error!(request_id = %record.request_id,
                    "the audit writer has stopped: this record is only in this log");
            }
        }
    }

    /// Writes what is queued and closes the file.
    pub fn close(&mut self) {
        self.sender.take();
        if let Some(writer) = self.writer.take() {
            let _ = writer.join();
        }
    }
}

impl Drop for AuditLog {
    fn drop(&mut self) {
        self.close();
    }
}

/// The writer thread: takes what has queued up (up to [`BATCH`]), writes it, fsyncs,
/// and again, until every sender is gone.
fn write_batches(file: File, receiver: &mpsc::Receiver<AuditRecord>, shown: &str) {
    let mut out = BufWriter::new(file);
    while let Ok(first) = receiver.recv() {
        let mut batch = vec![first];
        while batch.len() < BATCH {
            match receiver.try_recv() {
                Ok(record) => batch.push(record),
                Err(_) => break,
            }
        }
        let mut written: std::io::Result<()> = Ok(());
        for record in &batch {
            written = written.and_then(|_| {
                serde_json::to_writer(&mut out, record)
                    .map_err(std::io::Error::from)
                    .and_then(|_| out.write_all(b"\n"))
            });
        }
        let written = written
            .and_then(|_| out.flush())
            .and_then(|_| out.get_ref().sync_data());
        if let Err(e) = written {
            tracing::error!(file = %shown, error = %e, records = batch.len(),
                "cannot write or sync audit records; check the audit disk");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: &str) -> AuditRecord {
        AuditRecord {
            time: "2026-12-03T21:00:00Z".into(),
            request_id: id.into(),
            source: "test".into(),
            operation: OperationKind::Reset,
            identity: CloudIdentity::default(),
            initiator: Initiator::default(),
            targets: vec![],
            outcome: OutcomeCode::Succeeded,
            message: String::new(),
            rules: vec![],
            admin_detail: None,
            duration_ms: 1,
            after_deadline: false,
            duplicate: false,
        }
    }

    fn lines(path: &Path) -> Vec<String> {
        std::fs::read_to_string(path)
            .unwrap_or_default()
            .lines()
            .map(String::from)
            .collect()
    }

    #[test]
    fn every_record_reaches_the_file_in_order() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("audit.jsonl");
        let dropped = Arc::new(AtomicU64::new(0));
        let mut log =
            AuditLog::open(Some(&path), dropped.clone()).unwrap_or_else(|e| panic!("{e}"));
        for i in 0..1000 {
            log.record(record(&format!("r{i}")));
            if i % 100 == 0 {
                std::thread::yield_now();
            }
        }
        log.close();
        let got = lines(&path);
        assert_eq!(got.len() as u64 + dropped.load(Ordering::Relaxed), 1000);
        let ids: Vec<String> = got
            .iter()
            .map(|l| {
                serde_json::from_str::<serde_json::Value>(l).unwrap_or_default()["request_id"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string()
            })
            .collect();
        let mut sorted = ids.clone();
        sorted.sort_by_key(|id| id[1..].parse::<u32>().unwrap_or(u32::MAX));
        assert_eq!(ids, sorted, "records keep their order");
    }

    /// A full queue never blocks the caller: the record is counted as dropped.
    #[test]
    fn a_full_queue_counts_and_does_not_block() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("audit.jsonl");
        let dropped = Arc::new(AtomicU64::new(0));
        // A queue of one and a writer that cannot drain it fast enough for 5,000 records
        // sent back to back: some must be dropped, and record() must return each time.
        let mut log = AuditLog::open_with_queue(Some(&path), dropped.clone(), 1)
            .unwrap_or_else(|e| panic!("{e}"));
        let started = std::time::Instant::now();
        for i in 0..5000 {
            log.record(record(&format!("r{i}")));
        }
        let took = started.elapsed();
        log.close();
        let lost = dropped.load(Ordering::Relaxed);
        assert!(lost > 0, "a queue of one kept up with 5,000 records");
        assert_eq!(lines(&path).len() as u64 + lost, 5000);
        assert!(
            took < std::time::Duration::from_secs(5),
            "record() blocked: {took:?}"
        );
    }
}
