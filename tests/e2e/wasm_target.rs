//! Issue 7's target world: a WASM target (examples/wasm-target, a directory with its
//! own schema) resets, changes and unlocks accounts on the real slapd through the
//! host's directory handle, with slapd's password policy judging every write; and a
//! guest that tries to leave its grant (tests/wasm-guests/escaping-target) is refused
//! each time, the refusal logged, with nothing written outside the granted subtree.

use std::collections::HashSet;
use std::path::Path;

use writeback_core::{
    BuildContext, CloudIdentity, ConnectorConfig, ConnectorKind, OutcomeCode, Password,
};
use writeback_ldap::ldap3::Mod;
use writeback_source_webhook::client::RequestBody;
use writeback_testkit::slapd::{self, Slapd};
use writeback_tests::engine::write_secret;
use writeback_tests::{logs, Engine};

use crate::support::*;
use crate::wasm_plugins::guests;

const INITIAL: &str = "Initial-Pass-1";

/// `[[targets]]` of a WASM target with its `[targets.directory]` grant on the test
/// slapd (LDAPS, the service account, ou=people). `extra`: the plugin's own keys.
fn wasm_target(slapd: &Slapd, dir: &Path, type_name: &str, extra: &str, grant: &str) -> String {
    let secret = write_secret(dir, "wasm-dir-bind", slapd.service_password());
    format!(
        "[[targets]]\ntype = \"{type_name}\"\nname = \"hr\"\n{extra}\n\n[targets.directory]\n\
         url = \"{url}\"\nca_file = \"{ca}\"\nbind_dn = \"{bind}\"\n\
         bind_password = {{ file = \"{secret}\" }}\nbase_dn = \"{base}\"\n{grant}\n\n",
        url = slapd.ldaps_url(),
        ca = slapd.ca_file().display(),
        bind = slapd.service_dn(),
        secret = secret.display(),
        base = slapd.people_dn(),
    )
}

fn plugin_entry(path: &Path) -> String {
    format!("[[plugins]]\npath = \"{}\"\n\n", path.display())
}

/// The cloud side knows the person by UPN and sends the employee number beside it.
fn by_employee(number: &str) -> CloudIdentity {
    let mut identity = CloudIdentity {
        upn: Some(format!("{number}@example.org")),
        ..Default::default()
    };
    identity
        .extra
        .insert("employee_id".into(), number.to_string());
    identity
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wasm_target_with_its_own_schema_resets_changes_and_unlocks() {
    let g = guests();
    let s = slapd::shared();
    let uid = s.unique_uid("wasmtgt");
    let number = format!("E-{uid}");
    let dn = s
        .add_user(&uid, INITIAL, &[("employeeNumber", &number)])
        .await
        .unwrap_or_else(|e| panic!("add user: {e}"));
    let e = Engine::start(|dir| {
        format!(
            "[pipeline]\ndeadline_ms = 8000\n\n{plugin}{target}{policy}",
            plugin = plugin_entry(&g.target),
            target = wasm_target(
                s,
                dir,
                "employee-directory",
                "key_attribute = \"employeeNumber\"\nidentity_attribute = \"employee_id\"",
                ""
            ),
            policy = BASIC_POLICY,
        )
    })
    .await;

    // A reset: found by employee number, written with Password Modify.
    let first = "Marker-Wasm-Tgt-1a!";
    let a = e
        .send(&RequestBody::reset(
            "wasm-tgt-1",
            by_employee(&number),
            Password::new(first),
            false,
        ))
        .await;
    expect(&a, OutcomeCode::Succeeded, 200);
    assert!(s.can_bind(&dn, first).await, "the new password binds");

    // The directory's own policy judges the plugin's write: the same password again
    // is in slapd's history.
    let a = e
        .send(&RequestBody::reset(
            "wasm-tgt-2",
            by_employee(&number),
            Password::new(first),
            false,
        ))
        .await;
    expect(&a, OutcomeCode::RejectedHistory, 422);

    // A change as the person: the wrong old password is refused by the directory.
    let second = "Marker-Wasm-Tgt-2b!";
    let a = e
        .send(&RequestBody::change(
            "wasm-tgt-3",
            by_employee(&number),
            Password::new("Not-The-Old-Pass-9"),
            Password::new(second),
        ))
        .await;
    expect(&a, OutcomeCode::WrongOldPassword, 422);
    assert!(s.can_bind(&dn, first).await, "nothing was written");
    let a = e
        .send(&RequestBody::change(
            "wasm-tgt-4",
            by_employee(&number),
            Password::new(first),
            Password::new(second),
        ))
        .await;
    expect(&a, OutcomeCode::Succeeded, 200);
    assert!(s.can_bind(&dn, second).await);

    // Must-change: the password and pwdReset in one modify.
    let third = "Marker-Wasm-Tgt-3c!";
    let a = e
        .send(&RequestBody::reset(
            "wasm-tgt-5",
            by_employee(&number),
            Password::new(third),
            true,
        ))
        .await;
    expect(&a, OutcomeCode::Succeeded, 200);
    let reset_flag = s.read_attr(&dn, "pwdReset").await.unwrap_or_default();
    assert_eq!(reset_flag, ["TRUE"], "pwdReset is set");

    // Unlock: a locked account is unlocked.
    s.modify_as_admin(
        &dn,
        vec![Mod::Replace(
            "pwdAccountLockedTime".to_string(),
            HashSet::from(["000001010000Z".to_string()]),
        )],
    )
    .await
    .unwrap_or_else(|e| panic!("lock: {e}"));
    let a = e
        .send(&RequestBody::unlock("wasm-tgt-6", by_employee(&number)))
        .await;
    expect(&a, OutcomeCode::Succeeded, 200);
    let locked = s
        .read_attr(&dn, "pwdAccountLockedTime")
        .await
        .unwrap_or_default();
    assert!(locked.is_empty(), "unlocked: {locked:?}");

    // Nobody with that number; and an identity without one.
    let a = e
        .send(&RequestBody::reset(
            "wasm-tgt-7",
            by_employee("E-nobody"),
            Password::new("Marker-Wasm-Tgt-4d!"),
            false,
        ))
        .await;
    expect(&a, OutcomeCode::NotFound, 404);
    let a = e
        .send(&RequestBody::reset(
            "wasm-tgt-8",
            by_uid(&uid),
            Password::new("Marker-Wasm-Tgt-5e!"),
            false,
        ))
        .await;
    expect(&a, OutcomeCode::InvalidRequest, 400);

    for marker in [first, second, third, "Not-The-Old-Pass-9"] {
        assert_no_leak(&e, None, marker).await;
    }
    e.stop().await.unwrap_or_else(|e| panic!("{e}"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wasm_target_cannot_leave_its_directory_grant() {
    let g = guests();
    let s = slapd::shared();
    // The victim: the service account itself, outside ou=people. slapd would let it
    // change its own password (`by self write`); the host must not.
    let victim = s.service_dn().to_string();
    let e = Engine::start(|dir| {
        format!(
            "[pipeline]\ndeadline_ms = 8000\n\n{plugin}{target}",
            plugin = plugin_entry(&g.escaping_target),
            target = wasm_target(s, dir, "escaping", &format!("victim_dn = \"{victim}\""), ""),
        )
    })
    .await;

    let attempt = |prefix: &str| {
        let uid = s.unique_uid(prefix);
        let id = format!("wasm-escape-{uid}");
        (uid, id)
    };
    let cases = [
        ("resolve-outside", "outside the granted subtree"),
        ("modify-outside", "is outside the granted subtree"),
        ("exop-self", "must name its user"),
        ("exop-outside", "is outside the granted subtree"),
        ("exop-other", "not in `directory.allow_extended`"),
        ("flood", "more than 16 directory operations in one call"),
        ("bad-filter", "does not parse"),
        // Issue 15 finding 9: refused by the host, never sent to the server.
        ("nul-dn", "the DN contains a NUL byte"),
    ];
    for (prefix, why) in cases {
        let (uid, id) = attempt(prefix);
        s.add_user(&uid, INITIAL, &[])
            .await
            .unwrap_or_else(|e| panic!("add user: {e}"));
        let password = format!("Marker-Escape-{prefix}-x1!");
        let a = e
            .send(&RequestBody::reset(
                &id,
                by_uid(&uid),
                Password::new(password.clone()),
                false,
            ))
            .await;
        expect(&a, OutcomeCode::PluginFault, 500);
        assert!(
            logs::text().contains(why),
            "{prefix}: the refusal is logged ({why})"
        );
        assert_no_leak(&e, None, &password).await;
    }
    assert!(
        s.can_bind(&victim, s.service_password()).await,
        "the service account's password is unchanged"
    );
    assert!(logs::text().contains("WASM plugin directory call refused"));

    // The same guest, doing its honest job, succeeds right after.
    let (uid, id) = attempt("honest");
    let dn = s
        .add_user(&uid, INITIAL, &[])
        .await
        .unwrap_or_else(|e| panic!("add user: {e}"));
    let good = "Marker-Escape-Good-7!";
    let a = e
        .send(&RequestBody::reset(
            &id,
            by_uid(&uid),
            Password::new(good),
            false,
        ))
        .await;
    expect(&a, OutcomeCode::Succeeded, 200);
    assert!(s.can_bind(&dn, good).await);
    e.stop().await.unwrap_or_else(|e| panic!("{e}"));
}

/// With fresh instances (the default) every `apply`, which is lent the password, runs
/// on an instance no other call has used, although `resolve` (lent none) may reuse one
/// and the next instance is made ahead.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_apply_runs_on_an_instance_no_other_call_used() {
    let g = guests();
    let s = slapd::shared();
    let e = Engine::start(|dir| {
        format!(
            "[pipeline]\ndeadline_ms = 8000\n\n{plugin}{target}",
            plugin = plugin_entry(&g.escaping_target),
            target = wasm_target(s, dir, "escaping", "victim_dn = \"cn=nobody\"", ""),
        )
    })
    .await;
    for n in 0..4 {
        let uid = s.unique_uid("instance");
        s.add_user(&uid, INITIAL, &[])
            .await
            .unwrap_or_else(|e| panic!("add user: {e}"));
        let a = e
            .send(&RequestBody::reset(
                &format!("wasm-instance-{uid}"),
                by_uid(&uid),
                Password::new(format!("Marker-Instance-{n}-x1!")),
                false,
            ))
            .await;
        expect(&a, OutcomeCode::AdminActionRequired, 403);
    }
    let text = logs::text();
    assert!(
        text.contains("instance-check: 0 earlier calls"),
        "no apply reported an instance where nothing ran before it"
    );
    for earlier in 1..8 {
        assert!(
            !text.contains(&format!("instance-check: {earlier} earlier calls")),
            "an apply ran on an instance that had served {earlier} calls"
        );
    }
    e.stop().await.unwrap_or_else(|e| panic!("{e}"));
}

/// The factory checks the `[targets.directory]` grant at load, and the target's
/// self-test checks the granted connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_directory_grant_is_checked_at_load_and_by_the_self_test() {
    logs::init();
    let g = guests();
    let s = slapd::shared();
    let mut registry = writeback_cli::builtin_registry();
    let spec = writeback_host::PluginSpec {
        path: g.target.clone(),
        table: toml::Table::new(),
        key_path: "plugins[0]".into(),
    };
    registry
        .load_plugin(&spec)
        .unwrap_or_else(|e| panic!("load: {e}"));
    let factory = registry
        .target("employee-directory")
        .unwrap_or_else(|| panic!("the WASM target is registered"));
    let info = registry
        .list()
        .into_iter()
        .find(|i| i.type_name == "employee-directory")
        .unwrap_or_else(|| panic!("listed"));
    assert!(
        info.description
            .contains("writeback:plugin/target-plugin@0.1.0"),
        "{}",
        info.description
    );

    // No grant: refused, naming the missing table.
    let none = ConnectorConfig::in_code(
        ConnectorKind::Target,
        "employee-directory",
        "hr",
        toml::Table::new(),
    );
    let err = factory.validate(&none).err().map(|e| e.to_string());
    assert!(
        err.as_deref()
            .is_some_and(|m| m.contains("[targets.directory]")),
        "{err:?}"
    );

    // A grant whose base is not a DN: refused, naming the key.
    let table: toml::Table = toml::from_str(&format!(
        "[directory]\nurl = \"{}\"\nca_file = \"ca.pem\"\nbind_dn = \"{}\"\nbind_password = {{ env = \"X\" }}\nbase_dn = \"people\"\n",
        s.ldaps_url(),
        s.service_dn()
    ))
    .unwrap_or_else(|e| panic!("{e}"));
    let bad = ConnectorConfig::in_code(ConnectorKind::Target, "employee-directory", "hr", table);
    let err = factory.validate(&bad).err().map(|e| e.to_string());
    assert!(
        err.as_deref()
            .is_some_and(|m| m.contains("directory.base_dn")),
        "{err:?}"
    );

    // A good grant: built, and its self-test passes against the real slapd.
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let secret = write_secret(dir.path(), "bind", s.service_password());
    let table: toml::Table = toml::from_str(&format!(
        "[directory]\nurl = \"{}\"\nca_file = \"{}\"\nbind_dn = \"{}\"\nbind_password = {{ file = \"{}\" }}\nbase_dn = \"{}\"\n",
        s.ldaps_url(),
        s.ca_file().display(),
        s.service_dn(),
        secret.display(),
        s.people_dn()
    ))
    .unwrap_or_else(|e| panic!("{e}"));
    let good = ConnectorConfig::in_code(ConnectorKind::Target, "employee-directory", "hr", table);
    let secrets = writeback_host::secrets::EnvAndFileSecrets;
    let ctx = BuildContext {
        secrets: &secrets,
        base_dir: dir.path(),
    };
    let target = factory
        .build(&good, &ctx)
        .await
        .unwrap_or_else(|e| panic!("build: {e}"));
    let checks = target.self_test().await;
    let names: Vec<&str> = checks.iter().map(|c| c.check.as_str()).collect();
    assert_eq!(
        names,
        ["connect", "tls", "bind", "read base_dn"],
        "{checks:?}"
    );
    assert!(checks.iter().all(|c| c.ok), "{checks:?}");
}
