//! The audit trail: one JSON line per finished request, never a password (the record
//! type cannot hold one). Written by a dedicated thread so a slow disk never stalls
//! the runtime. Each line is chained to the one before it by hash, and each file starts
//! from the last hash of the file before it (see [`crate::audit_chain`]), so
//! `writeback audit verify` can name a changed, removed, inserted or reordered record.
//!
//! The queue to that thread is bounded ([`QUEUE`] records). A request never waits for
//! the disk: when the queue is full (the disk has stalled for thousands of records) the
//! record is left out of the file, counted in `writeback_audit_dropped_total` and logged
//! as an error; its summary is still in the process log (target `writeback::audit`).
//! A full queue or a failed write (full disk) raises the audit alarm on `/health` and
//! `writeback_audit_healthy`.
//! The thread writes what has queued up as one batch and fsyncs the file after each
//! batch, so a crash or power loss loses at most the records still queued plus the
//! batch being written ([`BATCH`] records), and in practice those of the last
//! milliseconds.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::audit_chain::{self, CheckpointKey};
use crate::error::AuditError;

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

/// What the admin endpoint and metrics show about the audit writer.
#[derive(Debug, Default)]
pub struct AuditHealth {
    /// Batches that could not be written or synced (full disk, I/O error).
    pub write_errors: AtomicU64,
    /// The last batch failed; cleared by the next one that is written.
    pub failing: AtomicBool,
    /// Unix seconds of the last record the full queue could not take (0: never).
    pub last_drop_unix: AtomicU64,
}

/// A record dropped within this long keeps the alarm up.
pub const DROP_ALARM: Duration = Duration::from_secs(300);

impl AuditHealth {
    /// `None` when healthy, else what is wrong and what to do.
    pub fn alarm(&self) -> Option<String> {
        if self.failing.load(Ordering::Relaxed) {
            return Some(
                "the audit file cannot be written (full disk or I/O error): records are \
                 only in the process log; free space on the audit disk"
                    .into(),
            );
        }
        let dropped = self.last_drop_unix.load(Ordering::Relaxed);
        if dropped != 0 && unix_now().saturating_sub(dropped) < DROP_ALARM.as_secs() {
            return Some(format!(
                "the audit queue was full in the last {} minutes: records were left out of \
                 the file; check that the audit disk keeps up",
                DROP_ALARM.as_secs() / 60
            ));
        }
        None
    }
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// How the audit file is written (from `[audit]`, paths already resolved).
#[derive(Clone, Default)]
pub struct AuditOptions {
    pub path: Option<PathBuf>,
    /// Start a new file (the old one renamed with a timestamp) past this size.
    pub rotate_bytes: Option<u64>,
    /// Keyed checkpoints: the key, and every how many records / seconds.
    pub checkpoint: Option<(CheckpointKey, u64, Duration)>,
}

/// Opens the audit log `[audit]` describes; `resolve` anchors relative paths. An error
/// names the config key at fault.
pub fn open_from_config(
    config: &crate::config::AuditConfig,
    resolve: impl Fn(&Path) -> PathBuf,
    dropped: Arc<AtomicU64>,
    health: Arc<AuditHealth>,
) -> Result<AuditLog, (&'static str, String)> {
    let checkpoint = match &config.checkpoint_key_file {
        Some(file) => {
            let key = CheckpointKey::from_file(&resolve(file))
                .map_err(|e| ("audit.checkpoint_key_file", e.to_string()))?;
            Some((
                key,
                config.checkpoint_every.max(1),
                Duration::from_secs(config.checkpoint_secs.max(1)),
            ))
        }
        None => None,
    };
    let options = AuditOptions {
        path: config.path.as_deref().map(&resolve),
        rotate_bytes: config.rotate_bytes,
        checkpoint,
    };
    AuditLog::open_with(options, dropped, health, QUEUE).map_err(|e| ("audit.path", e.to_string()))
}

pub struct AuditLog {
    sender: Option<mpsc::SyncSender<AuditRecord>>,
    writer: Option<JoinHandle<()>>,
    /// Records the full queue could not take (shared with the metrics).
    dropped: Arc<AtomicU64>,
    health: Arc<AuditHealth>,
}

impl AuditLog {
    /// Opens (creating, appending) the file; `None` logs records through tracing only.
    /// `dropped` counts records left out because the queue was full.
    pub fn open(path: Option<&Path>, dropped: Arc<AtomicU64>) -> Result<AuditLog, AuditError> {
        let options = AuditOptions {
            path: path.map(Path::to_path_buf),
            ..AuditOptions::default()
        };
        Self::open_with(options, dropped, Arc::default(), QUEUE)
    }

    /// Opens with rotation and checkpoints; `health` is shared with `/health`.
    pub fn open_with(
        options: AuditOptions,
        dropped: Arc<AtomicU64>,
        health: Arc<AuditHealth>,
        queue: usize,
    ) -> Result<AuditLog, AuditError> {
        let Some(path) = options.path.clone() else {
            return Ok(AuditLog {
                sender: None,
                writer: None,
                dropped,
                health,
            });
        };
        let mut writer = ChainWriter::open(path, options, health.clone())?;
        let (sender, receiver) = mpsc::sync_channel::<AuditRecord>(queue);
        let handle = std::thread::Builder::new()
            .name("writeback-audit".into())
            .spawn(move || writer.run(&receiver))
            .map_err(AuditError::StartWriter)?;
        Ok(AuditLog {
            sender: Some(sender),
            writer: Some(handle),
            dropped,
            health,
        })
    }

    pub fn health(&self) -> Arc<AuditHealth> {
        self.health.clone()
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
                self.health
                    .last_drop_unix
                    .store(unix_now().max(1), Ordering::Relaxed);
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
                self.health
                    .last_drop_unix
                    .store(unix_now().max(1), Ordering::Relaxed);
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

/// The writer thread's state: the open file and the chain head.
struct ChainWriter {
    path: PathBuf,
    shown: String,
    out: BufWriter<File>,
    /// The hash of the last line written: the next line's `prev_hash`.
    head: String,
    size: u64,
    options: AuditOptions,
    since_checkpoint: u64,
    last_checkpoint: Instant,
    health: Arc<AuditHealth>,
}

fn open_append(path: &Path) -> Result<File, AuditError> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|source| AuditError::OpenFile {
            path: path.to_path_buf(),
            source,
        })
}

impl ChainWriter {
    /// Continues the chain of an existing file, or starts a file with its header.
    fn open(
        path: PathBuf,
        options: AuditOptions,
        health: Arc<AuditHealth>,
    ) -> Result<ChainWriter, AuditError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| AuditError::CreateDir {
                path: dir.to_path_buf(),
                source,
            })?;
        }
        let last = audit_chain::last_line_hash(&path).map_err(|source| AuditError::ReadFile {
            path: path.clone(),
            source,
        })?;
        let file = open_append(&path)?;
        let size = file.metadata().map(|m| m.len()).unwrap_or(0);
        let mut writer = ChainWriter {
            shown: path.display().to_string(),
            path,
            out: BufWriter::new(file),
            head: audit_chain::GENESIS.to_string(),
            size,
            options,
            since_checkpoint: 0,
            last_checkpoint: Instant::now(),
            health,
        };
        let started = match last {
            None => writer.write_line(audit_chain::start_json(
                &crate::pipeline::now_rfc3339(),
                None,
            )),
            Some((hash, complete)) => {
                writer.head = hash;
                if complete {
                    Ok(())
                } else {
                    // A line cut short by a crash: end it so the next record is a line
                    // of its own; `audit verify` reports the cut line.
                    writer.size += 1;
                    writer.out.write_all(b"\n")
                }
            }
        };
        started
            .and_then(|_| writer.sync())
            .map_err(|source| AuditError::WriteFile {
                path: writer.path.clone(),
                source,
            })?;
        Ok(writer)
    }

    fn write_line(&mut self, json: Vec<u8>) -> std::io::Result<()> {
        let (line, hash) = audit_chain::chain_line(json, &self.head);
        self.out.write_all(&line)?;
        self.out.write_all(b"\n")?;
        self.size += line.len() as u64 + 1;
        self.head = hash;
        Ok(())
    }

    fn sync(&mut self) -> std::io::Result<()> {
        self.out.flush()?;
        self.out.get_ref().sync_data()
    }

    fn checkpoint_due(&self) -> bool {
        match &self.options.checkpoint {
            Some((_, every, interval)) => {
                self.since_checkpoint > 0
                    && (self.since_checkpoint >= *every
                        || self.last_checkpoint.elapsed() >= *interval)
            }
            None => false,
        }
    }

    fn write_checkpoint(&mut self) -> std::io::Result<()> {
        let Some((key, _, _)) = &self.options.checkpoint else {
            return Ok(());
        };
        let json = audit_chain::checkpoint_json(
            &crate::pipeline::now_rfc3339(),
            self.since_checkpoint,
            &self.head,
            key,
        );
        self.write_line(json)?;
        self.since_checkpoint = 0;
        self.last_checkpoint = Instant::now();
        Ok(())
    }

    /// Renames the full file with a timestamp and starts a new one whose header carries
    /// the chain head.
    fn rotate(&mut self) -> std::io::Result<()> {
        self.write_checkpoint()?;
        self.sync()?;
        let stamp = time::OffsetDateTime::now_utc()
            .format(time::macros::format_description!(
                "[year][month][day]T[hour][minute][second]Z"
            ))
            .unwrap_or_else(|_| unix_now().to_string());
        let name = self
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "audit".into());
        let mut rotated = self.path.with_file_name(format!("{name}.{stamp}"));
        let mut n = 1;
        while rotated.exists() {
            rotated = self.path.with_file_name(format!("{name}.{stamp}-{n:04}"));
            n += 1;
        }
        std::fs::rename(&self.path, &rotated)?;
        let file = open_append(&self.path).map_err(std::io::Error::other)?;
        self.out = BufWriter::new(file);
        self.size = 0;
        let previous = rotated
            .file_name()
            .map(|n| n.to_string_lossy().into_owned());
        self.write_line(audit_chain::start_json(
            &crate::pipeline::now_rfc3339(),
            previous.as_deref(),
        ))?;
        self.sync()?;
        tracing::info!(file = %self.shown, rotated = %rotated.display(), "audit file rotated");
        Ok(())
    }

    /// Takes what has queued up (up to [`BATCH`]), writes it, fsyncs, and again, until
    /// every sender is gone; keyed checkpoints also when idle.
    fn run(&mut self, receiver: &mpsc::Receiver<AuditRecord>) {
        let idle = self
            .options
            .checkpoint
            .as_ref()
            .map(|(_, _, every)| *every)
            .unwrap_or(Duration::from_secs(3600));
        loop {
            let first = match receiver.recv_timeout(idle) {
                Ok(r) => r,
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    if self.checkpoint_due() {
                        let done = self.write_checkpoint().and_then(|_| self.sync());
                        self.note(done, 0);
                    }
                    continue;
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            };
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
                    let json = serde_json::to_vec(record).map_err(std::io::Error::from)?;
                    self.write_line(json)?;
                    self.since_checkpoint += 1;
                    if self.checkpoint_due() {
                        self.write_checkpoint()?;
                    }
                    match self.options.rotate_bytes {
                        Some(max) if self.size >= max => self.rotate(),
                        _ => Ok(()),
                    }
                });
            }
            let written = written.and_then(|_| self.sync());
            self.note(written, batch.len());
        }
        if self.options.checkpoint.is_some() && self.since_checkpoint > 0 {
            let done = self.write_checkpoint().and_then(|_| self.sync());
            self.note(done, 0);
        }
    }

    fn note(&self, result: std::io::Result<()>, records: usize) {
        match result {
            Ok(()) => self.health.failing.store(false, Ordering::Relaxed),
            Err(e) => {
                self.health.failing.store(true, Ordering::Relaxed);
                self.health.write_errors.fetch_add(1, Ordering::Relaxed);
                tracing::error!(file = %self.shown, error = %e, records,
                    "cannot write or sync audit records; check the audit disk");
            }
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

    /// The request records of a file (not its chain header or checkpoints).
    fn lines(path: &Path) -> Vec<String> {
        std::fs::read_to_string(path)
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains("\"request_id\""))
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
        let mut log = AuditLog::open_with(
            AuditOptions {
                path: Some(path.clone()),
                ..AuditOptions::default()
            },
            dropped.clone(),
            Arc::default(),
            1,
        )
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

    /// A full disk (here /dev/full, which refuses every write with ENOSPC) raises the
    /// alarm and counts the failed batch; a later good write clears it.
    #[test]
    fn a_full_disk_raises_the_alarm() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let health = Arc::new(AuditHealth::default());
        let mut writer = ChainWriter::open(
            dir.path().join("audit.jsonl"),
            AuditOptions::default(),
            health.clone(),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(health.alarm(), None);
        let full = OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap_or_else(|e| panic!("/dev/full: {e}"));
        let good = std::mem::replace(&mut writer.out, BufWriter::new(full));
        let (sender, receiver) = mpsc::sync_channel(4);
        sender.send(record("r1")).unwrap_or_else(|e| panic!("{e}"));
        drop(sender);
        writer.run(&receiver);
        let alarm = health.alarm().unwrap_or_default();
        assert!(alarm.contains("cannot be written"), "{alarm}");
        assert_eq!(health.write_errors.load(Ordering::Relaxed), 1);
        let mut metrics = crate::metrics::Metrics::default();
        metrics.audit_health = health.clone();
        assert!(metrics.render().contains("writeback_audit_healthy 0"));

        writer.out = good;
        let (sender, receiver) = mpsc::sync_channel(4);
        sender.send(record("r2")).unwrap_or_else(|e| panic!("{e}"));
        drop(sender);
        writer.run(&receiver);
        assert_eq!(health.alarm(), None);
    }

    #[test]
    fn a_full_queue_raises_the_alarm() {
        let health = AuditHealth::default();
        assert_eq!(health.alarm(), None);
        health.last_drop_unix.store(unix_now(), Ordering::Relaxed);
        assert!(health
            .alarm()
            .unwrap_or_default()
            .contains("queue was full"));
        health
            .last_drop_unix
            .store(unix_now() - DROP_ALARM.as_secs() - 1, Ordering::Relaxed);
        assert_eq!(health.alarm(), None);
    }
}
