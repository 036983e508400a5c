//! The source alone, through its real HTTP server on 127.0.0.1:0, with an in-process
//! fake pipeline standing in for the host (the end-to-end tests use the real one).

use std::collections::HashMap;
use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use async_trait::async_trait;
use tokio_util::sync::CancellationToken;
use writeback_core::{
    BuildContext, CloudIdentity, CloudSource, ConnectorConfig, ConnectorFactory, ConnectorKind,
    OperationKind, Outcome, OutcomeCode, Password, Request, RuleViolation, SecretRef,
    SecretResolver, Submit,
};
use writeback_signing::{sign_headers, Secret};

use crate::client::{unix_now, Answer, Client, ClientError, RequestBody};
use crate::{WebhookSource, WebhookSourceFactory};

const SECRET: &str = "whsec_d3JpdGViYWNrLXRlc3Qtc2lnbmluZy1rZXktMDAwMSE=";
const ROTATED: &str = "whsec_d3JpdGViYWNrLXJvdGF0ZWQta2V5LTAwMDItYWJjZGVm";
const WRONG: &str = "whsec_b3RoZXItdGVuYW50LWtleS10aGF0LWlzLXdyb25nIQ==";
const MARKER: &str = "Marker-Pw-5f3e-Secret!";

/// Every log line of this test binary, to search for the marker password.
fn captured_logs() -> &'static Mutex<Vec<u8>> {
    static LOGS: OnceLock<Mutex<Vec<u8>>> = OnceLock::new();
    LOGS.get_or_init(|| Mutex::new(Vec::new()))
}

struct LogWriter;
impl Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        captured_logs().lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn capture_logs() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::DEBUG)
            .with_writer(|| LogWriter)
            .finish();
        let _ = tracing::subscriber::set_global_default(subscriber);
    });
}

/// Stands in for the pipeline: records what arrives, answers by a few simple rules,
/// and returns the first outcome again for a repeated request id (as the real one does).
#[derive(Default)]
struct FakePipeline {
    submitted: Mutex<Vec<(String, OperationKind, bool)>>,
    first: Mutex<HashMap<String, Outcome>>,
    delay: Duration,
}

#[async_trait]
impl Submit for FakePipeline {
    async fn submit(&self, request: Request) -> Outcome {
        tokio::time::sleep(self.delay).await;
        let has_marker = request
            .operation
            .new_password()
            .is_some_and(|p| p.ct_eq(&Password::new(MARKER)));
        self.submitted.lock().unwrap().push((
            request.id.to_string(),
            request.operation.kind(),
            has_marker,
        ));
        let outcome = match request.identity.username.as_deref() {
            Some("ghost") => Outcome::of(OutcomeCode::NotFound),
            Some("weak") => Outcome::rejected(vec![
                RuleViolation::new("length.min", "Use at least 12 characters."),
                RuleViolation::new("classes", "Add a digit."),
            ]),
            Some("down") => Outcome::of(OutcomeCode::DirectoryUnavailable)
                .with_admin_detail("ldaps://dc1 refused"),
            _ => Outcome::succeeded(),
        };
        self.first
            .lock()
            .unwrap()
            .entry(request.id.to_string())
            .or_insert(outcome)
            .clone()
    }
}

impl FakePipeline {
    fn submitted(&self) -> Vec<(String, OperationKind, bool)> {
        self.submitted.lock().unwrap().clone()
    }
}

struct InlineSecrets;
impl SecretResolver for InlineSecrets {
    fn resolve(&self, secret: &SecretRef) -> Result<Password, writeback_core::SecretError> {
        secret.value.clone().ok_or_else(|| {
            writeback_core::SecretError::Unsupported("only inline secrets in this test".into())
        })
    }
}

struct Running {
    url: String,
    addr: SocketAddr,
    pipeline: Arc<FakePipeline>,
    shutdown: CancellationToken,
    task: tokio::task::JoinHandle<Result<(), String>>,
}

async fn start_with(
    extra: &str,
    pipeline: FakePipeline,
    base_dir: &Path,
) -> Result<Running, String> {
    capture_logs();
    let text = format!("listen = \"127.0.0.1:0\"\nsecrets = [{{ value = \"{SECRET}\" }}, {{ value = \"{ROTATED}\" }}]\n{extra}");
    let table: toml::Table = toml::from_str(&text).map_err(|e| e.to_string())?;
    let config = ConnectorConfig::in_code(ConnectorKind::Source, "webhook", "hook", table);
    let factory = WebhookSourceFactory;
    factory.validate(&config).map_err(|e| e.to_string())?;
    let ctx = BuildContext {
        secrets: &InlineSecrets,
        base_dir,
    };
    // Through the factory, as the host builds it...
    factory
        .build(&config, &ctx)
        .await
        .map_err(|e| e.to_string())?;
    // ...and typed, to ask for the bound port.
    let typed = Arc::new(
        WebhookSource::build(&config, &ctx)
            .await
            .map_err(|e| e.to_string())?,
    );
    let source: Arc<dyn CloudSource> = typed.clone();
    let pipeline = Arc::new(pipeline);
    let shutdown = CancellationToken::new();
    let task = tokio::spawn({
        let (pipeline, shutdown) = (pipeline.clone() as Arc<dyn Submit>, shutdown.clone());
        async move {
            source
                .run(pipeline, shutdown)
                .await
                .map_err(|e| e.to_string())
        }
    });
    let addr = typed.local_addr().await.ok_or("the source did not start")?;
    let scheme = if extra.contains("tls") {
        "https"
    } else {
        "http"
    };
    Ok(Running {
        url: format!("{scheme}://{addr}"),
        addr,
        pipeline,
        shutdown,
        task,
    })
}

async fn start(pipeline: FakePipeline) -> Running {
    start_with("", pipeline, Path::new(".")).await.unwrap()
}

fn alice() -> CloudIdentity {
    CloudIdentity {
        upn: Some("alice@example.test".into()),
        username: Some("alice".into()),
        ..Default::default()
    }
}

fn user(name: &str) -> CloudIdentity {
    CloudIdentity {
        username: Some(name.into()),
        ..Default::default()
    }
}

fn secret(s: &str) -> Secret {
    Secret::parse(s).unwrap()
}

/// Posts `body` signed with `key` under `webhook_id` at `timestamp`.
async fn post_signed(
    url: &str,
    key: &str,
    webhook_id: &str,
    timestamp: i64,
    body: &[u8],
) -> Answer {
    let headers = sign_headers(&[&secret(key)], webhook_id, timestamp, body).unwrap();
    Client::new(None)
        .unwrap()
        .post(url, headers, body.to_vec())
        .await
        .unwrap()
}

fn reset_json(id: &str) -> Vec<u8> {
    format!(r#"{{"id":"{id}","operation":"reset","identity":{{"username":"alice"}},"new_password":"{MARKER}"}}"#).into_bytes()
}

#[tokio::test]
async fn a_good_request_reaches_the_pipeline_and_gets_its_outcome() {
    let run = start(FakePipeline::default()).await;
    let client = Client::new(None).unwrap();
    let body = RequestBody::reset("req-1", alice(), Password::new(MARKER), true);
    let answer = client.send(&run.url, &secret(SECRET), &body).await.unwrap();
    assert_eq!(answer.status, 200);
    assert_eq!(answer.reply.outcome, OutcomeCode::Succeeded);
    assert_eq!(answer.reply.id.as_deref(), Some("req-1"));
    assert!(!answer.reply.retryable);
    assert_eq!(
        run.pipeline.submitted(),
        vec![("req-1".to_string(), OperationKind::Reset, true)]
    );

    // Signed with the second (rotated) key: accepted too.
    let body = RequestBody::unlock("req-2", alice());
    let answer = client
        .send(&run.url, &secret(ROTATED), &body)
        .await
        .unwrap();
    assert_eq!(answer.status, 200);
    assert_eq!(run.pipeline.submitted().len(), 2);
}

#[tokio::test]
async fn outcomes_map_to_statuses_with_rules_and_retry_hints() {
    let run = start(FakePipeline::default()).await;
    let client = Client::new(None).unwrap();
    let send = |id: &'static str, who: &'static str| {
        let body = RequestBody::reset(id, user(who), Password::new(MARKER), false);
        let (client, url) = (client.clone(), run.url.clone());
        async move { client.send(&url, &secret(SECRET), &body).await.unwrap() }
    };
    let ghost = send("g1", "ghost").await;
    assert_eq!(
        (ghost.status, ghost.reply.outcome),
        (404, OutcomeCode::NotFound)
    );
    let weak = send("w1", "weak").await;
    assert_eq!(
        (weak.status, weak.reply.outcome),
        (422, OutcomeCode::RejectedPolicy)
    );
    let rules: Vec<_> = weak.reply.rules.iter().map(|r| r.rule.as_str()).collect();
    assert_eq!(rules, ["length.min", "classes"]);
    let down = send("d1", "down").await;
    assert_eq!(
        (down.status, down.reply.outcome, down.reply.retryable),
        (503, OutcomeCode::DirectoryUnavailable, true)
    );
    assert!(
        !down.reply.message.contains("dc1"),
        "admin detail stays on this side"
    );
}

#[tokio::test]
async fn unauthenticated_or_malformed_requests_never_reach_the_pipeline() {
    let run = start_with(
        "max_body_bytes = 2048",
        FakePipeline::default(),
        Path::new("."),
    )
    .await
    .unwrap();
    let now = unix_now();
    let body = reset_json("r-bad");
    let client = Client::new(None).unwrap();

    let wrong_key = post_signed(&run.url, WRONG, "msg_a", now, &body).await;
    assert_eq!(
        (wrong_key.status, wrong_key.reply.outcome),
        (401, OutcomeCode::Unauthorized)
    );
    assert!(
        wrong_key.reply.message.contains("no signature"),
        "{}",
        wrong_key.reply.message
    );

    let stale = post_signed(&run.url, SECRET, "msg_b", now - 400, &body).await;
    assert_eq!(stale.status, 401);
    assert!(
        stale.reply.message.contains("old"),
        "{}",
        stale.reply.message
    );
    let future = post_signed(&run.url, SECRET, "msg_c", now + 400, &body).await;
    assert_eq!(future.status, 401);

    // Signed for one body, sent with another.
    let mut headers = sign_headers(&[&secret(SECRET)], "msg_d", now, &body).unwrap();
    let tampered = reset_json("r-other");
    let answer = client
        .post(&run.url, headers.clone(), tampered)
        .await
        .unwrap();
    assert_eq!(answer.status, 401);
    headers.remove("webhook-signature");
    let unsigned = client.post(&run.url, headers, body.clone()).await.unwrap();
    assert_eq!(unsigned.status, 401);
    assert!(
        unsigned.reply.message.contains("webhook-signature"),
        "{}",
        unsigned.reply.message
    );
    let mut malformed = sign_headers(&[&secret(SECRET)], "msg_e", now, &body).unwrap();
    malformed.insert(
        "webhook-signature",
        http::HeaderValue::from_static("v1;notbase64"),
    );
    assert_eq!(
        client
            .post(&run.url, malformed, body.clone())
            .await
            .unwrap()
            .status,
        401
    );

    // Too large: refused before verification, with 413.
    let mut big = reset_json("r-big");
    big.extend(std::iter::repeat_n(b' ', 3000));
    let oversized = post_signed(&run.url, SECRET, "msg_f", now, &big).await;
    assert_eq!(
        (oversized.status, oversized.reply.outcome),
        (413, OutcomeCode::InvalidRequest)
    );

    // Well signed, but not a valid request.
    let cases: [(&str, &[u8], &str); 4] = [
        ("msg_g", b"{not json", "not valid JSON"),
        (
            "msg_h",
            br#"{"id":"r","operation":"unlock","identity":{"upn":"a"},"extra_field":1}"#,
            "unknown field `extra_field`",
        ),
        (
            "msg_i",
            br#"{"id":"r","operation":"reset","identity":{"upn":"a"}}"#,
            "needs `new_password`",
        ),
        (
            "msg_j",
            br#"{"id":"r","operation":"change","identity":{"upn":"a"},"new_password":"x"}"#,
            "needs both",
        ),
    ];
    for (id, raw, expected) in cases {
        let answer = post_signed(&run.url, SECRET, id, now, raw).await;
        assert_eq!(
            (answer.status, answer.reply.outcome),
            (400, OutcomeCode::InvalidRequest),
            "{id}"
        );
        assert!(
            answer.reply.message.contains(expected),
            "{id}: {}",
            answer.reply.message
        );
    }
    assert!(
        run.pipeline.submitted().is_empty(),
        "{:?}",
        run.pipeline.submitted()
    );
}

#[tokio::test]
async fn a_reused_webhook_id_passes_only_with_the_same_body() {
    let run = start(FakePipeline::default()).await;
    let now = unix_now();
    let first = post_signed(&run.url, SECRET, "msg_same", now, &reset_json("r-1")).await;
    assert_eq!(first.status, 200);

    // Same id, another body (validly signed): a replay, refused.
    let other = post_signed(&run.url, SECRET, "msg_same", now, &reset_json("r-2")).await;
    assert_eq!(
        (other.status, other.reply.outcome),
        (409, OutcomeCode::Unauthorized)
    );

    // Same id and body, re-signed later (a sender's retry): goes to the pipeline, which
    // answers with the first outcome again.
    let retry = post_signed(&run.url, SECRET, "msg_same", now + 1, &reset_json("r-1")).await;
    assert_eq!(retry.status, 200);
    assert_eq!(retry.reply, first.reply);
    let ids: Vec<_> = run
        .pipeline
        .submitted()
        .into_iter()
        .map(|(id, _, _)| id)
        .collect();
    assert_eq!(ids, ["r-1", "r-1"]);
}

#[tokio::test]
async fn health_and_unknown_routes() {
    let run = start(FakePipeline::default()).await;
    let http = reqwest::Client::new();
    let health = http
        .get(format!("{}/healthz", run.url))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    let body: serde_json::Value = health.json().await.unwrap();
    assert_eq!(body["status"], "up");
    assert_eq!(body["source"], "hook");
    let get = http
        .get(format!("{}/v1/requests", run.url))
        .send()
        .await
        .unwrap();
    assert_eq!(get.status(), 405);
    assert_eq!(get.headers()["allow"], "POST");
    assert_eq!(
        http.get(format!("{}/nope", run.url))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
}

#[tokio::test]
async fn serves_https_with_the_configured_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let leaf_key = rcgen::KeyPair::generate().unwrap();
    let leaf =
        rcgen::CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])
            .unwrap()
            .signed_by(&leaf_key, &ca, &ca_key)
            .unwrap();
    std::fs::write(dir.path().join("ca.pem"), ca.pem()).unwrap();
    std::fs::write(dir.path().join("server.pem"), leaf.pem()).unwrap();
    std::fs::write(dir.path().join("server.key"), leaf_key.serialize_pem()).unwrap();

    // Relative paths resolve against the config's directory.
    let run = start_with(
        "tls = { cert_file = \"server.pem\", key_file = \"server.key\" }",
        FakePipeline::default(),
        dir.path(),
    )
    .await
    .unwrap();
    assert!(run.url.starts_with("https://"));
    let body = RequestBody::reset("tls-1", alice(), Password::new(MARKER), false);
    let client = Client::new(Some(&dir.path().join("ca.pem"))).unwrap();
    let answer = client.send(&run.url, &secret(SECRET), &body).await.unwrap();
    assert_eq!(answer.status, 200);

    // A client that does not trust the CA gets no answer at all.
    let untrusting = Client::new(None).unwrap();
    let refused = untrusting.send(&run.url, &secret(SECRET), &body).await;
    assert!(
        matches!(refused, Err(ClientError::Transport(_))),
        "{refused:?}"
    );
    // Plain HTTP to the TLS port is not served.
    let plain = Client::new(None)
        .unwrap()
        .send(&format!("http://{}", run.addr), &secret(SECRET), &body)
        .await;
    assert!(plain.is_err());
    assert_eq!(run.pipeline.submitted().len(), 1);

    let missing = start_with(
        "tls = { cert_file = \"nope.pem\", key_file = \"server.key\" }",
        FakePipeline::default(),
        dir.path(),
    )
    .await
    .err()
    .unwrap_or_default();
    assert!(
        missing.contains("`sources.hook.tls`") && missing.contains("nope.pem"),
        "{missing}"
    );
}

#[tokio::test]
async fn shutdown_stops_accepting_and_lets_in_flight_requests_finish() {
    let pipeline = FakePipeline {
        delay: Duration::from_millis(400),
        ..Default::default()
    };
    let run = start(pipeline).await;
    let in_flight = tokio::spawn({
        let url = run.url.clone();
        async move {
            let body = RequestBody::reset("slow-1", alice(), Password::new(MARKER), false);
            Client::new(None)
                .unwrap()
                .send(&url, &secret(SECRET), &body)
                .await
        }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    run.shutdown.cancel();
    let answer = in_flight.await.unwrap().unwrap();
    assert_eq!(answer.status, 200, "the in-flight request got its outcome");
    tokio::time::timeout(Duration::from_secs(5), run.task)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(
        tokio::net::TcpStream::connect(run.addr).await.is_err(),
        "no longer listening"
    );
}

#[tokio::test]
async fn a_port_in_use_is_a_clear_error() {
    let taken = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = taken.local_addr().unwrap().port();
    let table: toml::Table = toml::from_str(&format!(
        "listen = \"127.0.0.1:{port}\"\nsecret = {{ value = \"{SECRET}\" }}"
    ))
    .unwrap();
    let config = ConnectorConfig::in_code(ConnectorKind::Source, "webhook", "hook", table);
    let ctx = BuildContext {
        secrets: &InlineSecrets,
        base_dir: Path::new("."),
    };
    let source = Arc::new(WebhookSource::build(&config, &ctx).await.unwrap());
    let err = source
        .clone()
        .run(Arc::new(FakePipeline::default()), CancellationToken::new())
        .await
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.contains("cannot listen on"), "{err}");
    assert_eq!(source.local_addr().await, None);
}

#[tokio::test]
async fn a_malformed_secret_is_a_config_error_naming_the_key() {
    let table: toml::Table =
        toml::from_str("listen = \"127.0.0.1:0\"\nsecrets = [{ value = \"whsec_dG9vc2hvcnQ=\" }]")
            .unwrap();
    let config = ConnectorConfig::in_code(ConnectorKind::Source, "webhook", "hook", table);
    let ctx = BuildContext {
        secrets: &InlineSecrets,
        base_dir: Path::new("."),
    };
    let err = WebhookSource::build(&config, &ctx)
        .await
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        err.contains("`sources.hook.secrets[0]`") && err.contains("24 to 64"),
        "{err}"
    );
}

/// Runs last alphabetically is not guaranteed; it sends its own marker traffic first.
#[tokio::test]
async fn no_log_line_contains_a_password() {
    let run = start(FakePipeline::default()).await;
    let now = unix_now();
    post_signed(&run.url, SECRET, "msg_log1", now, &reset_json("log-1")).await;
    post_signed(&run.url, WRONG, "msg_log2", now, &reset_json("log-2")).await;
    let broken = format!(
        r#"{{"id":"log-3","operation":"reset","identity":"{MARKER}","new_password":"{MARKER}"}}"#
    );
    post_signed(&run.url, SECRET, "msg_log3", now, broken.as_bytes()).await;
    let logs = String::from_utf8_lossy(&captured_logs().lock().unwrap()).to_string();
    assert!(logs.contains("log-1"), "requests are logged by id");
    assert!(!logs.contains(MARKER), "a password reached the logs");
}

/// Runs the Python reference library (`standardwebhooks`, installed by
/// .ci/setup.d/webhook.sh) with `script`, `args` and `stdin`; returns its stdout.
pub(crate) fn reference_python(script: &str, args: &[&str], stdin: &[u8]) -> String {
    let python =
        std::env::var("WRITEBACK_TEST_PYTHON").unwrap_or_else(|_| "/usr/bin/python3".into());
    let mut child = std::process::Command::new(&python)
        .arg("-c")
        .arg(script)
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {python}: {e}; run .ci/setup.d/webhook.sh"));
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{python} with standardwebhooks failed (run .ci/setup.d/webhook.sh): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

#[tokio::test]
async fn accepts_requests_signed_by_the_python_reference_library() {
    const SIGN: &str = "import sys\nfrom datetime import datetime, timezone\nfrom standardwebhooks import Webhook\n\
        secret, msg_id, ts = sys.argv[1:4]\nbody = sys.stdin.read()\n\
        print(Webhook(secret).sign(msg_id, datetime.fromtimestamp(int(ts), tz=timezone.utc), body))";
    let run = start(FakePipeline::default()).await;
    let body = reset_json("py-1");
    let now = unix_now().to_string();
    let signature = reference_python(SIGN, &[ROTATED, "msg_py1", &now], &body);
    assert!(signature.starts_with("v1,"), "{signature}");
    let mut headers = http::HeaderMap::new();
    headers.insert("webhook-id", http::HeaderValue::from_static("msg_py1"));
    headers.insert(
        "webhook-timestamp",
        http::HeaderValue::from_str(&now).unwrap(),
    );
    headers.insert(
        "webhook-signature",
        http::HeaderValue::from_str(&signature).unwrap(),
    );
    let answer = Client::new(None)
        .unwrap()
        .post(&run.url, headers, body)
        .await
        .unwrap();
    assert_eq!(
        (answer.status, answer.reply.outcome),
        (200, OutcomeCode::Succeeded)
    );
    assert_eq!(
        run.pipeline.submitted(),
        vec![("py-1".to_string(), OperationKind::Reset, true)]
    );
}

/// The table's checks, as `check-config` reports them.
mod config_checks {
    use writeback_core::{ConnectorConfig, ConnectorKind};

    use crate::config::*;

    fn connector(text: &str) -> ConnectorConfig {
        let table: toml::Table = toml::from_str(text).unwrap();
        ConnectorConfig::in_code(ConnectorKind::Source, "webhook", "hook", table)
    }

    fn err(text: &str) -> String {
        check(&connector(text))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default()
    }

    const SECRET: &str = "secret = { env = \"X\" }\n";

    #[test]
    fn plain_http_only_on_loopback_or_in_so_many_words() {
        let ok = |t: &str| check(&connector(t)).map(|c| c.transport).ok();
        assert_eq!(
            ok(&format!("listen = \"127.0.0.1:0\"\n{SECRET}")),
            Some(Transport::PlainLoopback)
        );
        assert_eq!(
            ok(&format!("listen = \"[::1]:0\"\n{SECRET}")),
            Some(Transport::PlainLoopback)
        );
        assert_eq!(
            ok(&format!(
                "listen = \"0.0.0.0:80\"\nplain_http = \"behind-tls-proxy\"\n{SECRET}"
            )),
            Some(Transport::PlainBehindProxy)
        );
        assert_eq!(
            ok(&format!("listen = \"0.0.0.0:443\"\ntls = {{ cert_file = \"c\", key_file = \"k\" }}\n{SECRET}")),
            Some(Transport::Tls)
        );
        assert!(err(&format!("listen = \"0.0.0.0:80\"\n{SECRET}")).contains("must arrive over TLS"));
        assert!(err(&format!(
            "listen = \"0.0.0.0:80\"\nplain_http = \"yes\"\n{SECRET}"
        ))
        .contains("not understood"));
    }

    /// `check-config` shows every mistake of the table in one run.
    #[test]
    fn every_mistake_is_reported_in_one_run() {
        use writeback_core::ConnectorFactory;
        let errors: Vec<String> = crate::WebhookSourceFactory
            .validate_all(&connector(
                "listen = \"0.0.0.0:80\"\ntolerance_seconds = 0\nmax_connections = 0\n",
            ))
            .iter()
            .map(|e| e.to_string())
            .collect();
        for key in ["tls", "secret", "tolerance_seconds", "max_connections"] {
            assert!(
                errors
                    .iter()
                    .any(|e| e.contains(&format!("`sources.hook.{key}`"))),
                "no error names `{key}`: {errors:?}"
            );
        }
    }

    #[test]
    fn errors_name_the_key() {
        assert!(err("listen = \"localhost\"\nsecret = { env = \"X\" }")
            .contains("`sources.hook.listen`"));
        assert!(err("listen = \"127.0.0.1:1\"").contains("signing secret is required"));
        assert!(
            err("listen = \"127.0.0.1:1\"\nsecret = { env = \"X\", file = \"y\" }")
                .contains("exactly one")
        );
        assert!(err(&format!(
            "listen = \"127.0.0.1:1\"\n{SECRET}max_body_bytes = 10"
        ))
        .contains("max_body_bytes"));
        assert!(err(&format!("listen = \"127.0.0.1:1\"\n{SECRET}nope = 1"))
            .contains("unknown field `nope`"));
    }
}
