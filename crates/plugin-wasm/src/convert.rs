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

pub(crate) fn outcome_to_wit(o: &core::Outcome) -> wit::Outcome {
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
pub fn rules_from_wit(rules: Vec<wit::RuleViolation>) -> Result<Vec<core::RuleViolation>, String> {
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
pub fn failure_from_wit(o: wit::Outcome) -> Result<core::Outcome, String> {
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

// ---- targets: operations out, accounts back ----

const MAX_ACCOUNT_ATTRIBUTES: usize = 128;
const MAX_ACCOUNT_BYTES: usize = 256 * 1024;

/// The operation with its passwords, for a target's `apply` only.
pub(crate) fn operation(o: &core::Operation) -> wit::Operation {
    match o {
        core::Operation::Reset {
            new_password,
            must_change,
        } => wit::Operation::Reset(wit::ResetOperation {
            new_password: new_password.expose().to_string(),
            must_change: *must_change,
        }),
        core::Operation::Change {
            old_password,
            new_password,
        } => wit::Operation::Change(wit::ChangeOperation {
            old_password: old_password.expose().to_string(),
            new_password: new_password.expose().to_string(),
        }),
        core::Operation::Unlock => wit::Operation::Unlock,
    }
}

/// Overwrites the host's copies of the passwords once the call is over.
pub(crate) fn wipe(o: &mut wit::Operation) {
    use zeroize::Zeroize;
    match o {
        wit::Operation::Reset(r) => r.new_password.zeroize(),
        wit::Operation::Change(c) => {
            c.old_password.zeroize();
            c.new_password.zeroize();
        }
        wit::Operation::Unlock => {}
    }
}

/// An account a target's `resolve` returned, checked.
pub fn account_from_wit(a: wit::Account) -> Result<core::Account, String> {
    if a.dn.trim().is_empty() || a.dn.len() > MAX_TEXT {
        return Err(format!("an account DN must be 1 to {MAX_TEXT} bytes"));
    }
    if a.attributes.len() > MAX_ACCOUNT_ATTRIBUTES {
        return Err(format!(
            "{} account attributes (at most {MAX_ACCOUNT_ATTRIBUTES})",
            a.attributes.len()
        ));
    }
    let mut size = a.dn.len();
    let mut attributes = std::collections::BTreeMap::new();
    for attr in a.attributes {
        size += attr.name.len() + attr.values.iter().map(String::len).sum::<usize>();
        if size > MAX_ACCOUNT_BYTES {
            return Err(format!(
                "the account is over {} KiB",
                MAX_ACCOUNT_BYTES / 1024
            ));
        }
        attributes
            .entry(attr.name.to_ascii_lowercase())
            .or_insert_with(Vec::new)
            .extend(attr.values);
    }
    Ok(core::Account {
        dn: text("account DN", a.dn)?,
        id: a.id.map(|id| text("account id", id)).transpose()?,
        attributes,
    })
}

// ---- sources: what a source's `poll` hands over, into the core model ----
// The reverse of `identity`, `initiator` and `operation` above. Every value is
// checked; error texts name the field and never hold a password.

const MAX_EXTRA_ATTRIBUTES: usize = 32;

/// A cloud identity a source handed over, checked like the webhook source checks its
/// JSON (`CloudIdentity::validate`: an identifier, sizes, no control characters).
pub fn identity_from_wit(i: wit::CloudIdentity) -> Result<core::CloudIdentity, String> {
    if i.extra.len() > MAX_EXTRA_ATTRIBUTES {
        return Err(format!(
            "identity.extra has more than {MAX_EXTRA_ATTRIBUTES} attributes"
        ));
    }
    let mut extra = std::collections::BTreeMap::new();
    for a in i.extra {
        if a.name.is_empty() || a.name.len() > 128 || a.name.chars().any(char::is_control) {
            return Err(
                "an identity.extra name must be 1 to 128 bytes without control characters".into(),
            );
        }
        if extra.contains_key(&a.name) {
            return Err(format!("identity.extra has `{}` twice", a.name));
        }
        extra.insert(a.name, a.value);
    }
    let identity = core::CloudIdentity {
        upn: i.upn,
        object_id: i.object_id,
        immutable_id: i.immutable_id,
        mail: i.mail,
        username: i.username,
        display_name: i.display_name,
        given_name: i.given_name,
        surname: i.surname,
        extra,
    };
    identity.validate()?;
    Ok(identity)
}

/// Who started a request, as a source handed it over.
pub fn initiator_from_wit(i: wit::Initiator) -> Result<core::Initiator, String> {
    if let Some(id) = &i.id {
        if id.len() > MAX_TEXT || id.chars().any(char::is_control) {
            return Err(format!(
                "initiator.id must be at most {MAX_TEXT} bytes without control characters"
            ));
        }
    }
    Ok(core::Initiator {
        kind: match i.kind {
            wit::InitiatorKind::User => core::InitiatorKind::User,
            wit::InitiatorKind::Admin => core::InitiatorKind::Admin,
            wit::InitiatorKind::System => core::InitiatorKind::System,
        },
        id: i.id,
    })
}

/// The operation a source handed over. The strings move into [`core::Password`]s
/// (no copy is left behind; a refused one is zeroized when dropped). A new password
/// must have the shape every password has; an old one is only checked for emptiness
/// and length (the directory decides whether it is right).
pub fn operation_from_wit(o: wit::Operation) -> Result<core::Operation, String> {
    fn new_password(value: String) -> Result<core::Password, String> {
        let password = core::Password::new(value);
        password
            .validate_shape()
            .map_err(|why| format!("new-password: {why}"))?;
        Ok(password)
    }
    match o {
        wit::Operation::Reset(r) => Ok(core::Operation::Reset {
            new_password: new_password(r.new_password)?,
            must_change: r.must_change,
        }),
        wit::Operation::Change(c) => {
            let old_password = core::Password::new(c.old_password);
            let new_password = new_password(c.new_password)?;
            if old_password.is_empty() {
                return Err("old-password is empty".into());
            }
            if old_password.char_count() > core::Password::MAX_CHARS {
                return Err(format!(
                    "old-password is longer than {} characters",
                    core::Password::MAX_CHARS
                ));
            }
            Ok(core::Operation::Change {
                old_password,
                new_password,
            })
        }
        wit::Operation::Unlock => Ok(core::Operation::Unlock),
    }
}
