//! The audit trail: one JSON line per finished request, never a password (the record
//! type cannot hold one). Written by a dedicated thread so a slow disk never stalls
//! the runtime.

use std::fs::OpenOptions;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::mpsc;
use std::thread::JoinHandle;

use serde::Serialize;
use writeback_core::event::TargetResult;
use writeback_core::{CloudIdentity, Initiator, OperationKind, OutcomeCode};

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
    sender: Option<mpsc::Sender<AuditRecord>>,
    writer: Option<JoinHandle<()>>,
}

impl AuditLog {
    /// Opens (creating, appending) the file; `None` logs records through tracing only.
    pub fn open(path: Option<&Path>) -> Result<AuditLog, String> {
        let Some(path) = path else {
            return Ok(AuditLog {
                sender: None,
                writer: None,
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
        let (sender, receiver) = mpsc::channel::<AuditRecord>();
        let shown = path.display().to_string();
        let writer = std::thread::Builder::new()
            .name("writeback-audit".into())
            .spawn(move || {
                let mut out = BufWriter::new(file);
                for record in receiver {
                    let written = serde_json::to_writer(&mut out, &record)
                        .map_err(std::io::Error::from)
                        .and_then(|_| out.write_all(b"\n"))
                        .and_then(|_| out.flush());
                    if let Err(e) = written {
                        tracing::error!(file = %shown, error = %e, "cannot write the audit record");
                    }
                }
            })
            .map_err(|e| format!("cannot start the audit writer: {e}"))?;
        Ok(AuditLog {
            sender: Some(sender),
            writer: Some(writer),
        })
    }

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
            "request finished"
        );
        if let Some(sender) = &self.sender {
            let _ = sender.send(record);
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
