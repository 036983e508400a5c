//! Issue 4's proof: the built-in policies in the real pipeline, through the real
//! webhook source, against the real slapd. A refused password writes nothing and the
//! reply names the rule; the person's names come from the directory entry.

use std::fmt::Write as _;
use std::path::Path;

use writeback_cli::commands::policy_check::check_user;
use writeback_core::{OutcomeCode, Password};
use writeback_host::{Config, Host};
use writeback_source_webhook::client::RequestBody;
use writeback_testkit::slapd::{self, Slapd};
use writeback_tests::Engine;

use crate::support::*;

const INITIAL: &str = "Initial-Pass-1";
/// In the generated breach corpus.
const BREACHED: &str = "Marker-Breached-9x!";

/// A HIBP-format download with `BREACHED` and 5,000 other hashes, built into a filter
/// file in `dir`; returns its path.
fn breach_file(dir: &Path) -> String {
    let mut text = String::new();
    let hash = |p: &str| {
        let d = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, p.as_bytes());
        d.as_ref().iter().fold(String::new(), |mut acc, b| {
            let _ = write!(acc, "{b:02X}");
            acc
        })
    };
    let _ = write!(text, "{}:12\r\n", hash(BREACHED));
    for i in 0..5000 {
        let _ = write!(text, "{}:1\r\n", hash(&format!("other-{i}")));
    }
    let input = dir.join("pwned.txt");
    let output = dir.join("pwned.bin");
    std::fs::write(&input, text).unwrap_or_else(|e| panic!("{e}"));
    writeback_breached_filter::build(&input, &output, 1, false).unwrap_or_else(|e| panic!("{e}"));
    output.display().to_string()
}

fn policies(dir: &Path) -> String {
    format!(
        "{BASIC_POLICY}[[policies]]\ntype = \"banned-words\"\nname = \"banned\"\nterms = [\"contoso\", \"winter\"]\n\
         messages = {{ \"banned.score\" = \"Custom: pick something less predictable.\" }}\n\n\
         [[policies]]\ntype = \"breached\"\nfile = \"{}\"\n\n",
        breach_file(dir)
    )
}

async fn engine(s: &Slapd) -> Engine {
    Engine::start(|dir| {
        format!(
            "[pipeline]\ndeadline_ms = 8000\n\n{}{}",
            openldap_target(s, dir, "ldap", BY_UID),
            policies(dir)
        )
    })
    .await
}

async fn user(s: &Slapd, prefix: &str) -> (String, String) {
    let uid = s.unique_uid(prefix);
    let dn = s
        .add_user(&uid, INITIAL, &[("displayName", "Quentin Marlowe")])
        .await
        .unwrap_or_else(|e| panic!("add user: {e}"));
    (uid, dn)
}

fn rule_ids(answer: &writeback_source_webhook::client::Answer) -> Vec<String> {
    answer.reply.rules.iter().map(|r| r.rule.clone()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_banned_but_complex_password_is_refused_naming_the_rule_and_nothing_is_written() {
    let s = slapd::shared();
    let (uid, dn) = user(s, "banned").await;
    let e = engine(s).await;
    // 15 characters, all four classes: the basic policy passes it
    let marker = "C0ntoso-W1nter!";
    let a = e
        .send(&RequestBody::reset(
            "banned-1",
            by_uid(&uid),
            Password::new(marker),
            false,
        ))
        .await;
    expect(&a, OutcomeCode::RejectedPolicy, 422);
    assert_eq!(rule_ids(&a), vec!["banned.score"]);
    assert_eq!(
        a.reply.rules[0].message,
        "Custom: pick something less predictable."
    );
    assert!(s.can_bind(&dn, INITIAL).await, "nothing was written");
    assert!(!s.can_bind(&dn, marker).await);
    assert_no_leak(&e, None, marker).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_breached_password_is_refused_and_a_good_one_is_written() {
    let s = slapd::shared();
    let (uid, dn) = user(s, "pwn").await;
    let e = engine(s).await;
    let a = e
        .send(&RequestBody::reset(
            "breached-1",
            by_uid(&uid),
            Password::new(BREACHED),
            false,
        ))
        .await;
    expect(&a, OutcomeCode::RejectedPolicy, 422);
    assert_eq!(rule_ids(&a), vec!["breached.found"]);
    assert!(s.can_bind(&dn, INITIAL).await, "nothing was written");

    let good = "Marker-Quiet-Harbor-58%";
    let a = e
        .send(&RequestBody::reset(
            "breached-2",
            by_uid(&uid),
            Password::new(good),
            false,
        ))
        .await;
    expect(&a, OutcomeCode::Succeeded, 200);
    assert!(s.can_bind(&dn, good).await, "the accepted password binds");
    assert_no_leak(&e, None, BREACHED).await;
    assert_no_leak(&e, None, good).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_from_the_directory_entry_are_refused() {
    let s = slapd::shared();
    let (uid, dn) = user(s, "names").await;
    let e = engine(s).await;
    // the request carries only the uid: "Marlowe" comes from the entry's displayName
    let marker = "Marlowe-Harbor-58%";
    let a = e
        .send(&RequestBody::reset(
            "names-1",
            by_uid(&uid),
            Password::new(marker),
            false,
        ))
        .await;
    expect(&a, OutcomeCode::RejectedPolicy, 422);
    let rules = rule_ids(&a);
    assert!(
        rules.contains(&"name.contains_display_name".to_string()),
        "{rules:?}"
    );
    assert!(
        rules.contains(&"banned.contains_name".to_string()),
        "{rules:?}"
    );
    assert!(s.can_bind(&dn, INITIAL).await);
    assert_no_leak(&e, None, marker).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn policy_check_looks_the_user_up_and_gives_every_rules_verdict() {
    let s = slapd::shared();
    let (uid, dn) = user(s, "check").await;
    let e = engine(s).await;
    let config = Config::load(&e.config_path).unwrap_or_else(|err| panic!("{err}"));
    let host = Host::build_with(
        config,
        &writeback_cli::builtin_registry(),
        writeback_cli::builtin_options(),
    )
    .await
    .unwrap_or_else(|err| panic!("{err}"));
    let (lookups, verdicts) = check_user(
        &host,
        &by_uid(&uid),
        &Password::new("Marlowe-Harbor-58%"),
        true,
    )
    .await;
    assert_eq!(lookups.len(), 1);
    assert_eq!(lookups[0].result.as_deref(), Ok(dn.as_str()));
    let basic = verdicts
        .iter()
        .find(|v| v.policy == "basic")
        .unwrap_or_else(|| panic!("no basic verdict"));
    assert!(basic.passed.contains(&"length.min".to_string()));
    assert_eq!(basic.failed.len(), 1);
    assert_eq!(basic.failed[0].rule, "name.contains_display_name");
    let breached = verdicts
        .iter()
        .find(|v| v.policy == "breached")
        .unwrap_or_else(|| panic!("no breached verdict"));
    assert!(breached.ok());
    assert_eq!(breached.passed, vec!["breached.found"]);
    assert!(s.can_bind(&dn, INITIAL).await, "a check writes nothing");
}
