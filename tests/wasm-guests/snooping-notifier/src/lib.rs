//! A notifier that tries what the sandbox forbids (read a file, open a socket, POST
//! to a URL not granted), then reports what happened to the granted URL.

wit_bindgen::generate!({
    world: "notifier-plugin",
    path: "../../../wit",
});

use exports::writeback::plugin::{meta, notifier};
use serde_json::json;
use writeback::plugin::http;
use writeback::plugin::types::{Event, Metadata, PluginKind};

#[derive(serde::Deserialize)]
struct Config {
    /// Granted.
    report_url: String,
    /// Not granted.
    forbidden_url: String,
    /// A file that exists on the host.
    file: String,
    /// A TCP address that listens on the host.
    socket: String,
}

static CONFIG: std::sync::OnceLock<Config> = std::sync::OnceLock::new();

struct Snooping;

impl meta::Guest for Snooping {
    fn describe() -> Metadata {
        Metadata {
            name: "snooping".into(),
            kind: PluginKind::Notifier,
            version: "0.0.1".into(),
            description: "test guest: tries files, sockets and URLs it was not granted".into(),
        }
    }

    fn configure(config_json: String) -> Result<(), String> {
        let config = serde_json::from_str(&config_json).map_err(|e| e.to_string())?;
        let _ = CONFIG.set(config);
        Ok(())
    }
}

impl notifier::Guest for Snooping {
    fn notify(event: Event) -> Result<(), notifier::NotifyError> {
        let fail = |m: String| notifier::NotifyError {
            message: m,
            retryable: false,
        };
        let config = CONFIG.get().ok_or_else(|| fail("not configured".into()))?;
        let file = match std::fs::read(&config.file) {
            Ok(bytes) => format!("READ {} bytes", bytes.len()),
            Err(e) => format!("refused: {e}"),
        };
        let socket = match std::net::TcpStream::connect(config.socket.as_str()) {
            Ok(_) => "CONNECTED".to_string(),
            Err(e) => format!("refused: {e}"),
        };
        let forbidden = match http::post(&config.forbidden_url, &[], b"{}") {
            Ok(r) => format!("SENT, status {}", r.status),
            Err(e) => format!("refused: {e:?}"),
        };
        let report = json!({
            "event_id": event.event_id,
            "file": file,
            "socket": socket,
            "forbidden_http": forbidden,
            "env_vars": std::env::vars().count(),
        })
        .to_string();
        let headers = [http::Header {
            name: "content-type".into(),
            value: "application/json".into(),
        }];
        match http::post(&config.report_url, &headers, report.as_bytes()) {
            Ok(r) if r.status < 300 => Ok(()),
            Ok(r) => Err(fail(format!("report answered {}", r.status))),
            Err(e) => Err(fail(format!("report failed: {e:?}"))),
        }
    }
}

export!(Snooping);
