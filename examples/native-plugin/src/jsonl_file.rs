//! A notifier: appends one JSON line per finished request to a file.
//!
//! ```toml
//! [[notifiers]]
//! type = "example-jsonl-file"
//! path = "/var/log/writeback/events.jsonl"
//! ```

use std::fs::OpenOptions;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Mutex;

use serde::Deserialize;
use writeback_plugin_native_abi::{
    ConfigProblem, Connector, ConnectorConfig, Event, Notifier, NotifyError,
};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Settings {
    path: PathBuf,
}

pub struct JsonlFile {
    path: PathBuf,
    /// Calls may come from several threads at once: one line is written at a time.
    writing: Mutex<()>,
}

impl Connector for JsonlFile {
    const TYPE_NAME: &'static str = "example-jsonl-file";
    const DESCRIPTION: &'static str = "Appends one JSON line per finished request to a file";

    fn from_config(config: &ConnectorConfig<'_>) -> Result<Self, ConfigProblem> {
        let settings: Settings = config.parse()?;
        Ok(JsonlFile {
            path: config.path(&settings.path),
            writing: Mutex::new(()),
        })
    }
}

impl Notifier for JsonlFile {
    fn notify(&self, event: &Event) -> Result<(), NotifyError> {
        // The event holds no password; write the facts a reader needs.
        let line = serde_json::json!({
            "event_id": event.event_id.as_str(),
            "time": event.time.as_str(),
            "request_id": event.request_id.as_str(),
            "operation": event.operation.as_str(),
            "user": event.identity.upn.as_str(),
            "outcome": event.outcome.code.as_str(),
            "message": event.outcome.message.as_str(),
        });
        let _one_at_a_time = self
            .writing
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .map_err(|e| {
                NotifyError::new(&format!("cannot open {}: {e}", self.path.display()), true)
            })?;
        writeln!(file, "{line}").map_err(|e| {
            NotifyError::new(&format!("cannot write {}: {e}", self.path.display()), true)
        })
    }
}
