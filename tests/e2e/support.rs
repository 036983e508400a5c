//! Config snippets and checks the end-to-end tests share.

use std::path::Path;

use writeback_core::{CloudIdentity, OutcomeCode};
use writeback_source_webhook::client::Answer;
use writeback_testkit::slapd::Slapd;
use writeback_tests::engine::write_secret;
use writeback_tests::{logs, Engine, Receiver};

/// `[[targets]]` for the test slapd, as the service account with `write` on
/// userPassword, over LDAPS verified with the test CA. `filter` is the matching rule.
pub fn openldap_target(slapd: &Slapd, dir: &Path, name: &str, filter: &str) -> String {
    let secret = write_secret(dir, &format!("{name}-bind"), slapd.service_password());
    format!(
        "[[targets]]\ntype = \"openldap\"\nname = \"{name}\"\nurl = \"{url}\"\nca_file = \"{ca}\"\n\
         bind_dn = \"{bind}\"\nbind_password = {{ file = \"{secret}\" }}\nbase_dn = \"{base}\"\n\
         filter = \"{filter}\"\n\n",
        url = slapd.ldaps_url(),
        ca = slapd.ca_file().display(),
        bind = slapd.service_dn(),
        secret = secret.display(),
        base = slapd.people_dn(),
    )
}

pub const BY_UID: &str = "(&(objectClass=inetOrgPerson)(uid={username}))";

/// The built-in policy the tests use: 10+ characters, three of four classes.
pub const BASIC_POLICY: &str =
    "[[policies]]\ntype = \"basic\"\nmin_length = 10\nmin_categories = 3\n\n";

pub fn notifier(receiver: &Receiver, dir: &Path) -> String {
    let secret = write_secret(dir, "notify", &receiver.secret);
    format!(
        "[[notifiers]]\ntype = \"webhook\"\nurl = \"{}\"\nsecret = {{ file = \"{}\" }}\n\n",
        receiver.url(),
        secret.display()
    )
}

/// An engine on the shared slapd with the basic policy and a webhook notifier.
pub async fn standard_engine(slapd: &Slapd, receiver: &Receiver) -> Engine {
    Engine::start(|dir| {
        format!(
            "[pipeline]\ndeadline_ms = 8000\n\n{}{}{}",
            openldap_target(slapd, dir, "ldap", BY_UID),
            BASIC_POLICY,
            notifier(receiver, dir)
        )
    })
    .await
}

pub fn by_uid(uid: &str) -> CloudIdentity {
    CloudIdentity {
        username: Some(uid.to_string()),
        ..Default::default()
    }
}

pub fn expect(answer: &Answer, code: OutcomeCode, status: u16) {
    assert_eq!(
        (answer.reply.outcome, answer.status),
        (code, status),
        "message: {} rules: {:?}",
        answer.reply.message,
        answer.reply.rules
    );
}

/// The marker password appears in no log line, audit record or notification.
pub async fn assert_no_leak(engine: &Engine, receiver: Option<&Receiver>, marker: &str) {
    assert!(!marker.is_empty());
    assert!(
        !logs::text().contains(marker),
        "a log line holds the password"
    );
    assert!(
        !engine.audit_text().contains(marker),
        "the audit log holds the password"
    );
    if let Some(r) = receiver {
        let all = serde_json::to_string(&r.bodies()).unwrap_or_default();
        assert!(!all.contains(marker), "a notification holds the password");
    }
}
