//! A polling source: request files in a directory in, outcome lines in a file out.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::Deserialize;
use writeback_plugin_native_abi::{
    ConfigProblem, Connector, ConnectorConfig, Identity, IncomingOperation, IncomingRequest,
    Initiator, OperationKind, Outcome, Secret, Source,
};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Settings {
    inbox: PathBuf,
    outbox: PathBuf,
}

/// One request file (a test writes these).
#[derive(Deserialize)]
struct RequestFile {
    id: String,
    upn: String,
    new_password: String,
}

pub struct Inbox {
    inbox: PathBuf,
    outbox: PathBuf,
    writing: Mutex<()>,
}

impl Connector for Inbox {
    const TYPE_NAME: &'static str = "test-inbox";
    const DESCRIPTION: &'static str = "Test only: polls a directory for request files";

    fn from_config(config: &ConnectorConfig<'_>) -> Result<Self, ConfigProblem> {
        let settings: Settings = config.parse()?;
        Ok(Inbox {
            inbox: config.path(&settings.inbox),
            outbox: config.path(&settings.outbox),
            writing: Mutex::new(()),
        })
    }
}

impl Inbox {
    fn take_files(&self) -> Result<Vec<IncomingRequest>, String> {
        let mut found = Vec::new();
        let entries =
            fs::read_dir(&self.inbox).map_err(|e| format!("{}: {e}", self.inbox.display()))?;
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().is_none_or(|e| e != "json") {
                continue;
            }
            let text = fs::read_to_string(&path).map_err(|e| e.to_string())?;
            fs::remove_file(&path).map_err(|e| e.to_string())?;
            let file: RequestFile = serde_json::from_str(&text).map_err(|e| e.to_string())?;
            found.push(IncomingRequest {
                id: file.id.as_str().into(),
                operation: IncomingOperation {
                    kind: OperationKind::RESET,
                    new_password: Secret::new(&file.new_password),
                    old_password: Secret::empty(),
                    must_change: false,
                },
                identity: Identity {
                    upn: file.upn.as_str().into(),
                    ..Identity::default()
                },
                initiator: Initiator::default(),
            });
        }
        Ok(found)
    }
}

impl Source for Inbox {
    fn describe(&self) -> String {
        format!("inbox {}", self.inbox.display())
    }

    fn poll(&self, max_wait: Duration) -> Result<Vec<IncomingRequest>, String> {
        let until = Instant::now() + max_wait;
        loop {
            let found = self.take_files()?;
            if !found.is_empty() || Instant::now() >= until {
                return Ok(found);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn complete(&self, request_id: &str, outcome: &Outcome) {
        let line = serde_json::json!({
            "id": request_id,
            "code": outcome.code.as_str(),
            "message": outcome.message.as_str(),
            "rules": outcome.rules.iter().map(|r| r.rule.as_str()).collect::<Vec<_>>(),
            "rule_messages": outcome.rules.iter().map(|r| r.message.as_str()).collect::<Vec<_>>(),
            "admin_detail": outcome.admin_detail.as_str(),
        });
        let _one = self.writing.lock().unwrap_or_else(|p| p.into_inner());
        if let Ok(mut f) = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.outbox)
        {
            let _ = writeln!(f, "{line}");
        }
    }
}
