//! A plugin's policy as a core [`Policy`].

use std::sync::Arc;

use abi_stable::std_types::RStr;
use async_trait::async_trait;
use writeback_core::{
    Account, CloudIdentity, Outcome, Password, Policy, PolicyContext, RuleViolation,
};
use writeback_plugin_native_abi::{
    AccountView, AttributeView, PasswordView, PolicyBox, PolicyInput,
};

use crate::calls::Calls;
use crate::convert;

const EMPTY_VALUE: AttributeView<'static> = AttributeView {
    name: RStr::from_str(""),
    value: RStr::from_str(""),
};

pub struct NativePolicy {
    policy: Arc<PolicyBox>,
    calls: Calls,
}

impl NativePolicy {
    /// `calls` says how the trait method calls the plugin (time limit, concurrency).
    pub fn new(policy: PolicyBox, calls: Calls) -> Self {
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
    // Every account's values in one list, each account a slice of it. Up to 8 values
    // (the usual case) live on the stack: the call then allocates nothing.
    let mut on_stack = [EMPTY_VALUE; 8];
    let total: usize = accounts
        .iter()
        .map(|(_, a)| a.attributes.values().map(Vec::len).sum::<usize>())
        .sum();
    let on_heap: Vec<AttributeView<'_>>;
    let values: &[AttributeView<'_>] = if total <= on_stack.len() {
        let all = accounts.iter().flat_map(|(_, a)| convert::value_views(a));
        for (slot, view) in on_stack.iter_mut().zip(all) {
            *slot = view;
        }
        &on_stack[..total]
    } else {
        on_heap = accounts
            .iter()
            .flat_map(|(_, a)| convert::value_views(a))
            .collect();
        &on_heap
    };
    let mut rest = values;
    let mut views = accounts.iter().map(|(target, a)| {
        let n = a.attributes.values().map(Vec::len).sum::<usize>();
        let (mine, others) = rest.split_at(n.min(rest.len()));
        rest = others;
        convert::account_view(target, a, mine)
    });
    let (only, many): (Option<AccountView<'_>>, Vec<AccountView<'_>>) = if accounts.len() == 1 {
        (views.next(), Vec::new())
    } else {
        (None, views.collect())
    };
    let account_views = match &only {
        Some(one) => std::slice::from_ref(one),
        None => many.as_slice(),
    };
    let input = PolicyInput {
        identity: convert::identity_view(identity, &extra),
        accounts: account_views.into(),
    };
    match policy
        .evaluate(PasswordView::new(password.expose()), &input)
        .into_result()
    {
        // The plugin may quote the password it was lent (even in a panic message).
        Ok(rules) => {
            let mut rules = convert::rules(&rules);
            for rule in &mut rules {
                rule.redact(&[password]);
            }
            Ok(rules)
        }
        Err(outcome) => Err(convert::outcome(&outcome, label).redacted(&[password])),
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

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use abi_stable::sabi_trait::TD_Opaque;
    use writeback_plugin_native_abi as abi;
    use writeback_plugin_native_abi::ffi::PluginFfi_TO;

    use super::*;
    use crate::settings::CallSettings;

    /// A policy that reports what it was lent: each account's target, DN and uid.
    struct Echo;

    impl abi::Connector for Echo {
        const TYPE_NAME: &'static str = "echo";
        const DESCRIPTION: &'static str = "unit test";
        fn from_config(_c: &abi::ConnectorConfig<'_>) -> Result<Self, abi::ConfigProblem> {
            Ok(Echo)
        }
    }

    impl abi::Policy for Echo {
        fn evaluate(
            &self,
            password: PasswordView<'_>,
            input: &PolicyInput<'_>,
        ) -> Result<Vec<abi::RuleViolation>, abi::Outcome> {
            let mut seen: Vec<abi::RuleViolation> = input
                .accounts
                .iter()
                .map(|a| {
                    let what = format!(
                        "{} {} {}",
                        a.dn,
                        a.first("uid").unwrap_or("-"),
                        a.values.len()
                    );
                    abi::RuleViolation::new(a.target.as_str(), &what)
                })
                .collect();
            let upn = input.identity.get("upn").unwrap_or("-");
            seen.push(abi::RuleViolation::new(
                "identity",
                &format!("{upn} {}", password.char_count()),
            ));
            Ok(seen)
        }
    }

    fn account(uid: &str, extra_values: usize) -> Account {
        let mut attributes = BTreeMap::new();
        attributes.insert("uid".to_string(), vec![uid.to_string()]);
        attributes.insert(
            "x".to_string(),
            (0..extra_values).map(|i| i.to_string()).collect(),
        );
        Account {
            dn: format!("uid={uid}"),
            id: None,
            attributes,
        }
    }

    #[test]
    fn each_account_is_lent_with_its_own_values() {
        let plugin =
            PluginFfi_TO::from_value(abi::Plugin::new("t", "0").policy::<Echo>(), TD_Opaque);
        let config = abi::ConnectorConfig::new("echo", "", ".");
        let built = plugin.build_policy("echo".into(), &config).into_result();
        let Ok(policy) = built else {
            panic!("build failed")
        };
        let native = NativePolicy::new(policy, Calls::new("echo".into(), &CallSettings::default()));
        let identity = CloudIdentity {
            upn: Some("alice@example.org".into()),
            ..Default::default()
        };
        let password = Password::new("Marker-échec-1");
        for accounts in [
            vec![],
            vec![("a".to_string(), account("alice", 2))],
            vec![
                ("a".to_string(), account("alice", 0)),
                ("b".to_string(), account("al", 3)),
            ],
        ] {
            let rules = native
                .evaluate_here(&password, &identity, &accounts)
                .unwrap_or_default();
            let got: Vec<String> = rules
                .iter()
                .map(|r| format!("{}: {}", r.rule, r.message))
                .collect();
            let mut want: Vec<String> = accounts
                .iter()
                .map(|(t, a)| {
                    format!(
                        "{t}: {} {} {}",
                        a.dn,
                        a.first("uid").unwrap_or("-"),
                        1 + a.attributes["x"].len()
                    )
                })
                .collect();
            want.push("identity: alice@example.org 14".into());
            assert_eq!(got, want);
        }
    }
}
