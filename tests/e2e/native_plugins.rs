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
