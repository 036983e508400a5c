//! Issue 15's pipeline findings, seen from outside through the real webhook source,
//! the real host and the real slapd, with a delaying TCP proxy in front of slapd to
//! make the directory slow: the caller is answered at the deadline whatever the
//! directory does; no write starts after it; a late real result is notified and is
//! what a retry with the same id gets; a caller that hangs up does not stop its
//! request half-way; a request id is bound to what it asks; one
//! account's requests apply one after the other whatever identifiers they carry.

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use writeback_core::{CloudIdentity, OutcomeCode, Password};
use writeback_source_webhook::client::RequestBody;
use writeback_testkit::delay_proxy::DelayProxy;
use writeback_testkit::slapd::{self, Slapd};
use writeback_tests::engine::write_secret;
use writeback_tests::{Engine, Receiver};

use crate::support::*;

const INITIAL: &str = "Initial-Pass-1";

async fn user(slapd: &Slapd, prefix: &str) -> (String, String) {
    let uid = slapd.unique_uid(prefix);
    let dn = slapd
        .add_user(&uid, INITIAL, &[])
        .await
        .unwrap_or_else(|e| panic!("add user: {e}"));
    (uid, dn)
}

/// A proxy in front of the slapd's plain LDAP port (plain, so the proxy can tell a
/// write from a search by the DN in it).
fn proxy(slapd: &Slapd) -> DelayProxy {
    let upstream: SocketAddr = ([127, 0, 0, 1], slapd.ldap_port()).into();
    DelayProxy::start(upstream).unwrap_or_else(|e| panic!("delay proxy: {e}"))
}

/// `[[targets]]` through the proxy; each LDAP operation may take 10 s, longer than
/// the proxy holds a reply, so the directory's real answer is what comes back.
fn target_via(proxy: &DelayProxy, slapd: &Slapd, dir: &Path) -> String {
    let secret = write_secret(dir, "ldap-bind", slapd.service_password());
    format!(
        "[[targets]]\ntype = \"openldap\"\nname = \"ldap\"\nurl = \"ldap://{addr}\"\n\
         allow_plaintext = true\nbind_dn = \"{bind}\"\nbind_password = {{ file = \"{secret}\" }}\n\
         base_dn = \"{base}\"\nfilter = \"{BY_UID}\"\ntimeout_ms = 10000\n\n",
        addr = proxy.addr(),
        bind = slapd.service_dn(),
        secret = secret.display(),
        base = slapd.people_dn(),
    )
}

async fn engine(
    deadline_ms: u64,
    proxy: &DelayProxy,
    slapd: &Slapd,
    receiver: &Receiver,
) -> Engine {
    Engine::start(|dir| {
        format!(
            "[pipeline]\ndeadline_ms = {deadline_ms}\n\n{}{}",
            target_via(proxy, slapd, dir),
            notifier(receiver, dir)
        )
    })
    .await
}

/// Opens the target's pooled connection with a request for another user, so the
/// measured request does not pay for connect and bind.
async fn warm(e: &Engine, slapd: &Slapd) {
    let (uid, _) = user(slapd, "warm").await;
    let a = e
        .send(&RequestBody::reset(
            &format!("warm-{uid}"),
            by_uid(&uid),
            Password::new("Marker-Warm-9zZ!"),
            false,
        ))
        .await;
    expect(&a, OutcomeCode::Succeeded, 200);
}

/// How many passwords the account had before its current one (ppolicy keeps 3):
/// one more for every password written since it was created.
async fn writes(slapd: &Slapd, dn: &str) -> usize {
    slapd
        .read_attr(dn, "pwdHistory")
        .await
        .unwrap_or_default()
        .len()
}

/// Waits up to `within` for a notification for `request_id` with `code`.
async fn notified(
    receiver: &Receiver,
    request_id: &str,
    code: &str,
    within: Duration,
) -> Option<serde_json::Value> {
    let until = Instant::now() + within;
    while Instant::now() < until {
        let found = receiver
            .bodies()
            .into_iter()
            .find(|b| b["request_id"] == request_id && b["outcome"]["code"] == code);
        if found.is_some() {
            return found;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_write_is_answered_at_the_deadline_then_its_late_success_is_notified_and_retried() {
    let s = slapd::shared();
    let p = proxy(s);
    let receiver = Receiver::start().await;
    let e = engine(3000, &p, s, &receiver).await;
    warm(&e, s).await;
    let (uid, dn) = user(s, "late").await;
    // Only the write's reply is late: the directory applies it at once and answers 5 s on.
    p.hold_replies_to(dn.as_bytes(), Duration::from_secs(5));
    let marker = "Marker-Late-5tG%";
    let body = RequestBody::reset("late-1", by_uid(&uid), Password::new(marker), false);

    let started = Instant::now();
    let first = e.send(&body).await;
    let took = started.elapsed();
    expect(&first, OutcomeCode::Timeout, 504);
    assert!(first.reply.retryable);
    assert!(
        took < Duration::from_secs(4),
        "the caller waited {took:?} with deadline_ms = 3000"
    );

    let late = notified(&receiver, "late-1", "succeeded", Duration::from_secs(10))
        .await
        .unwrap_or_else(|| panic!("the late success was not notified: {:?}", receiver.bodies()));
    assert_eq!(late["after_deadline"], true, "{late}");
    assert!(
        receiver
            .bodies()
            .iter()
            .any(|b| b["request_id"] == "late-1" && b["outcome"]["code"] == "timeout"),
        "the timeout the caller got was notified too"
    );
    assert!(s.can_bind(&dn, marker).await, "the late write landed");

    let again = e.send(&body).await;
    expect(&again, OutcomeCode::Succeeded, 200);
    assert_eq!(p.triggered(), 1, "the retry sent a second write");
    assert_eq!(writes(s, &dn).await, 1, "the password was written once");

    let records = e.audit_records(4).await;
    assert!(
        records.iter().any(|r| r["request_id"] == "late-1"
            && r["outcome"] == "succeeded"
            && r["after_deadline"] == true),
        "no audit record of the late success: {records:?}"
    );
    assert_no_leak(&e, Some(&receiver), marker).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_that_hangs_up_before_the_answer_still_gets_its_write_done_and_audited() {
    let s = slapd::shared();
    let p = proxy(s);
    let receiver = Receiver::start().await;
    let e = engine(8000, &p, s, &receiver).await;
    warm(&e, s).await;
    let (uid, dn) = user(s, "hangup").await;
    // The write's reply comes 2 s late; the caller gives up after 0.5 s and closes its
    // connection while the pipeline is still working on the request.
    p.hold_replies_to(dn.as_bytes(), Duration::from_secs(2));
    let marker = "Marker-Hangup-3kQ&";
    let body = RequestBody::reset("hangup-1", by_uid(&uid), Password::new(marker), false);
    let gave_up = tokio::time::timeout(Duration::from_millis(500), e.send(&body)).await;
    assert!(
        gave_up.is_err(),
        "answered within 0.5 s although the write is held 2 s"
    );

    let done = notified(&receiver, "hangup-1", "succeeded", Duration::from_secs(10))
        .await
        .unwrap_or_else(|| panic!("the write was not finished: {:?}", receiver.bodies()));
    assert_ne!(done["after_deadline"], true, "{done}");
    assert!(s.can_bind(&dn, marker).await, "the write landed");
    let records = e.audit_records(2).await;
    assert!(
        records
            .iter()
            .any(|r| r["request_id"] == "hangup-1" && r["outcome"] == "succeeded"),
        "no audit record of the finished request: {records:?}"
    );
    // The caller's retry hears what happened, and nothing is written twice.
    let again = e.send(&body).await;
    expect(&again, OutcomeCode::Succeeded, 200);
    assert_eq!(p.triggered(), 1, "the retry sent a second write");
    assert_eq!(writes(s, &dn).await, 1, "the password was written once");
    assert_no_leak(&e, Some(&receiver), marker).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_write_starts_after_the_deadline() {
    let s = slapd::shared();
    let p = proxy(s);
    let receiver = Receiver::start().await;
    let e = engine(3000, &p, s, &receiver).await;
    warm(&e, s).await;
    let (uid, dn) = user(s, "nolate").await;
    // Every reply 5 s late: the account is found only after the 3 s deadline.
    p.hold_replies(Duration::from_secs(5));
    p.hold_replies_to(dn.as_bytes(), Duration::ZERO);
    let marker = "Marker-Never-6yH^";
    let started = Instant::now();
    let a = e
        .send(&RequestBody::reset(
            "nolate-1",
            by_uid(&uid),
            Password::new(marker),
            false,
        ))
        .await;
    let took = started.elapsed();
    expect(&a, OutcomeCode::Timeout, 504);
    assert!(took < Duration::from_secs(4), "answered after {took:?}");

    // The search answers at 5 s; a write would follow at once. Give it time to show.
    tokio::time::sleep(Duration::from_secs(4)).await;
    p.release();
    assert_eq!(
        p.triggered(),
        0,
        "a write was sent after the caller was told timeout"
    );
    assert!(
        s.can_bind(&dn, INITIAL).await,
        "the password was changed late"
    );
    assert_eq!(writes(s, &dn).await, 0);
    assert_no_leak(&e, Some(&receiver), marker).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_id_reused_for_another_request_is_refused_and_writes_nothing() {
    let s = slapd::shared();
    let receiver = Receiver::start().await;
    let e = standard_engine(s, &receiver).await;
    let (alice, alice_dn) = user(s, "reuse-a").await;
    let (bob, bob_dn) = user(s, "reuse-b").await;
    let first = "Marker-Kq1-1qW!";
    let a = e
        .send(&RequestBody::reset(
            "reuse-1",
            by_uid(&alice),
            Password::new(first),
            false,
        ))
        .await;
    expect(&a, OutcomeCode::Succeeded, 200);

    // Same id, another user.
    let other = "Marker-Kq2-2wE@";
    let b = e
        .send(&RequestBody::reset(
            "reuse-1",
            by_uid(&bob),
            Password::new(other),
            false,
        ))
        .await;
    expect(&b, OutcomeCode::InvalidRequest, 400);
    assert!(b.reply.message.contains("new id"), "{}", b.reply.message);
    assert!(
        s.can_bind(&bob_dn, INITIAL).await,
        "bob's password was changed"
    );

    // Same id, same user, another password.
    let c = e
        .send(&RequestBody::reset(
            "reuse-1",
            by_uid(&alice),
            Password::new(other),
            false,
        ))
        .await;
    expect(&c, OutcomeCode::InvalidRequest, 400);
    assert!(
        s.can_bind(&alice_dn, first).await,
        "alice's password was changed"
    );

    // The very same request again is a retry: its first outcome, nothing written.
    let d = e
        .send(&RequestBody::reset(
            "reuse-1",
            by_uid(&alice),
            Password::new(first),
            false,
        ))
        .await;
    expect(&d, OutcomeCode::Succeeded, 200);
    assert_eq!(writes(s, &alice_dn).await, 1);

    let records = e.audit_records(4).await;
    assert_eq!(
        records
            .iter()
            .filter(|r| r["request_id"] == "reuse-1" && r["outcome"] == "invalid_request")
            .count(),
        2,
        "{records:?}"
    );
    assert_no_leak(&e, Some(&receiver), first).await;
    assert_no_leak(&e, Some(&receiver), other).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_account_asked_for_by_different_identifiers_is_written_one_request_at_a_time() {
    let s = slapd::shared();
    let p = proxy(s);
    let receiver = Receiver::start().await;
    let e = engine(10_000, &p, s, &receiver).await;
    warm(&e, s).await;
    let (uid, dn) = user(s, "order").await;
    let hold = Duration::from_millis(1500);
    p.hold_replies_to(dn.as_bytes(), hold);
    // Both resolve to the same entry (the filter uses only `username`), but their
    // cloud identifiers differ, so a key made of identifiers alone tells them apart.
    let by_name = by_uid(&uid);
    let by_name_and_upn = CloudIdentity {
        upn: Some(format!("{uid}@example.org")),
        ..by_uid(&uid)
    };
    let first = "Marker-First-7uJ&";
    let second = "Marker-Second-8iK*";
    let a = RequestBody::reset("order-1", by_name, Password::new(first), false);
    let b = RequestBody::reset("order-2", by_name_and_upn, Password::new(second), false);
    let started = Instant::now();
    let (done_a, done_b) = tokio::join!(
        async {
            let answer = e.send(&a).await;
            (answer, started.elapsed())
        },
        async {
            // Arrives while the first one's write is held at the directory.
            tokio::time::sleep(Duration::from_millis(400)).await;
            let answer = e.send(&b).await;
            (answer, started.elapsed())
        }
    );
    expect(&done_a.0, OutcomeCode::Succeeded, 200);
    expect(&done_b.0, OutcomeCode::Succeeded, 200);
    // Run one after the other, the second write is sent only when the first is
    // answered, and is itself held: it ends a full hold after the first.
    assert!(
        done_b.1 >= done_a.1 + hold - Duration::from_millis(300),
        "the second request ended {:?} after the first: they were written at the same time",
        done_b.1.saturating_sub(done_a.1)
    );
    assert!(
        s.can_bind(&dn, second).await,
        "the later request's password is the one left"
    );
    assert_eq!(writes(s, &dn).await, 2);
    assert_no_leak(&e, Some(&receiver), first).await;
}
