//! The pre-flight: the part of a submit before any write (find the person's accounts,
//! run every policy), answered as verdicts per rule and per target. A password page
//! calls it while the person types; nothing is written, audited or notified, and the
//! person's queue is not entered (a check never waits behind a write). A found account
//! is remembered for a short while (`lookup_cache`): typing makes many checks.

use futures::future::join_all;
use writeback_core::{
    Account, CloudIdentity, OperationKind, Outcome, OutcomeCode, Password, PolicyContext,
    Preflight, TargetLookup,
};

use super::Shared;

impl Shared {
    pub(super) async fn preflight(
        &self,
        identity: &CloudIdentity,
        operation: OperationKind,
        password: &Password,
    ) -> Result<Preflight, Outcome> {
        identity
            .validate()
            .map_err(|m| Outcome::new(OutcomeCode::InvalidRequest, m))?;
        password
            .validate_shape()
            .map_err(|m| Outcome::new(OutcomeCode::InvalidRequest, m))?;
        let limit = self.config.deadline();
        let lookups = join_all(self.targets.iter().map(|entry| async move {
            if let Some(account) = self.lookups.get(&entry.name, identity) {
                return (entry.name.clone(), Ok(account));
            }
            match tokio::time::timeout(limit, entry.target.resolve(identity)).await {
                Ok(Ok(account)) => {
                    self.lookups.put(&entry.name, identity, &account);
                    (entry.name.clone(), Ok(account))
                }
                Ok(Err(outcome)) => (entry.name.clone(), Err(outcome)),
                Err(_) => (
                    entry.name.clone(),
                    Err(Outcome::of(OutcomeCode::Timeout)
                        .with_admin_detail("the account lookup did not finish in time")),
                ),
            }
        }))
        .await;
        let mut report = Preflight::default();
        let mut accounts: Vec<(String, Account)> = Vec::with_capacity(lookups.len());
        for (target, found) in lookups {
            match found {
                Ok(account) => {
                    report.targets.push(TargetLookup {
                        target: target.clone(),
                        problem: None,
                    });
                    accounts.push((target, account));
                }
                Err(outcome) => report.targets.push(TargetLookup {
                    target,
                    problem: Some(outcome),
                }),
            }
        }
        let context = PolicyContext {
            operation,
            identity,
            accounts: &accounts,
        };
        let verdicts = join_all(
            self.policies
                .iter()
                .map(|p| p.policy.evaluate(password, &context)),
        )
        .await;
        for (entry, verdict) in self.policies.iter().zip(verdicts) {
            match verdict {
                Ok(violations) => {
                    report.passed.extend(
                        entry
                            .policy
                            .rule_ids()
                            .into_iter()
                            .filter(|id| !violations.iter().any(|v| &v.rule == id)),
                    );
                    report.failed.extend(violations.into_iter().map(|mut v| {
                        if let Some(message) = entry.settings.messages.get(&v.rule) {
                            v.message = message.clone();
                        }
                        v
                    }));
                }
                Err(outcome) => {
                    let detail = outcome.admin_detail.clone().unwrap_or_default();
                    return Err(
                        outcome.with_admin_detail(format!("policy `{}`: {detail}", entry.name))
                    );
                }
            }
        }
        Ok(report)
    }
}
