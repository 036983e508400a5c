//! A directory that does not answer in time, on a real slapd behind the test kit's
//! delaying proxy: a write that was sent and not answered has an unknown result
//! (`timeout`), a read that was not answered changed nothing (`directory_unavailable`).
// Test code: a failed step stops the test with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashSet;
use std::net::SocketAddr;
use std::time::Duration;

use writeback_core::{OutcomeCode, Password};
use writeback_ldap::ldap3::{Mod, Scope};
use writeback_ldap::{ConnectOptions, Connector};
use writeback_testkit::delay_proxy::DelayProxy;
use writeback_testkit::slapd;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sent_write_not_answered_in_time_is_timeout_a_read_is_unavailable() {
    let s = slapd::shared();
    let uid = s.unique_uid("unanswered");
    let dn = s
        .add_user(&uid, "Initial-Pass-1", &[])
        .await
        .unwrap_or_else(|e| panic!("add user: {e}"));
    let upstream: SocketAddr = ([127, 0, 0, 1], s.ldap_port()).into();
    let proxy = DelayProxy::start(upstream).unwrap_or_else(|e| panic!("proxy: {e}"));
    let mut options = ConnectOptions::new(format!("ldap://{}", proxy.addr()));
    options.allow_plaintext = true;
    options.operation_timeout = Duration::from_millis(500);
    let connector = Connector::new(&options).unwrap_or_else(|e| panic!("{e}"));
    let service = Password::new(s.service_password());

    // The modify reaches the directory (which applies it); its answer comes too late.
    let mut session = connector
        .connect_as(s.service_dn(), &service)
        .await
        .unwrap_or_else(|e| panic!("bind: {e}"));
    proxy.hold_replies_to(dn.as_bytes(), Duration::from_secs(2));
    let mods = vec![Mod::Replace(
        b"userPassword".to_vec(),
        HashSet::from([b"Marker-Sent-4rF$".to_vec()]),
    )];
    let failure = session
        .modify(&dn, mods, Vec::new())
        .await
        .err()
        .unwrap_or_else(|| panic!("the modify was answered in time"));
    let outcome = failure.to_outcome();
    assert_eq!(outcome.code, OutcomeCode::Timeout, "{failure}");
    let detail = outcome.admin_detail.unwrap_or_default();
    assert!(detail.contains(&proxy.addr()), "{detail}");
    assert!(detail.contains("may have applied"), "{detail}");
    assert!(
        session.is_broken(),
        "a connection with a late answer in it is not reused"
    );
    proxy.release();

    // A search that is not answered in time changed nothing: the directory is unavailable.
    let mut session = connector
        .connect_as(s.service_dn(), &service)
        .await
        .unwrap_or_else(|e| panic!("bind: {e}"));
    proxy.hold_replies(Duration::from_secs(2));
    let failure = session
        .search(&s.people_dn(), Scope::Subtree, "(uid=nobody)", &["uid"], 0)
        .await
        .err()
        .unwrap_or_else(|| panic!("the search was answered in time"));
    assert_eq!(
        failure.to_outcome().code,
        OutcomeCode::DirectoryUnavailable,
        "{failure}"
    );
    proxy.release();
}
