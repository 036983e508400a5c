//! The notifier against a real local HTTP receiver (axum on 127.0.0.1:0) that checks
//! each signature with writeback-signing, as a receiving system would.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use axum::body::Bytes;
use axum::extract::State;
use axum::routing::post;
use http::{HeaderMap, StatusCode};
use writeback_core::event::TargetResult;
use writeback_core::{
    BuildContext, CloudIdentity, ConnectorConfig, ConnectorFactory, ConnectorKind, Event,
    Initiator, Notifier, OperationKind, Outcome, Password, RuleViolation, SecretRef,
    SecretResolver,
};
use writeback_signing::{verify, Secret, DEFAULT_TOLERANCE};

use crate::WebhookNotifierFactory;

const SECRET: &str = "whsec_d3JpdGViYWNrLXRlc3Qtc2lnbmluZy1rZXktMDAwMSE=";
const ROTATED: &str = "whsec_d3JpdGViYWNrLXJvdGF0ZWQta2V5LTAwMDItYWJjZGVm";

/// What the receiver saw: the webhook-id, whether the signature verified, the body.
#[derive(Default)]
struct Inbox {
    received: Mutex<Vec<(String, bool, Bytes)>>,
    headers: Mutex<Vec<HeaderMap>>,
    /// Statuses to answer with, in order; 200 once empty.
    answers: Mutex<VecDeque<u16>>,
    accepts: Vec<Secret>,
}

async fn receive(State(inbox): State<Arc<Inbox>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let verified = verify(
        &inbox.accepts,
        &headers,
        &body,
        SystemTime::now(),
        DEFAULT_TOLERANCE,
    );
    let id = headers
        .get("webhook-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    inbox
        .received
        .lock()
        .unwrap()
        .push((id, verified.is_ok(), body));
    inbox.headers.lock().unwrap().push(headers);
    if verified.is_err() {
        return StatusCode::UNAUTHORIZED;
    }
    let code = inbox.answers.lock().unwrap().pop_front().unwrap_or(200);
    StatusCode::from_u16(code).unwrap()
}

async fn receiver(accepts: &[&str], answers: &[u16]) -> (String, Arc<Inbox>) {
    let inbox = Arc::new(Inbox {
        answers: Mutex::new(answers.iter().copied().collect()),
        accepts: accepts.iter().map(|s| Secret::parse(s).unwrap()).collect(),
        ..Default::default()
    });
    let app = axum::Router::new()
        .route("/hook", post(receive))
        .with_state(inbox.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}/hook"), inbox)
}

struct InlineSecrets;
impl SecretResolver for InlineSecrets {
    fn resolve(&self, secret: &SecretRef) -> Result<Password, writeback_core::SecretError> {
        secret.value.clone().ok_or_else(|| {
            writeback_core::SecretError::Unsupported("only inline secrets in this test".into())
        })
    }
}

async fn notifier(toml_text: &str) -> Arc<dyn Notifier> {
    let table: toml::Table = toml::from_str(toml_text).unwrap();
    let config = ConnectorConfig::in_code(ConnectorKind::Notifier, "webhook", "hook", table);
    let factory = WebhookNotifierFactory;
    factory.validate(&config).unwrap();
    let ctx = BuildContext {
        secrets: &InlineSecrets,
        base_dir: Path::new("."),
    };
    factory
        .build(&config, &ctx)
        .await
        .map_err(|e| e.to_string())
        .unwrap()
}

fn event() -> Event {
    Event {
        event_id: "5a0c3b8e-1f7d-4c43-9d6e-2b1f0e7a9c11".into(),
        time: "2026-11-25T19:00:00Z".into(),
        request_id: "req-7".into(),
        source: "hook".into(),
        operation: OperationKind::Reset,
        identity: CloudIdentity {
            upn: Some("alice@example.test".into()),
            ..Default::default()
        },
        initiator: Initiator::default(),
        targets: vec![TargetResult {
            target: "ldap".into(),
            dn: Some("uid=alice,ou=people,dc=example,dc=test".into()),
            mail: Some("alice@example.test".into()),
        }],
        outcome: Outcome::rejected(vec![RuleViolation::new(
            "length.min",
            "Use at least 12 characters.",
        )]),
        after_deadline: false,
    }
}

#[tokio::test]
async fn delivers_the_event_signed_with_its_id() {
    let (url, inbox) = receiver(&[SECRET], &[]).await;
    let n = notifier(&format!(
        "url = \"{url}\"\nsecret = {{ value = \"{SECRET}\" }}"
    ))
    .await;
    n.notify(&event()).await.unwrap();
    let received = inbox.received.lock().unwrap();
    assert_eq!(received.len(), 1);
    let (id, verified, body) = &received[0];
    assert!(verified, "the receiver verified the signature");
    assert_eq!(
        id,
        &event().event_id,
        "webhook-id is the event id, for deduplication"
    );
    let back: Event = serde_json::from_slice(body).unwrap();
    assert_eq!(back, event());
    assert!(!String::from_utf8_lossy(body)
        .to_lowercase()
        .contains("password\""));
}

#[tokio::test]
async fn signs_with_every_key_during_a_rotation() {
    let (url, inbox) = receiver(&[ROTATED], &[]).await;
    let n = notifier(&format!(
        "url = \"{url}\"\nsecrets = [{{ value = \"{SECRET}\" }}, {{ value = \"{ROTATED}\" }}]"
    ))
    .await;
    n.notify(&event()).await.unwrap();
    assert!(inbox.received.lock().unwrap()[0].1);
}

#[tokio::test]
async fn retries_server_errors_then_succeeds() {
    let (url, inbox) = receiver(&[SECRET], &[503, 500]).await;
    let n = notifier(&format!(
        "url = \"{url}\"\nsecret = {{ value = \"{SECRET}\" }}\nretries = 2"
    ))
    .await;
    n.notify(&event()).await.unwrap();
    let received = inbox.received.lock().unwrap();
    assert_eq!(received.len(), 3);
    assert!(received
        .iter()
        .all(|(id, ok, _)| *ok && id == &event().event_id));
}

#[tokio::test]
async fn gives_up_retryable_after_the_last_attempt() {
    let (url, inbox) = receiver(&[SECRET], &[503, 503, 503]).await;
    let n = notifier(&format!(
        "url = \"{url}\"\nsecret = {{ value = \"{SECRET}\" }}\nretries = 1"
    ))
    .await;
    let err = n.notify(&event()).await.unwrap_err();
    assert!(err.retryable, "{err}");
    assert!(
        err.message.contains("HTTP 503") && err.message.contains("attempt 2 of 2"),
        "{err}"
    );
    assert_eq!(inbox.received.lock().unwrap().len(), 2);
}

#[tokio::test]
async fn a_client_error_is_not_retried() {
    let (url, inbox) = receiver(&[SECRET], &[400]).await;
    let n = notifier(&format!(
        "url = \"{url}\"\nsecret = {{ value = \"{SECRET}\" }}\nretries = 3"
    ))
    .await;
    let err = n.notify(&event()).await.unwrap_err();
    assert!(!err.retryable, "{err}");
    assert_eq!(inbox.received.lock().unwrap().len(), 1);

    // A receiver with another key refuses (401): not retryable either.
    let (url, _) = receiver(&[ROTATED], &[]).await;
    let n = notifier(&format!(
        "url = \"{url}\"\nsecret = {{ value = \"{SECRET}\" }}"
    ))
    .await;
    let err = n.notify(&event()).await.unwrap_err();
    assert!(!err.retryable && err.message.contains("HTTP 401"), "{err}");
}

#[tokio::test]
async fn an_unreachable_receiver_is_retryable() {
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = closed.local_addr().unwrap();
    drop(closed);
    let n = notifier(&format!(
        "url = \"http://{addr}/hook?token=t0ps3cret\"\nsecret = {{ value = \"{SECRET}\" }}\nretries = 1\ntimeout_seconds = 2"
    ))
    .await;
    let started = std::time::Instant::now();
    let err = n.notify(&event()).await.unwrap_err();
    assert!(err.retryable, "{err}");
    assert!(
        !err.message.contains("t0ps3cret"),
        "the query string stays out of errors: {err}"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
}

/// A private CA and a server certificate for 127.0.0.1 signed by it, as PEM files.
fn private_ca(dir: &Path) -> (rustls::ServerConfig, std::path::PathBuf) {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let leaf_key = rcgen::KeyPair::generate().unwrap();
    let leaf = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string()])
        .unwrap()
        .signed_by(&leaf_key, &ca, &ca_key)
        .unwrap();
    let ca_file = dir.join("ca.pem");
    std::fs::write(&ca_file, ca.pem()).unwrap();
    let key = rustls::pki_types::PrivateKeyDer::try_from(leaf_key.serialize_der()).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![leaf.der().clone()], key)
    .unwrap();
    (config, ca_file)
}

/// The same receiver, over HTTPS.
async fn tls_receiver(config: rustls::ServerConfig, accepts: &[&str]) -> (String, Arc<Inbox>) {
    let inbox = Arc::new(Inbox {
        accepts: accepts.iter().map(|s| Secret::parse(s).unwrap()).collect(),
        ..Default::default()
    });
    let app = axum::Router::new()
        .route("/hook", post(receive))
        .with_state(inbox.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let (acceptor, app) = (acceptor.clone(), app.clone());
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let service = hyper_util::service::TowerToHyperService::new(app);
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(tls), service)
                    .await;
            });
        }
    });
    (format!("https://{addr}/hook"), inbox)
}

#[tokio::test]
async fn trusts_a_private_ca_from_the_ca_file() {
    let dir = tempfile::tempdir().unwrap();
    let (config, ca_file) = private_ca(dir.path());
    let (url, inbox) = tls_receiver(config, &[SECRET]).await;
    let with_ca = notifier(&format!(
        "url = \"{url}\"\nsecret = {{ value = \"{SECRET}\" }}\nca_file = \"{}\"",
        ca_file.display()
    ))
    .await;
    with_ca.notify(&event()).await.unwrap();
    assert!(inbox.received.lock().unwrap()[0].1);

    // Without the CA file the receiver's certificate is not trusted, and waiting will
    // not fix that: not retryable.
    let without = notifier(&format!(
        "url = \"{url}\"\nsecret = {{ value = \"{SECRET}\" }}\nretries = 3"
    ))
    .await;
    let err = without.notify(&event()).await.unwrap_err();
    assert!(!err.retryable, "{err}");
    assert!(err.message.contains("attempt 1 of 4"), "{err}");
    assert_eq!(inbox.received.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn the_python_reference_library_verifies_what_we_send() {
    const VERIFY: &str = "import sys, json\nfrom standardwebhooks import Webhook\n\
        secret, headers = sys.argv[1], json.loads(sys.argv[2])\n\
        event = Webhook(secret).verify(sys.stdin.read(), headers)\nprint(event['event_id'])";
    let (url, inbox) = receiver(&[SECRET], &[]).await;
    let n = notifier(&format!(
        "url = \"{url}\"\nsecret = {{ value = \"{SECRET}\" }}"
    ))
    .await;
    n.notify(&event()).await.unwrap();
    let headers = inbox.headers.lock().unwrap()[0].clone();
    let body = inbox.received.lock().unwrap()[0].2.clone();
    let as_json: serde_json::Map<String, serde_json::Value> =
        ["webhook-id", "webhook-timestamp", "webhook-signature"]
            .iter()
            .map(|h| (h.to_string(), headers[*h].to_str().unwrap().into()))
            .collect();
    let python =
        std::env::var("WRITEBACK_TEST_PYTHON").unwrap_or_else(|_| "/usr/bin/python3".into());
    let mut child = std::process::Command::new(&python)
        .args([
            "-c",
            VERIFY,
            SECRET,
            &serde_json::Value::Object(as_json).to_string(),
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {python}: {e}; run .ci/setup.d/webhook.sh"));
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), &body).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "the reference library refused our signature (or is missing: run .ci/setup.d/webhook.sh): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        event().event_id
    );
}

/// The retry rules of one delivery.
mod retry {
    use std::time::Duration;

    use reqwest::StatusCode;

    use crate::notifier::{backoff, is_retryable_status, MAX_BACKOFF};

    #[test]
    fn retry_classes() {
        assert!(is_retryable_status(StatusCode::SERVICE_UNAVAILABLE));
        assert!(is_retryable_status(StatusCode::TOO_MANY_REQUESTS));
        assert!(!is_retryable_status(StatusCode::BAD_REQUEST));
        assert!(!is_retryable_status(StatusCode::GONE));
        assert!(!is_retryable_status(StatusCode::MOVED_PERMANENTLY));
        assert_eq!(backoff(1), Duration::from_millis(250));
        assert_eq!(backoff(3), Duration::from_secs(1));
        assert_eq!(backoff(30), MAX_BACKOFF);
    }
}

/// The table's checks, as `check-config` reports them.
mod config_checks {
    use writeback_core::ConnectorConfig;

    use crate::WebhookNotifierFactory;
    use writeback_core::{ConnectorFactory, ConnectorKind};

    fn err(text: &str) -> String {
        let table: toml::Table = toml::from_str(text).unwrap();
        let c = ConnectorConfig::in_code(ConnectorKind::Notifier, "webhook", "hook", table);
        WebhookNotifierFactory
            .validate(&c)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default()
    }

    #[test]
    fn plain_http_only_to_loopback_or_when_allowed() {
        let s = "secret = { env = \"X\" }\n";
        assert_eq!(err(&format!("url = \"http://127.0.0.1:9/x\"\n{s}")), "");
        assert_eq!(err(&format!("url = \"http://localhost:9/x\"\n{s}")), "");
        assert_eq!(
            err(&format!(
                "url = \"http://hooks.lan/x\"\nallow_plain_http = true\n{s}"
            )),
            ""
        );
        assert!(err(&format!("url = \"http://hooks.lan/x\"\n{s}")).contains("unencrypted"));
        assert!(err(&format!("url = \"ftp://x\"\n{s}")).contains("scheme"));
        assert!(err("url = \"https://x\"").contains("signing secret is required"));
        assert!(err(&format!("url = \"https://x\"\n{s}retries = 99"))
            .contains("`notifiers.hook.retries`"));
    }

    /// `check-config` shows every mistake of the table in one run.
    #[test]
    fn every_bad_key_is_reported_in_one_run() {
        let table: toml::Table =
            toml::from_str("url = \"ftp://x\"\nretries = 99\ntimeout_seconds = 0\n").unwrap();
        let c = ConnectorConfig::in_code(ConnectorKind::Notifier, "webhook", "hook", table);
        let errors: Vec<String> = WebhookNotifierFactory
            .validate_all(&c)
            .iter()
            .map(|e| e.to_string())
            .collect();
        for key in ["url", "retries", "timeout_seconds", "secret"] {
            assert!(
                errors
                    .iter()
                    .any(|e| e.contains(&format!("`notifiers.hook.{key}`"))),
                "no error names `{key}`: {errors:?}"
            );
        }
    }
}
