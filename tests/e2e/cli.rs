//! The `writeback` binary as an operator uses it: check-config, run, request, SIGTERM.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use writeback_testkit::process::spawn_tied;
use writeback_testkit::slapd;
use writeback_testkit::tls::TestCerts;
use writeback_tests::binary;
use writeback_tests::engine::{write_secret, WEBHOOK_SECRET};

use crate::support::{openldap_target, BASIC_POLICY, BY_UID};

fn check_config(path: &Path, connect: bool) -> (i32, String) {
    let mut args = vec![std::ffi::OsStr::new("check-config"), path.as_os_str()];
    if connect {
        args.push("--connect".as_ref());
    }
    let ran = binary::run(args);
    (ran.code.unwrap_or(-1), ran.text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_config_errors_name_file_line_and_key() {
    let s = slapd::shared();
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let good = openldap_target(s, dir.path(), "ldap", BY_UID);
    // line 1 [[targets]], line 2 type, line 3 name, line 4 url → the typo goes on line 4
    let typo = good.replacen("url = ", "urll = ", 1);
    let path = dir.path().join("typo.toml");
    std::fs::write(&path, &typo).unwrap_or_else(|e| panic!("{e}"));
    let (code, text) = check_config(&path, false);
    assert_eq!(code, 2, "{text}");
    let expected = format!("{}:4: `targets[0].urll`", path.display());
    assert!(text.contains(&expected), "{text}");
    assert!(text.contains("unknown field"), "{text}");

    let plain = good.replace(&s.ldaps_url(), &s.ldap_url());
    std::fs::write(&path, &plain).unwrap_or_else(|e| panic!("{e}"));
    let (code, text) = check_config(&path, false);
    assert_eq!(code, 2, "plain ldap:// must be refused: {text}");
    assert!(text.contains("targets[0]"), "{text}");

    let unknown = format!("{good}[[policies]]\ntype = \"no-such-policy\"\n");
    std::fs::write(&path, &unknown).unwrap_or_else(|e| panic!("{e}"));
    let (code, text) = check_config(&path, false);
    assert_eq!(code, 2);
    assert!(
        text.contains("unknown policy type `no-such-policy`") && text.contains("basic"),
        "{text}"
    );
}

/// Issue 14, item 3: a new user's 12-line config with four mistakes used to take four
/// runs of check-config, one error each (and the misspelt source type only showed once
/// the target's errors were fixed). One run reports all four, each with file:line:key,
/// and the inline password is not echoed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_config_reports_every_error_of_the_file_in_one_run() {
    let s = slapd::shared();
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = dir.path().join("first.toml");
    let text = format!(
        "[pipeline]\n\
         deadline_ms = \"10s\"\n\
         \n\
         [[sources]]\n\
         type = \"webhok\"\n\
         \n\
         [[targets]]\n\
         type = \"openldap\"\n\
         url = \"{}\"\n\
         bind_dn = \"cn=pwmgr,dc=example,dc=org\"\n\
         bind_password = \"Inline-Marker-4711\"\n\
         filter = \"(uid={{username}})\"\n",
        s.ldaps_url()
    );
    assert_eq!(text.lines().count(), 12, "{text}");
    std::fs::write(&path, &text).unwrap_or_else(|e| panic!("{e}"));
    let (code, out) = check_config(&path, false);
    assert_eq!(code, 2, "{out}");
    let file = path.display();
    for (line, key, what) in [
        (2, "pipeline.deadline_ms", "invalid type"),
        (5, "sources[0].type", "unknown source type `webhok`"),
        (7, "targets[0].base_dn", "missing field `base_dn`"),
        (11, "targets[0].bind_password", "env"),
    ] {
        let located = format!("{file}:{line}: `{key}`");
        let found = out
            .lines()
            .any(|l| l.contains(&located) && l.contains(what));
        assert!(found, "expected {located} … {what} in:\n{out}");
    }
    let errors = out.lines().filter(|l| l.starts_with("error: ")).count();
    assert_eq!(errors, 4, "{out}");
    assert!(!out.contains("Inline-Marker-4711"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_config_connect_tests_every_directory() {
    let s = slapd::shared();
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = dir.path().join("w.toml");
    std::fs::write(&path, openldap_target(s, dir.path(), "ldap", BY_UID))
        .unwrap_or_else(|e| panic!("{e}"));
    let (code, text) = check_config(&path, true);
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains("configuration is valid") && text.contains("target ldap:"),
        "{text}"
    );
    assert!(!text.contains("FAIL"), "{text}");

    // A wrong bind password: the self-test says so and the exit code is 1.
    write_secret(dir.path(), "ldap-bind", "not-the-password");
    let (code, text) = check_config(&path, true);
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("FAIL"), "{text}");
}

/// Issue 15, item 12: a relative `{ file = "…" }` secret is read from the config file's
/// folder, as every other relative path in the config, wherever writeback is started.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relative_secret_files_are_relative_to_the_config_file() {
    let s = slapd::shared();
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let elsewhere = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let target = openldap_target(s, dir.path(), "ldap", BY_UID);
    let absolute = dir.path().join("ldap-bind.secret").display().to_string();
    assert!(target.contains(&absolute), "{target}");
    let relative = target.replace(&absolute, "ldap-bind.secret");
    let path = dir.path().join("w.toml");
    std::fs::write(&path, relative).unwrap_or_else(|e| panic!("{e}"));
    let ran = binary::run_in(
        Some(elsewhere.path()),
        [
            "check-config".as_ref(),
            path.as_os_str(),
            "--connect".as_ref(),
        ],
    );
    let text = ran.text;
    assert_eq!(ran.code, Some(0), "{text}");
    assert!(
        text.contains("target ldap:") && !text.contains("FAIL"),
        "{text}"
    );
}

/// `writeback run` as a child process: the webhook source over TLS, the shared slapd as
/// target, the basic policy, an audit file, stderr into a log file.
struct Running {
    server: Server,
    url: String,
    ca: std::path::PathBuf,
    secret: std::path::PathBuf,
    audit: std::path::PathBuf,
    /// The `[audit] checkpoint_key_file`.
    audit_key: std::path::PathBuf,
    log: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

/// `args` go before `run` (e.g. `--log-format json`); `rust_log` None leaves `RUST_LOG`
/// unset, as an operator who sets nothing has it.
fn start_run(s: &slapd::Slapd, args: &[&str], rust_log: Option<&str>) -> Running {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let certs = TestCerts::generate(&["127.0.0.1"])
        .and_then(|c| c.write_to(&dir.path().join("tls")))
        .unwrap_or_else(|e| panic!("{e}"));
    let secret = write_secret(dir.path(), "webhook", WEBHOOK_SECRET);
    let [port] =
        writeback_testkit::process::free_ports::<1>("127.0.0.1").unwrap_or_else(|e| panic!("{e}"));
    let audit = dir.path().join("audit.jsonl");
    let audit_key = dir.path().join("audit.key");
    std::fs::write(&audit_key, "a-test-key-of-32-bytes-0123456789\n")
        .unwrap_or_else(|e| panic!("{e}"));
    let config = format!(
        "[audit]\npath = \"{}\"\ncheckpoint_key_file = \"audit.key\"\n\n[[sources]]\ntype = \"webhook\"\nlisten = \"127.0.0.1:{port}\"\n\
         tls = {{ cert_file = \"{}\", key_file = \"{}\" }}\nsecret = {{ file = \"{}\" }}\n\n{}{}",
        audit.display(),
        certs.cert.display(),
        certs.key.display(),
        secret.display(),
        openldap_target(s, dir.path(), "ldap", BY_UID),
        BASIC_POLICY
    );
    let config_path = dir.path().join("writeback.toml");
    std::fs::write(&config_path, config).unwrap_or_else(|e| panic!("{e}"));
    let log = dir.path().join("writeback.log");
    let log_file = std::fs::File::create(&log).unwrap_or_else(|e| panic!("{e}"));
    let mut command = Command::new(binary::writeback());
    command
        .args(args)
        .args(["run", "-c"])
        .arg(&config_path)
        .env_remove("RUST_LOG")
        .stdout(Stdio::null())
        .stderr(log_file);
    if let Some(level) = rust_log {
        command.env("RUST_LOG", level);
    }
    // Tied to the test binary: it dies with it even when an assertion fails.
    let server = Server(spawn_tied(command).unwrap_or_else(|e| panic!("{e}")));
    Running {
        server,
        url: format!("https://127.0.0.1:{port}"),
        ca: certs.ca,
        secret,
        audit,
        audit_key,
        log,
        _dir: dir,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_request_and_graceful_shutdown_through_the_binary() {
    let s = slapd::shared();
    let uid = s.unique_uid("op");
    let dn = s
        .add_user(&uid, "Initial-Pass-1", &[])
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let Running {
        mut server,
        url,
        ca,
        secret,
        audit,
        audit_key,
        log: log_path,
        _dir,
    } = start_run(s, &["--log-format", "json"], Some("debug"));
    let server_pid = server.0.id();

    let marker = "Marker-Qz7-6tZ%q";
    let mut answer = None;
    for _ in 0..100 {
        let mut request = Command::new(binary::writeback())
            .args(["request", "--url", &url, "--ca-file"])
            .arg(&ca)
            .arg("--secret-file")
            .arg(&secret)
            .args(["--username", &uid, "--id", "bin-1"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("{e}"));
        if let Some(mut stdin) = request.stdin.take() {
            let _ = writeln!(stdin, "{marker}");
        }
        let out = request.wait_with_output().unwrap_or_else(|e| panic!("{e}"));
        let text = String::from_utf8_lossy(&out.stdout).to_string()
            + &String::from_utf8_lossy(&out.stderr);
        if text.contains("did not get an answer") {
            tokio::time::sleep(Duration::from_millis(100)).await; // still starting
            continue;
        }
        answer = Some((out.status.code(), text));
        break;
    }
    let (code, text) = answer.unwrap_or_else(|| panic!("writeback never answered"));
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("bin-1: succeeded (HTTP 200)"), "{text}");
    assert!(s.can_bind(&dn, marker).await);

    // SIGTERM: drains and exits 0.
    let sent = Command::new("kill")
        .args(["-TERM", &server_pid.to_string()])
        .status()
        .unwrap_or_else(|e| panic!("kill: {e}"));
    assert!(sent.success());
    let mut status = None;
    for _ in 0..100 {
        if let Ok(Some(s)) = server.0.try_wait() {
            status = Some(s);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let status = status.unwrap_or_else(|| panic!("writeback did not stop within 5 s of SIGTERM"));
    assert!(status.success(), "{status:?}");
    let log = std::fs::read_to_string(&log_path).unwrap_or_default();
    assert!(
        log.contains("SIGTERM") && log.contains("writeback stopped"),
        "{log}"
    );
    assert!(!log.contains(marker), "the password reached the log");
    let audit_text = std::fs::read_to_string(&audit).unwrap_or_default();
    assert!(
        audit_text.contains("\"request_id\":\"bin-1\"") && !audit_text.contains(marker),
        "{audit_text}"
    );

    // The audit file the service wrote verifies; with one byte changed it does not,
    // and the report names the changed record's line.
    let verify = || {
        let ran = binary::run([
            "audit".as_ref(),
            "verify".as_ref(),
            "--key".as_ref(),
            audit_key.as_os_str(),
            audit.as_os_str(),
        ]);
        (ran.code, ran.text)
    };
    let (code, text) = verify();
    assert_eq!(code, Some(0), "{text}");
    // The header, the record, and the keyed checkpoint written at shutdown.
    assert!(
        text.contains("ok: 1 records") && text.contains("1 keyed"),
        "{text}"
    );
    let mut lines: Vec<String> = audit_text.lines().map(String::from).collect();
    lines[1] = lines[1].replace("bin-1", "bin-2");
    std::fs::write(&audit, lines.join("\n") + "\n").unwrap_or_else(|e| panic!("{e}"));
    let (code, text) = verify();
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("line 3") && text.contains("line 2"), "{text}");
}

/// A child process killed when the test ends, however it ends.
struct Server(std::process::Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Issue 19: at the default level a request is one log line (the audit's), and a log that
/// is not a terminal carries no colour codes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_default_log_is_one_plain_line_per_request() {
    use writeback_core::{OutcomeCode, Password};
    use writeback_signing::Secret;
    use writeback_source_webhook::client::{Client, RequestBody};
    let s = slapd::shared();
    let uid = s.unique_uid("log");
    s.add_user(&uid, "Initial-Pass-1", &[])
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let run = start_run(s, &[], None);
    let client = Client::new(Some(&run.ca)).unwrap_or_else(|e| panic!("client: {e}"));
    let secret = Secret::parse(WEBHOOK_SECRET).unwrap_or_else(|e| panic!("{e}"));
    let ids: Vec<String> = (0..3).map(|i| format!("{uid}-line-{i}")).collect();
    for (i, id) in ids.iter().enumerate() {
        let body = RequestBody::reset(
            id,
            crate::support::by_uid(&uid),
            Password::new(format!("Lg{i}!Marker-wQ7")),
            false,
        );
        let mut answer = None;
        for _ in 0..100 {
            match client.send(&run.url, &secret, &body).await {
                Ok(a) => {
                    answer = Some(a);
                    break;
                }
                // Still starting.
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
        let answer = answer.unwrap_or_else(|| panic!("writeback never answered {id}"));
        crate::support::expect(&answer, OutcomeCode::Succeeded, 200);
    }
    drop(run.server);
    let log = std::fs::read_to_string(&run.log).unwrap_or_default();
    assert!(
        !log.contains('\u{1b}'),
        "colour codes in a log file:\n{log}"
    );
    for id in &ids {
        let lines = log.lines().filter(|l| l.contains(id.as_str())).count();
        assert_eq!(
            lines, 1,
            "{id} has {lines} log lines at the default level:\n{log}"
        );
    }
    assert!(!log.contains("Marker-wQ7"), "the password reached the log");
}
