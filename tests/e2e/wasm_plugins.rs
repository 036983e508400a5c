//! Issue 7's proof: WASM component plugins, built here for wasm32-wasip2 from
//! examples/wasm-policy, examples/wasm-notifier and tests/wasm-guests, loaded by the
//! real host from `[[plugins]]` entries, and run on real requests. Guests that loop,
//! hoard memory, panic, lie, or reach for files, sockets and URLs they were not
//! granted fail only their own request, and the refusals are logged.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::Router;
use writeback_core::{
    BuildContext, CloudIdentity, ConnectorConfig, ConnectorKind, Event, Initiator, Notifier,
    OperationKind, Outcome, OutcomeCode, Password, Policy, PolicyContext, SecretRef,
    SecretResolver,
};
use writeback_host::{PluginSpec, Registry};
use writeback_source_webhook::client::RequestBody;
use writeback_testkit::slapd::{self, Slapd};
use writeback_tests::{logs, Engine};

use crate::support::*;

const INITIAL: &str = "Initial-Pass-1";

/// The compiled components, built once per test binary.
pub(crate) struct Guests {
    pub(crate) policy: PathBuf,
    pub(crate) notifier: PathBuf,
    pub(crate) target: PathBuf,
    pub(crate) escaping_target: PathBuf,
    pub(crate) source: PathBuf,
    misbehaving: PathBuf,
    snooping: PathBuf,
    future_version: PathBuf,
    policy_wants_http: PathBuf,
}

pub(crate) fn guests() -> &'static Guests {
    static GUESTS: OnceLock<Guests> = OnceLock::new();
    GUESTS.get_or_init(build_guests)
}

fn build_guests() -> Guests {
    let out = writeback_testkit::components::build(&[
        "examples/wasm-policy",
        "examples/wasm-notifier",
        "examples/wasm-target",
        "examples/wasm-source",
        "tests/wasm-guests",
    ])
    .unwrap_or_else(|e| panic!("{e}"));
    Guests {
        policy: out.join("wasm_policy_example.wasm"),
        notifier: out.join("wasm_notifier_example.wasm"),
        target: out.join("wasm_target_example.wasm"),
        escaping_target: out.join("escaping_target.wasm"),
        source: out.join("wasm_source_example.wasm"),
        misbehaving: out.join("misbehaving_policy.wasm"),
        snooping: out.join("snooping_notifier.wasm"),
        future_version: out.join("future_version.wasm"),
        policy_wants_http: out.join("policy_wants_http.wasm"),
    }
}

/// A chat-style webhook endpoint: keeps every JSON body posted to `/chat`.
#[derive(Clone)]
struct Chat {
    addr: SocketAddr,
    bodies: Arc<Mutex<Vec<serde_json::Value>>>,
}

impl Chat {
    async fn start() -> Chat {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|e| panic!("chat server cannot listen: {e}"));
        let chat = Chat {
            addr: listener.local_addr().unwrap_or_else(|e| panic!("{e}")),
            bodies: Arc::default(),
        };
        let app = Router::new()
            .route("/chat", post(keep))
            .with_state(chat.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        chat
    }

    fn url(&self) -> String {
        format!("http://{}/chat", self.addr)
    }

    fn bodies(&self) -> Vec<serde_json::Value> {
        self.bodies
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Waits up to 10 s for a body whose text mentions `needle`.
    async fn wait_for(&self, needle: &str) -> Option<serde_json::Value> {
        for _ in 0..200 {
            if let Some(b) = self
                .bodies()
                .into_iter()
                .find(|b| b.to_string().contains(needle))
            {
                return Some(b);
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        None
    }
}

async fn keep(State(chat): State<Chat>, body: Bytes) -> StatusCode {
    match serde_json::from_slice(&body) {
        Ok(v) => {
            chat.bodies
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(v);
            StatusCode::OK
        }
        Err(_) => StatusCode::BAD_REQUEST,
    }
}

async fn user(slapd: &Slapd, prefix: &str) -> (String, String) {
    let uid = slapd.unique_uid(prefix);
    let dn = slapd
        .add_user(&uid, INITIAL, &[])
        .await
        .unwrap_or_else(|e| panic!("add user: {e}"));
    (uid, dn)
}

fn plugin_entry(path: &Path, extra: &str) -> String {
    format!("[[plugins]]\npath = \"{}\"\n{extra}\n", path.display())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wasm_policy_and_notifier_serve_real_requests() {
    let g = guests();
    let s = slapd::shared();
    let chat = Chat::start().await;
    let (uid, dn) = user(s, "wasmpol").await;
    let e = Engine::start(|dir| {
        format!(
            "[pipeline]\ndeadline_ms = 8000\n\n{target}{policy}[[policies]]\ntype = \"company-words\"\n\
             words = [\"acme\", \"rocket\"]\nmin_distinct = 6\n\n{notifier}[[notifiers]]\ntype = \"chat-webhook\"\n\
             url = \"{url}\"\nchannel = \"#identity\"\n\n",
            target = openldap_target(s, dir, "ldap", BY_UID),
            policy = plugin_entry(&g.policy, ""),
            notifier = plugin_entry(&g.notifier, &format!("allow_http = [\"{}\"]", chat.url())),
            url = chat.url(),
        )
    })
    .await;

    // The company rule refuses, with every rule it broke; nothing is written.
    let refused = "Marker-Acme-9zQ!";
    let a = e
        .send(&RequestBody::reset(
            "wasm-pol-1",
            by_uid(&uid),
            Password::new(refused),
            false,
        ))
        .await;
    expect(&a, OutcomeCode::RejectedPolicy, 422);
    let rules: Vec<&str> = a.reply.rules.iter().map(|r| r.rule.as_str()).collect();
    assert_eq!(rules, ["company.words"], "{rules:?}");
    assert!(s.can_bind(&dn, INITIAL).await, "nothing was written");

    let own_name = format!("Marker-{uid}-4x!");
    let a = e
        .send(&RequestBody::reset(
            "wasm-pol-2",
            by_uid(&uid),
            Password::new(own_name.clone()),
            false,
        ))
        .await;
    expect(&a, OutcomeCode::RejectedPolicy, 422);
    assert!(
        a.reply
            .rules
            .iter()
            .any(|r| r.rule == "company.personal-name"),
        "{:?}",
        a.reply.rules
    );

    // A password the company rule accepts is written.
    let good = "Marker-Good-7hT$";
    let a = e
        .send(&RequestBody::reset(
            "wasm-pol-3",
            by_uid(&uid),
            Password::new(good),
            false,
        ))
        .await;
    expect(&a, OutcomeCode::Succeeded, 200);
    assert!(s.can_bind(&dn, good).await, "the new password binds");

    // The WASM notifier posted each outcome to the chat through its HTTP grant.
    let posted = chat
        .wait_for("wasm-pol-3")
        .await
        .unwrap_or_else(|| panic!("no chat message: {:?}", chat.bodies()));
    let text = posted["text"].as_str().unwrap_or_default();
    assert!(text.contains("succeeded") && text.contains(&uid), "{text}");
    assert_eq!(posted["channel"], "#identity");
    let refusal = chat
        .wait_for("wasm-pol-1")
        .await
        .unwrap_or_else(|| panic!("no chat message for the refusal"));
    assert!(
        refusal["text"]
            .as_str()
            .unwrap_or_default()
            .contains("company.words"),
        "{refusal}"
    );

    for marker in [refused, own_name.as_str(), good] {
        assert_no_leak(&e, None, marker).await;
        assert!(!serde_json::to_string(&chat.bodies())
            .unwrap_or_default()
            .contains(marker));
    }
    e.stop().await.unwrap_or_else(|e| panic!("{e}"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_looping_plugin_faults_within_the_deadline_and_the_next_request_succeeds() {
    let g = guests();
    let s = slapd::shared();
    let (uid, dn) = user(s, "wasmloop").await;
    let e = Engine::start(|dir| {
        format!(
            "[pipeline]\ndeadline_ms = 8000\n\n{target}{plugin}[[policies]]\ntype = \"misbehaving\"\n\n",
            target = openldap_target(s, dir, "ldap", BY_UID),
            plugin = plugin_entry(&g.misbehaving, "timeout_ms = 300"),
        )
    })
    .await;

    let looping = "loop-forever-Marker-1";
    let a = e
        .send(&RequestBody::reset(
            "wasm-loop-1",
            by_uid(&uid),
            Password::new(looping),
            false,
        ))
        .await;
    // plugin_fault, not timeout: the plugin was stopped at its own limit, well before
    // the request's deadline.
    expect(&a, OutcomeCode::PluginFault, 500);
    assert!(s.can_bind(&dn, INITIAL).await, "nothing was written");
    assert!(logs::text().contains("interrupted after its time limit of 300 ms"));

    let good = "Marker-After-Loop-3k!";
    let a = e
        .send(&RequestBody::reset(
            "wasm-loop-2",
            by_uid(&uid),
            Password::new(good),
            false,
        ))
        .await;
    expect(&a, OutcomeCode::Succeeded, 200);
    assert!(s.can_bind(&dn, good).await);

    // The guest logs the password it checked; the host redacts it.
    assert!(
        logs::text().contains("checked [redacted]"),
        "the guest's log line arrived, redacted"
    );
    assert_no_leak(&e, None, good).await;
    assert_no_leak(&e, None, looping).await;
    e.stop().await.unwrap_or_else(|e| panic!("{e}"));
}

struct NoSecrets;

impl SecretResolver for NoSecrets {
    fn resolve(&self, _secret: &SecretRef) -> Result<Password, writeback_core::SecretError> {
        Err(writeback_core::SecretError::Unsupported(
            "no secrets in this test".into(),
        ))
    }
}

/// Loads one component through the binary's registry (its WASM loader), as a
/// `[[plugins]]` entry with the `extra` sandbox keys.
fn load(path: &Path, extra: &str) -> Result<Registry, String> {
    let mut registry = writeback_cli::builtin_registry();
    let table: toml::Table = toml::from_str(extra).unwrap_or_else(|e| panic!("{e}"));
    let spec = PluginSpec {
        path: path.to_path_buf(),
        table,
        key_path: "plugins[0]".into(),
    };
    registry.load_plugin(&spec).map_err(|e| e.to_string())?;
    Ok(registry)
}

async fn policy(path: &Path, extra: &str, type_name: &str) -> Arc<dyn Policy> {
    let registry = load(path, extra).unwrap_or_else(|e| panic!("load: {e}"));
    let factory = registry
        .policy(type_name)
        .unwrap_or_else(|| panic!("no policy `{type_name}` registered"));
    let config =
        ConnectorConfig::in_code(ConnectorKind::Policy, type_name, "p", toml::Table::new());
    let ctx = BuildContext {
        secrets: &NoSecrets,
        base_dir: Path::new("/"),
    };
    factory
        .build(&config, &ctx)
        .await
        .unwrap_or_else(|e| panic!("build: {e}"))
}

async fn evaluate(
    policy: &dyn Policy,
    password: &str,
) -> Result<Vec<writeback_core::RuleViolation>, Outcome> {
    let identity = by_uid("someone");
    let context = PolicyContext {
        operation: writeback_core::OperationKind::Reset,
        identity: &identity,
        accounts: &[],
    };
    policy.evaluate(&Password::new(password), &context).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_hogs_panics_and_invalid_results_fail_only_their_call() {
    logs::init();
    let g = guests();
    let p = policy(&g.misbehaving, "memory_mb = 16", "misbehaving").await;

    let hog = evaluate(&*p, "eat-memory")
        .await
        .err()
        .unwrap_or_else(|| panic!("the hog passed"));
    assert_eq!(hog.code, OutcomeCode::PluginFault);
    let detail = hog.admin_detail.clone().unwrap_or_default();
    assert!(
        detail.contains("memory cap") && detail.contains("16384 KiB"),
        "{detail}"
    );

    let panicked = evaluate(&*p, "panic-now")
        .await
        .err()
        .unwrap_or_else(|| panic!("the panic passed"));
    assert_eq!(panicked.code, OutcomeCode::PluginFault);
    assert!(panicked
        .admin_detail
        .unwrap_or_default()
        .contains("trapped"));

    let lied = evaluate(&*p, "bad-result")
        .await
        .err()
        .unwrap_or_else(|| panic!("the invalid result passed"));
    assert_eq!(lied.code, OutcomeCode::PluginFault);
    assert!(lied
        .admin_detail
        .unwrap_or_default()
        .contains("invalid result"));

    // The host went on: the same connector answers the next call.
    assert_eq!(evaluate(&*p, "Fine-Password-1").await, Ok(Vec::new()));
    assert!(logs::text().contains("stopped at its memory cap"));
}

fn event(request_id: &str) -> Event {
    Event {
        event_id: format!("ev-{request_id}"),
        time: "2026-11-25T19:00:00Z".into(),
        request_id: request_id.into(),
        source: "webhook".into(),
        operation: OperationKind::Reset,
        identity: CloudIdentity {
            upn: Some("alice@example.org".into()),
            ..Default::default()
        },
        initiator: Initiator::default(),
        targets: Vec::new(),
        outcome: Outcome::succeeded(),
        after_deadline: false,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_sockets_and_ungranted_urls_are_refused_and_logged() {
    logs::init();
    let g = guests();
    let granted = Chat::start().await;
    let forbidden = Chat::start().await;
    let secret_file = tempfile::NamedTempFile::new().unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(secret_file.path(), "host secret").unwrap_or_else(|e| panic!("{e}"));

    let registry = load(
        &g.snooping,
        &format!("allow_http = [\"{}\"]", granted.url()),
    )
    .unwrap_or_else(|e| panic!("load: {e}"));
    let factory = registry
        .notifier("snooping")
        .unwrap_or_else(|| panic!("no notifier `snooping`"));
    let mut table = toml::Table::new();
    let s = |v: String| toml::Value::String(v);
    table.insert("report_url".into(), s(granted.url()));
    table.insert("forbidden_url".into(), s(forbidden.url()));
    table.insert("file".into(), s(secret_file.path().display().to_string()));
    table.insert("socket".into(), s(forbidden.addr.to_string()));
    let config = ConnectorConfig::in_code(ConnectorKind::Notifier, "snooping", "snoop", table);
    let ctx = BuildContext {
        secrets: &NoSecrets,
        base_dir: Path::new("/"),
    };
    let notifier: Arc<dyn Notifier> = factory
        .build(&config, &ctx)
        .await
        .unwrap_or_else(|e| panic!("build: {e}"));

    notifier
        .notify(&event("snoop-1"))
        .await
        .unwrap_or_else(|e| panic!("notify: {e}"));
    let report = granted
        .wait_for("ev-snoop-1")
        .await
        .unwrap_or_else(|| panic!("no report"));
    assert!(
        report["file"]
            .as_str()
            .unwrap_or_default()
            .starts_with("refused"),
        "{report}"
    );
    assert!(
        report["socket"]
            .as_str()
            .unwrap_or_default()
            .starts_with("refused"),
        "{report}"
    );
    assert!(
        report["forbidden_http"]
            .as_str()
            .unwrap_or_default()
            .contains("NotAllowed"),
        "{report}"
    );
    assert_eq!(report["env_vars"], 0, "no environment is granted");
    assert!(
        forbidden.bodies().is_empty(),
        "nothing reached the URL that was not granted"
    );

    let text = logs::text();
    assert!(
        text.contains("tried to use the filesystem: refused"),
        "file refusal logged"
    );
    assert!(
        text.contains("tried to open a network socket: refused"),
        "socket refusal logged"
    );
    assert!(
        text.contains("HTTP request refused") && text.contains(&forbidden.url()),
        "URL refusal logged with the URL"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn components_for_another_world_or_version_are_refused_at_load() {
    let g = guests();
    let future = load(&g.future_version, "")
        .err()
        .unwrap_or_else(|| panic!("a 0.2.0 component loaded"));
    assert!(
        future.contains("built for writeback:plugin@0.2.0")
            && future.contains("implements writeback:plugin@0.1.0"),
        "{future}"
    );

    let wrong = load(&g.policy_wants_http, "")
        .err()
        .unwrap_or_else(|| panic!("a policy importing http loaded"));
    assert!(
        wrong.contains("imports writeback:plugin/http@0.1.0, which that world does not grant"),
        "{wrong}"
    );

    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let core_module = dir.path().join("core.wasm");
    std::fs::write(&core_module, b"\0asm\x01\0\0\0").unwrap_or_else(|e| panic!("{e}"));
    let core = load(&core_module, "")
        .err()
        .unwrap_or_else(|| panic!("a core module loaded"));
    assert!(
        core.contains("core WebAssembly module, not a component"),
        "{core}"
    );

    let granted_to_policy = load(&g.policy, "allow_http = [\"https://x.example/\"]")
        .err()
        .unwrap_or_else(|| panic!("a policy got HTTP"));
    assert!(
        granted_to_policy.contains("gets no HTTP capability"),
        "{granted_to_policy}"
    );

    let bad_key = load(&g.policy, "memory_mb = 0")
        .err()
        .unwrap_or_else(|| panic!("memory_mb = 0 accepted"));
    assert!(
        bad_key.contains("`memory_mb` must be between 1 and 4096"),
        "{bad_key}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plugins_list_shows_the_world_and_version() {
    let g = guests();
    let registry = load(&g.policy, "").unwrap_or_else(|e| panic!("{e}"));
    let info = registry
        .list()
        .into_iter()
        .find(|i| i.type_name == "company-words")
        .unwrap_or_else(|| panic!("company-words is not listed"));
    assert_eq!(info.kind, ConnectorKind::Policy);
    assert!(
        info.description
            .contains("writeback:plugin/policy-plugin@0.1.0"),
        "{}",
        info.description
    );
    assert!(info.description.contains("1.0.0"), "{}", info.description);
    assert!(
        info.origin.ends_with("wasm_policy_example.wasm"),
        "{}",
        info.origin
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_users_are_served_while_a_plugin_loops() {
    let g = guests();
    let s = slapd::shared();
    let (stuck_uid, stuck_dn) = user(s, "wasmstuck").await;
    let (uid, dn) = user(s, "wasmfree").await;
    // The guest yields to the host's scheduler on every epoch tick, so a loop holds
    // no worker thread while it runs out its 3 s limit.
    let e = Arc::new(
        Engine::start(|dir| {
            format!(
                "[pipeline]\ndeadline_ms = 8000\n\n{target}{plugin}[[policies]]\ntype = \"misbehaving\"\n\n",
                target = openldap_target(s, dir, "ldap", BY_UID),
                plugin = plugin_entry(&g.misbehaving, "timeout_ms = 3000"),
            )
        })
        .await,
    );
    let looping = {
        let e = e.clone();
        let body = RequestBody::reset(
            "wasm-stuck-1",
            by_uid(&stuck_uid),
            Password::new("loop-forever-Marker-2"),
            false,
        );
        tokio::spawn(async move { e.send(&body).await })
    };
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;

    let good = "Marker-Meanwhile-5m!";
    let a = e
        .send(&RequestBody::reset(
            "wasm-free-1",
            by_uid(&uid),
            Password::new(good),
            false,
        ))
        .await;
    expect(&a, OutcomeCode::Succeeded, 200);
    assert!(s.can_bind(&dn, good).await);
    assert!(
        !looping.is_finished(),
        "the other user's answer came while the plugin still looped"
    );

    let stuck = looping.await.unwrap_or_else(|e| panic!("{e}"));
    expect(&stuck, OutcomeCode::PluginFault, 500);
    assert!(s.can_bind(&stuck_dn, INITIAL).await, "nothing was written");
}

/// Issue 15 finding 7: text a WASM policy hands back (a rule message, its failure's
/// message and admin detail) is scrubbed of the password before it reaches the reply,
/// the audit log or the log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_from_a_wasm_plugin_never_carries_the_password() {
    let g = guests();
    let s = slapd::shared();
    let (uid, dn) = user(s, "wasmleak").await;
    let e = Engine::start(|dir| {
        format!(
            "[pipeline]\ndeadline_ms = 8000\n\n{target}{plugin}[[policies]]\ntype = \"misbehaving\"\n\n",
            target = openldap_target(s, dir, "ldap", BY_UID),
            plugin = plugin_entry(&g.misbehaving, ""),
        )
    })
    .await;

    let in_rule = "Marker-leak-rule-\"4q";
    let a = e
        .send(&RequestBody::reset(
            "wasm-leak-1",
            by_uid(&uid),
            Password::new(in_rule),
            false,
        ))
        .await;
    expect(&a, OutcomeCode::RejectedPolicy, 422);
    assert_eq!(a.reply.rules.len(), 1, "{:?}", a.reply.rules);
    assert_eq!(a.reply.rules[0].message, "`[password]` is not allowed");

    let in_outcome = "Marker-leak-outcome-5r";
    let a = e
        .send(&RequestBody::reset(
            "wasm-leak-2",
            by_uid(&uid),
            Password::new(in_outcome),
            false,
        ))
        .await;
    expect(&a, OutcomeCode::DirectoryUnavailable, 503);
    assert_eq!(a.reply.message, "cannot check [password]");
    let audit = e.audit_records(2).await;
    let detail = audit
        .iter()
        .find(|r| r["request_id"] == "wasm-leak-2")
        .and_then(|r| r["admin_detail"].as_str())
        .unwrap_or_default()
        .to_string();
    assert!(detail.contains("while checking \"[password]\""), "{detail}");
    assert!(s.can_bind(&dn, INITIAL).await, "nothing was written");

    for marker in [in_rule, in_outcome] {
        let reply_text = format!("{:?}", a.reply);
        assert!(!reply_text.contains("Marker-"), "{reply_text}");
        assert_no_leak(&e, None, marker).await;
        assert!(
            !e.audit_text().contains("Marker-"),
            "the audit holds a password"
        );
    }
    e.stop().await.unwrap_or_else(|e| panic!("{e}"));
}

/// Issue 15 finding 8: a guest asleep in a WASI clock call (a host call, which epoch
/// interruption cannot reach) is stopped by the host at its limit; the user's next
/// request is not held behind it. When the plugin's limit is the nearer one the answer
/// is `plugin_fault`; when the request's deadline is, reply and audit both say `timeout`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guest_asleep_in_a_host_call_is_stopped_at_its_limit() {
    use std::time::Duration;
    let g = guests();
    let s = slapd::shared();
    let (uid, dn) = user(s, "wasmsleep").await;
    let engine = |deadline_ms: u64, plugin_timeout_ms: u64| {
        Engine::start(move |dir| {
            format!(
                "[pipeline]\ndeadline_ms = {deadline_ms}\n\n{target}{plugin}[[policies]]\ntype = \"misbehaving\"\n\n",
                target = openldap_target(s, dir, "ldap", BY_UID),
                plugin = plugin_entry(&g.misbehaving, &format!("timeout_ms = {plugin_timeout_ms}")),
            )
        })
    };
    // "sleep-ms-600000": ten minutes of sleep; the test gives up long before.
    let e = engine(4000, 1000).await;
    let (a, took) = timed_reset(&e, "wasm-sleep-1", &uid, "Marker-sleep-ms-600000").await;
    expect(&a, OutcomeCode::PluginFault, 500);
    assert!(
        took < Duration::from_millis(2_500),
        "answered after {took:?}"
    );
    // The same user's next request runs at once.
    let good = "Marker-Awake-6t!";
    let (a, took) = timed_reset(&e, "wasm-sleep-2", &uid, good).await;
    expect(&a, OutcomeCode::Succeeded, 200);
    assert!(
        took < Duration::from_millis(2_500),
        "answered after {took:?}"
    );
    assert!(s.can_bind(&dn, good).await);
    e.stop().await.unwrap_or_else(|e| panic!("{e}"));

    // The request's deadline nearer than the plugin's limit: `timeout`, in reply and audit.
    let e = engine(1500, 60000).await;
    let (a, took) = timed_reset(&e, "wasm-sleep-3", &uid, "Marker-sleep-ms-600000").await;
    expect(&a, OutcomeCode::Timeout, 504);
    assert!(
        took < Duration::from_millis(3_000),
        "answered after {took:?}"
    );
    let (a, _) = timed_reset(&e, "wasm-sleep-4", &uid, "Marker-Awake-Again-7u!").await;
    expect(&a, OutcomeCode::Succeeded, 200);
    let audit = e.audit_records(2).await;
    let codes: Vec<String> = audit
        .iter()
        .filter(|r| r["request_id"] == "wasm-sleep-3")
        .map(|r| r["outcome"].as_str().unwrap_or_default().to_string())
        .collect();
    assert!(
        !codes.is_empty() && codes.iter().all(|c| c == "timeout"),
        "every audit line of the request says timeout: {codes:?}"
    );
    e.stop().await.unwrap_or_else(|e| panic!("{e}"));
}

/// A reset by uid, with how long its answer took; a request held 20 s fails the test.
async fn timed_reset(
    e: &Engine,
    id: &str,
    uid: &str,
    password: &str,
) -> (
    writeback_source_webhook::client::Answer,
    std::time::Duration,
) {
    let started = std::time::Instant::now();
    let body = RequestBody::reset(id, by_uid(uid), Password::new(password), false);
    let answer = tokio::time::timeout(std::time::Duration::from_secs(20), e.send(&body))
        .await
        .unwrap_or_else(|_| panic!("request {id} had no answer after 20 s"));
    (answer, started.elapsed())
}

/// Issue 15 finding 10: more calls than the instance pool has slots queue for a slot
/// instead of failing; a call that cannot get one before its deadline gets the
/// retryable busy answer, naming the pool.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_instance_pool_queues_then_answers_busy() {
    use std::time::Duration;
    let g = guests();
    let p = policy(&g.misbehaving, "timeout_ms = 20000", "misbehaving").await;

    // 140 calls at once, each asleep for 1.5 s in a fresh instance: more than the pool
    // holds. Every one gets its turn.
    let mut calls = tokio::task::JoinSet::new();
    for _ in 0..140 {
        let p = p.clone();
        calls.spawn(async move { evaluate(&*p, "sleep-ms-1500").await });
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Meanwhile a call whose request has 500 ms left cannot get a slot: busy, retryable.
    let deadline = std::time::Instant::now() + Duration::from_millis(500);
    let busy = writeback_core::deadline::within(deadline, evaluate(&*p, "Fine-Password-1"))
        .await
        .err()
        .unwrap_or_else(|| panic!("a call got a slot of a full pool"));
    assert_eq!(busy.code, OutcomeCode::DirectoryUnavailable, "{busy:?}");
    assert!(busy.code.is_retryable());
    let detail = busy.admin_detail.unwrap_or_default();
    assert!(detail.contains("instance pool"), "{detail}");
    while let Some(done) = calls.join_next().await {
        let result = done.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(result, Ok(Vec::new()), "a queued call failed");
    }
}
