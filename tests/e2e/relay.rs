//! Issue 16's proof: the relay through the real binaries — `writeback edge` (webhook
//! source over HTTPS) → a real nats-server with JetStream → `writeback agent` → the
//! real slapd.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures::StreamExt;
use writeback_core::{OutcomeCode, Password};
use writeback_relay::async_nats;
use writeback_relay::wire::{self, Envelope, Reply};
use writeback_signing::Secret;
use writeback_source_webhook::client::{Answer, Client, RequestBody};
use writeback_testkit::nats::NatsServer;
use writeback_testkit::process::{free_ports, spawn_tied};
use writeback_testkit::slapd::{self, Slapd};
use writeback_testkit::tls::TestCerts;
use writeback_tests::binary;
use writeback_tests::engine::{write_secret, WEBHOOK_SECRET};

use crate::support::*;

const INITIAL: &str = "Initial-Pass-1";

/// A child process killed when dropped, with its stderr in a file.
struct Proc {
    child: Child,
    log: PathBuf,
}

impl Proc {
    fn spawn(args: &[&str], log: PathBuf) -> Proc {
        let file = std::fs::File::create(&log).unwrap_or_else(|e| panic!("log file: {e}"));
        let mut cmd = Command::new(binary::writeback());
        cmd.args(args)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(file);
        let child = spawn_tied(cmd).unwrap_or_else(|e| panic!("spawn writeback: {e}"));
        Proc { child, log }
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGKILL, as a crash or an OOM kill would.
    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM and wait (a clean stop).
    fn stop(&mut self) {
        writeback_testkit::process::stop_child(&mut self.child, Duration::from_secs(10));
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}

/// NATS, an edge config and what tests need to reach it; agents are added per test.
struct Lab {
    dir: tempfile::TempDir,
    nats: NatsServer,
    url: String,
    health: String,
    client: Client,
    http: reqwest::Client,
}

impl Lab {
    fn new() -> Lab {
        writeback_tests::logs::init();
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        let nats = NatsServer::start().unwrap_or_else(|e| panic!("nats-server: {e}"));
        let certs = TestCerts::generate(&["127.0.0.1", "localhost"])
            .and_then(|c| c.write_to(dir.path()))
            .unwrap_or_else(|e| panic!("certs: {e}"));
        let client = Client::new(Some(&certs.ca)).unwrap_or_else(|e| panic!("client: {e}"));
        let [port, health] = free_ports::<2>("127.0.0.1").unwrap_or_else(|e| panic!("{e}"));
        let secret = write_secret(dir.path(), "webhook", WEBHOOK_SECRET);
        std::fs::write(
            dir.path().join("edge-base.toml"),
            format!(
                "[[sources]]\ntype = \"webhook\"\nlisten = \"127.0.0.1:{port}\"\n\
                 tls = {{ cert_file = \"{}\", key_file = \"{}\" }}\nsecret = {{ file = \"{}\" }}\n\n",
                certs.cert.display(),
                certs.key.display(),
                secret.display()
            ),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        Lab {
            url: format!("https://127.0.0.1:{port}"),
            health: format!("http://127.0.0.1:{health}"),
            dir,
            nats,
            client,
            http: reqwest::Client::new(),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// `writeback keys generate`: returns (private key file, public key file).
    fn key(&self, name: &str) -> (PathBuf, PathBuf) {
        let out = Command::new(binary::writeback())
            .args(["keys", "generate", "--name", name, "--out"])
            .arg(self.dir.path())
            .output()
            .unwrap_or_else(|e| panic!("keys generate: {e}"));
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        (
            self.path(&format!("{name}.key")),
            self.path(&format!("{name}.pub")),
        )
    }

    fn relay_common(&self) -> String {
        self.relay_common_on(&self.nats.url())
    }

    /// `[relay]` keys shared by the edge and agents, with NATS at `server`.
    fn relay_common_on(&self, server: &str) -> String {
        format!(
            "servers = [\"{server}\"]\npartitions = 8\nheartbeat_ms = 500\nagent_timeout_ms = 2000\nack_wait_ms = 2000\n"
        )
    }

    fn edge(&self, pubs: &[&Path], deadline_ms: u64) -> Proc {
        let health = self.health.trim_start_matches("http://");
        let text = format!(
            "{}[relay]\nrole = \"edge\"\n{}deadline_ms = {deadline_ms}\nhealth_listen = \"{health}\"\npublic_keys = [{}]\n",
            std::fs::read_to_string(self.path("edge-base.toml")).unwrap_or_default(),
            self.relay_common(),
            quoted(pubs)
        );
        let path = self.path("edge.toml");
        std::fs::write(&path, text).unwrap_or_else(|e| panic!("{e}"));
        Proc::spawn(
            &["edge", "-c", &path.display().to_string()],
            self.path("edge.log"),
        )
    }

    fn agent(&self, name: &str, keys: &[&Path], slapd: &Slapd) -> Proc {
        let target = openldap_target(slapd, self.dir.path(), &format!("ldap-{name}"), BY_UID);
        self.agent_with(name, keys, &target, &self.nats.url())
    }

    /// An agent with `targets` (`[[targets]]` tables) reaching NATS at `server`.
    fn agent_with(&self, name: &str, keys: &[&Path], targets: &str, server: &str) -> Proc {
        let text = format!(
            "[pipeline]\ndeadline_ms = 8000\n\n[audit]\npath = \"{audit}\"\n\n{targets}{policy}[relay]\nrole = \"agent\"\nname = \"{name}\"\n{common}private_keys = [{keys}]\n",
            audit = self.path(&format!("{name}-audit.jsonl")).display(),
            policy = BASIC_POLICY,
            common = self.relay_common_on(server),
            keys = quoted(keys),
        );
        let path = self.path(&format!("{name}.toml"));
        std::fs::write(&path, text).unwrap_or_else(|e| panic!("{e}"));
        Proc::spawn(
            &["agent", "-c", &path.display().to_string()],
            self.path(&format!("{name}.log")),
        )
    }

    fn audit(&self, agent: &str) -> Vec<serde_json::Value> {
        std::fs::read_to_string(self.path(&format!("{agent}-audit.jsonl")))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// How many audit records of `agent` carry `request_id`, once there is at least one
    /// (or after 10 s).
    async fn audited(&self, agent: &str, request_id: &str) -> usize {
        let start = Instant::now();
        loop {
            let n = self
                .audit(agent)
                .iter()
                .filter(|r| r["request_id"] == request_id)
                .count();
            if n > 0 || start.elapsed() > Duration::from_secs(10) {
                return n;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn health_json(&self) -> Option<(u16, serde_json::Value)> {
        let r = self
            .http
            .get(format!("{}/health", self.health))
            .send()
            .await
            .ok()?;
        let status = r.status().as_u16();
        Some((status, r.json().await.ok()?))
    }

    /// Waits until the edge serves and sees `agents` live agents.
    async fn ready(&self, agents: usize, edge: &Proc) {
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(60) {
            if let Some((_, body)) = self.health_json().await {
                if body["agents_alive"].as_u64() == Some(agents as u64) {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!(
            "the edge did not see {agents} agent(s) within 60 s; edge log:\n{}",
            edge.log_text()
        );
    }

    async fn send(&self, body: &RequestBody) -> Answer {
        let secret = Secret::parse(WEBHOOK_SECRET).unwrap_or_else(|e| panic!("{e}"));
        self.client
            .send(&self.url, &secret, body)
            .await
            .unwrap_or_else(|e| panic!("request {}: {e}", body.id))
    }

    async fn reset(&self, id: &str, uid: &str, password: &str) -> Answer {
        self.send(&RequestBody::reset(
            id,
            by_uid(uid),
            Password::new(password),
            false,
        ))
        .await
    }

    async fn nats(&self) -> async_nats::Client {
        async_nats::connect(self.nats.url())
            .await
            .unwrap_or_else(|e| panic!("nats connect: {e}"))
    }
}

fn quoted(paths: &[&Path]) -> String {
    paths
        .iter()
        .map(|p| format!("\"{}\"", p.display()))
        .collect::<Vec<_>>()
        .join(", ")
}

async fn user(s: &Slapd, prefix: &str) -> (String, String) {
    let uid = s.unique_uid(prefix);
    let dn = s
        .add_user(&uid, INITIAL, &[])
        .await
        .unwrap_or_else(|e| panic!("add user: {e}"));
    (uid, dn)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relay_reset_lands_policy_refusal_returns_and_nats_sees_no_password() {
    let s = slapd::shared();
    let lab = Lab::new();
    let (key, public) = lab.key("agent1");
    let agent = lab.agent("a1", &[&key], s);
    let edge = lab.edge(&[&public], 8000);
    lab.ready(1, &edge).await;

    // A raw subscriber on every request subject sees what NATS carries.
    let raw = lab.nats().await;
    let mut seen = raw
        .subscribe("writeback.req.>")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    raw.flush().await.unwrap_or_else(|e| panic!("{e}"));

    let (uid, dn) = user(s, "relayreset").await;
    let marker = "Marker-Rl1-7qXv!";
    let a = lab.reset("relay-1", &uid, marker).await;
    expect(&a, OutcomeCode::Succeeded, 200);
    assert!(s.can_bind(&dn, marker).await, "the new password binds");
    assert!(
        !s.can_bind(&dn, INITIAL).await,
        "the old one no longer does"
    );

    // A caller's retry with the same id gets the first outcome; nothing is written again.
    let again = lab.reset("relay-1", &uid, marker).await;
    expect(&again, OutcomeCode::Succeeded, 200);

    // The policy refusal comes back through the relay with every broken rule.
    let weak = lab.reset("relay-2", &uid, "short").await;
    expect(&weak, OutcomeCode::RejectedPolicy, 422);
    let rules: Vec<&str> = weak.reply.rules.iter().map(|r| r.rule.as_str()).collect();
    assert!(
        rules.iter().any(|r| r.contains("length")),
        "rules: {rules:?}"
    );
    assert!(
        s.can_bind(&dn, marker).await,
        "a refused password is not written"
    );

    // What NATS carried: ciphertext only.
    let mut messages = Vec::new();
    while let Ok(Some(m)) = tokio::time::timeout(Duration::from_millis(500), seen.next()).await {
        messages.push(String::from_utf8_lossy(&m.payload).to_string());
    }
    assert!(
        messages.len() >= 2,
        "the subscriber saw {} messages",
        messages.len()
    );
    for m in &messages {
        assert!(
            !m.contains("Marker") && !m.contains("short\""),
            "a password in clear on NATS: {m}"
        );
        let env: Envelope = serde_json::from_str(m).unwrap_or_else(|e| panic!("{e}: {m}"));
        assert!(!env.sealed.is_empty());
    }
    // Nor in the logs of either process, nor the ledger.
    for text in [edge.log_text(), agent.log_text()] {
        assert!(!text.contains("Marker-Rl1"), "a password in a log");
    }
    let records = lab.audit("a1");
    let applied = records
        .iter()
        .filter(|r| r["request_id"] == "relay-1" && r["outcome"] == "succeeded")
        .count();
    assert!(applied >= 1, "audit: {records:?}");

    // The operator's view: health, metrics, and `writeback agents list`.
    let (status, health) = lab
        .health_json()
        .await
        .unwrap_or_else(|| panic!("no /health"));
    assert_eq!(
        (status, health["agents"][0]["agent"].as_str()),
        (200, Some("a1"))
    );
    let metrics = lab
        .http
        .get(format!("{}/metrics", lab.health))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .text()
        .await
        .unwrap_or_default();
    assert!(
        metrics.contains("writeback_relay_agents_alive 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("writeback_relay_outcomes_total{code=\"succeeded\"} 2"),
        "{metrics}"
    );
    let list = Command::new(binary::writeback())
        .args(["agents", "list", "-c"])
        .arg(lab.path("edge.toml"))
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let text = String::from_utf8_lossy(&list.stdout);
    assert!(
        list.status.success() && text.contains("a1") && text.contains("yes"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relay_without_a_live_agent_answers_directory_unavailable_at_once() {
    let lab = Lab::new();
    let (_, public) = lab.key("lonely");
    let edge = lab.edge(&[&public], 8000);
    lab.ready(0, &edge).await;
    let (status, health) = lab
        .health_json()
        .await
        .unwrap_or_else(|| panic!("no /health"));
    assert_eq!((status, health["status"].as_str()), (503, Some("failing")));
    let started = Instant::now();
    let a = lab.reset("nobody-1", "someone", "Marker-Na1-3kq!").await;
    let took = started.elapsed();
    expect(&a, OutcomeCode::DirectoryUnavailable, 503);
    assert!(took < Duration::from_secs(1), "took {took:?}");
    let start = Instant::now();
    while !edge
        .log_text()
        .contains("no writeback agent has sent a heartbeat")
    {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "the edge log says why: {}",
            edge.log_text()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Publishes an envelope straight to the stream (as an attacker with publish rights
/// would) and waits for the agent's reply.
async fn inject(lab: &Lab, envelope: &Envelope, msg_id: &str) -> Reply {
    let nc = lab.nats().await;
    let inbox = format!("writeback.reply.test.{}", uuid::Uuid::new_v4().simple());
    let mut sub = nc
        .subscribe(inbox.clone())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let js = async_nats::jetstream::new(nc.clone());
    let mut headers = async_nats::HeaderMap::new();
    headers.insert("Nats-Msg-Id", msg_id);
    headers.insert(wire::REPLY_HEADER, inbox.as_str());
    let p = wire::partition(&envelope.bound.identity, 8);
    js.publish_with_headers(
        format!("writeback.req.{p:03}"),
        headers,
        serde_json::to_vec(envelope).unwrap_or_default().into(),
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"))
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    let m = tokio::time::timeout(Duration::from_secs(10), sub.next())
        .await
        .unwrap_or_else(|_| panic!("no reply from the agent"))
        .unwrap_or_else(|| panic!("subscription ended"));
    serde_json::from_slice(&m.payload).unwrap_or_else(|e| panic!("{e}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relay_refuses_tampered_and_unknown_key_messages_and_writes_nothing() {
    let s = slapd::shared();
    let lab = Lab::new();
    let (key, public) = lab.key("agent1");
    let _agent = lab.agent("a1", &[&key], s);
    let edge = lab.edge(&[&public], 8000);
    lab.ready(1, &edge).await;
    let (alice, _) = user(s, "tamperalice").await;
    let (bob, bob_dn) = user(s, "tamperbob").await;

    // Capture a real sealed request for alice.
    let nc = lab.nats().await;
    let mut seen = nc
        .subscribe("writeback.req.>")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    nc.flush().await.unwrap_or_else(|e| panic!("{e}"));
    let marker = "Marker-Tp1-9zQ!";
    expect(
        &lab.reset("tamper-1", &alice, marker).await,
        OutcomeCode::Succeeded,
        200,
    );
    let m = tokio::time::timeout(Duration::from_secs(5), seen.next())
        .await
        .ok()
        .flatten()
        .unwrap_or_else(|| panic!("no message seen"));
    let captured: Envelope = serde_json::from_slice(&m.payload).unwrap_or_else(|e| panic!("{e}"));

    // Redirect it to bob (new id so the ledger cannot answer for it): refused.
    let mut tampered = captured.clone();
    tampered.bound.identity = by_uid(&bob);
    tampered.bound.id = "tamper-2".into();
    tampered.bound.deadline_unix_ms = wire::unix_ms() + 10_000;
    let reply = inject(&lab, &tampered, "tamper-2").await;
    assert_eq!(reply.outcome.code, OutcomeCode::AdminActionRequired);
    let detail = reply.outcome.admin_detail.unwrap_or_default();
    assert!(detail.contains(&captured.sealed[0].key_id), "{detail}");

    // Flip one ciphertext byte (and give it a fresh id and deadline, which alone
    // would also fail: they are bound too).
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut flipped = captured.clone();
    let mut ct = b64.decode(&flipped.sealed[0].ct).unwrap_or_default();
    ct[3] ^= 0x40;
    flipped.sealed[0].ct = b64.encode(ct);
    let reply = inject(&lab, &flipped, "tamper-3").await;
    assert_eq!(
        reply.outcome.code,
        OutcomeCode::AdminActionRequired,
        "flipped ciphertext"
    );

    // Sealed to a key no agent holds.
    let (_, stranger) = writeback_relay::seal::PrivateKey::generate();
    let request = writeback_core::Request {
        id: writeback_core::RequestId::parse("tamper-4").unwrap_or_else(|e| panic!("{e}")),
        source: "webhook".into(),
        operation: writeback_core::Operation::Reset {
            new_password: Password::new("Marker-Tp4-1aB!"),
            must_change: false,
        },
        identity: by_uid(&bob),
        initiator: Default::default(),
    };
    let sealed = wire::seal_request(
        &request,
        wire::unix_ms() + 10_000,
        std::slice::from_ref(&stranger),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let reply = inject(&lab, &sealed, "tamper-4").await;
    assert_eq!(reply.outcome.code, OutcomeCode::AdminActionRequired);
    let detail = reply.outcome.admin_detail.unwrap_or_default();
    assert!(detail.contains(&stranger.id), "names the key id: {detail}");

    assert!(
        s.can_bind(&bob_dn, INITIAL).await,
        "nothing was written to bob"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relay_key_rotation_agents_with_different_keys_both_work() {
    let s = slapd::shared();
    let lab = Lab::new();
    let (old_key, old_pub) = lab.key("old");
    let (new_key, new_pub) = lab.key("new");
    let edge = lab.edge(&[&old_pub, &new_pub], 8000);
    let (uid, dn) = user(s, "rotate").await;

    let mut old_agent = lab.agent("old-agent", &[&old_key], s);
    lab.ready(1, &edge).await;
    expect(
        &lab.reset("rot-1", &uid, "Marker-Ro1-aa1!").await,
        OutcomeCode::Succeeded,
        200,
    );
    let mut new_agent = lab.agent("new-agent", &[&new_key], s);
    lab.ready(2, &edge).await;
    old_agent.stop();
    lab.ready(1, &edge).await;
    expect(
        &lab.reset("rot-2", &uid, "Marker-Ro2-bb2!").await,
        OutcomeCode::Succeeded,
        200,
    );
    assert!(s.can_bind(&dn, "Marker-Ro2-bb2!").await);
    // Audit records are written in batches: wait for them rather than race the writer.
    assert_eq!(lab.audited("old-agent", "rot-1").await, 1);
    assert_eq!(lab.audited("new-agent", "rot-2").await, 1);
    new_agent.stop();
}

/// Sends every user's ids in order, each twice; returns (id, password, outcome code)
/// per send.
async fn burst(
    lab: &Lab,
    users: &[String],
    per_user: usize,
    tag: &str,
) -> Vec<(String, usize, String, OutcomeCode)> {
    let mut tasks = Vec::new();
    for (u, uid) in users.iter().enumerate() {
        let uid = uid.clone();
        let tag = tag.to_string();
        let secret = Secret::parse(WEBHOOK_SECRET).unwrap_or_else(|e| panic!("{e}"));
        let (client, url) = (lab.client.clone(), lab.url.clone());
        tasks.push(tokio::spawn(async move {
            let mut out = Vec::new();
            for n in 0..per_user {
                let id = format!("{tag}-{u}-{n}");
                let password = format!("Marker-{tag}{u}x{n}-Qz!");
                for _ in 0..2 {
                    let body =
                        RequestBody::reset(&id, by_uid(&uid), Password::new(&password), false);
                    let started = Instant::now();
                    let code = match client.send(&url, &secret, &body).await {
                        Ok(a) => a.reply.outcome,
                        Err(e) => panic!("request {id} got no answer: {e}"),
                    };
                    assert!(
                        started.elapsed() < Duration::from_secs(12),
                        "{id} took {:?}",
                        started.elapsed()
                    );
                    out.push((id.clone(), u, password.clone(), code));
                }
            }
            out
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap_or_else(|e| panic!("{e}")));
    }
    all
}

/// For each user, the password of the last id that succeeded binds.
async fn last_passwords_bind(
    s: &Slapd,
    dns: &[String],
    sent: &[(String, usize, String, OutcomeCode)],
) {
    for (u, dn) in dns.iter().enumerate() {
        let last = sent
            .iter()
            .rfind(|(_, user, _, code)| *user == u && *code == OutcomeCode::Succeeded);
        if let Some((id, _, password, _)) = last {
            assert!(
                s.can_bind(dn, password).await,
                "user {u}: last success {id} does not bind"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relay_two_agents_one_sigkilled_mid_burst_loses_nothing_and_applies_nothing_twice() {
    let s = slapd::shared();
    let lab = Lab::new();
    let (key, public) = lab.key("fleet");
    let mut a1 = lab.agent("k1", &[&key], s);
    let _a2 = lab.agent("k2", &[&key], s);
    let edge = lab.edge(&[&public], 8000);
    lab.ready(2, &edge).await;
    let (users, per_user) = (50usize, 4usize);
    let mut uids = Vec::new();
    let mut dns = Vec::new();
    for _ in 0..users {
        let (uid, dn) = user(s, "burst").await;
        uids.push(uid);
        dns.push(dn);
    }
    let killer = async {
        // Kill one agent once the burst is well under way.
        let start = Instant::now();
        while lab.audit("k1").len() + lab.audit("k2").len() < 60
            && start.elapsed() < Duration::from_secs(60)
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        a1.kill();
    };
    let (sent, ()) = tokio::join!(burst(&lab, &uids, per_user, "b"), killer);
    assert_eq!(sent.len(), users * per_user * 2, "every request answered");
    let codes: std::collections::BTreeMap<String, usize> =
        sent.iter().fold(Default::default(), |mut m, (_, _, _, c)| {
            *m.entry(c.as_str().to_string()).or_default() += 1;
            m
        });
    println!("outcomes: {codes:?}");
    // Only requests the killed agent held can be unresolved (one per partition at most,
    // and each answered twice).
    let unresolved = sent
        .iter()
        .filter(|(_, _, _, c)| *c != OutcomeCode::Succeeded)
        .count();
    assert!(
        sent.iter()
            .all(|(_, _, _, c)| matches!(c, OutcomeCode::Succeeded | OutcomeCode::Timeout)),
        "{codes:?}"
    );
    assert!(unresolved <= 8 * 2 * 2, "{codes:?}");
    // No id applied twice: across both agents' audit logs, at most one first-time success.
    let mut applied: std::collections::BTreeMap<String, usize> = Default::default();
    for r in lab.audit("k1").into_iter().chain(lab.audit("k2")) {
        if r["outcome"] == "succeeded" && r["duplicate"] != true {
            *applied
                .entry(r["request_id"].as_str().unwrap_or_default().to_string())
                .or_default() += 1;
        }
    }
    let twice: Vec<_> = applied.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "applied twice: {twice:?}");
    // Both sends of an id got the same answer unless the first was unresolved.
    for pair in sent.chunks(2) {
        if pair[0].3 == OutcomeCode::Succeeded {
            assert_eq!(pair[1].3, OutcomeCode::Succeeded, "{}", pair[1].0);
        }
    }
    // Per-user order: each user ends with the password of their last successful id.
    last_passwords_bind(s, &dns, &sent).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relay_nats_restart_mid_burst_answers_within_the_deadline_then_succeeds() {
    let s = slapd::shared();
    let lab = Lab::new();
    let (key, public) = lab.key("restart");
    let _agent = lab.agent("r1", &[&key], s);
    let edge = lab.edge(&[&public], 3000);
    lab.ready(1, &edge).await;
    let mut uids = Vec::new();
    let mut dns = Vec::new();
    for _ in 0..10 {
        let (uid, dn) = user(s, "natsrestart").await;
        uids.push(uid);
        dns.push(dn);
    }
    let chaos = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        lab.nats.kill();
        tokio::time::sleep(Duration::from_secs(1)).await;
        lab.nats
            .restart()
            .unwrap_or_else(|e| panic!("restart: {e}"));
    };
    let (sent, ()) = tokio::join!(burst(&lab, &uids, 6, "n"), chaos);
    let codes: std::collections::BTreeMap<&str, usize> =
        sent.iter().fold(Default::default(), |mut m, (_, _, _, c)| {
            *m.entry(c.as_str()).or_default() += 1;
            m
        });
    println!("outcomes: {codes:?}");
    assert!(
        sent.iter().all(|(_, _, _, c)| matches!(
            c,
            OutcomeCode::Succeeded | OutcomeCode::Timeout | OutcomeCode::DirectoryUnavailable
        )),
        "{codes:?}"
    );
    last_passwords_bind(s, &dns, &sent).await;
    // After the restart, requests succeed again.
    let start = Instant::now();
    loop {
        let a = lab
            .reset(
                &format!("after-{}", start.elapsed().as_millis()),
                &uids[0],
                "Marker-Af1-zz9!",
            )
            .await;
        if a.reply.outcome == OutcomeCode::Succeeded {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "no success 30 s after the restart: {:?}",
            a.reply.outcome
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(s.can_bind(&dns[0], "Marker-Af1-zz9!").await);
}

/// The agent `name`'s `targets_ok` as the edge's /health shows it.
async fn targets_ok(lab: &Lab, name: &str) -> Option<bool> {
    let (_, health) = lab.health_json().await?;
    health["agents"]
        .as_array()?
        .iter()
        .find(|a| a["agent"] == name)?["targets_ok"]
        .as_bool()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relay_agent_whose_directory_is_down_leaves_requests_to_one_that_can_serve() {
    let s = slapd::shared();
    let lab = Lab::new();
    let (key, public) = lab.key("split");
    // One agent's slapd is a port nobody listens on; the other's is the real one.
    let [dead] = free_ports::<1>("127.0.0.1").unwrap_or_else(|e| panic!("{e}"));
    let down_target = openldap_target(s, lab.dir.path(), "ldap-down", BY_UID)
        .replace(&s.ldaps_url(), &format!("ldaps://127.0.0.1:{dead}"));
    let _down = lab.agent_with("down", &[&key], &down_target, &lab.nats.url());
    let mut up = lab.agent("up", &[&key], s);
    let edge = lab.edge(&[&public], 8000);
    lab.ready(2, &edge).await;
    let start = Instant::now();
    while targets_ok(&lab, "down").await != Some(false)
        || targets_ok(&lab, "up").await != Some(true)
    {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "the heartbeats should say which agent's directory is down"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Two heartbeats: the agents have read each other's.
    tokio::time::sleep(Duration::from_millis(1200)).await;

    // Users spread over every partition; each request lands, through the agent that
    // can reach the directory, well inside the deadline.
    let mut users = Vec::new();
    for _ in 0..16 {
        users.push(user(s, "dirdown").await);
    }
    let lab_ref = &lab;
    let sends = users.iter().enumerate().map(|(i, (uid, _))| async move {
        let started = Instant::now();
        let a = lab_ref
            .reset(&format!("down-{i}"), uid, &format!("Marker-Dd{i}-k7W!"))
            .await;
        (a, started.elapsed())
    });
    let answers = futures::future::join_all(sends).await;
    for (i, ((_, dn), (a, took))) in users.iter().zip(&answers).enumerate() {
        expect(a, OutcomeCode::Succeeded, 200);
        assert!(took < &Duration::from_secs(4), "down-{i} took {took:?}");
        assert!(s.can_bind(dn, &format!("Marker-Dd{i}-k7W!")).await);
    }
    let served = lab
        .audit("up")
        .iter()
        .filter(|r| r["outcome"] == "succeeded")
        .count();
    assert_eq!(served, 16, "the agent whose directory is up served all");

    // With no agent able to reach a directory, the request fails
    // `directory_unavailable`, inside the deadline rather than at it.
    up.stop();
    lab.ready(1, &edge).await;
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let (uid, dn) = user(s, "dirdown").await;
    let started = Instant::now();
    let a = lab.reset("down-last", &uid, "Marker-DdL-k7W!").await;
    let took = started.elapsed();
    expect(&a, OutcomeCode::DirectoryUnavailable, 503);
    assert!(took < Duration::from_secs(7), "took {took:?}");
    assert!(s.can_bind(&dn, INITIAL).await, "nothing written");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relay_agent_over_websocket_reset_lands() {
    let s = slapd::shared();
    let lab = Lab::new();
    let (key, public) = lab.key("ws");
    // The agent reaches NATS only through its websocket listener (ws:// on loopback;
    // wss:// with tls_ca_file elsewhere), as from a network that lets only HTTP(S) out.
    let target = openldap_target(s, lab.dir.path(), "ldap-ws", BY_UID);
    let agent = lab.agent_with("ws-agent", &[&key], &target, &lab.nats.ws_url());
    let edge = lab.edge(&[&public], 8000);
    lab.ready(1, &edge).await;
    let (uid, dn) = user(s, "relayws").await;
    let a = lab.reset("ws-1", &uid, "Marker-Ws1-p4T!").await;
    expect(&a, OutcomeCode::Succeeded, 200);
    assert!(s.can_bind(&dn, "Marker-Ws1-p4T!").await);
    assert!(!s.can_bind(&dn, INITIAL).await);
    assert!(
        !agent.log_text().contains("Marker-Ws1"),
        "a password in a log"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relay_reset_to_samba_ad_lands_and_the_person_binds() -> anyhow::Result<()> {
    let dc = writeback_testkit::samba::shared()?;
    let lab = Lab::new();
    let (key, public) = lab.key("ad");
    let user = dc
        .add_user(writeback_testkit::samba::NewUser::new(
            &dc.unique_name("relay"),
            "Relay!Initial-1",
        ))
        .await?;
    let svc = dc.service_account();
    let secret = write_secret(lab.dir.path(), "ad-bind", &svc.password);
    let target = format!(
        "[[targets]]\ntype = \"active-directory\"\nname = \"ad\"\nurl = \"{url}\"\nca_file = \"{ca}\"\n\
         bind_dn = \"{bind}\"\nbind_password = {{ file = \"{secret}\" }}\nbase_dn = \"{base}\"\n\n",
        url = dc.ldaps_url(),
        ca = dc.ca_file().display(),
        bind = svc.upn,
        secret = secret.display(),
        base = dc.base_dn(),
    );
    let _agent = lab.agent_with("ad-agent", &[&key], &target, &lab.nats.url());
    let edge = lab.edge(&[&public], 15000);
    lab.ready(1, &edge).await;
    let marker = "Relay!Marker-Ad1-9vQ";
    let identity = writeback_core::CloudIdentity {
        upn: Some(user.upn.clone()),
        ..Default::default()
    };
    let a = lab
        .send(&RequestBody::reset(
            "ad-relay-1",
            identity,
            Password::new(marker),
            false,
        ))
        .await;
    expect(&a, OutcomeCode::Succeeded, 200);
    dc.bind_as(&user.upn, marker).await?;
    assert!(
        dc.bind_as(&user.upn, "Relay!Initial-1").await.is_err(),
        "the old password no longer binds"
    );
    Ok(())
}

/// The pre-flight on an edge (`POST /v1/policy-check` here; the password page's live
/// verdicts take the same way): an agent's pipeline answers rule by rule against the
/// real slapd account, nothing is written, nothing audited, and NATS carries no
/// password; with no agent the edge says the rules cannot be checked now.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relay_policy_check_on_the_edge_is_answered_by_an_agent_without_writing() {
    use writeback_signing::sign_headers;
    let s = slapd::shared();
    let lab = Lab::new();
    let (key, public) = lab.key("agentpc");
    let mut agent = lab.agent("pc", &[&key], s);
    let edge = lab.edge(&[&public], 8000);
    lab.ready(1, &edge).await;
    let raw = lab.nats().await;
    let mut seen = raw
        .subscribe("writeback.>")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    raw.flush().await.unwrap_or_else(|e| panic!("{e}"));

    let ca = std::fs::read(lab.path("ca.pem")).unwrap_or_else(|e| panic!("{e}"));
    let http = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&ca).unwrap_or_else(|e| panic!("{e}")))
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let secret = Secret::parse(WEBHOOK_SECRET).unwrap_or_else(|e| panic!("{e}"));
    let (uid, dn) = user(s, "relaycheck").await;
    let check = |id: &str, password: &str| {
        let body = serde_json::json!({
            "id": id, "operation": "reset", "new_password": password,
            "identity": {"username": uid},
        })
        .to_string();
        let headers = sign_headers(
            &[&secret],
            &format!("msg_{id}"),
            writeback_source_webhook::client::unix_now(),
            body.as_bytes(),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        http.post(format!("{}/v1/policy-check", lab.url))
            .header("content-type", "application/json")
            .headers(headers)
            .body(body)
            .send()
    };
    let answer = |r: reqwest::Response| async move {
        let status = r.status().as_u16();
        (
            status,
            r.json::<serde_json::Value>().await.unwrap_or_default(),
        )
    };

    let (status, weak) = answer(
        check("rc-1", "short")
            .await
            .unwrap_or_else(|e| panic!("{e}")),
    )
    .await;
    assert_eq!(status, 200, "{weak}");
    assert_eq!(weak["acceptable"], false, "{weak}");
    assert!(weak["failed"].to_string().contains("length.min"), "{weak}");
    assert_eq!(weak["targets"][0]["found"], true, "{weak}");

    let marker = "Marker-Rc1-7qXv!";
    let (status, good) = answer(
        check("rc-2", marker)
            .await
            .unwrap_or_else(|e| panic!("{e}")),
    )
    .await;
    assert_eq!(status, 200, "{good}");
    assert_eq!(good["acceptable"], true, "{good}");
    assert!(
        s.can_bind(&dn, INITIAL).await,
        "a policy check wrote the password"
    );
    assert!(!s.can_bind(&dn, marker).await);
    let audited = lab.audit("pc");
    assert!(
        !audited
            .iter()
            .any(|r| r["request_id"] == "rc-1" || r["request_id"] == "rc-2"),
        "a check was audited: {audited:?}"
    );

    let mut carried = String::new();
    while let Ok(Some(m)) = tokio::time::timeout(Duration::from_millis(300), seen.next()).await {
        carried.push_str(&String::from_utf8_lossy(&m.payload));
    }
    assert!(
        carried.contains("\"kind\":\"check\""),
        "no check on NATS: {carried}"
    );
    assert!(
        !carried.contains("Marker-Rc1"),
        "a password crossed NATS in clear"
    );

    // No agent: the edge answers at once that the rules cannot be checked now.
    agent.stop();
    let start = Instant::now();
    loop {
        let (status, body) = answer(
            check("rc-3", marker)
                .await
                .unwrap_or_else(|e| panic!("{e}")),
        )
        .await;
        if status != 200 {
            assert_eq!(body["outcome"], "directory_unavailable", "{status} {body}");
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "still answered: {body}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for log in [edge.log_text(), agent.log_text()] {
        assert!(!log.contains("Marker-Rc1"), "a password in a log");
    }
}
