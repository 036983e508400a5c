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
    let mut cmd = Command::new(binary::writeback());
    cmd.arg("check-config").arg(path);
    if connect {
        cmd.arg("--connect");
    }
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("run writeback: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
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
    let out = Command::new(binary::writeback())
        .arg("check-config")
        .arg(&path)
        .arg("--connect")
        .current_dir(elsewhere.path())
        .output()
        .unwrap_or_else(|e| panic!("run writeback: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains("target ldap:") && !text.contains("FAIL"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_request_and_graceful_shutdown_through_the_binary() {
    let s = slapd::shared();
    let uid = s.unique_uid("op");
    let dn = s
        .add_user(&uid, "Initial-Pass-1", &[])
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let certs = TestCerts::generate(&["127.0.0.1"])
        .and_then(|c| c.write_to(&dir.path().join("tls")))
        .unwrap_or_else(|e| panic!("{e}"));
    let secret = write_secret(dir.path(), "webhook", WEBHOOK_SECRET);
    let [port] =
        writeback_testkit::process::free_ports::<1>("127.0.0.1").unwrap_or_else(|e| panic!("{e}"));
    let audit = dir.path().join("audit.jsonl");
    let config = format!(
        "[audit]\npath = \"{}\"\n\n[[sources]]\ntype = \"webhook\"\nlisten = \"127.0.0.1:{port}\"\n\
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
    let log_path = dir.path().join("writeback.log");
    let log = std::fs::File::create(&log_path).unwrap_or_else(|e| panic!("{e}"));
    let mut command = Command::new(binary::writeback());
    command
        .args(["--log-format", "json", "run", "-c"])
        .arg(&config_path)
        .env("RUST_LOG", "debug")
        .stdout(Stdio::null())
        .stderr(log);
    // Tied to the test binary: it dies with it even when an assertion fails.
    let mut server = Server(spawn_tied(command).unwrap_or_else(|e| panic!("{e}")));
    let server_pid = server.0.id();

    let url = format!("https://127.0.0.1:{port}");
    let marker = "Marker-Qz7-6tZ%q";
    let mut answer = None;
    for _ in 0..100 {
        let mut request = Command::new(binary::writeback())
            .args(["request", "--url", &url, "--ca-file"])
            .arg(&certs.ca)
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
    let audit = std::fs::read_to_string(&audit).unwrap_or_default();
    assert!(
        audit.contains("\"request_id\":\"bin-1\"") && !audit.contains(marker),
        "{audit}"
    );
}

/// A child process killed when the test ends, however it ends.
struct Server(std::process::Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
