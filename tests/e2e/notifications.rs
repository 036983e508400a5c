//! Issue 5's proof: notifications through the durable outbox to a real SMTP server
//! (aiosmtpd, STARTTLS, AUTH) and a real signature-checking, deduplicating webhook
//! receiver; an SMTP outage; a SIGKILL of the real `writeback` binary with
//! notifications pending; expiry reminders from a real slapd's ppolicy data.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use writeback_core::{OutcomeCode, Password};
use writeback_outbox::{ListFilter, RowState, Store, SyncMode};
use writeback_signing::Secret;
use writeback_source_webhook::client::{Client, RequestBody};
use writeback_testkit::http_receiver::HttpReceiver;
use writeback_testkit::slapd::{self, Slapd};
use writeback_testkit::smtp::SmtpServer;
use writeback_testkit::tls::TestCerts;
use writeback_tests::engine::{write_secret, WEBHOOK_SECRET};
use writeback_tests::Engine;

use crate::support::*;

const INITIAL: &str = "Initial-Pass-1";
const HOOK_SECRET: &str = "whsec_bm90aWZpY2F0aW9ucy10ZXN0LXNlY3JldC0wMDE=";

/// `[outbox]` with quick retries, in `dir`.
fn outbox_section(dir: &Path) -> String {
    format!(
        "[outbox]\npath = \"{}\"\nbackoff_initial_ms = 200\nbackoff_max_ms = 1000\nmax_attempts = 50\n\n",
        dir.join("outbox.db").display()
    )
}

/// `[[notifiers]]` smtp to the test server: STARTTLS, AUTH, the test CA; the person
/// and the help desk on success, only the help desk on failures.
fn smtp_notifier(smtp: &SmtpServer, dir: &Path) -> String {
    let secret = write_secret(dir, "smtp", smtp.password());
    format!(
        "[[notifiers]]\ntype = \"smtp\"\nname = \"mail\"\nhost = \"{host}\"\nport = {port}\n\
         tls = \"starttls\"\nca_file = \"{ca}\"\nusername = \"{user}\"\npassword = {{ file = \"{secret}\" }}\n\
         from = \"Writeback <writeback@example.org>\"\nto = [\"helpdesk@example.org\"]\ntimeout_ms = 3000\n\
         vars = {{ helpdesk = \"+1 555 0100\" }}\n\
         [notifiers.routes.failed]\nto_user = false\n\n",
        host = smtp.host(),
        port = smtp.port(),
        ca = smtp.ca_file().display(),
        user = smtp.user(),
        secret = secret.display(),
    )
}

fn webhook_notifier(name: &str, url: &str, secret: &str, dir: &Path) -> String {
    let file = write_secret(dir, name, secret);
    format!(
        "[[notifiers]]\ntype = \"webhook\"\nname = \"{name}\"\nurl = \"{url}\"\nsecret = {{ file = \"{}\" }}\n\
         timeout_seconds = 2\nretries = 0\n\n",
        file.display()
    )
}

fn smtp_server() -> SmtpServer {
    SmtpServer::start().unwrap_or_else(|e| panic!("SMTP server: {e}"))
}

fn receiver() -> HttpReceiver {
    HttpReceiver::start(HOOK_SECRET).unwrap_or_else(|e| panic!("HTTP receiver: {e}"))
}

async fn user_with_mail(slapd: &Slapd, prefix: &str) -> (String, String, String) {
    user_with_policy(slapd, prefix, None).await
}

/// A user with a `mail`; with a policy, it applies from the start (so slapd records
/// `pwdChangedTime` when the policy ages passwords).
async fn user_with_policy(
    slapd: &Slapd,
    prefix: &str,
    policy: Option<&str>,
) -> (String, String, String) {
    let uid = slapd.unique_uid(prefix);
    let mail = format!("{uid}@example.org");
    let mut attributes = vec![("mail", mail.as_str()), ("displayName", "Alice Example")];
    if let Some(p) = policy {
        attributes.push(("pwdPolicySubentry", p));
    }
    let dn = slapd
        .add_user(&uid, INITIAL, &attributes)
        .await
        .unwrap_or_else(|e| panic!("add user: {e}"));
    (uid, dn, mail)
}

fn rows(path: &Path) -> Vec<writeback_outbox::Row> {
    Store::open(path, SyncMode::Normal)
        .and_then(|s| s.list(ListFilter::default()))
        .unwrap_or_else(|e| panic!("outbox: {e}"))
}

/// Polls `check` every 50 ms until it holds or `timeout` passes.
async fn eventually(timeout: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if check() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    check()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn email_reaches_the_person_and_help_desk_without_the_password() {
    let s = slapd::shared();
    let smtp = smtp_server();
    let (uid, _dn, mail) = user_with_mail(s, "mail").await;
    let e = Engine::start(|dir| {
        format!(
            "{}{}{}{}",
            outbox_section(dir),
            openldap_target(s, dir, "ldap", BY_UID),
            BASIC_POLICY,
            smtp_notifier(&smtp, dir)
        )
    })
    .await;
    let marker = "Qz7!vW3p-Marker";
    let ok = e
        .send(&RequestBody::reset(
            &format!("{uid}-ok"),
            by_uid(&uid),
            Password::new(marker),
            false,
        ))
        .await;
    expect(&ok, OutcomeCode::Succeeded, 200);
    let too_short = "Mk-7x!";
    let bad = e
        .send(&RequestBody::reset(
            &format!("{uid}-bad"),
            by_uid(&uid),
            Password::new(too_short),
            false,
        ))
        .await;
    expect(&bad, OutcomeCode::RejectedPolicy, 422);

    let got = smtp.wait_for(2, Duration::from_secs(15));
    assert_eq!(got.len(), 2, "two messages: {got:?}");
    let success = got
        .iter()
        .find(|m| m.subject == "Your password was reset")
        .unwrap_or_else(|| panic!("no success mail: {got:?}"));
    let to: BTreeSet<&str> = success.rcpt_tos.iter().map(String::as_str).collect();
    assert_eq!(to, BTreeSet::from([mail.as_str(), "helpdesk@example.org"]));
    assert!(
        success.tls && success.authenticated,
        "STARTTLS and AUTH were used"
    );
    assert_eq!(success.mail_from, "writeback@example.org");
    // The request named the person by username only, so the greeting uses it.
    assert!(
        success.text.starts_with(&format!("Hello {uid},")),
        "{}",
        success.text
    );
    assert!(success.text.contains("from webhook"), "{}", success.text);
    assert!(success.text.contains("+1 555 0100"), "{}", success.text);
    assert!(
        success.html.contains("Your password was reset"),
        "{}",
        success.html
    );

    let failure = got
        .iter()
        .find(|m| m.subject == "Your password reset did not go through")
        .unwrap_or_else(|| panic!("no failure mail: {got:?}"));
    assert_eq!(
        failure.rcpt_tos,
        vec!["helpdesk@example.org".to_string()],
        "failures go to the help desk only"
    );
    assert!(
        failure.text.contains("does not meet the password rules"),
        "{}",
        failure.text
    );

    for m in &got {
        assert!(
            !m.raw.contains(marker) && !m.raw.contains(too_short),
            "a mail holds a password"
        );
    }
    let db = e.dir.path().join("outbox.db");
    let delivered = eventually(Duration::from_secs(5), || {
        rows(&db).iter().all(|r| r.state == RowState::Delivered)
    })
    .await;
    assert!(delivered, "{:?}", rows(&db));
    let stored = std::fs::read(e.dir.path().join("outbox.db")).unwrap_or_default();
    assert!(
        !String::from_utf8_lossy(&stored).contains(marker),
        "the outbox holds a password"
    );
    assert_no_leak(&e, None, marker).await;
    let _ = e.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_receiver_accepts_the_signature_and_a_wrong_key_is_dead_lettered() {
    let s = slapd::shared();
    let hooks = receiver();
    let (uid, dn, _) = user_with_mail(s, "hook").await;
    let e = Engine::start(|dir| {
        format!(
            "{}{}{}{}",
            outbox_section(dir),
            openldap_target(s, dir, "ldap", BY_UID),
            webhook_notifier("hook", &hooks.url(), HOOK_SECRET, dir),
            webhook_notifier(
                "wrongkey",
                &hooks.url(),
                "whsec_d3Jvbmcta2V5LWZvci10aGUtcmVjZWl2ZXItMDA=",
                dir
            ),
        )
    })
    .await;
    let marker = "Pw4!Marker-zq";
    let a = e
        .send(&RequestBody::reset(
            &format!("{uid}-1"),
            by_uid(&uid),
            Password::new(marker),
            false,
        ))
        .await;
    expect(&a, OutcomeCode::Succeeded, 200);
    let got = hooks.wait_for(1, Duration::from_secs(10));
    assert_eq!(got.len(), 1, "{got:?}");
    let event: serde_json::Value = serde_json::from_str(&got[0].body).unwrap_or_default();
    assert_eq!(
        event["event_id"].as_str(),
        Some(got[0].id.as_str()),
        "webhook-id is the event id"
    );
    assert_eq!(event["targets"][0]["dn"], dn.as_str());
    assert!(!got[0].body.contains(marker));

    let path = e.dir.path().join("outbox.db");
    let dead = eventually(Duration::from_secs(10), || {
        rows(&path)
            .iter()
            .any(|r| r.notifier == "wrongkey" && r.state == RowState::Dead)
    })
    .await;
    assert!(dead, "the 401 was dead-lettered: {:?}", rows(&path));
    assert!(hooks.rejected() >= 1);
    assert_eq!(
        hooks.deliveries().len(),
        1,
        "nothing signed with the wrong key was accepted"
    );
    let _ = e.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_queued_during_an_smtp_outage_is_delivered_when_it_comes_back() {
    let s = slapd::shared();
    let smtp = smtp_server();
    let (uid, _, mail) = user_with_mail(s, "outage").await;
    let e = Engine::start(|dir| {
        format!(
            "{}{}{}",
            outbox_section(dir),
            openldap_target(s, dir, "ldap", BY_UID),
            smtp_notifier(&smtp, dir)
        )
    })
    .await;
    smtp.stop();
    let started = Instant::now();
    let a = e
        .send(&RequestBody::reset(
            &format!("{uid}-1"),
            by_uid(&uid),
            Password::new("Tq9!Marker-rx"),
            false,
        ))
        .await;
    expect(&a, OutcomeCode::Succeeded, 200);
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "the reply did not wait for the SMTP server"
    );
    let path = e.dir.path().join("outbox.db");
    let retried = eventually(Duration::from_secs(10), || {
        rows(&path)
            .iter()
            .any(|r| r.state == RowState::Pending && r.attempts >= 2)
    })
    .await;
    assert!(
        retried,
        "failed attempts are recorded and retried: {:?}",
        rows(&path)
    );
    assert!(smtp.messages().is_empty());

    smtp.restart()
        .unwrap_or_else(|e| panic!("SMTP restart: {e}"));
    let got = smtp.wait_for(1, Duration::from_secs(15));
    assert_eq!(got.len(), 1, "{got:?}");
    assert!(got[0].rcpt_tos.contains(&mail));
    let delivered = eventually(Duration::from_secs(5), || {
        rows(&path).iter().all(|r| r.state == RowState::Delivered)
    })
    .await;
    assert!(delivered, "{:?}", rows(&path));
    let _ = e.stop().await;
}

/// A config for the real binary: the webhook source on a free port, the given rest.
struct BinaryConfig {
    dir: tempfile::TempDir,
    path: PathBuf,
    url: String,
    ca: PathBuf,
}

fn binary_config(rest: impl FnOnce(&Path) -> String) -> BinaryConfig {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let certs = TestCerts::generate(&["127.0.0.1"])
        .and_then(|c| c.write_to(dir.path()))
        .unwrap_or_else(|e| panic!("certs: {e}"));
    let secret = write_secret(dir.path(), "webhook", WEBHOOK_SECRET);
    let [port] = writeback_testkit::process::free_ports::<1>("127.0.0.1")
        .unwrap_or_else(|e| panic!("port: {e}"));
    let text = format!(
        "[[sources]]\ntype = \"webhook\"\nlisten = \"127.0.0.1:{port}\"\n\
         tls = {{ cert_file = \"{}\", key_file = \"{}\" }}\nsecret = {{ file = \"{}\" }}\n\n{}",
        certs.cert.display(),
        certs.key.display(),
        secret.display(),
        rest(dir.path())
    );
    let path = dir.path().join("writeback.toml");
    std::fs::write(&path, text).unwrap_or_else(|e| panic!("config: {e}"));
    BinaryConfig {
        url: format!("https://127.0.0.1:{port}"),
        ca: certs.ca,
        path,
        dir,
    }
}

/// `n` resets of `uid` through the running binary, one after the other, each succeeding
/// (request ids `{uid}-0`…, passwords made with `tag`).
async fn reset_in_turn(config: &BinaryConfig, uid: &str, n: usize, tag: &str) {
    let client = Client::new(Some(&config.ca)).unwrap_or_else(|e| panic!("client: {e}"));
    let secret = Secret::parse(WEBHOOK_SECRET).unwrap_or_else(|e| panic!("{e}"));
    for i in 0..n {
        let body = RequestBody::reset(
            &format!("{uid}-{i}"),
            by_uid(uid),
            Password::new(format!("Zk{i}!{tag}-pQ")),
            false,
        );
        let answer = client
            .send(&config.url, &secret, &body)
            .await
            .unwrap_or_else(|e| panic!("request: {e}"));
        expect(&answer, OutcomeCode::Succeeded, 200);
    }
}

fn spawn_writeback(config: &BinaryConfig) -> Child {
    let mut command = Command::new(writeback_tests::binary::writeback());
    command
        .args(["run", "-c"])
        .arg(&config.path)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::from(
            std::fs::File::create(config.dir.path().join("writeback.log"))
                .unwrap_or_else(|e| panic!("log: {e}")),
        ));
    writeback_testkit::process::spawn_tied(command)
        .unwrap_or_else(|e| panic!("spawn writeback: {e}"))
}

async fn wait_healthy(url: &str, ca: &Path) {
    let pem = std::fs::read(ca).unwrap_or_default();
    let http = reqwest::Client::builder()
        .add_root_certificate(
            reqwest::Certificate::from_pem(&pem).unwrap_or_else(|e| panic!("ca: {e}")),
        )
        .build()
        .unwrap_or_else(|e| panic!("client: {e}"));
    for _ in 0..400 {
        if let Ok(r) = http.get(format!("{url}/healthz")).send().await {
            if r.status().is_success() {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("writeback did not answer /healthz within 10 s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pending_notifications_survive_sigkill_and_arrive_once_after_restart() {
    let s = slapd::shared();
    let hooks = receiver();
    hooks.stop(); // down: every attempt fails, rows stay pending
    let (uid, _, _) = user_with_mail(s, "kill").await;
    let config = binary_config(|dir| {
        format!(
            "{}{}{}",
            outbox_section(dir),
            openldap_target(s, dir, "ldap", BY_UID),
            webhook_notifier("hook", &hooks.url(), HOOK_SECRET, dir)
        )
    });
    let mut child = spawn_writeback(&config);
    wait_healthy(&config.url, &config.ca).await;
    const N: usize = 5;
    reset_in_turn(&config, &uid, N, "Marker").await;
    let path = config.dir.path().join("outbox.db");
    let pending = eventually(Duration::from_secs(10), || {
        let r = rows(&path);
        r.len() == N
            && r.iter()
                .all(|r| r.state == RowState::Pending && r.attempts >= 1)
    })
    .await;
    assert!(
        pending,
        "{N} notifications pending after failed attempts: {:?}",
        rows(&path)
    );

    let _ = child.kill(); // SIGKILL: no drain, no goodbye
    let _ = child.wait();
    hooks.restart().unwrap_or_else(|e| panic!("receiver: {e}"));
    let mut child = spawn_writeback(&config);
    let got = hooks.wait_for(N, Duration::from_secs(20));
    tokio::time::sleep(Duration::from_millis(1500)).await; // room for any stray re-delivery
    let _ = child.kill();
    let _ = child.wait();

    let expected: BTreeSet<String> = rows(&path)
        .iter()
        .map(|r| r.notification.key().to_string())
        .collect();
    let ids: Vec<String> = hooks.deliveries().into_iter().map(|d| d.id).collect();
    assert_eq!(got.len(), N, "all {N} arrived after the restart");
    assert_eq!(ids.len(), N, "each exactly once at the receiver");
    assert_eq!(ids.iter().cloned().collect::<BTreeSet<_>>(), expected);
    assert!(
        rows(&path).iter().all(|r| r.state == RowState::Delivered),
        "{:?}",
        rows(&path)
    );
    for d in hooks.deliveries() {
        assert!(!d.body.contains("!Marker-pQ"), "a webhook holds a password");
    }
}

/// Finding 6 of issue 15: `writeback outbox list` beside a running daemon must not hand
/// the daemon's in-flight rows back to it (that made each one go out twice while a slow
/// receiver still held the first attempt).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outbox_list_beside_a_running_daemon_sends_nothing_twice() {
    let s = slapd::shared();
    let hooks = receiver();
    hooks.set_delay(Duration::from_secs(4));
    let (uid, _, _) = user_with_mail(s, "beside").await;
    let config = binary_config(|dir| {
        let secret = write_secret(dir, "hook", HOOK_SECRET);
        format!(
            "{}{}[[notifiers]]\ntype = \"webhook\"\nname = \"hook\"\nurl = \"{}\"\n\
             secret = {{ file = \"{}\" }}\ntimeout_seconds = 20\nretries = 0\n\n",
            outbox_section(dir),
            openldap_target(s, dir, "ldap", BY_UID),
            hooks.url(),
            secret.display()
        )
    });
    let mut child = spawn_writeback(&config);
    wait_healthy(&config.url, &config.ca).await;
    const N: usize = 3;
    reset_in_turn(&config, &uid, N, "Beside").await;
    // Every notification is now held by the slow receiver: in flight in the daemon.
    let held = eventually(Duration::from_secs(3), || hooks.arrived() as usize >= N).await;
    assert!(
        held,
        "{} of {N} notifications reached the receiver",
        hooks.arrived()
    );
    let listed = run_cli(&["outbox", "list"], &config.path);
    assert!(listed.contains(&format!("{N} pending")), "{listed}");
    // Room for the daemon's next look at the store (every second) and the held replies.
    let got = hooks.wait_for(N, Duration::from_secs(10));
    tokio::time::sleep(Duration::from_secs(6)).await;
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(got.len(), N, "each notification arrived");
    assert_eq!(
        (hooks.arrived(), hooks.duplicates()),
        (N as u32, 0),
        "each notification was sent exactly once"
    );
    let path = config.dir.path().join("outbox.db");
    assert!(
        rows(&path)
            .iter()
            .all(|r| r.state == RowState::Delivered && r.attempts == 1),
        "{:?}",
        rows(&path)
    );
}

/// Adds a password policy with `pwdMaxAge` (seconds) to `slapd`; returns its DN.
async fn policy_with_max_age(slapd: &Slapd, name: &str, max_age: u64) -> String {
    use std::collections::HashSet;
    let dn = format!("cn={name},ou=policies,{}", slapd.base_dn());
    let set = |v: &str| HashSet::from([v.to_string()]);
    let attrs = vec![
        (
            "objectClass".to_string(),
            HashSet::from(["organizationalRole".to_string(), "pwdPolicy".to_string()]),
        ),
        ("cn".to_string(), set(name)),
        ("pwdAttribute".to_string(), set("userPassword")),
        ("pwdMaxAge".to_string(), set(&max_age.to_string())),
    ];
    let mut ldap = slapd.admin().await.unwrap_or_else(|e| panic!("{e}"));
    ldap.add(&dn, attrs)
        .await
        .and_then(|r| r.success())
        .unwrap_or_else(|e| panic!("add policy {dn}: {e}"));
    let _ = ldap.unbind().await;
    dn
}

fn run_cli(args: &[&str], config: &Path) -> String {
    let out = Command::new(writeback_tests::binary::writeback())
        .args(args)
        .arg("-c")
        .arg(config)
        .output()
        .unwrap_or_else(|e| panic!("writeback {args:?}: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "writeback {args:?} failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

fn line_for<'a>(out: &'a str, uid: &str) -> Option<&'a str> {
    out.lines().find(|l| l.contains(&format!("uid={uid},")))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expiry_scan_reminds_each_person_once_per_threshold() {
    // A private slapd, so "exactly these accounts" holds whatever other tests add.
    let s = Slapd::start().unwrap_or_else(|e| panic!("slapd: {e}"));
    let smtp = smtp_server();
    const DAY: u64 = 86_400;
    let mut users = Vec::new();
    for (prefix, max_age, threshold) in [
        ("far", 30 * DAY, None),
        ("d14", 10 * DAY, Some(14)),
        ("d7", 5 * DAY, Some(7)),
        ("d1", DAY / 2, Some(1)),
    ] {
        let policy = policy_with_max_age(&s, &format!("{prefix}-policy"), max_age).await;
        let (uid, _, mail) = user_with_policy(&s, prefix, Some(&policy)).await;
        users.push((uid, mail, threshold));
    }
    let never = user_with_mail(&s, "never").await.0; // default policy: no pwdMaxAge
    let config = binary_config(|dir| {
        format!(
            "{}[expiry]\nthresholds_days = [14, 7, 1]\ninterval_minutes = 0\n\n{}{}",
            outbox_section(dir),
            openldap_target(&s, dir, "ldap", BY_UID),
            smtp_notifier(&smtp, dir)
        )
    });

    let dry = run_cli(&["expiry", "scan", "--dry-run"], &config.path);
    for (uid, mail, threshold) in &users {
        let line = line_for(&dry, uid);
        match threshold {
            None => assert!(line.is_none(), "{uid} is outside every threshold:\n{dry}"),
            Some(t) => {
                let line = line.unwrap_or_else(|| panic!("{uid} missing:\n{dry}"));
                assert!(
                    line.contains(mail.as_str()) && line.contains("would remind"),
                    "{line}"
                );
                let cols: Vec<&str> = line.split_whitespace().collect();
                assert_eq!(
                    cols.get(cols.len() - 3).copied(),
                    Some(t.to_string().as_str()),
                    "{line}"
                );
            }
        }
    }
    assert!(line_for(&dry, &never).is_none());
    assert!(smtp.messages().is_empty(), "a dry run sends nothing");

    let first = run_cli(&["expiry", "scan"], &config.path);
    assert!(first.contains("3 reminder(s) queued"), "{first}");
    let got = smtp.wait_for(3, Duration::from_secs(15));
    assert_eq!(got.len(), 3, "{got:?}");
    for (uid, mail, threshold) in &users {
        let mine: Vec<_> = got.iter().filter(|m| m.rcpt_tos.contains(mail)).collect();
        match threshold {
            None => assert!(mine.is_empty(), "{uid} got a reminder"),
            Some(t) => {
                assert_eq!(mine.len(), 1, "{uid}: {got:?}");
                assert!(
                    mine[0].subject.starts_with("Your password expires"),
                    "{}",
                    mine[0].subject
                );
                assert!(mine[0].text.contains(uid.as_str()), "{}", mine[0].text);
                if *t == 1 {
                    assert!(mine[0].subject.ends_with("today"), "{}", mine[0].subject);
                }
            }
        }
    }

    let second = run_cli(&["expiry", "scan"], &config.path);
    assert!(second.contains("0 reminder(s) queued"), "{second}");
    assert_eq!(second.matches("already reminded").count(), 3, "{second}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(smtp.messages().len(), 3, "nobody is reminded twice");
}

mod active_directory_expiry {
    //! Expiry from `msDS-UserPasswordExpiryTimeComputed` on the shared Samba AD DC:
    //! fine-grained policies (PSOs) with short maximum ages put this test's users
    //! inside the thresholds; the ledger stops a second reminder. The DC is shared, so
    //! the checks are about this test's users only.

    use std::path::Path;

    use writeback_core::{
        BuildContext, ConnectorConfig, ConnectorFactory, ConnectorKind, DirectoryTarget, Password,
        SecretRef, SecretResolver,
    };
    use writeback_expiry::ExpiryConfig;
    use writeback_outbox::{Outbox, OutboxConfig};
    use writeback_target_active_directory::ActiveDirectoryTargetFactory;
    use writeback_testkit::samba::{self, NewUser};

    struct InlineSecrets;

    impl SecretResolver for InlineSecrets {
        fn resolve(&self, secret: &SecretRef) -> Result<Password, writeback_core::SecretError> {
            secret.value.clone().ok_or_else(|| {
                writeback_core::SecretError::Unsupported("inline secrets only".into())
            })
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn ad_expiry_scan_finds_users_inside_each_threshold_once() {
        let dc = samba::shared().unwrap_or_else(|e| panic!("Samba: {e}"));
        let mut mine = Vec::new();
        for (prefix, days, threshold) in [
            ("xf", "30", None),
            ("x14", "10", Some(14u64)),
            ("x7", "5", Some(7)),
            ("x2", "2", Some(2)),
        ] {
            let sam = dc.unique_name(prefix);
            let user = dc
                .add_user(
                    NewUser::new(&sam, "Initial-Pass-1x!").mail(&format!("{sam}@example.test")),
                )
                .await
                .unwrap_or_else(|e| panic!("add user: {e}"));
            let pso = format!("{sam}-pso");
            dc.samba_tool(&[
                "domain",
                "passwordsettings",
                "pso",
                "create",
                &pso,
                "10",
                &format!("--max-pwd-age={days}"),
                "--min-pwd-age=0",
            ])
            .unwrap_or_else(|e| panic!("pso create: {e}"));
            dc.samba_tool(&["domain", "passwordsettings", "pso", "apply", &pso, &sam])
                .unwrap_or_else(|e| panic!("pso apply: {e}"));
            mine.push((user.dn.clone(), threshold));
        }
        let svc = dc.service_account();
        let table: toml::Table = toml::from_str(&format!(
            "url = \"{}\"\nca_file = \"{}\"\nbind_dn = \"{}\"\nbind_password = {{ value = \"{}\" }}\nbase_dn = \"{}\"\n",
            dc.ldaps_url(),
            dc.ca_file().display(),
            svc.upn,
            svc.password,
            dc.base_dn()
        ))
        .unwrap_or_else(|e| panic!("{e}"));
        let config =
            ConnectorConfig::in_code(ConnectorKind::Target, "active-directory", "ad", table);
        let ctx = BuildContext {
            secrets: &InlineSecrets,
            base_dir: Path::new("/"),
        };
        let target: std::sync::Arc<dyn DirectoryTarget> = ActiveDirectoryTargetFactory
            .build(&config, &ctx)
            .await
            .unwrap_or_else(|e| panic!("target: {e}"));
        let targets = vec![("ad".to_string(), target)];
        // Samba reports "never expires" for a maximum age of one day or less, so the
        // shortest threshold here is 2 days.
        let expiry = ExpiryConfig {
            thresholds_days: vec![14, 7, 2],
            ..ExpiryConfig::default()
        };

        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let outbox = Outbox::open(OutboxConfig::at(dir.path().join("outbox.db")), vec![])
            .await
            .unwrap_or_else(|e| panic!("outbox: {e}"));
        let first = writeback_expiry::send_due(&outbox, &targets, &expiry, false)
            .await
            .unwrap_or_else(|e| panic!("scan: {e}"));
        for (dn, threshold) in &mine {
            let found: Vec<_> = first
                .iter()
                .filter(|d| d.reminder.dn.eq_ignore_ascii_case(dn))
                .collect();
            match threshold {
                None => assert!(found.is_empty(), "{dn} is outside every threshold"),
                Some(t) => {
                    if found.len() != 1 {
                        let seen = dc
                            .read(
                                dn,
                                &[
                                    "msDS-UserPasswordExpiryTimeComputed",
                                    "msDS-ResultantPSO",
                                    "pwdLastSet",
                                    "userAccountControl",
                                ],
                            )
                            .await;
                        panic!("{dn} not found once: {seen:?}\n{first:?}");
                    }
                    assert_eq!(found[0].reminder.threshold_days, *t, "{dn}");
                    assert!(!found[0].already_sent);
                    assert!(found[0]
                        .reminder
                        .mail
                        .as_deref()
                        .is_some_and(|m| m.ends_with("@example.test")));
                }
            }
        }
        let second = writeback_expiry::send_due(&outbox, &targets, &expiry, false)
            .await
            .unwrap_or_else(|e| panic!("scan: {e}"));
        for (dn, threshold) in &mine {
            if threshold.is_some() {
                let again = second
                    .iter()
                    .find(|d| d.reminder.dn.eq_ignore_ascii_case(dn));
                assert!(
                    again.is_some_and(|d| d.already_sent),
                    "{dn} must not be reminded twice"
                );
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_scheduled_scan_reminds_while_writeback_runs() {
    let s = slapd::shared();
    let smtp = smtp_server();
    let name = s.unique_uid("sched");
    let policy = policy_with_max_age(s, &format!("{name}-policy"), 3 * 86_400).await;
    let (uid, _, mail) = user_with_policy(s, "sched", Some(&policy)).await;
    let e = Engine::start(|dir| {
        format!(
            "{}[expiry]\ninterval_minutes = 60\n\n{}{}",
            outbox_section(dir),
            openldap_target(s, dir, "ldap", BY_UID),
            smtp_notifier(&smtp, dir)
        )
    })
    .await;
    // The first scan runs when writeback starts serving.
    let arrived = eventually(Duration::from_secs(15), || {
        smtp.messages().iter().any(|m| m.rcpt_tos.contains(&mail))
    })
    .await;
    assert!(arrived, "no reminder for {uid}: {:?}", smtp.messages());
    let mine: Vec<_> = smtp
        .messages()
        .into_iter()
        .filter(|m| m.rcpt_tos.contains(&mail))
        .collect();
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0].subject, "Your password expires in 2 days");
    let _ = e.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn email_over_implicit_tls() {
    let s = slapd::shared();
    let smtp = SmtpServer::start_implicit_tls().unwrap_or_else(|e| panic!("SMTP server: {e}"));
    let (uid, _, mail) = user_with_mail(s, "tls").await;
    let e = Engine::start(|dir| {
        let starttls = smtp_notifier(&smtp, dir);
        format!(
            "{}{}{}",
            outbox_section(dir),
            openldap_target(s, dir, "ldap", BY_UID),
            starttls.replace("tls = \"starttls\"", "tls = \"tls\"")
        )
    })
    .await;
    let a = e
        .send(&RequestBody::reset(
            &format!("{uid}-1"),
            by_uid(&uid),
            Password::new("Vb8!Marker-tl"),
            false,
        ))
        .await;
    expect(&a, OutcomeCode::Succeeded, 200);
    let got = smtp.wait_for(1, Duration::from_secs(15));
    assert_eq!(got.len(), 1, "{got:?}");
    assert!(got[0].rcpt_tos.contains(&mail));
    assert!(got[0].authenticated && got[0].tls, "{:?}", got[0]);
    let _ = e.stop().await;
}
