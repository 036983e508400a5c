//! The pipeline: dedupe (an id bound to what it asks) → one user at a time →
//! deadline → resolve → one account at a time → policies → targets → outcome → audit
//! and notifiers.
//!
//! The deadline rule: the caller is answered by the deadline whatever the directory
//! does; no write starts after it; work still running then goes on in the background,
//! its id stays "running" for retries, and its real result is audited (with
//! `after_deadline`), becomes the id's outcome and is notified as a second event.

mod dedupe;
mod fingerprint;
mod inline;
mod lookup_cache;
mod ordering;
mod preflight;

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use futures::future::join_all;
use futures::FutureExt;
use tokio::sync::{oneshot, Semaphore};
use tokio_util::task::TaskTracker;
use writeback_core::event::TargetResult;
use writeback_core::identity::push_lowercase;
use writeback_core::{
    Account, CloudIdentity, DirectoryTarget, Event, Initiator, Operation, OperationKind, Outcome,
    OutcomeCode, Policy, PolicyContext, Request, RuleViolation, Submit,
};

use dedupe::Dedupe;
use ordering::{Turn, UserQueues};

use crate::audit::{AuditLog, AuditRecord};
use crate::config::{PipelineConfig, PolicySettings};
use crate::metrics::Metrics;
use crate::notify::Dispatcher;

/// A configured target with its name.
#[derive(Clone)]
pub struct TargetEntry {
    pub name: String,
    pub target: Arc<dyn DirectoryTarget>,
}

/// A configured policy with its name and message overrides.
#[derive(Clone)]
pub struct PolicyEntry {
    pub name: String,
    pub policy: Arc<dyn Policy>,
    pub settings: PolicySettings,
}

/// What a request is, without its passwords: what audit and events need.
#[derive(Clone)]
struct Facts {
    request_id: String,
    source: String,
    operation: OperationKind,
    identity: CloudIdentity,
    initiator: Initiator,
}

impl Facts {
    fn of(r: &Request) -> Facts {
        Facts {
            request_id: r.id.to_string(),
            source: r.source.clone(),
            operation: r.operation.kind(),
            identity: r.identity.clone(),
            initiator: r.initiator.clone(),
        }
    }
}

struct Processed {
    outcome: Outcome,
    targets: Vec<TargetResult>,
}

struct Shared {
    config: PipelineConfig,
    targets: Vec<TargetEntry>,
    policies: Vec<PolicyEntry>,
    dedupe: Dedupe,
    fingerprints: fingerprint::Fingerprinter,
    users: Arc<UserQueues>,
    audit: AuditLog,
    dispatcher: Arc<dyn Dispatcher>,
    metrics: Arc<Metrics>,
    tasks: TaskTracker,
    in_flight: Arc<Semaphore>,
    /// Pre-flights only: recently found accounts (submits always look up afresh).
    lookups: lookup_cache::LookupCache,
}

/// The pipeline every source submits to. Cheap to clone.
#[derive(Clone)]
pub(crate) struct Pipeline {
    shared: Arc<Shared>,
}

impl Pipeline {
    pub(crate) fn new(
        config: PipelineConfig,
        targets: Vec<TargetEntry>,
        policies: Vec<PolicyEntry>,
        audit: AuditLog,
        dispatcher: Arc<dyn Dispatcher>,
        metrics: Arc<Metrics>,
    ) -> Pipeline {
        let dedupe = Dedupe::new(
            config.dedupe_capacity,
            std::time::Duration::from_secs(config.dedupe_ttl_secs),
        );
        let in_flight = Arc::new(Semaphore::new(config.max_in_flight));
        Pipeline {
            shared: Arc::new(Shared {
                config,
                targets,
                policies,
                dedupe,
                fingerprints: fingerprint::Fingerprinter::new(),
                users: Arc::new(UserQueues::default()),
                audit,
                dispatcher,
                metrics,
                tasks: TaskTracker::new(),
                in_flight,
                lookups: lookup_cache::LookupCache::new(lookup_cache::TTL, lookup_cache::CAPACITY),
            }),
        }
    }

    pub(crate) fn targets(&self) -> &[TargetEntry] {
        &self.shared.targets
    }

    pub(crate) fn policies(&self) -> &[PolicyEntry] {
        &self.shared.policies
    }

    pub(crate) fn metrics(&self) -> &Arc<Metrics> {
        &self.shared.metrics
    }

    /// Stops taking the pipeline's background work and waits for what is running
    /// (including work past its deadline) up to `grace`.
    pub(crate) async fn drain(&self, grace: std::time::Duration) -> bool {
        self.shared.tasks.close();
        tokio::time::timeout(grace, self.shared.tasks.wait())
            .await
            .is_ok()
    }
}

#[async_trait]
impl Submit for Pipeline {
    async fn submit(&self, request: Request) -> Outcome {
        let started = Instant::now();
        let shared = &self.shared;
        let deadline = tokio::time::Instant::now() + shared.config.deadline();
        let facts = Facts::of(&request);
        let fingerprint = shared.fingerprints.of(&request);
        let ticket = match shared
            .dedupe
            .begin(&facts.source, &facts.request_id, fingerprint)
        {
            dedupe::Seen::New(ticket) => ticket,
            dedupe::Seen::Done(outcome) => {
                shared.metrics.duplicates.fetch_add(1, Ordering::Relaxed);
                shared.record(&facts, &outcome, &[], started, false, true);
                return outcome;
            }
            dedupe::Seen::Running(mut rx) => {
                // The same request is being worked on (maybe past its own deadline):
                // wait for its real outcome, within this try's deadline.
                shared.metrics.duplicates.fetch_add(1, Ordering::Relaxed);
                let waited = tokio::time::timeout_at(deadline, rx.wait_for(Option::is_some)).await;
                let outcome = match waited {
                    Ok(Ok(o)) => o.clone().unwrap_or_else(still_running),
                    _ => still_running(),
                };
                shared.record(&facts, &outcome, &[], started, false, true);
                return outcome;
            }
            dedupe::Seen::Mismatch => {
                let outcome = Outcome::new(
                    OutcomeCode::InvalidRequest,
                    format!(
                        "The request id `{}` was already used for a different request \
                         (another user, operation or password), so nothing was done. Send \
                         this request with a new id.",
                        facts.request_id
                    ),
                )
                .with_admin_detail(
                    "request id reused: an earlier request from this source had the same id \
                     but another operation, identity, must-change flag or password",
                );
                shared.metrics.observe(
                    &facts.source,
                    facts.operation,
                    outcome.code,
                    started.elapsed(),
                );
                shared.record(&facts, &outcome, &[], started, false, false);
                return outcome;
            }
        };

        let Ok(permit) = shared.in_flight.clone().try_acquire_owned() else {
            shared.metrics.refused_busy.fetch_add(1, Ordering::Relaxed);
            let outcome = Outcome::new(
                OutcomeCode::DirectoryUnavailable,
                "writeback is busy with other requests. Try again in a minute.",
            )
            .with_admin_detail(format!(
                "pipeline.max_in_flight ({}) reached; the directories are slower than the \
                 request rate",
                shared.config.max_in_flight
            ));
            shared.dedupe.finish(ticket, &outcome);
            shared.finish(&facts, &outcome, &[], started, false);
            return outcome;
        };
        shared.metrics.in_flight.fetch_add(1, Ordering::Relaxed);

        // Take the user's place in line now, in arrival order.
        let mut turn = shared.users.enter(&facts.identity.ordering_key());
        // The work and its bookkeeping run in the caller's task until the caller has
        // its answer (by the deadline at the latest); what is left then, or all of it
        // if the caller goes away, goes on in a task of its own (inline.rs), so both
        // always complete and a late result is still recorded.
        let (answer, answered) = oneshot::channel();
        let keeper = self.shared.clone();
        let job = async move {
            let worker = &keeper;
            let work = async move {
                let _permit = permit;
                turn.ready().await;
                let mut turns = vec![turn];
                if tokio::time::Instant::now() >= deadline {
                    // The caller was already told `timeout`: write nothing late.
                    let processed = Processed {
                        outcome: Outcome::new(
                            OutcomeCode::Timeout,
                            "The request waited too long behind earlier requests for the \
                             same user and was not applied. Try again.",
                        )
                        .with_admin_detail(
                            "deadline passed in the user's queue; nothing was written",
                        ),
                        targets: Vec::new(),
                    };
                    return (processed, turns);
                }
                // The turns go back with the result: the next request for this user
                // (and its accounts) starts only after this one's outcome is recorded.
                let processed = writeback_core::deadline::within(
                    deadline.into_std(),
                    worker.process(&request, &mut turns),
                )
                .await;
                (processed, turns)
            };
            // A connector that panics fails its request, not the bookkeeping.
            let work = std::panic::AssertUnwindSafe(work).catch_unwind();
            tokio::pin!(work);
            match tokio::time::timeout_at(deadline, &mut work).await {
                Ok(result) => {
                    let (processed, turns) = unpack(result);
                    keeper.dedupe.finish(ticket, &processed.outcome);
                    keeper.metrics.in_flight.fetch_sub(1, Ordering::Relaxed);
                    keeper.finish(
                        &facts,
                        &processed.outcome,
                        &processed.targets,
                        started,
                        false,
                    );
                    let _ = answer.send(processed.outcome);
                    drop(turns);
                }
                Err(_) => {
                    let outcome = Outcome::new(
                        OutcomeCode::Timeout,
                        "The request did not finish in time, so its result is not known yet. \
                         Wait a minute before trying again.",
                    )
                    .with_admin_detail(format!(
                        "deadline of {} ms passed while the directory was still working; the \
                         late result is audited and notified when it comes",
                        keeper.config.deadline_ms
                    ));
                    keeper.metrics.in_flight.fetch_sub(1, Ordering::Relaxed);
                    keeper.finish(&facts, &outcome, &[], started, false);
                    let _ = answer.send(outcome);
                    // The id stays "running" until the real result is known, so a
                    // retry waits for it instead of writing a second time.
                    let (processed, turns) = unpack(work.await);
                    keeper.dedupe.finish(ticket, &processed.outcome);
                    keeper.late(&facts, &processed.outcome, &processed.targets, started);
                    drop(turns);
                }
            }
        };
        match inline::run_until_answered(&shared.tasks, job, answered).await {
            Ok(outcome) => outcome,
            Err(_) => Outcome::of(OutcomeCode::PluginFault).with_admin_detail(
                "the pipeline's bookkeeping task stopped; see the writeback log",
            ),
        }
    }

    async fn preflight(
        &self,
        identity: &CloudIdentity,
        operation: OperationKind,
        password: &writeback_core::Password,
    ) -> Result<writeback_core::Preflight, Outcome> {
        self.shared.preflight(identity, operation, password).await
    }

    fn target(&self, name: &str) -> Option<Arc<dyn DirectoryTarget>> {
        self.shared
            .targets
            .iter()
            .find(|t| t.name == name)
            .map(|t| t.target.clone())
    }
}

/// What a retry hears while the same request is still being worked on.
fn still_running() -> Outcome {
    Outcome::new(
        OutcomeCode::Timeout,
        "The same request is still being processed and its result is not known yet. \
         Wait a minute before trying again.",
    )
    .with_admin_detail("a duplicate waited for the running request until its own deadline")
}

fn unpack(
    result: Result<(Processed, Vec<Turn>), Box<dyn std::any::Any + Send>>,
) -> (Processed, Vec<Turn>) {
    match result {
        Ok(done) => done,
        Err(_panic) => {
            tracing::error!("a connector panicked while processing a request");
            (
                Processed {
                    outcome: Outcome::of(OutcomeCode::PluginFault)
                        .with_admin_detail("a connector panicked; see the writeback log"),
                    targets: Vec::new(),
                },
                Vec::new(),
            )
        }
    }
}

impl Shared {
    async fn process(&self, request: &Request, turns: &mut Vec<Turn>) -> Processed {
        let mut done = Vec::new();
        let outcome = self.process_into(request, &mut done, turns).await;
        Processed {
            outcome,
            targets: done,
        }
    }

    async fn process_into(
        &self,
        request: &Request,
        results: &mut Vec<TargetResult>,
        turns: &mut Vec<Turn>,
    ) -> Outcome {
        if let Err(message) = request.identity.validate() {
            return Outcome::new(OutcomeCode::InvalidRequest, message);
        }
        if let Some(password) = request.operation.new_password() {
            if let Err(message) = password.validate_shape() {
                return Outcome::new(OutcomeCode::InvalidRequest, message);
            }
        }

        let mut accounts: Vec<(String, Account)> = Vec::with_capacity(self.targets.len());
        for entry in &self.targets {
            match entry.target.resolve(&request.identity).await {
                Ok(account) => {
                    results.push(TargetResult {
                        target: entry.name.clone(),
                        dn: Some(account.dn.clone()),
                        mail: account.first("mail").map(str::to_string),
                    });
                    accounts.push((entry.name.clone(), account));
                }
                Err(outcome) => return in_target(outcome, &entry.name, &[]),
            }
        }

        // One account at a time too: requests that name one entry by different cloud
        // identifiers passed the identity queue side by side. Turns are taken in one
        // sorted order after the identity's own, so two requests never wait on each
        // other crosswise.
        let mut keys: Vec<String> = accounts
            .iter()
            .map(|(target, account)| account_key(target, &account.dn))
            .collect();
        keys.sort();
        keys.dedup();
        for key in keys {
            let mut turn = self.users.enter(&key);
            let left = writeback_core::deadline::remaining()
                .unwrap_or(std::time::Duration::from_secs(24 * 3600));
            if tokio::time::timeout(left, turn.ready()).await.is_err() {
                return Outcome::new(
                    OutcomeCode::Timeout,
                    "The request waited too long behind another request for the same \
                     account and was not applied. Try again.",
                )
                .with_admin_detail(
                    "deadline passed waiting for another request for the same directory \
                     entry; nothing was written",
                );
            }
            turns.push(turn);
        }

        if let Some(password) = request.operation.new_password() {
            let operation = request.operation.kind();
            match self
                .run_policies(operation, password, &request.identity, &accounts)
                .await
            {
                Ok(rules) if rules.is_empty() => {}
                Ok(rules) => return refusal(rules),
                Err(outcome) => return outcome,
            }
        }

        let mut applied: Vec<&str> = Vec::new();
        for (entry, (_, account)) in self.targets.iter().zip(&accounts) {
            // The caller hears `timeout` at the deadline: no write may start after it.
            if writeback_core::deadline::remaining().is_some_and(|left| left.is_zero()) {
                let outcome = Outcome::new(
                    OutcomeCode::Timeout,
                    "The request could not be finished in time and was not applied here. \
                     Try again.",
                )
                .with_admin_detail(
                    "deadline passed before this target's write started; not written",
                );
                return in_target(outcome, &entry.name, &applied);
            }
            if let Err(outcome) = entry.target.apply(account, &request.operation).await {
                return in_target(outcome, &entry.name, &applied);
            }
            applied.push(&entry.name);
        }
        match &request.operation {
            Operation::Unlock => Outcome::new(OutcomeCode::Succeeded, "Your account was unlocked."),
            _ => Outcome::succeeded(),
        }
    }

    async fn run_policies(
        &self,
        operation: OperationKind,
        password: &writeback_core::Password,
        identity: &CloudIdentity,
        accounts: &[(String, Account)],
    ) -> Result<Vec<RuleViolation>, Outcome> {
        let context = PolicyContext {
            operation,
            identity,
            accounts,
        };
        let verdicts = join_all(
            self.policies
                .iter()
                .map(|p| p.policy.evaluate(password, &context)),
        )
        .await;
        let mut rules = Vec::new();
        for (entry, verdict) in self.policies.iter().zip(verdicts) {
            match verdict {
                Ok(violations) => rules.extend(violations.into_iter().map(|mut v| {
                    if let Some(message) = entry.settings.messages.get(&v.rule) {
                        v.message = message.clone();
                    }
                    v
                })),
                Err(outcome) => {
                    let detail = outcome.admin_detail.clone().unwrap_or_default();
                    return Err(
                        outcome.with_admin_detail(format!("policy `{}`: {detail}", entry.name))
                    );
                }
            }
        }
        Ok(rules)
    }

    /// Outcome bookkeeping for a request the pipeline ran: audit, metrics, notifiers.
    fn finish(
        &self,
        facts: &Facts,
        outcome: &Outcome,
        targets: &[TargetResult],
        started: Instant,
        after_deadline: bool,
    ) {
        self.record(facts, outcome, targets, started, after_deadline, false);
        self.metrics.observe(
            &facts.source,
            facts.operation,
            outcome.code,
            started.elapsed(),
        );
        self.notify(facts, outcome, targets, after_deadline);
    }

    /// The real result of a request whose caller was told `timeout`: audited, and
    /// notified (a second event for the request id, with `after_deadline`) unless it
    /// is a `timeout` again, which tells a receiver nothing new.
    fn late(&self, facts: &Facts, outcome: &Outcome, targets: &[TargetResult], started: Instant) {
        self.record(facts, outcome, targets, started, true, false);
        if outcome.code != OutcomeCode::Timeout {
            self.notify(facts, outcome, targets, true);
        }
    }

    fn notify(
        &self,
        facts: &Facts,
        outcome: &Outcome,
        targets: &[TargetResult],
        after_deadline: bool,
    ) {
        if !self.dispatcher.wants(outcome.code) {
            return;
        }
        self.dispatcher.dispatch(Event {
            event_id: uuid::Uuid::new_v4().to_string(),
            time: now_rfc3339(),
            request_id: facts.request_id.clone(),
            source: facts.source.clone(),
            operation: facts.operation,
            identity: facts.identity.clone(),
            initiator: facts.initiator.clone(),
            targets: targets.to_vec(),
            outcome: outcome.clone(),
            after_deadline,
        });
    }

    fn record(
        &self,
        facts: &Facts,
        outcome: &Outcome,
        targets: &[TargetResult],
        started: Instant,
        after_deadline: bool,
        duplicate: bool,
    ) {
        self.audit.record(AuditRecord {
            time: now_rfc3339(),
            request_id: facts.request_id.clone(),
            source: facts.source.clone(),
            operation: facts.operation,
            identity: facts.identity.clone(),
            initiator: facts.initiator.clone(),
            targets: targets.to_vec(),
            outcome: outcome.code,
            message: outcome.message.clone(),
            rules: outcome.rules.iter().map(|r| r.rule.clone()).collect(),
            admin_detail: outcome.admin_detail.clone(),
            duration_ms: started.elapsed().as_millis() as u64,
            after_deadline,
            duplicate,
        });
    }
}

/// A policy refusal. When every broken rule is a minimum-age rule (`*.min_age`), the
/// person needs to wait, not to choose another password: `rejected_min_age`.
fn refusal(rules: Vec<RuleViolation>) -> Outcome {
    if rules.iter().all(|r| r.rule.ends_with("min_age")) {
        Outcome::of(OutcomeCode::RejectedMinAge).with_rules(rules)
    } else {
        Outcome::rejected(rules)
    }
}

/// Names the target in the admin detail, and what was already written elsewhere.
fn in_target(mut outcome: Outcome, target: &str, applied: &[&str]) -> Outcome {
    let mut detail = format!("target `{target}`");
    if let Some(d) = &outcome.admin_detail {
        detail.push_str(": ");
        detail.push_str(d);
    }
    if !applied.is_empty() {
        detail.push_str(&format!(
            "; already applied to {}: the directories now disagree, retry or fix by hand",
            applied.join(", ")
        ));
    }
    outcome.admin_detail = Some(detail);
    outcome
}

/// The queue key of one directory entry: the target and its DN, compared the way
/// directories compare DNs for the common case (case and spaces around separators).
fn account_key(target: &str, dn: &str) -> String {
    // Identity keys start with an identifier name and a colon; this never does.
    let mut key = String::with_capacity("account:".len() + target.len() + 1 + dn.len());
    key.push_str("account:");
    key.push_str(target);
    key.push(':');
    for (i, part) in dn.split(',').enumerate() {
        if i > 0 {
            key.push(',');
        }
        let (name, value) = part.split_once('=').unwrap_or((part, ""));
        push_lowercase(&mut key, name.trim());
        key.push('=');
        push_lowercase(&mut key, value.trim());
    }
    key
}

pub(crate) fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests;
