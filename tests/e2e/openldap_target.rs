//! The `openldap` target on its own (no host, no HTTP) against the test kit's slapd:
//! matching, escaping, every operation, ppolicy's verdicts, an outage, and the TLS and
//! config rules. Passwords are markers that must never show up in an outcome.

use std::sync::Arc;
use std::time::{Duration, Instant};

use writeback_core::{
    CloudIdentity, ConnectorConfig, ConnectorFactory, ConnectorKind, DirectoryTarget, Operation,
    Outcome, OutcomeCode, Password, SecretRef, SecretResolver,
};
use writeback_target_openldap::OpenLdapTargetFactory;
use writeback_testkit::slapd::{self, Slapd};
use writeback_testkit::tls::TestCerts;

/// Inline secrets only (the host resolves env and file secrets; these tests have no host).
struct InlineSecrets;

impl SecretResolver for InlineSecrets {
    fn resolve(&self, secret: &SecretRef) -> Result<Password, writeback_core::SecretError> {
        secret.value.clone().ok_or_else(|| {
            writeback_core::SecretError::Unsupported("tests give secrets inline".into())
        })
    }
}

fn table(slapd: &Slapd, extra: &[(&str, toml::Value)]) -> toml::Table {
    let mut t = toml::Table::new();
    let s = |v: &str| toml::Value::String(v.to_string());
    t.insert("url".into(), s(&slapd.ldaps_url()));
    t.insert("ca_file".into(), s(&slapd.ca_file().display().to_string()));
    t.insert("bind_dn".into(), s(slapd.service_dn()));
    let mut secret = toml::Table::new();
    secret.insert("value".into(), s(slapd.service_password()));
    t.insert("bind_password".into(), toml::Value::Table(secret));
    t.insert("base_dn".into(), s(&slapd.people_dn()));
    for (k, v) in extra {
        t.insert(k.to_string(), v.clone());
    }
    t
}

fn config(table: toml::Table) -> ConnectorConfig {
    ConnectorConfig::in_code(ConnectorKind::Target, "openldap", "ldap", table)
}

async fn build(table: toml::Table) -> Arc<dyn DirectoryTarget> {
    let ctx = writeback_core::BuildContext {
        secrets: &InlineSecrets,
        base_dir: std::path::Path::new("/"),
    };
    match OpenLdapTargetFactory.build(&config(table), &ctx).await {
        Ok(t) => t,
        Err(e) => panic!("building the target failed: {e}"),
    }
}

async fn target(slapd: &Slapd) -> Arc<dyn DirectoryTarget> {
    build(table(slapd, &[])).await
}

fn by_uid(uid: &str) -> CloudIdentity {
    CloudIdentity {
        username: Some(uid.to_string()),
        ..Default::default()
    }
}

fn reset(password: &str, must_change: bool) -> Operation {
    Operation::Reset {
        new_password: Password::new(password),
        must_change,
    }
}

fn change(old: &str, new: &str) -> Operation {
    Operation::Change {
        old_password: Password::new(old),
        new_password: Password::new(new),
    }
}

/// A user with a unique uid and the given initial password; returns (uid, dn).
async fn user(slapd: &Slapd, prefix: &str, password: &str) -> (String, String) {
    let uid = slapd.unique_uid(prefix);
    let mail = format!("{uid}@example.org");
    let dn = slapd
        .add_user(
            &uid,
            password,
            &[
                ("mail", &mail),
                ("givenName", "Test"),
                ("displayName", "Test User"),
            ],
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    (uid, dn)
}

/// The outcome of an operation that must fail, checked to hold no password marker.
async fn refused(
    target: &dyn DirectoryTarget,
    uid: &str,
    op: Operation,
    markers: &[&str],
) -> Outcome {
    let account = target
        .resolve(&by_uid(uid))
        .await
        .unwrap_or_else(|o| panic!("resolve: {o:?}"));
    let outcome = match target.apply(&account, &op).await {
        Ok(()) => panic!("the operation succeeded but should have been refused"),
        Err(o) => o,
    };
    let shown = format!("{outcome:?}");
    for marker in markers {
        assert!(
            !shown.contains(marker),
            "the outcome holds a password: {shown}"
        );
    }
    outcome
}

async fn applied(target: &dyn DirectoryTarget, uid: &str, op: Operation) {
    let account = target
        .resolve(&by_uid(uid))
        .await
        .unwrap_or_else(|o| panic!("resolve: {o:?}"));
    if let Err(o) = target.apply(&account, &op).await {
        panic!("apply failed: {o:?}");
    }
}

#[tokio::test]
async fn resolves_exactly_one_entry_with_its_attributes() {
    let slapd = slapd::shared();
    let (uid, dn) = user(slapd, "one", "Initial-Pass-1").await;
    let target = target(slapd).await;
    let account = target
        .resolve(&by_uid(&uid))
        .await
        .unwrap_or_else(|o| panic!("{o:?}"));
    assert_eq!(account.dn, dn);
    let uuid = slapd.read_attr(&dn, "entryUUID").await.unwrap_or_default();
    assert_eq!(account.id.as_deref(), uuid.first().map(String::as_str));
    assert_eq!(account.first("uid"), Some(uid.as_str()));
    assert_eq!(
        account.first("mail"),
        Some(format!("{uid}@example.org").as_str())
    );
    assert_eq!(account.first("displayname"), Some("Test User"));
    assert!(account
        .attributes
        .keys()
        .all(|k| k == &k.to_ascii_lowercase()));
}

#[tokio::test]
async fn unknown_user_is_not_found() {
    let slapd = slapd::shared();
    let target = target(slapd).await;
    let o = target
        .resolve(&by_uid(&slapd.unique_uid("nobody")))
        .await
        .err();
    assert_eq!(o.map(|o| o.code), Some(OutcomeCode::NotFound));
    // An identity without the attribute the template needs is not searched at all.
    let mail_only = CloudIdentity {
        mail: Some("someone@example.org".into()),
        ..Default::default()
    };
    let o = target
        .resolve(&mail_only)
        .await
        .err()
        .unwrap_or_else(|| panic!("resolved"));
    assert_eq!(o.code, OutcomeCode::NotFound);
    assert!(o.admin_detail.unwrap_or_default().contains("`username`"));
}

#[tokio::test]
async fn two_matches_are_ambiguous_and_nothing_is_written() {
    let slapd = slapd::shared();
    let shared_mail = format!("{}@example.org", slapd.unique_uid("twin"));
    let mut dns = Vec::new();
    for _ in 0..2 {
        let uid = slapd.unique_uid("twin");
        dns.push(
            slapd
                .add_user(&uid, "Twin-Pass-1", &[("mail", &shared_mail)])
                .await
                .unwrap_or_else(|e| panic!("{e}")),
        );
    }
    let filter = toml::Value::String("(&(objectClass=inetOrgPerson)(mail={mail}))".into());
    let target = build(table(slapd, &[("filter", filter)])).await;
    let identity = CloudIdentity {
        mail: Some(shared_mail.clone()),
        ..Default::default()
    };
    let o = target
        .resolve(&identity)
        .await
        .err()
        .unwrap_or_else(|| panic!("resolved"));
    assert_eq!(o.code, OutcomeCode::AmbiguousIdentity);
    let detail = o.admin_detail.unwrap_or_default();
    assert!(
        dns.iter().all(|dn| detail.contains(dn.as_str())),
        "{detail}"
    );
    for dn in &dns {
        assert!(slapd.can_bind(dn, "Twin-Pass-1").await);
    }
}

#[tokio::test]
async fn filter_injection_matches_nothing() {
    let slapd = slapd::shared();
    user(slapd, "inject", "Initial-Pass-1").await;
    let target = target(slapd).await;
    for attack in ["*)(uid=*", "*", "x)(|(uid=*)", "\\2a"] {
        let o = target.resolve(&by_uid(attack)).await.err();
        assert_eq!(o.map(|o| o.code), Some(OutcomeCode::NotFound), "{attack}");
    }
}

#[tokio::test]
async fn reset_with_exop_and_with_modify_then_bind() {
    let slapd = slapd::shared();
    let (uid, dn) = user(slapd, "reset", "Initial-Pass-1").await;
    let target = target(slapd).await;
    applied(&*target, &uid, reset("Marker-Reset-7", false)).await;
    assert!(slapd.can_bind(&dn, "Marker-Reset-7").await);
    assert!(!slapd.can_bind(&dn, "Initial-Pass-1").await);
    assert!(slapd
        .read_attr(&dn, "pwdReset")
        .await
        .unwrap_or_default()
        .is_empty());

    let no_exop = build(table(
        slapd,
        &[("use_password_modify_exop", toml::Value::Boolean(false))],
    ))
    .await;
    applied(&*no_exop, &uid, reset("Marker-Modify-8", false)).await;
    assert!(slapd.can_bind(&dn, "Marker-Modify-8").await);
    // The cleartext value was hashed by ppolicy, never stored as is.
    let stored = slapd
        .read_attr(&dn, "userPassword")
        .await
        .unwrap_or_default();
    assert!(stored.iter().all(|v| v.starts_with('{')), "{stored:?}");
}

#[tokio::test]
async fn must_change_reset_sets_pwd_reset() {
    let slapd = slapd::shared();
    let (uid, dn) = user(slapd, "mustchange", "Initial-Pass-1").await;
    let target = target(slapd).await;
    applied(&*target, &uid, reset("Marker-Must-9", true)).await;
    assert_eq!(
        slapd.read_attr(&dn, "pwdReset").await.unwrap_or_default(),
        vec!["TRUE"]
    );
    assert!(slapd.can_bind(&dn, "Marker-Must-9").await);
}

#[tokio::test]
async fn too_short_is_rejected_with_the_directory_reason() {
    let slapd = slapd::shared();
    let (uid, dn) = user(slapd, "short", "Initial-Pass-1").await;
    let target = target(slapd).await;
    let o = refused(&*target, &uid, reset("Mk-3", false), &["Mk-3"]).await;
    assert_eq!(o.code, OutcomeCode::RejectedPolicy, "{o:?}");
    assert_eq!(o.rules.len(), 1);
    // "directory.length" comes from the ppolicy response control (passwordTooShort),
    // which the text alone ("fails quality checking") could not tell.
    assert_eq!(o.rules[0].rule, "directory.length", "{:?}", o.rules);
    assert!(o.rules[0].message.contains("quality"), "{:?}", o.rules);
    assert!(slapd.can_bind(&dn, "Initial-Pass-1").await);
}

#[tokio::test]
async fn password_in_history_is_rejected() {
    let slapd = slapd::shared();
    let (uid, dn) = user(slapd, "history", "Initial-Pass-1").await;
    let target = target(slapd).await;
    applied(&*target, &uid, reset("Marker-Hist-1", false)).await;
    applied(&*target, &uid, reset("Marker-Hist-2", false)).await;
    let o = refused(
        &*target,
        &uid,
        reset("Marker-Hist-1", false),
        &["Marker-Hist"],
    )
    .await;
    assert_eq!(o.code, OutcomeCode::RejectedHistory, "{o:?}");
    assert!(o.message.contains("history"), "{}", o.message);
    assert!(slapd.can_bind(&dn, "Marker-Hist-2").await);
}

#[tokio::test]
async fn change_needs_the_right_old_password() {
    let slapd = slapd::shared();
    let (uid, dn) = user(slapd, "change", "Marker-Old-1").await;
    let target = target(slapd).await;
    let o = refused(
        &*target,
        &uid,
        change("Marker-Wrong-1", "Marker-New-1"),
        &["Marker-"],
    )
    .await;
    assert_eq!(o.code, OutcomeCode::WrongOldPassword, "{o:?}");
    assert!(slapd.can_bind(&dn, "Marker-Old-1").await);
    applied(&*target, &uid, change("Marker-Old-1", "Marker-New-1")).await;
    assert!(slapd.can_bind(&dn, "Marker-New-1").await);
    assert!(!slapd.can_bind(&dn, "Marker-Old-1").await);
    // The user's change is judged by history too.
    let o = refused(
        &*target,
        &uid,
        change("Marker-New-1", "Marker-Old-1"),
        &["Marker-"],
    )
    .await;
    assert_eq!(o.code, OutcomeCode::RejectedHistory, "{o:?}");
}

#[tokio::test]
async fn change_too_soon_is_rejected_by_min_age() {
    let slapd = slapd::shared();
    let (uid, dn) = user(slapd, "minage", "Marker-Old-2").await;
    let policy = slapd
        .add_policy(&slapd.unique_uid("minage"), &[("pwdMinAge", "3600")])
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    slapd
        .set_user_policy(&dn, &policy)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let target = target(slapd).await;
    // The first change starts the clock (an entry added with a password has no
    // pwdChangedTime yet); a second change within the hour is too soon.
    applied(&*target, &uid, change("Marker-Old-2", "Marker-New-2")).await;
    let o = refused(
        &*target,
        &uid,
        change("Marker-New-2", "Marker-Newer-3"),
        &["Marker-"],
    )
    .await;
    assert_eq!(o.code, OutcomeCode::RejectedMinAge, "{o:?}");
    assert!(o.message.contains("too young"), "{}", o.message);
    assert!(slapd.can_bind(&dn, "Marker-New-2").await);
}

#[tokio::test]
async fn unlock_after_lockout_then_bind() {
    let slapd = slapd::shared();
    let (uid, dn) = user(slapd, "locked", "Marker-Lock-1").await;
    for _ in 0..3 {
        assert_eq!(slapd.bind_code(&dn, "wrong-password").await, Ok(49));
    }
    assert!(!slapd
        .read_attr(&dn, "pwdAccountLockedTime")
        .await
        .unwrap_or_default()
        .is_empty());
    assert!(
        !slapd.can_bind(&dn, "Marker-Lock-1").await,
        "the account should be locked"
    );
    let target = target(slapd).await;
    // A change needs the user's bind, which a locked account cannot do: the person is
    // told the account is locked, not that the password is wrong.
    let o = refused(
        &*target,
        &uid,
        change("Marker-Lock-1", "Marker-Lock-2"),
        &["Marker-"],
    )
    .await;
    assert_eq!(o.code, OutcomeCode::AdminActionRequired, "{o:?}");
    assert!(o.message.contains("locked"), "{}", o.message);
    applied(&*target, &uid, Operation::Unlock).await;
    assert!(slapd
        .read_attr(&dn, "pwdAccountLockedTime")
        .await
        .unwrap_or_default()
        .is_empty());
    assert!(slapd.can_bind(&dn, "Marker-Lock-1").await);
    // Unlocking an account that is not locked is not an error.
    applied(&*target, &uid, Operation::Unlock).await;
}

#[tokio::test]
async fn stopped_directory_is_unavailable_fast_then_recovers() {
    let slapd = Slapd::start().unwrap_or_else(|e| panic!("{e}"));
    let uid = slapd.unique_uid("outage");
    let dn = slapd
        .add_user(&uid, "Initial-Pass-1", &[])
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let target = target(&slapd).await;
    let account = target
        .resolve(&by_uid(&uid))
        .await
        .unwrap_or_else(|o| panic!("{o:?}"));

    slapd.stop();
    let started = Instant::now();
    let o = target
        .resolve(&by_uid(&uid))
        .await
        .err()
        .unwrap_or_else(|| panic!("resolved"));
    assert_eq!(o.code, OutcomeCode::DirectoryUnavailable, "{o:?}");
    assert!(o
        .admin_detail
        .unwrap_or_default()
        .contains(&slapd.ldaps_url()));
    let o = target
        .apply(&account, &reset("Marker-Out-1", false))
        .await
        .err();
    assert_eq!(o.map(|o| o.code), Some(OutcomeCode::DirectoryUnavailable));
    // Well inside the connect timeout (3 s): a refused connection is not waited out.
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );

    slapd.start_again().unwrap_or_else(|e| panic!("{e}"));
    applied(&*target, &uid, reset("Marker-Back-2", false)).await;
    assert!(slapd.can_bind(&dn, "Marker-Back-2").await);
}

#[tokio::test]
async fn plaintext_is_refused_unless_allowed() {
    let slapd = slapd::shared();
    let plain = toml::Value::String(slapd.ldap_url());
    let err = OpenLdapTargetFactory
        .validate(&config(table(slapd, &[("url", plain.clone())])))
        .err()
        .unwrap_or_else(|| panic!("accepted ldap:// without TLS"));
    assert!(err.to_string().contains("allow_plaintext"), "{err}");
    assert_eq!(err.key.as_deref(), Some("targets.ldap.url"));

    // Allowed in so many words: works (loopback tests only).
    let (uid, dn) = user(slapd, "plain", "Initial-Pass-1").await;
    let allowed = build(table(
        slapd,
        &[
            ("url", plain.clone()),
            ("allow_plaintext", toml::Value::Boolean(true)),
        ],
    ))
    .await;
    applied(&*allowed, &uid, reset("Marker-Plain-3", false)).await;
    assert!(slapd.can_bind(&dn, "Marker-Plain-3").await);
    let checks = allowed.self_test().await;
    assert!(
        checks.iter().any(|c| c.check == "tls" && !c.ok),
        "{checks:?}"
    );

    // StartTLS on the same port.
    let starttls = build(table(
        slapd,
        &[("url", plain), ("starttls", toml::Value::Boolean(true))],
    ))
    .await;
    applied(&*starttls, &uid, reset("Marker-Start-4", false)).await;
    assert!(slapd.can_bind(&dn, "Marker-Start-4").await);
}

#[tokio::test]
async fn self_test_reports_each_step() {
    let slapd = slapd::shared();
    let checks = target(slapd).await.self_test().await;
    assert!(checks.iter().all(|c| c.ok), "{checks:?}");
    let names: Vec<&str> = checks.iter().map(|c| c.check.as_str()).collect();
    assert_eq!(
        names,
        [
            "connect",
            "tls",
            "bind",
            "read base_dn",
            "ppolicy",
            "ppolicy hashing"
        ]
    );

    // A CA that did not sign the server's certificate: TLS fails, and says so.
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let other = TestCerts::generate(&["127.0.0.1"]).unwrap_or_else(|e| panic!("{e}"));
    let files = other.write_to(dir.path()).unwrap_or_else(|e| panic!("{e}"));
    let wrong_ca = toml::Value::String(files.ca.display().to_string());
    let target = build(table(slapd, &[("ca_file", wrong_ca)])).await;
    let checks = target.self_test().await;
    assert!(
        checks.iter().any(|c| c.check == "tls" && !c.ok),
        "{checks:?}"
    );
    let o = target
        .resolve(&by_uid("anyone"))
        .await
        .err()
        .unwrap_or_else(|| panic!("resolved"));
    assert_eq!(o.code, OutcomeCode::AdminActionRequired, "{o:?}");

    // A wrong service password: the bind check fails.
    let mut t = table(slapd, &[]);
    let mut secret = toml::Table::new();
    secret.insert(
        "value".into(),
        toml::Value::String("not-the-password".into()),
    );
    t.insert("bind_password".into(), toml::Value::Table(secret));
    let checks = build(t).await.self_test().await;
    assert!(
        checks.iter().any(|c| c.check == "bind" && !c.ok),
        "{checks:?}"
    );
}

/// Issue 15, item 12: the self-test says whether slapd hashes a userPassword written in
/// clear (olcPPolicyHashCleartext) when the service account may read cn=config, and that
/// it could not tell, and why, when it may not.
#[tokio::test]
async fn self_test_reports_cleartext_password_hashing() {
    use ldap3::Mod;
    use std::collections::HashSet;
    let slapd = Slapd::start().unwrap_or_else(|e| panic!("slapd: {e}"));
    let hashing = |checks: &[writeback_core::HealthCheck]| {
        checks
            .iter()
            .find(|c| c.check == "ppolicy hashing")
            .cloned()
            .unwrap_or_else(|| panic!("no hashing check: {checks:?}"))
    };
    let target = target(&slapd).await;

    // As the test kit sets it up: only cn=admin,cn=config reads cn=config.
    let c = hashing(&target.self_test().await);
    assert!(c.ok && c.detail.starts_with("unknown:"), "{c:?}");
    assert!(c.detail.contains("cannot read cn=config"), "{c:?}");

    let mut config = slapd.connect().await.unwrap_or_else(|e| panic!("{e}"));
    config
        .simple_bind("cn=admin,cn=config", slapd.admin_password())
        .await
        .and_then(|r| r.success())
        .unwrap_or_else(|e| panic!("config admin bind: {e}"));
    let set = |v: &str| HashSet::from([v.to_string()]);
    let grant = format!("{{0}}to * by dn.exact=\"{}\" read", slapd.service_dn());
    config
        .modify(
            "olcDatabase={0}config,cn=config",
            vec![Mod::Add("olcAccess".to_string(), set(&grant))],
        )
        .await
        .and_then(|r| r.success())
        .unwrap_or_else(|e| panic!("grant read on cn=config: {e}"));
    let c = hashing(&target.self_test().await);
    assert!(
        c.ok && c.detail.contains("olcPPolicyHashCleartext: TRUE"),
        "{c:?}"
    );

    let overlay = "olcOverlay={0}ppolicy,olcDatabase={1}mdb,cn=config";
    config
        .modify(
            overlay,
            vec![Mod::Replace(
                "olcPPolicyHashCleartext".to_string(),
                set("FALSE"),
            )],
        )
        .await
        .and_then(|r| r.success())
        .unwrap_or_else(|e| panic!("turn hashing off: {e}"));
    let c = hashing(&target.self_test().await);
    assert!(!c.ok, "{c:?}");
    assert!(
        c.detail.contains("olcPPolicyHashCleartext is not TRUE") && c.detail.contains(overlay),
        "{c:?}"
    );
    let _ = config.unbind().await;
}

#[tokio::test]
async fn search_by_attribute_and_listing() {
    let slapd = slapd::shared();
    let (uid, dn) = user(slapd, "search", "Initial-Pass-1").await;
    let target = target(slapd).await;
    let mail = format!("{uid}@example.org");
    let found = target
        .search(Some(("mail", &mail)), 10)
        .await
        .unwrap_or_else(|o| panic!("{o:?}"));
    assert_eq!(
        found.iter().map(|a| a.dn.as_str()).collect::<Vec<_>>(),
        [dn.as_str()]
    );
    let found = target
        .search(Some(("upn", &uid)), 10)
        .await
        .unwrap_or_else(|o| panic!("{o:?}"));
    assert_eq!(found.len(), 1);
    let uuid = found[0].id.clone().unwrap_or_default();
    let by_id = target
        .search(Some(("object_id", &uuid)), 10)
        .await
        .unwrap_or_else(|o| panic!("{o:?}"));
    assert_eq!(by_id.len(), 1);
    let none = target
        .search(Some(("mail", "*")), 10)
        .await
        .unwrap_or_else(|o| panic!("{o:?}"));
    assert!(none.is_empty());
    let listed = target
        .search(None, 2)
        .await
        .unwrap_or_else(|o| panic!("{o:?}"));
    assert_eq!(listed.len(), 2);
    let o = target.search(Some(("shoe_size", "42")), 10).await.err();
    assert_eq!(o.map(|o| o.code), Some(OutcomeCode::InvalidRequest));
}

#[tokio::test]
async fn ppolicy_response_control_is_read() {
    use writeback_ldap::{ConnectOptions, Connector, PpolicyError};
    let slapd = slapd::shared();
    let (_, dn) = user(slapd, "control", "Initial-Pass-1").await;
    let mut options = ConnectOptions::new(slapd.ldaps_url());
    options.ca_file = Some(slapd.ca_file());
    let connector = Connector::new(&options).unwrap_or_else(|e| panic!("{e}"));
    let service = Password::new(slapd.service_password());
    let mut session = connector
        .connect_as(slapd.service_dn(), &service)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let failure = session
        .password_modify(Some(&dn), None, &Password::new("Mk-5"))
        .await
        .err()
        .unwrap_or_else(|| panic!("a too-short password was accepted"));
    let reply = failure.reply().unwrap_or_else(|| panic!("{failure}"));
    assert_eq!(reply.rc, 19);
    assert_eq!(
        reply.ppolicy.and_then(|p| p.error),
        Some(PpolicyError::PasswordTooShort)
    );
    assert!(
        !session.is_broken(),
        "a refusal must not break the connection"
    );
}

#[tokio::test]
async fn must_change_is_cleared_by_a_plain_reset_and_by_the_users_change() {
    let slapd = slapd::shared();
    let (uid, dn) = user(slapd, "clear", "Initial-Pass-1").await;
    let target = target(slapd).await;
    let pwd_reset = || async { slapd.read_attr(&dn, "pwdReset").await.unwrap_or_default() };
    applied(&*target, &uid, reset("Marker-Must-A", true)).await;
    assert_eq!(pwd_reset().await, vec!["TRUE"]);
    applied(&*target, &uid, reset("Marker-Must-B", false)).await;
    assert!(pwd_reset().await.is_empty());
    applied(&*target, &uid, reset("Marker-Must-C", true)).await;
    applied(&*target, &uid, change("Marker-Must-C", "Marker-Must-D")).await;
    assert!(pwd_reset().await.is_empty());
    assert!(slapd.can_bind(&dn, "Marker-Must-D").await);
}

/// Sets (or, with `None`, removes) one attribute as slapd's administrator.
async fn set_as_admin(slapd: &Slapd, dn: &str, attribute: &str, value: Option<&str>) {
    use std::collections::HashSet;
    use writeback_ldap::ldap3::Mod;
    let m = match value {
        Some(v) => Mod::Replace(attribute.to_string(), HashSet::from([v.to_string()])),
        None => Mod::Delete(attribute.to_string(), HashSet::new()),
    };
    slapd
        .modify_as_admin(dn, vec![m])
        .await
        .unwrap_or_else(|e| panic!("set {attribute}: {e}"));
}

/// The outcome of a reset that was written but is not in force: the person is told the
/// password was set; the administrator detail names what keeps them out.
fn assert_set_but(outcome: &Outcome, what: &str) {
    assert_eq!(
        outcome.code,
        OutcomeCode::AdminActionRequired,
        "{outcome:?}"
    );
    assert!(
        outcome.message.contains("password was set"),
        "{}",
        outcome.message
    );
    let detail = outcome.admin_detail.as_deref().unwrap_or_default();
    assert!(
        detail.contains("the password was set") && detail.contains(what),
        "{detail}"
    );
}

#[tokio::test]
async fn an_account_an_administrator_locked_is_not_reenabled_by_a_reset_or_unlock() {
    let slapd = slapd::shared();
    let (uid, dn) = user(slapd, "adminlock", "Initial-Pass-1").await;
    set_as_admin(slapd, &dn, "pwdAccountLockedTime", Some("000001010000Z")).await;
    let target = target(slapd).await;
    for op in [reset("Marker-Verify-1", false), Operation::Unlock] {
        let o = refused(&*target, &uid, op, &["Marker-"]).await;
        assert_eq!(o.code, OutcomeCode::AdminActionRequired, "{o:?}");
        assert!(
            o.message.contains("disabled by an administrator"),
            "{}",
            o.message
        );
        let detail = o.admin_detail.unwrap_or_default();
        assert!(detail.contains("nothing was written"), "{detail}");
    }
    // Nothing was written: the lock stands and the old password is the one that counts.
    assert_eq!(
        slapd
            .read_attr(&dn, "pwdAccountLockedTime")
            .await
            .unwrap_or_default(),
        vec!["000001010000Z"]
    );
    // An operator who wants unlocks to lift it says so; password writes still do not.
    let lifting = build(table(
        slapd,
        &[("unlock_administrators_lock", toml::Value::Boolean(true))],
    ))
    .await;
    let o = refused(
        &*lifting,
        &uid,
        reset("Marker-Verify-1", false),
        &["Marker-"],
    )
    .await;
    assert_eq!(o.code, OutcomeCode::AdminActionRequired, "{o:?}");
    applied(&*lifting, &uid, Operation::Unlock).await;
    assert!(!slapd.can_bind(&dn, "Marker-Verify-1").await);
    assert!(slapd.can_bind(&dn, "Initial-Pass-1").await);
}

#[tokio::test]
async fn a_reset_of_a_password_past_its_end_time_says_it_is_disabled() {
    let slapd = slapd::shared();
    let (uid, dn) = user(slapd, "endtime", "Initial-Pass-1").await;
    set_as_admin(slapd, &dn, "pwdEndTime", Some("20200101000000Z")).await;
    let target = target(slapd).await;
    let o = refused(&*target, &uid, reset("Marker-Verify-3", true), &["Marker-"]).await;
    assert_set_but(&o, "disabled since pwdEndTime 20200101000000Z");
    assert!(!slapd.can_bind(&dn, "Marker-Verify-3").await);
    // Must-change was asked and is in force: only the end time is named.
    let detail = o.admin_detail.unwrap_or_default();
    assert!(!detail.contains("must-change"), "{detail}");
    assert_eq!(
        slapd.read_attr(&dn, "pwdReset").await.unwrap_or_default(),
        vec!["TRUE"]
    );
    set_as_admin(slapd, &dn, "pwdEndTime", None).await;
    assert!(slapd.can_bind(&dn, "Marker-Verify-3").await);
}

#[tokio::test]
async fn a_reset_lifts_a_lockout_from_failed_binds() {
    // slapd's ppolicy removes pwdAccountLockedTime with any password change, so a
    // reset is also an unlock (docs/openldap.md says so); only an administrator's lock
    // is refused before the write (the test above).
    let slapd = slapd::shared();
    let (uid, dn) = user(slapd, "lockreset", "Initial-Pass-1").await;
    for _ in 0..3 {
        assert_eq!(slapd.bind_code(&dn, "wrong-password").await, Ok(49));
    }
    assert!(!slapd.can_bind(&dn, "Initial-Pass-1").await);
    let target = target(slapd).await;
    applied(&*target, &uid, reset("Marker-Verify-4", false)).await;
    assert!(slapd
        .read_attr(&dn, "pwdAccountLockedTime")
        .await
        .unwrap_or_default()
        .is_empty());
    assert!(slapd.can_bind(&dn, "Marker-Verify-4").await);
}
