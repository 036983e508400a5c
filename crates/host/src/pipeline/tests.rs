//! The pipeline's work per request (in the caller's task, the rest detached): what a
//! connector's panic and a missed deadline leave behind (the caller's answer, the
//! user's queue, the dedupe entry), with in-process targets (unit tests of the
//! bookkeeping; the e2e suite runs real slapd).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use writeback_core::{
    Account, CloudIdentity, DirectoryTarget, Initiator, Operation, Outcome, OutcomeCode, Password,
    Request, RequestId, Submit,
};

use super::{Pipeline, TargetEntry};
use crate::audit::AuditLog;
use crate::config::PipelineConfig;
use crate::metrics::Metrics;
use crate::notify::DirectDispatcher;

/// Panics on a password that starts with `panic`, sleeps on one that starts with
/// `slow`, and counts the writes it finished.
struct Quirky {
    written: AtomicUsize,
}

#[async_trait]
impl DirectoryTarget for Quirky {
    async fn resolve(&self, identity: &CloudIdentity) -> Result<Account, Outcome> {
        Ok(Account {
            dn: format!("uid={},ou=test", identity.label()),
            id: None,
            attributes: BTreeMap::new(),
        })
    }

    async fn apply(&self, _account: &Account, operation: &Operation) -> Result<(), Outcome> {
        let password = operation.new_password().map(|p| p.expose().to_string());
        let password = password.unwrap_or_default();
        if password.starts_with("panic") {
            panic!("a connector bug");
        }
        if password.starts_with("slow") {
            tokio::time::sleep(Duration::from_millis(400)).await;
        }
        self.written.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}

fn pipeline(deadline_ms: u64) -> (Pipeline, Arc<Quirky>) {
    let target = Arc::new(Quirky {
        written: AtomicUsize::new(0),
    });
    let config = PipelineConfig {
        deadline_ms,
        ..PipelineConfig::default()
    };
    let audit =
        AuditLog::open(None, Arc::new(AtomicU64::new(0))).unwrap_or_else(|e| panic!("audit: {e}"));
    let dispatcher = Arc::new(DirectDispatcher {
        notifiers: Vec::new(),
        tasks: tokio_util::task::TaskTracker::new(),
        attempts: 1,
    });
    let pipeline = Pipeline::new(
        config,
        vec![TargetEntry {
            name: "quirky".into(),
            target: target.clone(),
        }],
        Vec::new(),
        audit,
        dispatcher,
        Arc::new(Metrics::default()),
    );
    (pipeline, target)
}

fn reset(id: &str, user: &str, password: &str) -> Request {
    Request {
        id: RequestId::parse(id).unwrap_or_else(|e| panic!("{e}")),
        source: "test".into(),
        operation: Operation::Reset {
            new_password: Password::new(password),
            must_change: false,
        },
        identity: CloudIdentity {
            username: Some(user.into()),
            ..Default::default()
        },
        initiator: Initiator::default(),
    }
}

#[tokio::test]
async fn a_panicking_target_fails_its_request_and_frees_the_users_queue() {
    let (pipeline, target) = pipeline(2_000);
    let first = pipeline
        .submit(reset("p-1", "alice", "panic-Passw0rd!"))
        .await;
    assert_eq!(first.code, OutcomeCode::PluginFault);
    // The same id again is answered from the recorded outcome, not run again.
    let again = pipeline
        .submit(reset("p-1", "alice", "panic-Passw0rd!"))
        .await;
    assert_eq!(again.code, OutcomeCode::PluginFault);
    // The user's next request runs: the panicked one did not keep its turn.
    let next = tokio::time::timeout(
        Duration::from_secs(1),
        pipeline.submit(reset("p-2", "alice", "Good-Passw0rd!")),
    )
    .await
    .unwrap_or_else(|_| panic!("the user's queue stayed blocked after a panic"));
    assert_eq!(next.code, OutcomeCode::Succeeded);
    assert_eq!(target.written.load(Ordering::Relaxed), 1);
    assert_eq!(pipeline.metrics().in_flight.load(Ordering::Relaxed), 0);
}

#[tokio::test]
async fn a_slow_write_is_answered_at_the_deadline_and_its_result_kept_for_retries() {
    let (pipeline, target) = pipeline(100);
    let started = std::time::Instant::now();
    let answer = pipeline.submit(reset("s-1", "bob", "slow-Passw0rd!")).await;
    assert_eq!(answer.code, OutcomeCode::Timeout);
    assert!(
        started.elapsed() < Duration::from_millis(350),
        "answered after {:?}, past the 100 ms deadline",
        started.elapsed()
    );
    // The write goes on in the background; a retry of the id then hears its result,
    // and nothing is written twice.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let retry = pipeline.submit(reset("s-1", "bob", "slow-Passw0rd!")).await;
    assert_eq!(retry.code, OutcomeCode::Succeeded);
    assert_eq!(target.written.load(Ordering::Relaxed), 1);
    assert!(pipeline.drain(Duration::from_secs(1)).await);
}

#[test]
fn account_keys_ignore_case_and_spaces_around_separators() {
    assert_eq!(
        super::account_key("ldap", "UID=Alice , OU=People,dc=Example"),
        "account:ldap:uid=alice,ou=people,dc=example"
    );
    assert_eq!(
        super::account_key("ad", "CN=Ölaf Ström,DC=corp"),
        "account:ad:cn=ölaf ström,dc=corp"
    );
}
