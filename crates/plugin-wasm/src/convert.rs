//! Between the core model and the WIT types. Values coming back from a guest are
//! checked here: sizes, and codes that make sense where they appear.

use writeback_core as core;

use crate::bindings::notifier::writeback::plugin::types as wit;

const MAX_RULES: usize = 64;
const MAX_TEXT: usize = 1024;

pub(crate) fn identity(i: &core::CloudIdentity) -> wit::CloudIdentity {
    wit::CloudIdentity {
        upn: i.upn.clone(),
        object_id: i.object_id.clone(),
        immutable_id: i.immutable_id.clone(),
        mail: i.mail.clone(),
        username: i.username.clone(),
        display_name: i.display_name.clone(),
        given_name: i.given_name.clone(),
        surname: i.surname.clone(),
        extra: i
            .extra
            .iter()
            .map(|(name, value)| wit::Attribute {
                name: name.clone(),
                value: value.clone(),
            })
            .collect(),
    }
}

pub(crate) fn account(a: &core::Account) -> wit::Account {
    wit::Account {
        dn: a.dn.clone(),
        id: a.id.clone(),
        attributes: a
            .attributes
            .iter()
            .map(|(name, values)| wit::EntryAttribute {
                name: name.clone(),
                values: values.clone(),
            })
            .collect(),
    }
}

pub(crate) fn target_accounts(accounts: &[(String, core::Account)]) -> Vec<wit::TargetAccount> {
    accounts
        .iter()
        .map(|(target, a)| wit::TargetAccount {
            target: target.clone(),
            account: account(a),
        })
        .collect()
}

fn operation_kind(k: core::OperationKind) -> wit::OperationKind {
    match k {
        core::OperationKind::Reset => wit::OperationKind::Reset,
        core::OperationKind::Change => wit::OperationKind::Change,
        core::OperationKind::Unlock => wit::OperationKind::Unlock,
    }
}

fn initiator(i: &core::Initiator) -> wit::Initiator {
    wit::Initiator {
        kind: match i.kind {
            core::InitiatorKind::User => wit::InitiatorKind::User,
            core::InitiatorKind::Admin => wit::InitiatorKind::Admin,
            core::InitiatorKind::System => wit::InitiatorKind::System,
        },
        id: i.id.clone(),
    }
}

pub(crate) fn code_to_wit(c: core::OutcomeCode) -> wit::OutcomeCode {
    use core::OutcomeCode as C;
    use wit::OutcomeCode as W;
    match c {
        C::Succeeded => W::Succeeded,
        C::RejectedPolicy => W::RejectedPolicy,
        C::RejectedHistory => W::RejectedHistory,
        C::RejectedMinAge => W::RejectedMinAge,
        C::WrongOldPassword => W::WrongOldPassword,
        C::NotFound => W::NotFound,
        C::AmbiguousIdentity => W::AmbiguousIdentity,
        C::AdminActionRequired => W::AdminActionRequired,
        C::DirectoryUnavailable => W::DirectoryUnavailable,
        C::Timeout => W::Timeout,
        C::PluginFault => W::PluginFault,
        C::InvalidRequest => W::InvalidRequest,
        C::Unauthorized => W::Unauthorized,
    }
}

pub(crate) fn code_from_wit(c: wit::OutcomeCode) -> core::OutcomeCode {
    use core::OutcomeCode as C;
    use wit::OutcomeCode as W;
    match c {
        W::Succeeded => C::Succeeded,
        W::RejectedPolicy => C::RejectedPolicy,
        W::RejectedHistory => C::RejectedHistory,
        W::RejectedMinAge => C::RejectedMinAge,
        W::WrongOldPassword => C::WrongOldPassword,
        W::NotFound => C::NotFound,
        W::AmbiguousIdentity => C::AmbiguousIdentity,
        W::AdminActionRequired => C::AdminActionRequired,
        W::DirectoryUnavailable => C::DirectoryUnavailable,
        W::Timeout => C::Timeout,
        W::PluginFault => C::PluginFault,
        W::InvalidRequest => C::InvalidRequest,
        W::Unauthorized => C::Unauthorized,
    }
}

fn rule_to_wit(r: &core::RuleViolation) -> wit::RuleViolation {
    wit::RuleViolation {
        rule: r.rule.clone(),
        message: r.message.clone(),
    }
}

fn outcome_to_wit(o: &core::Outcome) -> wit::Outcome {
    wit::Outcome {
        code: code_to_wit(o.code),
        message: o.message.clone(),
        rules: o.rules.iter().map(rule_to_wit).collect(),
        admin_detail: o.admin_detail.clone(),
    }
}

pub(crate) fn event(e: &core::Event) -> wit::Event {
    wit::Event {
        event_id: e.event_id.clone(),
        time: e.time.clone(),
        request_id: e.request_id.clone(),
        source: e.source.clone(),
        operation: operation_kind(e.operation),
        identity: identity(&e.identity),
        initiator: initiator(&e.initiator),
        targets: e
            .targets
            .iter()
            .map(|t| wit::TargetResult {
                target: t.target.clone(),
                dn: t.dn.clone(),
                mail: t.mail.clone(),
            })
            .collect(),
        outcome: outcome_to_wit(&e.outcome),
    }
}

fn text(field: &str, value: String) -> Result<String, String> {
    if value.len() > MAX_TEXT {
        return Err(format!("{field} is longer than {MAX_TEXT} bytes"));
    }
    if value.chars().any(|c| c.is_control() && c != '\n') {
        return Err(format!("{field} contains control characters"));
    }
    Ok(value)
}

/// The rules a policy returned, checked.
pub(crate) fn rules_from_wit(
    rules: Vec<wit::RuleViolation>,
) -> Result<Vec<core::RuleViolation>, String> {
    if rules.len() > MAX_RULES {
        return Err(format!(
            "{} rule violations (at most {MAX_RULES})",
            rules.len()
        ));
    }
    rules
        .into_iter()
        .map(|r| {
            if r.rule.is_empty() || r.rule.len() > 128 {
                return Err("a rule id must be 1 to 128 bytes".to_string());
            }
            Ok(core::RuleViolation::new(
                text("rule id", r.rule)?,
                text("rule message", r.message)?,
            ))
        })
        .collect()
}

/// An outcome a plugin returned as its own failure. `succeeded` is not a failure.
pub(crate) fn failure_from_wit(o: wit::Outcome) -> Result<core::Outcome, String> {
    let code = code_from_wit(o.code);
    if code == core::OutcomeCode::Succeeded {
        return Err("an error outcome with the code `succeeded`".into());
    }
    let message = text("outcome message", o.message)?;
    let mut out = core::Outcome::new(
        code,
        if message.is_empty() {
            code.default_message().to_string()
        } else {
            message
        },
    );
    out.rules = rules_from_wit(o.rules)?;
    out.admin_detail = o
        .admin_detail
        .map(|d| text("admin detail", d))
        .transpose()?;
    Ok(out)
}
