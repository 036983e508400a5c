//! A plugin's policy as a core [`Policy`].

use std::sync::Arc;

use async_trait::async_trait;
use writeback_core::{
    Account, CloudIdentity, Outcome, Password, Policy, PolicyContext, RuleViolation,
};
use writeback_plugin_native_abi::{PasswordView, PolicyBox, PolicyInput};

use crate::calls::Calls;
use crate::convert;

pub struct NativePolicy {
    policy: Arc<PolicyBox>,
    calls: Calls,
}

impl NativePolicy {
    pub(crate) fn new(policy: PolicyBox, calls: Calls) -> Self {
        NativePolicy {
            policy: Arc::new(policy),
            calls,
        }
    }

    /// The call itself, on the current thread: the password and identity are lent to
    /// the plugin as views, nothing is copied. (The trait method runs this on the
    /// blocking pool; benchmarks and embedders may call it directly.)
    pub fn evaluate_here(
        &self,
        password: &Password,
        identity: &CloudIdentity,
        accounts: &[(String, Account)],
    ) -> Result<Vec<RuleViolation>, Outcome> {
        evaluate_with(
            &self.policy,
            self.calls.label(),
            password,
            identity,
            accounts,
        )
    }
}

fn evaluate_with(
    policy: &PolicyBox,
    label: &str,
    password: &Password,
    identity: &CloudIdentity,
    accounts: &[(String, Account)],
) -> Result<Vec<RuleViolation>, Outcome> {
    let extra = convert::extra_views(identity);
    let values: Vec<_> = accounts
        .iter()
        .map(|(_, a)| convert::value_views(a))
        .collect();
    let account_views: Vec<_> = accounts
        .iter()
        .zip(&values)
        .map(|((target, a), v)| convert::account_view(target, a, v))
        .collect();
    let input = PolicyInput {
        identity: convert::identity_view(identity, &extra),
        accounts: account_views.as_slice().into(),
    };
    match policy
        .evaluate(PasswordView::new(password.expose()), &input)
        .into_result()
    {
        Ok(rules) => Ok(convert::rules(&rules)),
        Err(outcome) => Err(convert::outcome(&outcome, label)),
    }
}

#[async_trait]
impl Policy for NativePolicy {
    async fn evaluate(
        &self,
        password: &Password,
        context: &PolicyContext<'_>,
    ) -> Result<Vec<RuleViolation>, Outcome> {
        // The blocking thread needs its own copies; the password copy is zeroized on drop.
        let password = password.clone();
        let identity = context.identity.clone();
        let accounts = context.accounts.to_vec();
        let policy = self.policy.clone();
        let label = self.calls.label().to_string();
        self.calls
            .run("evaluate", move || {
                evaluate_with(&policy, &label, &password, &identity, &accounts)
            })
            .await?
    }
}
