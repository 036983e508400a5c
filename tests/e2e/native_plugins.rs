//! Issue 6's proof: native plugins built as real cdylibs, loaded by the real host from
//! `[[plugins]]`, with real requests through the webhook source and the pipeline.
//!
//! The libraries are built once per test run with `cargo build -p …` into this test
//! binary's own target directory (seconds when the interface crate is already built).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use writeback_core::{CloudIdentity, OutcomeCode, Password};
use writeback_host::Config;
use writeback_source_webhook::client::RequestBody;
use writeback_tests::Engine;

use crate::support::{assert_no_leak, expect};

/// The plugin packages the tests load, and their library file names.
const LIBRARIES: [(&str, &str); 3] = [
    (
        "writeback-example-native-plugin",
        "writeback_example_native_plugin",
    ),
    (
        "writeback-native-test-plugin",
        "writeback_native_test_plugin",
    ),
    (
        "writeback-native-plugin-incompatible",
        "writeback_native_plugin_incompatible",
    ),
];

/// Builds the plugin libraries once; returns the directory they are in.
fn library_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        // …/target/<profile>/deps/e2e-<hash>: the libraries go to …/target/<profile>.
        let exe = std::env::current_exe().unwrap_or_else(|e| panic!("current exe: {e}"));
        let profile_dir = exe
            .parent()
            .and_then(Path::parent)
            .unwrap_or_else(|| panic!("unexpected test binary path {}", exe.display()))
            .to_path_buf();
        let target_dir = profile_dir.parent().unwrap_or(&profile_dir).to_path_buf();
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let mut command = Command::new(cargo);
        command
            .current_dir(&workspace)
            .arg("build")
            .arg("--target-dir")
            .arg(&target_dir);
        if profile_dir.file_name().is_some_and(|n| n == "release") {
            command.arg("--release");
        }
        for (package, _) in LIBRARIES {
            command.args(["-p", package]);
        }
        let out = command
            .output()
            .unwrap_or_else(|e| panic!("run cargo build: {e}"));
        assert!(
            out.status.success(),
            "building the plugin libraries failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        profile_dir
    })
}

fn library(package: &str) -> PathBuf {
    let (_, file) = LIBRARIES
        .iter()
        .find(|(p, _)| *p == package)
        .unwrap_or_else(|| panic!("unknown plugin package {package}"));
    let path = library_dir().join(format!(
        "{}{file}{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_SUFFIX
    ));
    assert!(path.is_file(), "{} was not built", path.display());
    path
}

fn example() -> PathBuf {
    library("writeback-example-native-plugin")
}

fn test_plugin() -> PathBuf {
    library("writeback-native-test-plugin")
}

fn plugins_entry(path: &Path, extra: &str) -> String {
    format!("[[plugins]]\npath = \"{}\"\n{extra}\n", path.display())
}

/// A target from the test plugin that knows `alice` and `bob`, logging what it applies.
fn memory_target(dir: &Path) -> String {
    format!(
        "[[targets]]\ntype = \"test-memory-directory\"\nname = \"memory\"\nusers = [\"alice\", \"bob\"]\n\
         log = \"{}\"\n\n",
        dir.join("applied.jsonl").display()
    )
}

fn by_upn(user: &str) -> CloudIdentity {
    CloudIdentity {
        upn: Some(format!("{user}@example.org")),
        ..Default::default()
    }
}

fn lines(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// Waits for a file to hold at least `n` JSON lines.
async fn wait_lines(path: &Path, n: usize) -> Vec<serde_json::Value> {
    for _ in 0..250 {
        let found = lines(path);
        if found.len() >= n {
            return found;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!(
        "{} has fewer than {n} lines: {:?}",
        path.display(),
        lines(path)
    );
}

async fn reset(
    engine: &Engine,
    id: &str,
    user: &str,
    password: &str,
) -> writeback_source_webhook::client::Answer {
    engine
        .send(&RequestBody::reset(
            id,
            by_upn(user),
            Password::new(password),
            false,
        ))
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn example_policy_refuses_and_example_notifier_receives() {
    let (example, testing) = (example(), test_plugin());
    let e = Engine::start(|dir| {
        format!(
            "{}{}{}[[policies]]\ntype = \"example-forbidden-words\"\nwords = [\"acme\", \"winter\"]\n\n\
             [[notifiers]]\ntype = \"example-jsonl-file\"\npath = \"events.jsonl\"\n\n",
            plugins_entry(&example, ""),
            plugins_entry(&testing, ""),
            memory_target(dir),
        )
    })
    .await;
    let refused_marker = "Marker-ACME-9z!x";
    let a = reset(&e, "native-1", "alice", refused_marker).await;
    expect(&a, OutcomeCode::RejectedPolicy, 422);
    assert_eq!(a.reply.rules.len(), 1, "{:?}", a.reply.rules);
    assert_eq!(a.reply.rules[0].rule, "example.forbidden_word");
    assert!(
        a.reply.rules[0].message.contains("\"acme\""),
        "{}",
        a.reply.rules[0].message
    );
    assert!(
        lines(&e.dir.path().join("applied.jsonl")).is_empty(),
        "nothing was written"
    );

    let good_marker = "Marker-Good-4kQ#";
    let a = reset(&e, "native-2", "alice", good_marker).await;
    expect(&a, OutcomeCode::Succeeded, 200);
    let applied = lines(&e.dir.path().join("applied.jsonl"));
    assert_eq!(applied.len(), 1);
    assert_eq!(applied[0]["dn"], "uid=alice,ou=people,dc=test");

    // The notifier's path was relative: the plugin resolved it against the config's directory.
    let events = wait_lines(&e.dir.path().join("events.jsonl"), 2).await;
    let code_of = |id: &str| {
        events
            .iter()
            .find(|l| l["request_id"] == id)
            .map(|l| l["outcome"].clone())
    };
    assert_eq!(code_of("native-1"), Some("rejected_policy".into()));
    assert_eq!(code_of("native-2"), Some("succeeded".into()));
    assert_eq!(events[0]["user"], "alice@example.org");

    let events_text =
        std::fs::read_to_string(e.dir.path().join("events.jsonl")).unwrap_or_default();
    for marker in [refused_marker, good_marker] {
        assert!(
            !events_text.contains(marker),
            "the plugin's notification holds a password"
        );
        assert_no_leak(&e, None, marker).await;
    }
    e.stop().await.unwrap_or_else(|e| panic!("{e}"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_plugin_fails_only_its_request() {
    let testing = test_plugin();
    let e = Engine::start(|dir| {
        format!(
            "{}{}[[policies]]\ntype = \"test-faulty-policy\"\n\n",
            plugins_entry(&testing, ""),
            memory_target(dir)
        )
    })
    .await;
    let a = reset(&e, "panic-1", "alice", "Marker-PANIC-NOW-1").await;
    expect(&a, OutcomeCode::PluginFault, 500);
    assert!(
        lines(&e.dir.path().join("applied.jsonl")).is_empty(),
        "nothing was written"
    );

    // The host goes on: the next request through the same plugin succeeds.
    let a = reset(&e, "panic-2", "alice", "Marker-Calm-2").await;
    expect(&a, OutcomeCode::Succeeded, 200);

    let audit = e.audit_records(2).await;
    let record = audit.iter().find(|r| r["request_id"] == "panic-1");
    let detail = record
        .and_then(|r| r["admin_detail"].as_str())
        .unwrap_or_default();
    assert!(detail.contains("panicked in evaluate"), "{detail}");
    assert!(detail.contains("native plugin `native-test`"), "{detail}");
    assert_no_leak(&e, None, "Marker-PANIC-NOW-1").await;
    e.stop().await.unwrap_or_else(|e| panic!("{e}"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_plugin_call_becomes_plugin_fault_within_its_time_limit() {
    let testing = test_plugin();
    let e = Engine::start(|dir| {
        format!(
            "[pipeline]\ndeadline_ms = 5000\n\n{}{}[[policies]]\ntype = \"test-faulty-policy\"\nsleep_ms = 1500\n\n",
            plugins_entry(&testing, "call_timeout_ms = 200"),
            memory_target(dir)
        )
    })
    .await;
    let started = std::time::Instant::now();
    let a = reset(&e, "slow-1", "alice", "Marker-SLOW-NOW-1").await;
    expect(&a, OutcomeCode::PluginFault, 500);
    assert!(
        started.elapsed() < Duration::from_millis(1_400),
        "waited {:?}",
        started.elapsed()
    );

    // Another user is served at once while the stalled call still holds its thread.
    let a = reset(&e, "slow-2", "bob", "Marker-Quick-2").await;
    expect(&a, OutcomeCode::Succeeded, 200);
    let audit = e.audit_records(2).await;
    let record = audit.iter().find(|r| r["request_id"] == "slow-1");
    let detail = record
        .and_then(|r| r["admin_detail"].as_str())
        .unwrap_or_default();
    assert!(
        detail.contains("did not answer evaluate within 200 ms"),
        "{detail}"
    );
    e.stop().await.unwrap_or_else(|e| panic!("{e}"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_kind_can_come_from_plugins() {
    let (example, testing) = (example(), test_plugin());
    let e = Engine::start(|dir| {
        std::fs::create_dir_all(dir.join("inbox")).unwrap_or_else(|e| panic!("inbox: {e}"));
        format!(
            "{}{}[[sources]]\ntype = \"test-inbox\"\nname = \"inbox\"\ninbox = \"inbox\"\noutbox = \"outbox.jsonl\"\n\n\
             {}[[policies]]\ntype = \"example-forbidden-words\"\nwords = [\"acme\"]\n\n\
             [[notifiers]]\ntype = \"example-jsonl-file\"\npath = \"events.jsonl\"\n\n",
            plugins_entry(&example, ""),
            plugins_entry(&testing, ""),
            memory_target(dir),
        )
    })
    .await;
    let inbox = e.dir.path().join("inbox");
    let requests = [
        ("in-1", "bob", "Marker-Acme-Inbox1"),
        ("in-2", "bob", "Marker-Fine-Inbox2"),
    ];
    for (id, user, password) in requests {
        let body = serde_json::json!({"id": id, "upn": format!("{user}@example.org"), "new_password": password});
        // Write then rename, so the source never reads half a file.
        let tmp = inbox.join(format!("{id}.tmp"));
        std::fs::write(&tmp, body.to_string()).unwrap_or_else(|e| panic!("write: {e}"));
        std::fs::rename(&tmp, inbox.join(format!("{id}.json")))
            .unwrap_or_else(|e| panic!("rename: {e}"));
        // One at a time, so the two requests for bob keep their order.
        let n = if id == "in-1" { 1 } else { 2 };
        wait_lines(&e.dir.path().join("outbox.jsonl"), n).await;
    }
    let outbox = lines(&e.dir.path().join("outbox.jsonl"));
    let code_of = |id: &str| {
        outbox
            .iter()
            .find(|l| l["id"] == id)
            .map(|l| l["code"].clone())
    };
    assert_eq!(
        code_of("in-1"),
        Some("rejected_policy".into()),
        "{outbox:?}"
    );
    assert_eq!(code_of("in-2"), Some("succeeded".into()), "{outbox:?}");
    let applied = lines(&e.dir.path().join("applied.jsonl"));
    assert_eq!(applied.len(), 1);
    assert_eq!(applied[0]["dn"], "uid=bob,ou=people,dc=test");
    let events = wait_lines(&e.dir.path().join("events.jsonl"), 2).await;
    assert!(events.iter().all(|l| l["operation"] == "reset"));
    let audit = e.audit_records(2).await;
    assert!(audit
        .iter()
        .any(|r| r["request_id"] == "in-2" && r["source"] == "inbox"));
    for (_, _, marker) in requests {
        assert_no_leak(&e, None, marker).await;
        let outbox_text =
            std::fs::read_to_string(e.dir.path().join("outbox.jsonl")).unwrap_or_default();
        assert!(!outbox_text.contains(marker));
    }
    e.stop().await.unwrap_or_else(|e| panic!("{e}"));
}

/// Loads `config_text` the way `writeback check-config` does, after the test plugin and
/// its target (a config needs a target); returns the registry or the error.
fn check_config(dir: &Path, config_text: &str) -> Result<writeback_host::Registry, String> {
    let path = dir.join("writeback.toml");
    let text = format!(
        "{}{config_text}\n{}",
        plugins_entry(&test_plugin(), ""),
        memory_target(dir)
    );
    std::fs::write(&path, text).unwrap_or_else(|e| panic!("write config: {e}"));
    let config = Config::load(&path).map_err(|e| e.to_string())?;
    writeback_host::validate(&config, &writeback_cli::builtin_registry()).map_err(|e| e.to_string())
}

#[test]
fn an_incompatible_interface_version_is_refused_naming_both_versions_and_the_file() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let lib = library("writeback-native-plugin-incompatible");
    let err = check_config(dir.path(), &plugins_entry(&lib, ""))
        .err()
        .unwrap_or_default();
    assert!(err.contains(&lib.display().to_string()), "{err}");
    assert!(err.contains("interface 2.0.0"), "{err}");
    assert!(
        err.contains(&format!(
            "interface {}",
            writeback_plugin_native::INTERFACE_VERSION
        )),
        "{err}"
    );
    assert!(err.contains("Rebuild the plugin"), "{err}");
}

#[test]
fn a_missing_file_and_a_library_that_is_no_plugin_get_clear_errors() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let missing = dir.path().join("libnothing-here.so");
    let err = check_config(dir.path(), &plugins_entry(&missing, ""))
        .err()
        .unwrap_or_default();
    assert!(
        err.contains("no such file") && err.contains("libnothing-here.so"),
        "{err}"
    );
    assert!(
        err.contains("writeback.toml:"),
        "the error points into the config: {err}"
    );

    // zlib is on every system writeback runs on; it is a library but not a plugin.
    let zlib = [
        "/lib/x86_64-linux-gnu",
        "/usr/lib/x86_64-linux-gnu",
        "/lib",
        "/usr/lib",
        "/lib64",
        "/usr/lib64",
    ]
    .iter()
    .map(|d| Path::new(d).join("libz.so.1"))
    .find(|p| p.is_file())
    .unwrap_or_else(|| panic!("no libz.so.1 on this system"));
    let err = check_config(dir.path(), &plugins_entry(&zlib, ""))
        .err()
        .unwrap_or_default();
    assert!(err.contains("is not a writeback native plugin"), "{err}");
    assert!(err.contains("libz.so.1"), "{err}");

    // A text file named like a library: the dynamic loader's own reason is shown.
    let fake = dir.path().join("libfake.so");
    std::fs::write(&fake, "not a library").unwrap_or_else(|e| panic!("{e}"));
    let err = check_config(dir.path(), &plugins_entry(&fake, ""))
        .err()
        .unwrap_or_default();
    assert!(
        err.contains("cannot load") && err.contains("libfake.so"),
        "{err}"
    );
}

#[test]
fn config_errors_from_a_plugin_name_the_file_line_key_and_plugin() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let text = format!(
        "{}[[policies]]\ntype = \"example-forbidden-words\"\nname = \"words\"\nwords = []\n",
        plugins_entry(&example(), "")
    );
    let err = check_config(dir.path(), &text).err().unwrap_or_default();
    assert!(err.contains("writeback.toml:"), "{err}");
    assert!(err.contains("`policies[0].words`"), "{err}");
    assert!(err.contains("give at least one word"), "{err}");
    assert!(err.contains("native plugin `example` 0.1.0"), "{err}");

    let text = format!(
        "{}[[policies]]\ntype = \"example-forbidden-words\"\nwords = [\"a\"]\nwordz = 1\n",
        plugins_entry(&example(), "")
    );
    let err = check_config(dir.path(), &text).err().unwrap_or_default();
    assert!(err.contains("wordz"), "{err}");

    let text = plugins_entry(&example(), "call_timeout_ms = 0");
    let err = check_config(dir.path(), &text).err().unwrap_or_default();
    assert!(err.contains("call_timeout_ms"), "{err}");
}

#[test]
fn plugins_list_shows_each_plugin_type_with_its_version_and_file() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let registry =
        check_config(dir.path(), &plugins_entry(&example(), "")).unwrap_or_else(|e| panic!("{e}"));
    let listed = registry.list();
    let find = |t: &str| listed.iter().find(|i| i.type_name == t).cloned();
    let policy =
        find("example-forbidden-words").unwrap_or_else(|| panic!("not listed: {listed:?}"));
    assert_eq!(policy.kind.singular(), "policy");
    assert_eq!(policy.origin, example().display().to_string());
    assert!(
        policy.description.contains("example 0.1.0"),
        "{}",
        policy.description
    );
    for (kind, t) in [
        ("notifier", "example-jsonl-file"),
        ("source", "test-inbox"),
        ("target", "test-memory-directory"),
        ("policy", "test-faulty-policy"),
    ] {
        assert_eq!(find(t).map(|i| i.kind.singular()), Some(kind), "{t}");
    }
    // Built-in types are still there.
    assert!(find("webhook").is_some());

    // A plugin cannot replace a type that is already registered (here: by itself).
    let twice = format!(
        "{}{}",
        plugins_entry(&example(), ""),
        plugins_entry(&example(), "")
    );
    let err = check_config(dir.path(), &twice).err().unwrap_or_default();
    assert!(err.contains("already registered"), "{err}");
}

/// A `writeback run` process, killed when the test ends, however it ends.
struct Daemon(std::process::Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Waits up to 60 s (the binary may still be starting) for `n` JSON lines.
async fn wait_lines_long(path: &Path, n: usize) -> Vec<serde_json::Value> {
    for _ in 0..600 {
        let found = lines(path);
        if found.len() >= n {
            return found;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "{} has fewer than {n} lines: {:?}",
        path.display(),
        lines(path)
    );
}

/// Issue 15, findings 7 and 9, through the real binary: a native policy that quotes the
/// password in a rule, panics with a message quoting it, or returns a failure coded
/// `succeeded`, and a target that quotes it in its refusal. The outcomes are the true
/// ones, and no output of the process (stderr log at trace, the plugin's own panic
/// output on stderr, audit, outcomes handed back, notifications) holds a password.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plugin_text_and_panics_never_carry_the_password_and_a_lie_is_no_success() {
    use std::process::Stdio;
    use writeback_testkit::process::spawn_tied;
    use writeback_tests::binary;

    let (example, testing) = (example(), test_plugin());
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let inbox = dir.path().join("inbox");
    std::fs::create_dir_all(&inbox).unwrap_or_else(|e| panic!("inbox: {e}"));
    let audit = dir.path().join("audit.jsonl");
    let config = format!(
        "[audit]\npath = \"{}\"\n\n{}{}[[sources]]\ntype = \"test-inbox\"\nname = \"inbox\"\n\
         inbox = \"inbox\"\noutbox = \"outbox.jsonl\"\n\n{}[[policies]]\ntype = \"test-faulty-policy\"\n\n\
         [[notifiers]]\ntype = \"example-jsonl-file\"\npath = \"events.jsonl\"\n\n",
        audit.display(),
        plugins_entry(&example, ""),
        plugins_entry(&testing, ""),
        memory_target(dir.path()),
    );
    let config_path = dir.path().join("writeback.toml");
    std::fs::write(&config_path, config).unwrap_or_else(|e| panic!("{e}"));
    let stderr_path = dir.path().join("stderr.log");
    let stderr = std::fs::File::create(&stderr_path).unwrap_or_else(|e| panic!("{e}"));
    let mut command = Command::new(binary::writeback());
    command
        .args(["--log-format", "json", "run", "-c"])
        .arg(&config_path)
        .env("RUST_LOG", "trace")
        .stdout(Stdio::null())
        .stderr(stderr);
    let daemon = Daemon(spawn_tied(command).unwrap_or_else(|e| panic!("{e}")));

    let requests = [
        ("leak-1", "alice", "Marker-LEAK-NOW-7q\"x"),
        ("panic-1", "alice", "Marker-PANIC-NOW-8r"),
        ("lie-1", "alice", "Marker-LIE-NOW-9s"),
        ("tleak-1", "bob", "Marker-TARGET-LEAK-3t"),
    ];
    let outbox_path = dir.path().join("outbox.jsonl");
    for (n, (id, user, password)) in requests.iter().enumerate() {
        let body = serde_json::json!({"id": id, "upn": format!("{user}@example.org"), "new_password": password});
        let tmp = inbox.join(format!("{id}.tmp"));
        std::fs::write(&tmp, body.to_string()).unwrap_or_else(|e| panic!("write: {e}"));
        std::fs::rename(&tmp, inbox.join(format!("{id}.json")))
            .unwrap_or_else(|e| panic!("rename: {e}"));
        wait_lines_long(&outbox_path, n + 1).await;
    }
    let outbox = lines(&outbox_path);
    let of = |id: &str| {
        outbox
            .iter()
            .find(|l| l["id"] == id)
            .cloned()
            .unwrap_or_else(|| panic!("no outcome for {id}: {outbox:?}"))
    };
    assert_eq!(of("leak-1")["code"], "rejected_policy");
    assert_eq!(of("panic-1")["code"], "plugin_fault");
    // The lie: a failure coded `succeeded` is a plugin fault, never a success.
    let lie = of("lie-1");
    assert_eq!(lie["code"], "plugin_fault", "{lie}");
    assert!(
        lie["admin_detail"]
            .as_str()
            .unwrap_or_default()
            .contains("returned a failure with the code `succeeded`"),
        "{lie}"
    );
    assert_eq!(of("tleak-1")["code"], "admin_action_required");
    assert!(
        lines(&dir.path().join("applied.jsonl")).is_empty(),
        "nothing was written"
    );
    let events = wait_lines_long(&dir.path().join("events.jsonl"), requests.len()).await;
    let event_lie = events.iter().find(|l| l["request_id"] == "lie-1");
    assert_eq!(
        event_lie.map(|l| l["outcome"].clone()),
        Some("plugin_fault".into())
    );

    // Stop the daemon so every line is flushed, then read everything it wrote.
    let _ = Command::new("kill")
        .args(["-TERM", &daemon.0.id().to_string()])
        .status();
    for _ in 0..100 {
        if std::fs::read_to_string(&stderr_path)
            .unwrap_or_default()
            .contains("writeback stopped")
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    drop(daemon);
    let stderr = std::fs::read_to_string(&stderr_path).unwrap_or_default();
    let audit_text = std::fs::read_to_string(&audit).unwrap_or_default();
    let audit_lie = audit_text
        .lines()
        .find(|l| l.contains("\"lie-1\""))
        .unwrap_or_default();
    assert!(audit_lie.contains("plugin_fault"), "{audit_lie}");
    assert!(
        stderr.contains("its message is withheld"),
        "the plugin's quiet panic hook ran: {stderr}"
    );
    assert!(
        stderr.contains("writeback stopped"),
        "the log was read whole: {stderr}"
    );
    let outputs = [
        (
            "stderr (log at trace and the plugin's panic output)",
            stderr,
        ),
        ("audit", audit_text),
        (
            "outcomes handed back",
            std::fs::read_to_string(&outbox_path).unwrap_or_default(),
        ),
        (
            "notifications",
            std::fs::read_to_string(dir.path().join("events.jsonl")).unwrap_or_default(),
        ),
    ];
    for (_, _, password) in requests {
        // The whole password, and the part every marker has beyond its trigger word.
        for (what, text) in &outputs {
            assert!(!text.contains(password), "{what} holds a password");
            assert!(!text.contains("Marker-"), "{what} holds a password: {text}");
        }
    }
    assert_eq!(
        of("leak-1")["rule_messages"][0],
        "`[password]` is not allowed",
        "the rule kept its text, with the password replaced"
    );
}
