//! Issue 2's proof: requests through the real webhook source (HTTPS, signed) into the
//! real host, written to the real slapd with ppolicy, answered in the same request.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use http::{HeaderMap, HeaderValue};
use writeback_core::{CloudIdentity, OutcomeCode, Password};
use writeback_signing::{sign_headers, Secret};
use writeback_source_webhook::client::{unix_now, RequestBody};
use writeback_testkit::slapd::{self, Slapd};
use writeback_tests::engine::WEBHOOK_SECRET;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reset_then_the_person_binds_with_the_new_password() {
    let s = slapd::shared();
    let receiver = Receiver::start().await;
    let (uid, dn) = user(s, "reset").await;
    let e = standard_engine(s, &receiver).await;
    let marker = "Marker-Nw1-7qXv!";
    let a = e
        .send(&RequestBody::reset(
            "reset-1",
            by_uid(&uid),
            Password::new(marker),
            false,
        ))
        .await;
    expect(&a, OutcomeCode::Succeeded, 200);
    assert!(s.can_bind(&dn, marker).await, "the new password binds");
    assert!(
        !s.can_bind(&dn, INITIAL).await,
        "the old one no longer does"
    );

    let event = receiver
        .wait_for("reset-1")
        .await
        .unwrap_or_else(|| panic!("no notification"));
    assert_eq!(event["outcome"]["code"], "succeeded");
    assert_eq!(event["targets"][0]["dn"], dn.as_str());
    let audit = e.audit_records(1).await;
    let record = audit.iter().find(|r| r["request_id"] == "reset-1");
    let record = record.unwrap_or_else(|| panic!("no audit record"));
    assert_eq!(record["outcome"], "succeeded");
    assert_eq!(record["targets"][0]["dn"], dn.as_str());
    assert!(record["duration_ms"].is_u64());
    assert_no_leak(&e, Some(&receiver), marker).await;
    e.stop().await.unwrap_or_else(|e| panic!("{e}"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn must_change_reset_sets_pwd_reset() {
    let s = slapd::shared();
    let receiver = Receiver::start().await;
    let (uid, dn) = user(s, "mustchange").await;
    let e = standard_engine(s, &receiver).await;
    let marker = "Marker-Nw2-4kP#";
    let a = e
        .send(&RequestBody::reset(
            "mc-1",
            by_uid(&uid),
            Password::new(marker),
            true,
        ))
        .await;
    expect(&a, OutcomeCode::Succeeded, 200);
    let reset = s.read_attr(&dn, "pwdReset").await.unwrap_or_default();
    assert_eq!(reset, vec!["TRUE".to_string()]);
    assert!(s.can_bind(&dn, marker).await);
    assert_no_leak(&e, Some(&receiver), marker).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn builtin_policy_refusal_lists_every_rule_and_writes_nothing() {
    let s = slapd::shared();
    let receiver = Receiver::start().await;
    let (uid, dn) = user(s, "policy").await;
    let e = standard_engine(s, &receiver).await;
    // too short AND only one character class
    let marker = "markerxyz";
    let a = e
        .send(&RequestBody::reset(
            "pol-1",
            by_uid(&uid),
            Password::new(marker),
            false,
        ))
        .await;
    expect(&a, OutcomeCode::RejectedPolicy, 422);
    let rules: Vec<&str> = a.reply.rules.iter().map(|r| r.rule.as_str()).collect();
    assert!(rules.contains(&"length.min"), "{rules:?}");
    assert!(rules.iter().any(|r| r.starts_with("classes.")), "{rules:?}");
    for r in &a.reply.rules {
        assert!(
            !r.message.contains(marker),
            "a rule message echoes the password"
        );
    }
    assert!(s.can_bind(&dn, INITIAL).await, "nothing was written");
    assert_no_leak(&e, Some(&receiver), marker).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn directory_policy_refusal_gives_the_directory_reason() {
    let s = slapd::shared();
    let receiver = Receiver::start().await;
    let (uid, dn) = user(s, "ppolicy").await;
    // This user's ppolicy wants 20 characters; the built-in policy only 10.
    let policy = s
        .add_policy(&format!("long-{uid}"), &[("pwdMinLength", "20")])
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    s.set_user_policy(&dn, &policy)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let e = standard_engine(s, &receiver).await;
    let marker = "Marker-Short-9z";
    let a = e
        .send(&RequestBody::reset(
            "pp-1",
            by_uid(&uid),
            Password::new(marker),
            false,
        ))
        .await;
    expect(&a, OutcomeCode::RejectedPolicy, 422);
    let all = format!("{} {:?}", a.reply.message, a.reply.rules);
    assert!(
        all.to_lowercase().contains("short") || all.to_lowercase().contains("quality"),
        "{all}"
    );
    assert!(
        s.can_bind(&dn, INITIAL).await,
        "the old password still binds"
    );
    assert_no_leak(&e, Some(&receiver), marker).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn change_needs_the_right_old_password() {
    let s = slapd::shared();
    let receiver = Receiver::start().await;
    let (uid, dn) = user(s, "change").await;
    let e = standard_engine(s, &receiver).await;
    let new = "Marker-Nw3-5tG@";
    let wrong = e
        .send(&RequestBody::change(
            "chg-wrong",
            by_uid(&uid),
            Password::new("Not-The-Old-1"),
            Password::new(new),
        ))
        .await;
    expect(&wrong, OutcomeCode::WrongOldPassword, 422);
    assert!(s.can_bind(&dn, INITIAL).await, "nothing changed");

    let right = e
        .send(&RequestBody::change(
            "chg-right",
            by_uid(&uid),
            Password::new(INITIAL),
            Password::new(new),
        ))
        .await;
    expect(&right, OutcomeCode::Succeeded, 200);
    assert!(s.can_bind(&dn, new).await);
    assert_no_leak(&e, Some(&receiver), new).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_password_from_history_is_refused() {
    let s = slapd::shared();
    let receiver = Receiver::start().await;
    let (uid, dn) = user(s, "history").await;
    let e = standard_engine(s, &receiver).await;
    let second = "Marker-Nw4-8hJ$";
    let a = e
        .send(&RequestBody::change(
            "hist-1",
            by_uid(&uid),
            Password::new(INITIAL),
            Password::new(second),
        ))
        .await;
    expect(&a, OutcomeCode::Succeeded, 200);
    let back = e
        .send(&RequestBody::change(
            "hist-2",
            by_uid(&uid),
            Password::new(second),
            Password::new(INITIAL),
        ))
        .await;
    expect(&back, OutcomeCode::RejectedHistory, 422);
    assert!(
        s.can_bind(&dn, second).await,
        "the current password is kept"
    );
    assert_no_leak(&e, Some(&receiver), second).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unlock_after_lockout_lets_the_person_bind() {
    let s = slapd::shared();
    let receiver = Receiver::start().await;
    let (uid, dn) = user(s, "lockout").await;
    for _ in 0..3 {
        assert!(!s.can_bind(&dn, "Wrong-Guess-1").await);
    }
    assert!(
        !s.can_bind(&dn, INITIAL).await,
        "locked: even the right password fails"
    );
    assert!(!s
        .read_attr(&dn, "pwdAccountLockedTime")
        .await
        .unwrap_or_default()
        .is_empty());
    let e = standard_engine(s, &receiver).await;
    let a = e.send(&RequestBody::unlock("unlock-1", by_uid(&uid))).await;
    expect(&a, OutcomeCode::Succeeded, 200);
    assert!(s.can_bind(&dn, INITIAL).await, "unlocked");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_user_is_not_found() {
    let s = slapd::shared();
    let receiver = Receiver::start().await;
    let e = standard_engine(s, &receiver).await;
    let a = e
        .send(&RequestBody::reset(
            "nf-1",
            by_uid("nobody-here"),
            Password::new("Marker-Nf-3aB!"),
            false,
        ))
        .await;
    expect(&a, OutcomeCode::NotFound, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_entries_for_one_identity_write_nothing() {
    let s = slapd::shared();
    let (a_uid, a_dn) = (s.unique_uid("twin"), String::new());
    let mail = format!("{a_uid}@example.org");
    let first = s
        .add_user(&a_uid, INITIAL, &[("mail", &mail)])
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let b_uid = s.unique_uid("twin");
    let second = s
        .add_user(&b_uid, INITIAL, &[("mail", &mail)])
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let _ = a_dn;
    let e = Engine::start(|dir| {
        openldap_target(
            s,
            dir,
            "ldap",
            "(&(objectClass=inetOrgPerson)(mail={mail}))",
        )
    })
    .await;
    let identity = CloudIdentity {
        mail: Some(mail.clone()),
        ..Default::default()
    };
    let a = e
        .send(&RequestBody::reset(
            "amb-1",
            identity,
            Password::new("Marker-Amb-6yU%"),
            false,
        ))
        .await;
    expect(&a, OutcomeCode::AmbiguousIdentity, 409);
    assert!(s.can_bind(&first, INITIAL).await && s.can_bind(&second, INITIAL).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unauthenticated_or_malformed_requests_never_reach_the_pipeline() {
    let s = slapd::shared();
    let receiver = Receiver::start().await;
    let (uid, dn) = user(s, "refuse").await;
    let e = standard_engine(s, &receiver).await;
    let secret = Secret::parse(WEBHOOK_SECRET).unwrap_or_else(|e| panic!("{e}"));
    let other = Secret::parse("whsec_dGhpcyBpcyBub3QgdGhlIHJpZ2h0IGtleQ==")
        .unwrap_or_else(|e| panic!("{e}"));
    let marker = "Marker-Nw5-2wE^";
    let body = RequestBody::reset("refused-1", by_uid(&uid), Password::new(marker), false)
        .to_json()
        .unwrap_or_else(|e| panic!("{e}"))
        .to_vec();
    let signed = |s: &Secret, id: &str, ts: i64, b: &[u8]| -> HeaderMap {
        sign_headers(&[s], id, ts, b).unwrap_or_else(|e| panic!("{e}"))
    };

    let bad_sig = e
        .post_raw(signed(&other, "msg_a1", unix_now(), &body), body.clone())
        .await;
    let stale = e
        .post_raw(
            signed(&secret, "msg_a2", unix_now() - 3600, &body),
            body.clone(),
        )
        .await;
    let mut unsigned = HeaderMap::new();
    unsigned.insert("webhook-id", HeaderValue::from_static("msg_a3"));
    let no_sig = e.post_raw(unsigned, body.clone()).await;
    let junk = b"{\"id\": \"refused-2\", \"operation\": ".to_vec();
    let malformed = e
        .post_raw(signed(&secret, "msg_a4", unix_now(), &junk), junk.clone())
        .await;
    let unknown_field =
        br#"{"id":"refused-3","operation":"unlock","identity":{"username":"x"},"surprise":1}"#
            .to_vec();
    let unknown = e
        .post_raw(
            signed(&secret, "msg_a5", unix_now(), &unknown_field),
            unknown_field.clone(),
        )
        .await;
    let big = vec![b' '; 100 * 1024];
    let oversized = e
        .post_raw(signed(&secret, "msg_a6", unix_now(), &big), big)
        .await;

    let status = |r: &Result<writeback_source_webhook::client::Answer, _>| match r {
        Ok(a) => a.status,
        Err(writeback_source_webhook::client::ClientError::UnexpectedAnswer { status, .. }) => {
            *status
        }
        Err(e) => panic!("no answer: {e}"),
    };
    assert_eq!(status(&bad_sig), 401);
    assert_eq!(status(&stale), 401);
    assert_eq!(status(&no_sig), 401);
    assert_eq!(status(&malformed), 400);
    assert_eq!(status(&unknown), 400);
    assert_eq!(status(&oversized), 413);

    // A replayed webhook-id with another body is refused; with the same body it gets
    // the first outcome again and applies nothing twice.
    let first = e
        .post_raw(signed(&secret, "msg_b1", unix_now(), &body), body.clone())
        .await;
    assert_eq!(status(&first), 200);
    let other_body = RequestBody::unlock("refused-9", by_uid(&uid))
        .to_json()
        .unwrap_or_else(|e| panic!("{e}"))
        .to_vec();
    let replay = e
        .post_raw(
            signed(&secret, "msg_b1", unix_now(), &other_body),
            other_body,
        )
        .await;
    assert_eq!(
        status(&replay),
        409,
        "a replayed webhook-id with another body"
    );
    assert!(matches!(&replay, Ok(a) if a.reply.outcome == OutcomeCode::Unauthorized));
    let again = e
        .post_raw(signed(&secret, "msg_b1", unix_now(), &body), body.clone())
        .await;
    assert_eq!(status(&again), 200);

    let records = e.audit_records(2).await;
    assert!(
        records.iter().all(|r| r["request_id"] == "refused-1"),
        "only the signed request ran: {records:?}"
    );
    assert_eq!(records.iter().filter(|r| r["duplicate"] == true).count(), 1);
    assert!(s.can_bind(&dn, marker).await);
    assert_no_leak(&e, Some(&receiver), marker).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_directory_that_goes_away_gives_directory_unavailable_then_recovers() {
    let private = Slapd::start().unwrap_or_else(|e| panic!("private slapd: {e}"));
    let (uid, dn) = user(&private, "outage").await;
    let deadline = Duration::from_millis(4000);
    let e = Engine::start(|dir| {
        format!(
            "[pipeline]\ndeadline_ms = {}\n\n{}",
            deadline.as_millis(),
            openldap_target(&private, dir, "ldap", BY_UID)
        )
    })
    .await;
    let warm = e
        .send(&RequestBody::reset(
            "out-0",
            by_uid(&uid),
            Password::new("Marker-Warm-1qA!"),
            false,
        ))
        .await;
    expect(&warm, OutcomeCode::Succeeded, 200);

    private.stop();
    let started = Instant::now();
    let down = e
        .send(&RequestBody::reset(
            "out-1",
            by_uid(&uid),
            Password::new("Marker-Down-2wS@"),
            false,
        ))
        .await;
    let took = started.elapsed();
    expect(&down, OutcomeCode::DirectoryUnavailable, 503);
    assert!(down.reply.retryable);
    assert!(
        took < deadline + Duration::from_millis(500),
        "answered after {took:?}"
    );

    private
        .start_again()
        .unwrap_or_else(|e| panic!("restart: {e}"));
    // The sender retries exactly as the protocol says: the same request, same id.
    let back = e
        .send(&RequestBody::reset(
            "out-1",
            by_uid(&uid),
            Password::new("Marker-Down-2wS@"),
            false,
        ))
        .await;
    expect(&back, OutcomeCode::Succeeded, 200);
    assert!(private.can_bind(&dn, "Marker-Down-2wS@").await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_concurrent_requests_for_fifty_users() {
    let s = slapd::shared();
    let mut users = Vec::new();
    for _ in 0..50 {
        users.push(user(s, "load").await);
    }
    let e = Engine::start(|dir| {
        format!(
            "[pipeline]\ndeadline_ms = 60000\n\n{}",
            openldap_target(s, dir, "ldap", BY_UID)
        )
    })
    .await;
    // 4 resets per user, every one sent twice at the same time: 400 HTTP requests.
    let mut password_of = HashMap::new();
    let mut sends = Vec::new();
    for (u, (uid, _)) in users.iter().enumerate() {
        for k in 0..4 {
            let id = format!("load-{u}-{k}");
            let password = format!("Load-{u}-{k}-Pw!x");
            password_of.insert(id.clone(), (uid.clone(), password.clone()));
            for _copy in 0..2 {
                let body =
                    RequestBody::reset(&id, by_uid(uid), Password::new(password.as_str()), false);
                let e = &e;
                sends.push(async move { (body.id.clone(), e.send(&body).await) });
            }
        }
    }
    let answers = futures_join_all(sends).await;
    assert_eq!(answers.len(), 400, "every request got an answer");
    for (id, a) in &answers {
        assert_eq!(
            a.reply.outcome,
            OutcomeCode::Succeeded,
            "{id}: {}",
            a.reply.message
        );
    }
    let records = e.audit_records(400).await;
    let applied: Vec<&serde_json::Value> =
        records.iter().filter(|r| r["duplicate"] != true).collect();
    assert_eq!(applied.len(), 200, "each request id applied exactly once");
    // The password each user ends with is the one of their last applied request.
    let mut last = HashMap::new();
    for r in &applied {
        let id = r["request_id"].as_str().unwrap_or_default().to_string();
        let (uid, _) = &password_of[&id];
        last.insert(uid.clone(), id);
    }
    for (uid, dn) in &users {
        let (_, password) = &password_of[&last[uid]];
        assert!(
            s.can_bind(dn, password).await,
            "{uid} ends with its last applied password"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_for_one_user_apply_in_arrival_order() {
    use writeback_core::{Initiator, Operation, Request, RequestId};
    let s = slapd::shared();
    let e = Engine::start(|dir| openldap_target(s, dir, "ldap", BY_UID)).await;
    let mut users = Vec::new();
    for _ in 0..10 {
        users.push(user(s, "order").await);
    }
    // Futures created (and first polled) in order: that is the arrival order.
    let mut submits = Vec::new();
    for (u, (uid, _)) in users.iter().enumerate() {
        for k in 0..5 {
            let request = Request {
                id: RequestId::parse(&format!("order-{u}-{k}")).unwrap_or_else(|e| panic!("{e}")),
                source: "test".into(),
                operation: Operation::Reset {
                    new_password: Password::new(format!("Order-{u}-{k}-Pw!x")),
                    must_change: false,
                },
                identity: by_uid(uid),
                initiator: Initiator::default(),
            };
            submits.push(e.pipeline.submit(request));
        }
    }
    for outcome in futures_join_all(submits).await {
        assert_eq!(outcome.code, OutcomeCode::Succeeded, "{}", outcome.message);
    }
    let records = e.audit_records(50).await;
    for (u, (_, dn)) in users.iter().enumerate() {
        let order: Vec<String> = records
            .iter()
            .filter_map(|r| r["request_id"].as_str())
            .filter(|id| id.starts_with(&format!("order-{u}-")))
            .map(str::to_string)
            .collect();
        let expected: Vec<String> = (0..5).map(|k| format!("order-{u}-{k}")).collect();
        assert_eq!(order, expected, "user {u} applied in arrival order");
        assert!(s.can_bind(dn, &format!("Order-{u}-4-Pw!x")).await);
    }
}

async fn futures_join_all<F: std::future::Future>(futures: Vec<F>) -> Vec<F::Output> {
    futures::future::join_all(futures).await
}
