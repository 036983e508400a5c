//! The `breached` policy: one filter lookup per candidate password.

use async_trait::async_trait;
use writeback_breached_filter::BreachedFilter;
use writeback_core::{Outcome, Password, Policy, PolicyContext, RuleViolation};
use writeback_policy_support::TargetScope;

/// The rule's default message.
pub const MESSAGE: &str =
    "This password appears in lists of passwords exposed in data breaches, so attackers \
                           try it first. Choose a different one.";

pub struct BreachedPolicy {
    filter: BreachedFilter,
    targets: TargetScope,
}

impl BreachedPolicy {
    pub fn new(filter: BreachedFilter, targets: TargetScope) -> Self {
        BreachedPolicy { filter, targets }
    }

    /// The verdict for one password (no scoping).
    pub fn check(&self, password: &str) -> Vec<RuleViolation> {
        if self.filter.contains_password(password) {
            vec![RuleViolation::new("breached.found", MESSAGE)]
        } else {
            Vec::new()
        }
    }
}

#[async_trait]
impl Policy for BreachedPolicy {
    async fn evaluate(
        &self,
        password: &Password,
        context: &PolicyContext<'_>,
    ) -> Result<Vec<RuleViolation>, Outcome> {
        if !self.targets.applies(context) {
            return Ok(Vec::new());
        }
        // a page fault on a cold file is a disk read, but one of three 2-byte reads:
        // well under a millisecond, not worth a trip to the blocking pool
        Ok(self.check(password.expose()))
    }

    fn rule_ids(&self) -> Vec<String> {
        vec!["breached.found".to_string()]
    }
}
