//! Issue 20's proof: the `389ds` target through the real host (webhook source over
//! HTTPS, the binary's built-in connectors) and the real `writeback` binary
//! (`check-config --connect`), against a real 389 Directory Server from the test kit:
//! the global policy on ou=people, a subtree policy (must-change, min age 1 h, min
//! length 12) on ou=strict. Every refusal is checked for its outcome code AND for
//! nothing written (the old password still binds). Test passwords contain no
//! 3-character piece of the uid (389 DS refuses those).

use std::time::{Duration, SystemTime};

use writeback_core::{ConnectorConfig, ConnectorFactory, ConnectorKind, OutcomeCode, Password};
use writeback_source_webhook::client::{Answer, RequestBody};
use writeback_testkit::ds389::{self, Ds389};
use writeback_tests::engine::write_secret;
use writeback_tests::{binary, Engine, Receiver};

use crate::support::{assert_no_leak, by_uid, expect, notifier};

const INITIAL: &str = "Qz7#Wx9$Rv2!Tb";

/// `[[targets]]` for the test 389 DS: the whole suffix, by uid, as the service account.
fn target_toml(ds: &Ds389, dir: &std::path::Path) -> String {
    let secret = write_secret(dir, "ds-bind", ds.service_password());
    format!(
        "[[targets]]\ntype = \"389ds\"\nname = \"ds\"\nurl = \"{url}\"\nca_file = \"{ca}\"\n\
         bind_dn = \"{bind}\"\nbind_password = {{ file = \"{secret}\" }}\nbase_dn = \"{base}\"\n\n",
        url = ds.ldaps_url(),
        ca = ds.ca_file().display(),
        bind = ds.service_dn(),
        secret = secret.display(),
        base = ds.base_dn(),
    )
}

/// No writeback policy: every verdict here is the directory's own.
async fn engine(ds: &Ds389, receiver: &Receiver) -> Engine {
    Engine::start(|dir| {
        format!(
            "[pipeline]\ndeadline_ms = 10000\n\n{}{}",
            target_toml(ds, dir),
            notifier(receiver, dir)
        )
    })
    .await
}

async fn person(ds: &Ds389, prefix: &str, strict: bool) -> (String, String) {
    let uid = ds.unique_uid(prefix);
    let parent = if strict {
        ds.strict_dn()
    } else {
        ds.people_dn()
    };
    let dn = ds
        .add_user_in(&parent, &uid, INITIAL, &[])
        .await
        .unwrap_or_else(|e| panic!("add user: {e}"));
    (uid, dn)
}

fn change(id: &str, uid: &str, old: &str, new: &str) -> RequestBody {
    RequestBody::change(id, by_uid(uid), Password::new(old), Password::new(new))
}

fn reset(id: &str, uid: &str, new: &str, must_change: bool) -> RequestBody {
    RequestBody::reset(id, by_uid(uid), Password::new(new), must_change)
}

fn no_password_in(answer: &Answer, marker: &str) {
    let text = format!("{} {:?}", answer.reply.message, answer.reply.rules);
    assert!(!text.contains(marker), "the answer echoes the password");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reset_then_the_person_binds_with_the_new_password() {
    let ds = ds389::shared();
    let receiver = Receiver::start().await;
    let (uid, dn) = person(ds, "reset", false).await;
    let e = engine(ds, &receiver).await;
    let marker = "Mk4#Vd8!Jy3$Fp";
    let a = e.send(&reset("ds-reset-1", &uid, marker, false)).await;
    expect(&a, OutcomeCode::Succeeded, 200);
    assert!(ds.can_bind(&dn, marker).await, "the new password binds");
    assert!(
        !ds.can_bind(&dn, INITIAL).await,
        "the old one no longer does"
    );
    // ou=people's policy has must-change off: the person is not asked to change it.
    let expires = ds
        .read_attr(&dn, "passwordExpirationTime")
        .await
        .unwrap_or_default();
    assert_ne!(expires, vec![ds389_mark()], "marked must-change");
    let event = receiver
        .wait_for("ds-reset-1")
        .await
        .unwrap_or_else(|| panic!("no notification"));
    assert_eq!(event["outcome"]["code"], "succeeded");
    assert_no_leak(&e, Some(&receiver), marker).await;
}

fn ds389_mark() -> String {
    writeback_ldap::ds389::MUST_CHANGE_MARK.to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn must_change_reset_where_the_policy_has_it_on() {
    let ds = ds389::shared();
    let receiver = Receiver::start().await;
    let (uid, dn) = person(ds, "mustchange", true).await;
    let e = engine(ds, &receiver).await;
    let marker = "Mk5#Vd9!Jy4$Fp7";
    let a = e.send(&reset("ds-mc-1", &uid, marker, true)).await;
    expect(&a, OutcomeCode::Succeeded, 200);
    assert_eq!(
        ds.read_attr(&dn, "passwordExpirationTime")
            .await
            .unwrap_or_default(),
        vec![ds389_mark()]
    );
    // The bind succeeds ("must be changed"); any other operation is refused.
    let mut ldap = ds.connect().await.unwrap_or_else(|e| panic!("{e}"));
    let bind = ldap
        .simple_bind(&dn, marker)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(bind.rc, 0, "{bind:?}");
    let search = ldap
        .search(&dn, ldap3::Scope::Base, "(objectClass=*)", vec!["cn"])
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        search.1.rc, 53,
        "a must-change session may only change its password"
    );
    let _ = ldap.unbind().await;
    // …and the person can change it (with the password they were given).
    let chosen = "Np6%Hs2@Lw8&Qc3";
    let a = e.send(&change("ds-mc-2", &uid, marker, chosen)).await;
    expect(&a, OutcomeCode::Succeeded, 200);
    assert!(ds.can_bind(&dn, chosen).await);
    assert_no_leak(&e, Some(&receiver), marker).await;
    assert_no_leak(&e, Some(&receiver), chosen).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn must_change_where_the_policy_has_it_off_is_admin_action_and_writes_nothing() {
    let ds = ds389::shared();
    let receiver = Receiver::start().await;
    let (uid, dn) = person(ds, "mcoff", false).await;
    let e = engine(ds, &receiver).await;
    let marker = "Mk6#Vd2!Jy5$Fp";
    let a = e.send(&reset("ds-mcoff-1", &uid, marker, true)).await;
    assert_eq!(
        a.reply.outcome,
        OutcomeCode::AdminActionRequired,
        "{}",
        a.reply.message
    );
    let audit = e.audit_text();
    assert!(
        audit.contains("passwordMustChange off"),
        "the admin detail says why: {audit}"
    );
    assert!(ds.can_bind(&dn, INITIAL).await, "nothing was written");
    assert!(!ds.can_bind(&dn, marker).await);
    assert_no_leak(&e, Some(&receiver), marker).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_map_to_their_codes_and_write_nothing() {
    let ds = ds389::shared();
    let receiver = Receiver::start().await;
    let e = engine(ds, &receiver).await;

    // Too short for the global policy (10): quality, from the response control.
    let (uid, dn) = person(ds, "short", false).await;
    let marker = "Mk7#Vd3!";
    let a = e.send(&reset("ds-short-1", &uid, marker, false)).await;
    expect(&a, OutcomeCode::RejectedPolicy, 422);
    assert!(
        a.reply
            .rules
            .iter()
            .any(|r| r.rule.starts_with("directory.")),
        "{:?}",
        a.reply.rules
    );
    no_password_in(&a, marker);
    assert!(ds.can_bind(&dn, INITIAL).await, "nothing was written");
    assert_no_leak(&e, Some(&receiver), marker).await;

    // Same as current, by an administrator's reset: 389 DS says nothing but 19.
    let (uid, dn) = person(ds, "same", false).await;
    let a = e.send(&reset("ds-same-1", &uid, INITIAL, false)).await;
    assert_eq!(
        a.reply.outcome,
        OutcomeCode::RejectedHistory,
        "{}",
        a.reply.message
    );
    // …and by the person.
    let a = e.send(&change("ds-same-2", &uid, INITIAL, INITIAL)).await;
    assert_eq!(
        a.reply.outcome,
        OutcomeCode::RejectedHistory,
        "{}",
        a.reply.message
    );
    assert!(ds.can_bind(&dn, INITIAL).await);

    // In history: A → B, then B → A.
    let (uid, dn) = person(ds, "history", false).await;
    let second = "Wd3&Kp9#Zr5!Gm";
    let a = e.send(&change("ds-hist-1", &uid, INITIAL, second)).await;
    expect(&a, OutcomeCode::Succeeded, 200);
    let a = e.send(&change("ds-hist-2", &uid, second, INITIAL)).await;
    assert_eq!(
        a.reply.outcome,
        OutcomeCode::RejectedHistory,
        "{}",
        a.reply.message
    );
    assert!(ds.can_bind(&dn, second).await, "nothing was written");
    assert_no_leak(&e, Some(&receiver), second).await;

    // Wrong old password.
    let (uid, dn) = person(ds, "wrongold", false).await;
    let marker = "Mk8#Vd4!Jy6$Fp";
    let a = e
        .send(&change("ds-wrong-1", &uid, "Xx9#Not4$Th1s", marker))
        .await;
    assert_eq!(
        a.reply.outcome,
        OutcomeCode::WrongOldPassword,
        "{}",
        a.reply.message
    );
    assert!(ds.can_bind(&dn, INITIAL).await, "nothing was written");
    assert!(!ds.can_bind(&dn, marker).await);
    assert_no_leak(&e, Some(&receiver), marker).await;

    // Too young: ou=strict has a minimum age of 1 h. The person's first change (from
    // the reset state) works, the second is refused.
    let (uid, dn) = person(ds, "young", true).await;
    let first = "Hv5!Tq8#Bn2$Xe4";
    let a = e.send(&change("ds-young-1", &uid, INITIAL, first)).await;
    expect(&a, OutcomeCode::Succeeded, 200);
    let marker = "Mk9#Vd5!Jy7$Fp2";
    let a = e.send(&change("ds-young-2", &uid, first, marker)).await;
    assert_eq!(
        a.reply.outcome,
        OutcomeCode::RejectedMinAge,
        "{}",
        a.reply.message
    );
    assert!(ds.can_bind(&dn, first).await, "nothing was written");
    assert_no_leak(&e, Some(&receiver), marker).await;
    assert_no_leak(&e, Some(&receiver), first).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subtree_policy_applies_to_its_ou_and_not_another() {
    let ds = ds389::shared();
    let receiver = Receiver::start().await;
    let e = engine(ds, &receiver).await;
    // 11 characters: enough for the global policy (10), not for ou=strict's (12).
    let eleven = "Rb4$Ky7!Wm2";
    let (strict_uid, strict_dn) = person(ds, "substrict", true).await;
    let a = e.send(&reset("ds-sub-1", &strict_uid, eleven, false)).await;
    expect(&a, OutcomeCode::RejectedPolicy, 422);
    assert!(
        !ds.can_bind(&strict_dn, eleven).await,
        "nothing was written"
    );
    let (uid, dn) = person(ds, "subpeople", false).await;
    let a = e.send(&reset("ds-sub-2", &uid, eleven, false)).await;
    expect(&a, OutcomeCode::Succeeded, 200);
    assert!(ds.can_bind(&dn, eleven).await);
    assert_no_leak(&e, Some(&receiver), eleven).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lockout_then_unlock_then_bind() {
    let ds = ds389::shared();
    let receiver = Receiver::start().await;
    let (uid, dn) = person(ds, "lockout", false).await;
    for _ in 0..3 {
        assert_eq!(ds.bind_code(&dn, "Yy8#Bad1$Pw5").await, Ok(49));
    }
    // Locked: 389 DS answers 19, even to the right password.
    assert_eq!(ds.bind_code(&dn, INITIAL).await, Ok(19));
    let e = engine(ds, &receiver).await;
    // A change while locked says "locked", not "wrong password".
    let marker = "Mk2#Vd6!Jy8$Fp";
    let a = e.send(&change("ds-lock-1", &uid, INITIAL, marker)).await;
    assert_eq!(
        a.reply.outcome,
        OutcomeCode::AdminActionRequired,
        "{}",
        a.reply.message
    );
    assert!(a.reply.message.contains("locked"), "{}", a.reply.message);
    let a = e
        .send(&RequestBody::unlock("ds-lock-2", by_uid(&uid)))
        .await;
    expect(&a, OutcomeCode::Succeeded, 200);
    assert!(ds
        .read_attr(&dn, "accountUnlockTime")
        .await
        .unwrap_or_default()
        .is_empty());
    assert!(ds.can_bind(&dn, INITIAL).await, "unlocked");
    // Unlocking an account that is not locked is a no-op that succeeds.
    let a = e
        .send(&RequestBody::unlock("ds-lock-3", by_uid(&uid)))
        .await;
    expect(&a, OutcomeCode::Succeeded, 200);
    assert_no_leak(&e, Some(&receiver), marker).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expiry_reminders_come_from_password_expiration_time() {
    let ds = ds389::shared();
    let (_, soon) = person(ds, "expsoon", false).await;
    let (_, later) = person(ds, "explater", false).await;
    let (_, reset_state) = person(ds, "expreset", true).await;
    let in_two_days = SystemTime::now() + Duration::from_secs(2 * 86_400);
    let stamp = writeback_ldap::gentime::format(in_two_days);
    ds.modify_as_admin(
        &soon,
        vec![ldap3::Mod::Replace(
            "passwordExpirationTime".to_string(),
            std::collections::HashSet::from([stamp.clone()]),
        )],
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    let target = build_target(ds).await;
    let found = target
        .password_expiries(Duration::from_secs(7 * 86_400))
        .await
        .unwrap_or_else(|o| panic!("{o:?}"));
    let at = found
        .iter()
        .find(|(a, _)| a.dn.eq_ignore_ascii_case(&soon))
        .map(|(_, t)| *t)
        .unwrap_or_else(|| panic!("{soon} not reported"));
    assert_eq!(writeback_ldap::gentime::format(at), stamp);
    // The global policy's 30 days are outside a 7-day window; the must-change mark
    // (1970) is not an expiry date.
    assert!(!found.iter().any(|(a, _)| a.dn.eq_ignore_ascii_case(&later)));
    assert!(!found
        .iter()
        .any(|(a, _)| a.dn.eq_ignore_ascii_case(&reset_state)));
}

async fn build_target(ds: &Ds389) -> std::sync::Arc<dyn writeback_core::DirectoryTarget> {
    struct Inline(String);
    impl writeback_core::SecretResolver for Inline {
        fn resolve(
            &self,
            _: &writeback_core::SecretRef,
        ) -> Result<Password, writeback_core::SecretError> {
            Ok(Password::new(&self.0))
        }
    }
    let mut t = toml::Table::new();
    let s = |v: &str| toml::Value::String(v.to_string());
    t.insert("url".into(), s(&ds.ldaps_url()));
    t.insert("ca_file".into(), s(&ds.ca_file().display().to_string()));
    t.insert("bind_dn".into(), s(&ds.service_dn()));
    let mut secret = toml::Table::new();
    secret.insert("env".into(), s("UNUSED_IN_TESTS"));
    t.insert("bind_password".into(), toml::Value::Table(secret));
    t.insert("base_dn".into(), s(ds.base_dn()));
    let config = ConnectorConfig::in_code(ConnectorKind::Target, "389ds", "ds", t);
    let secrets = Inline(ds.service_password().to_string());
    let ctx = writeback_core::BuildContext {
        secrets: &secrets,
        base_dir: std::path::Path::new("/"),
    };
    writeback_target_389ds::Ds389TargetFactory
        .build(&config, &ctx)
        .await
        .unwrap_or_else(|e| panic!("building the target: {e}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_config_connect_reports_the_aci_and_the_policy() {
    let ds = ds389::shared();
    // A sample account for the rights and policy checks.
    person(ds, "sample", false).await;
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let text = target_toml(ds, dir.path()).replace(
        &format!("base_dn = \"{}\"", ds.base_dn()),
        &format!("base_dn = \"{}\"", ds.people_dn()),
    );
    let path = dir.path().join("ds.toml");
    std::fs::write(&path, &text).unwrap_or_else(|e| panic!("{e}"));
    let ran = binary::run([
        "check-config".as_ref(),
        path.as_os_str(),
        "--connect".as_ref(),
    ]);
    let all = ran.text;
    assert!(ran.code == Some(0), "{all}");
    assert!(
        all.contains("may write userPassword, passwordRetryCount and accountUnlockTime"),
        "{all}"
    );
    assert!(all.contains("global policy (cn=config)"), "{all}");
    assert!(all.contains("must change after reset off"), "{all}");
    assert!(
        !all.contains(ds.service_password()),
        "the bind password is printed"
    );

    // ou=strict: the subtree policy.
    let strict = target_toml(ds, dir.path()).replace(
        &format!("base_dn = \"{}\"", ds.base_dn()),
        &format!("base_dn = \"{}\"", ds.strict_dn()),
    );
    person(ds, "samplestrict", true).await;
    std::fs::write(&path, &strict).unwrap_or_else(|e| panic!("{e}"));
    let all = binary::run([
        "check-config".as_ref(),
        path.as_os_str(),
        "--connect".as_ref(),
    ])
    .text;
    assert!(all.contains("nsPwPolicyEntry_subtree"), "{all}");
    assert!(all.contains("must change after reset on"), "{all}");
}

/// An account that may read the accounts but has no ACI to write passwords: the
/// self-test fails, naming what is missing, and `check-config --connect` exits non-zero.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_config_connect_fails_without_the_write_aci() {
    let ds = ds389::shared();
    person(ds, "samplenoaci", false).await;
    let name = ds.unique_uid("reader");
    let reader = format!("cn={name},ou=system,{}", ds.base_dn());
    let reader_password = "Rd7#Qm2$Lx9!Vn";
    let mut admin = ds.admin().await.unwrap_or_else(|e| panic!("{e}"));
    let set = |v: &str| std::collections::HashSet::from([v.to_string()]);
    admin
        .add(
            &reader,
            vec![
                ("objectClass".to_string(), set("person")),
                ("cn".to_string(), set(&name)),
                ("sn".to_string(), set(&name)),
                ("userPassword".to_string(), set(reader_password)),
            ],
        )
        .await
        .and_then(|r| r.success())
        .unwrap_or_else(|e| panic!("{e}"));
    let aci = format!(
        "(targetattr=\"objectClass || uid || cn || sn || mail\")(version 3.0; acl \"{name} reads\"; \
         allow (read, search, compare) userdn=\"ldap:///{reader}\";)"
    );
    admin
        .modify(
            &ds.people_dn(),
            vec![ldap3::Mod::Add("aci".to_string(), set(&aci))],
        )
        .await
        .and_then(|r| r.success())
        .unwrap_or_else(|e| panic!("{e}"));
    let _ = admin.unbind().await;

    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let secret = write_secret(dir.path(), "reader", reader_password);
    let text = format!(
        "[[targets]]\ntype = \"389ds\"\nname = \"ds\"\nurl = \"{url}\"\nca_file = \"{ca}\"\n\
         bind_dn = \"{reader}\"\nbind_password = {{ file = \"{secret}\" }}\nbase_dn = \"{base}\"\n",
        url = ds.ldaps_url(),
        ca = ds.ca_file().display(),
        secret = secret.display(),
        base = ds.people_dn(),
    );
    let path = dir.path().join("reader.toml");
    std::fs::write(&path, &text).unwrap_or_else(|e| panic!("{e}"));
    let ran = binary::run([
        "check-config".as_ref(),
        path.as_os_str(),
        "--connect".as_ref(),
    ]);
    let all = ran.text;
    assert!(ran.code != Some(0), "{all}");
    assert!(
        all.contains("may not write userPassword, passwordRetryCount, accountUnlockTime"),
        "{all}"
    );
    assert!(
        !all.contains(reader_password),
        "the bind password is printed"
    );
}

/// The `directory-389ds` policy in front of the target: the policy 389 DS will apply
/// (here ou=strict's subtree policy) is checked before anything is sent, with rule ids
/// the server's own refusal would not give.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn directory_policy_prechecks_the_389ds_policy_that_applies() {
    let ds = ds389::shared();
    let receiver = Receiver::start().await;
    let e = Engine::start(|dir| {
        let secret = write_secret(dir, "ds-policy-bind", ds.service_password());
        format!(
            "[pipeline]\ndeadline_ms = 10000\n\n{}[[policies]]\ntype = \"directory-389ds\"\n\
             target = \"ds\"\nurl = \"{url}\"\nca_file = \"{ca}\"\nbind_dn = \"{bind}\"\n\
             bind_password = {{ file = \"{secret}\" }}\n\n{}",
            target_toml(ds, dir),
            notifier(&receiver, dir),
            url = ds.ldaps_url(),
            ca = ds.ca_file().display(),
            bind = ds.service_dn(),
            secret = secret.display(),
        )
    })
    .await;
    // 11 characters: the subtree policy wants 12.
    let (uid, dn) = person(ds, "prestrict", true).await;
    let eleven = "Rb5$Ky8!Wm3";
    let a = e.send(&reset("ds-pre-1", &uid, eleven, false)).await;
    expect(&a, OutcomeCode::RejectedPolicy, 422);
    let rules: Vec<&str> = a.reply.rules.iter().map(|r| r.rule.as_str()).collect();
    assert_eq!(rules, ["directory.min_length"], "{:?}", a.reply.rules);
    assert!(
        a.reply.rules[0].message.contains("12"),
        "{}",
        a.reply.rules[0].message
    );
    assert!(ds.can_bind(&dn, INITIAL).await, "nothing was written");
    // The same password passes for ou=people (global policy: 10).
    let (uid, dn) = person(ds, "prepeople", false).await;
    let a = e.send(&reset("ds-pre-2", &uid, eleven, false)).await;
    expect(&a, OutcomeCode::Succeeded, 200);
    assert!(ds.can_bind(&dn, eleven).await);
    // Minimum age, from the account's passwordAllowChangeTime, for the person's change.
    let (uid, dn) = person(ds, "preyoung", true).await;
    let first = "Hv6!Tq9#Bn3$Xe5";
    let a = e.send(&change("ds-pre-3", &uid, INITIAL, first)).await;
    expect(&a, OutcomeCode::Succeeded, 200);
    let marker = "Mk3#Vd7!Jy9$Fp4";
    let a = e.send(&change("ds-pre-4", &uid, first, marker)).await;
    // The rule id says the pre-check caught it (the server's refusal has no rules).
    expect(&a, OutcomeCode::RejectedMinAge, 422);
    let rules: Vec<&str> = a.reply.rules.iter().map(|r| r.rule.as_str()).collect();
    assert_eq!(rules, ["directory.min_age"], "{:?}", a.reply.rules);
    assert!(ds.can_bind(&dn, first).await, "nothing was written");
    for m in [eleven, first, marker] {
        assert_no_leak(&e, Some(&receiver), m).await;
    }
}
