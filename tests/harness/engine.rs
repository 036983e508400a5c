//! A real writeback host in the test process: the config is TOML text, the source is
//! the real webhook source over HTTPS on a free loopback port, the connectors are the
//! binary's built-in ones.

use std::path::{Path, PathBuf};
use std::time::Duration;

use http::HeaderMap;
use tokio_util::sync::CancellationToken;
use writeback_host::{Config, Host};
use writeback_signing::Secret;
use writeback_source_webhook::client::{Answer, Client, ClientError, RequestBody};
use writeback_testkit::tls::TestCerts;

pub const WEBHOOK_SECRET: &str = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";

pub struct Engine {
    pub dir: tempfile::TempDir,
    /// `https://127.0.0.1:PORT`
    pub url: String,
    pub ca_file: PathBuf,
    pub audit_path: PathBuf,
    pub config_path: PathBuf,
    client: Client,
    /// The pipeline itself, for tests that submit in-process in a fixed order.
    pub pipeline: std::sync::Arc<dyn writeback_core::Submit>,
    shutdown: CancellationToken,
    task: tokio::task::JoinHandle<Result<(), writeback_host::RunError>>,
}

impl Engine {
    /// Starts an engine whose config is the webhook source, an audit file, and what
    /// `rest` returns (targets, policies, notifiers, `[pipeline]`) given the engine's
    /// directory (write secret files there with [`write_secret`]).
    pub async fn start(rest: impl FnOnce(&Path) -> String) -> Engine {
        crate::logs::init();
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        let certs = TestCerts::generate(&["127.0.0.1", "localhost"])
            .and_then(|c| c.write_to(dir.path()))
            .unwrap_or_else(|e| panic!("test certificates: {e}"));
        let secret_file = write_secret(dir.path(), "webhook", WEBHOOK_SECRET);
        let [port] = writeback_testkit::process::free_ports::<1>("127.0.0.1")
            .unwrap_or_else(|e| panic!("free port: {e}"));
        let audit_path = dir.path().join("audit.jsonl");
        let text = format!(
            "[audit]\npath = \"{audit}\"\n\n[[sources]]\ntype = \"webhook\"\nlisten = \"127.0.0.1:{port}\"\n\
             tls = {{ cert_file = \"{cert}\", key_file = \"{key}\" }}\nsecret = {{ file = \"{secret}\" }}\n\n{rest}",
            audit = audit_path.display(),
            cert = certs.cert.display(),
            key = certs.key.display(),
            secret = secret_file.display(),
            rest = rest(dir.path()),
        );
        let config_path = dir.path().join("writeback.toml");
        std::fs::write(&config_path, &text).unwrap_or_else(|e| panic!("write config: {e}"));
        let config = Config::load(&config_path).unwrap_or_else(|e| panic!("config: {e}\n{text}"));
        let host = Host::build_with(
            config,
            &writeback_cli::builtin_registry(),
            writeback_cli::builtin_options(),
        )
        .await
        .unwrap_or_else(|e| panic!("host: {e}"));
        let shutdown = CancellationToken::new();
        let pipeline = host.pipeline();
        let task = tokio::spawn(host.run(shutdown.clone()));
        let url = format!("https://127.0.0.1:{port}");
        let client = Client::new(Some(&certs.ca)).unwrap_or_else(|e| panic!("client: {e}"));
        let engine = Engine {
            dir,
            url,
            ca_file: certs.ca,
            audit_path,
            config_path,
            client,
            pipeline,
            shutdown,
            task,
        };
        engine.wait_ready().await;
        engine
    }

    async fn wait_ready(&self) {
        let http = reqwest::Client::builder()
            .add_root_certificate(
                reqwest::Certificate::from_pem(&std::fs::read(&self.ca_file).unwrap_or_default())
                    .unwrap_or_else(|e| panic!("ca: {e}")),
            )
            .build()
            .unwrap_or_else(|e| panic!("http client: {e}"));
        for _ in 0..200 {
            if let Ok(r) = http.get(format!("{}/healthz", self.url)).send().await {
                if r.status().is_success() {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("the webhook source did not answer /healthz within 5 s");
    }

    /// Signs and sends a request; panics if no answer came back.
    pub async fn send(&self, body: &RequestBody) -> Answer {
        let secret = Secret::parse(WEBHOOK_SECRET).unwrap_or_else(|e| panic!("{e}"));
        self.client
            .send(&self.url, &secret, body)
            .await
            .unwrap_or_else(|e| panic!("request {}: {e}", body.id))
    }

    /// Posts raw bytes with the given headers (for what the source must refuse).
    pub async fn post_raw(&self, headers: HeaderMap, body: Vec<u8>) -> Result<Answer, ClientError> {
        self.client.post(&self.url, headers, body).await
    }

    pub fn audit_text(&self) -> String {
        std::fs::read_to_string(&self.audit_path).unwrap_or_default()
    }

    /// Audit records (not the chain's header and checkpoint lines), waiting briefly
    /// for the writer thread.
    pub async fn audit_records(&self, at_least: usize) -> Vec<serde_json::Value> {
        for _ in 0..100 {
            let records: Vec<serde_json::Value> = self
                .audit_text()
                .lines()
                .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
                .filter(|r| r.get("request_id").is_some())
                .collect();
            if records.len() >= at_least {
                return records;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("fewer than {at_least} audit records: {}", self.audit_text());
    }

    /// Asks the engine to shut down and waits for it to drain.
    pub async fn stop(self) -> Result<(), String> {
        self.shutdown.cancel();
        match tokio::time::timeout(Duration::from_secs(30), self.task).await {
            Ok(Ok(r)) => r.map_err(|e| e.to_string()),
            Ok(Err(e)) => Err(format!("engine task: {e}")),
            Err(_) => Err("engine did not stop within 30 s".into()),
        }
    }
}

/// Writes a secret file (mode 0600) and returns its path, for `{ file = ... }`.
pub fn write_secret(dir: &Path, name: &str, value: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join(format!("{name}.secret"));
    std::fs::write(&path, value).unwrap_or_else(|e| panic!("write secret: {e}"));
    let _ = std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600));
    path
}
