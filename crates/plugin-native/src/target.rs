//! A plugin's directory target as a core [`DirectoryTarget`].

use std::sync::Arc;

use async_trait::async_trait;
use writeback_core::{
    Account, CloudIdentity, DirectoryTarget, HealthCheck, Operation, Outcome, Password,
};
use writeback_plugin_native_abi::{OperationKind, OperationView, PasswordView, TargetBox};

use crate::calls::Calls;
use crate::convert;

pub struct NativeTarget {
    target: Arc<TargetBox>,
    calls: Calls,
}

impl NativeTarget {
    pub(crate) fn new(target: TargetBox, calls: Calls) -> Self {
        NativeTarget {
            target: Arc::new(target),
            calls,
        }
    }
}

/// The operation with its own (zeroizing) password copies, to move to the blocking pool.
struct OwnedOperation {
    kind: OperationKind,
    new_password: Option<Password>,
    old_password: Option<Password>,
    must_change: bool,
}

impl OwnedOperation {
    fn of(op: &Operation) -> Self {
        match op {
            Operation::Reset {
                new_password,
                must_change,
            } => OwnedOperation {
                kind: OperationKind::RESET,
                new_password: Some(new_password.clone()),
                old_password: None,
                must_change: *must_change,
            },
            Operation::Change {
                old_password,
                new_password,
            } => OwnedOperation {
                kind: OperationKind::CHANGE,
                new_password: Some(new_password.clone()),
                old_password: Some(old_password.clone()),
                must_change: false,
            },
            Operation::Unlock => OwnedOperation {
                kind: OperationKind::UNLOCK,
                new_password: None,
                old_password: None,
                must_change: false,
            },
        }
    }

    fn secrets(&self) -> Vec<&Password> {
        self.new_password
            .iter()
            .chain(self.old_password.iter())
            .collect()
    }

    fn view(&self) -> OperationView<'_> {
        fn lend(p: &Option<Password>) -> PasswordView<'_> {
            PasswordView::new(p.as_ref().map(Password::expose).unwrap_or(""))
        }
        OperationView {
            kind: self.kind,
            new_password: lend(&self.new_password),
            old_password: lend(&self.old_password),
            must_change: self.must_change,
        }
    }
}

#[async_trait]
impl DirectoryTarget for NativeTarget {
    async fn resolve(&self, identity: &CloudIdentity) -> Result<Account, Outcome> {
        let identity = identity.clone();
        let target = self.target.clone();
        let label = self.calls.label().to_string();
        self.calls
            .run("resolve", move || {
                let extra = convert::extra_views(&identity);
                let view = convert::identity_view(&identity, &extra);
                match target.resolve(&view).into_result() {
                    Ok(account) => Ok(convert::account(&account)),
                    Err(outcome) => Err(convert::outcome(&outcome, &label)),
                }
            })
            .await?
    }

    async fn apply(&self, account: &Account, operation: &Operation) -> Result<(), Outcome> {
        let account = account.clone();
        let operation = OwnedOperation::of(operation);
        let target = self.target.clone();
        let label = self.calls.label().to_string();
        self.calls
            .run("apply", move || {
                let values: Vec<_> = convert::value_views(&account).collect();
                let view = convert::account_view("", &account, &values);
                let result = target.apply(&view, &operation.view()).into_result();
                // The plugin may quote a password it was lent (even in a panic message).
                result.map_err(|outcome| {
                    convert::outcome(&outcome, &label).redacted(&operation.secrets())
                })
            })
            .await?
    }

    async fn self_test(&self) -> Vec<HealthCheck> {
        let target = self.target.clone();
        match self
            .calls
            .run("self_test", move || target.self_test())
            .await
        {
            Ok(checks) => checks.iter().map(convert::health).collect(),
            Err(fault) => vec![HealthCheck::fail(
                "plugin",
                fault.admin_detail.unwrap_or(fault.message),
            )],
        }
    }
}
