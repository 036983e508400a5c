//! Between writeback's model (core) and the boundary's small `repr(C)` types. What the
//! plugin returns is checked here: unknown codes become `plugin_fault`, oversized
//! text is cut, so a buggy plugin cannot put garbage in front of a person.

use std::collections::BTreeMap;

use abi_stable::std_types::{RSlice, RStr, RString};
use writeback_core::event::TargetResult;
use writeback_core::{
    Account, CloudIdentity, Event, ExpiryReminder, Initiator, InitiatorKind, NotifyError,
    Operation, Outcome, OutcomeCode, Password, Request, RequestId, RuleViolation,
};
use writeback_plugin_native_abi as abi;

/// Longest text accepted from a plugin in one message (in characters).
const MAX_TEXT: usize = 2_000;
/// Most rules accepted from one policy verdict.
const MAX_RULES: usize = 64;

fn text(s: &RString) -> String {
    s.as_str().chars().take(MAX_TEXT).collect()
}

fn opt(s: &RString) -> Option<String> {
    Some(text(s)).filter(|t| !t.is_empty())
}

fn rstr(s: &Option<String>) -> RStr<'_> {
    RStr::from_str(s.as_deref().unwrap_or(""))
}

fn rstring(s: &Option<String>) -> RString {
    s.as_deref().unwrap_or("").into()
}

// ---------------------------------------------------------------- plugin → host

pub fn outcome(o: &abi::Outcome, label: &str) -> Outcome {
    let Some(code) = OutcomeCode::ALL
        .into_iter()
        .find(|c| c.as_str() == o.code.as_str())
    else {
        return Outcome::of(OutcomeCode::PluginFault).with_admin_detail(format!(
            "{label} returned an outcome code this writeback does not know ({})",
            o.code.0
        ));
    };
    // A failure cannot say `succeeded`: the host would report a write that never
    // happened (DESIGN invariant 10). The WASM host refuses the same return.
    if code == OutcomeCode::Succeeded {
        return Outcome::of(OutcomeCode::PluginFault).with_admin_detail(format!(
            "{label} returned a failure with the code `succeeded`; nothing was written, so \
             the request fails with plugin_fault (a bug in the plugin: its error paths must \
             use a failure code)"
        ));
    }
    let mut out = match opt(&o.message) {
        Some(message) => Outcome::new(code, message),
        None => Outcome::of(code),
    };
    out.rules = rules(&o.rules);
    out.admin_detail = match (code, opt(&o.admin_detail)) {
        // Say which plugin failed; a plugin's own detail only knows its type name.
        (OutcomeCode::PluginFault, detail) => Some(format!(
            "{label}: {}",
            detail.unwrap_or_else(|| "reported a fault".into())
        )),
        (_, detail) => detail,
    };
    out
}

pub fn rules(list: &[abi::RuleViolation]) -> Vec<RuleViolation> {
    list.iter()
        .take(MAX_RULES)
        .map(|r| RuleViolation::new(text(&r.rule), text(&r.message)))
        .collect()
}

pub fn account(a: &abi::Account) -> Account {
    let mut attributes: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for v in a.values.iter() {
        attributes
            .entry(v.name.as_str().to_ascii_lowercase())
            .or_default()
            .push(v.value.to_string());
    }
    Account {
        dn: a.dn.to_string(),
        id: opt(&a.id),
        attributes,
    }
}

pub fn notify_error(e: &abi::NotifyError) -> NotifyError {
    NotifyError {
        message: text(&e.message),
        retryable: e.retryable,
    }
}

pub fn health(h: &abi::HealthCheck) -> writeback_core::HealthCheck {
    writeback_core::HealthCheck {
        check: text(&h.check),
        ok: h.ok,
        detail: text(&h.detail),
    }
}

pub fn identity(i: &abi::Identity) -> CloudIdentity {
    CloudIdentity {
        upn: opt(&i.upn),
        object_id: opt(&i.object_id),
        immutable_id: opt(&i.immutable_id),
        mail: opt(&i.mail),
        username: opt(&i.username),
        display_name: opt(&i.display_name),
        given_name: opt(&i.given_name),
        surname: opt(&i.surname),
        extra: i
            .extra
            .iter()
            .map(|a| (a.name.to_string(), a.value.to_string()))
            .collect(),
    }
}

pub fn initiator(i: &abi::Initiator) -> Option<Initiator> {
    let kind = match i.kind {
        abi::InitiatorKind::USER => InitiatorKind::User,
        abi::InitiatorKind::ADMIN => InitiatorKind::Admin,
        abi::InitiatorKind::SYSTEM => InitiatorKind::System,
        _ => return None,
    };
    Some(Initiator {
        kind,
        id: opt(&i.id),
    })
}

/// Turns what the plugin fetched into a request, or the outcome that refuses it.
pub fn request(incoming: &abi::IncomingRequest, source: &str) -> Result<Request, Outcome> {
    let invalid = |message: String| Outcome::new(OutcomeCode::InvalidRequest, message);
    let id = RequestId::parse(incoming.id.as_str()).map_err(|e| invalid(e.to_string()))?;
    let op = &incoming.operation;
    let operation = match op.kind {
        abi::OperationKind::RESET => Operation::Reset {
            new_password: Password::new(op.new_password.expose()),
            must_change: op.must_change,
        },
        abi::OperationKind::CHANGE => Operation::Change {
            old_password: Password::new(op.old_password.expose()),
            new_password: Password::new(op.new_password.expose()),
        },
        abi::OperationKind::UNLOCK => Operation::Unlock,
        other => return Err(invalid(format!("unknown operation kind {}", other.0))),
    };
    let initiator = initiator(&incoming.initiator).ok_or_else(|| {
        invalid(format!(
            "unknown initiator kind {}",
            incoming.initiator.kind.0
        ))
    })?;
    Ok(Request {
        id,
        source: source.to_string(),
        operation,
        identity: identity(&incoming.identity),
        initiator,
    })
}

// ---------------------------------------------------------------- host → plugin

pub fn outcome_to_abi(o: &Outcome) -> abi::Outcome {
    abi::Outcome {
        code: abi::OutcomeCode::from_name(o.code.as_str())
            .unwrap_or(abi::OutcomeCode::PLUGIN_FAULT),
        message: o.message.as_str().into(),
        rules: o
            .rules
            .iter()
            .map(|r| abi::RuleViolation::new(&r.rule, &r.message))
            .collect(),
        admin_detail: rstring(&o.admin_detail),
    }
}

pub fn identity_to_abi(i: &CloudIdentity) -> abi::Identity {
    abi::Identity {
        upn: rstring(&i.upn),
        object_id: rstring(&i.object_id),
        immutable_id: rstring(&i.immutable_id),
        mail: rstring(&i.mail),
        username: rstring(&i.username),
        display_name: rstring(&i.display_name),
        given_name: rstring(&i.given_name),
        surname: rstring(&i.surname),
        extra: i
            .extra
            .iter()
            .map(|(name, value)| abi::ExtraAttribute {
                name: name.as_str().into(),
                value: value.as_str().into(),
            })
            .collect(),
    }
}

fn initiator_to_abi(i: &Initiator) -> abi::Initiator {
    abi::Initiator {
        kind: match i.kind {
            InitiatorKind::User => abi::InitiatorKind::USER,
            InitiatorKind::Admin => abi::InitiatorKind::ADMIN,
            InitiatorKind::System => abi::InitiatorKind::SYSTEM,
        },
        id: rstring(&i.id),
    }
}

pub fn operation_kind(k: writeback_core::OperationKind) -> abi::OperationKind {
    match k {
        writeback_core::OperationKind::Reset => abi::OperationKind::RESET,
        writeback_core::OperationKind::Change => abi::OperationKind::CHANGE,
        writeback_core::OperationKind::Unlock => abi::OperationKind::UNLOCK,
    }
}

pub fn event_to_abi(e: &Event) -> abi::Event {
    abi::Event {
        event_id: e.event_id.as_str().into(),
        time: e.time.as_str().into(),
        request_id: e.request_id.as_str().into(),
        source: e.source.as_str().into(),
        operation: operation_kind(e.operation),
        identity: identity_to_abi(&e.identity),
        initiator: initiator_to_abi(&e.initiator),
        targets: e.targets.iter().map(target_result).collect(),
        outcome: outcome_to_abi(&e.outcome),
    }
}

fn target_result(t: &TargetResult) -> abi::TargetResult {
    abi::TargetResult {
        target: t.target.as_str().into(),
        dn: rstring(&t.dn),
        mail: rstring(&t.mail),
    }
}

pub fn reminder_to_abi(r: &ExpiryReminder) -> abi::ExpiryReminder {
    abi::ExpiryReminder {
        reminder_id: r.reminder_id.as_str().into(),
        time: r.time.as_str().into(),
        target: r.target.as_str().into(),
        dn: r.dn.as_str().into(),
        username: rstring(&r.username),
        display_name: rstring(&r.display_name),
        mail: rstring(&r.mail),
        expires_at: r.expires_at.as_str().into(),
        days_left: r.days_left,
        threshold_days: r.threshold_days,
    }
}

// ------------------------------------------- borrowed views (no copies of strings)

/// The identity's extras as views; keep it alive while the view is used.
pub fn extra_views(i: &CloudIdentity) -> Vec<abi::AttributeView<'_>> {
    i.extra
        .iter()
        .map(|(name, value)| abi::AttributeView {
            name: RStr::from_str(name),
            value: RStr::from_str(value),
        })
        .collect()
}

pub fn identity_view<'a>(
    i: &'a CloudIdentity,
    extra: &'a [abi::AttributeView<'a>],
) -> abi::IdentityView<'a> {
    abi::IdentityView {
        upn: rstr(&i.upn),
        object_id: rstr(&i.object_id),
        immutable_id: rstr(&i.immutable_id),
        mail: rstr(&i.mail),
        username: rstr(&i.username),
        display_name: rstr(&i.display_name),
        given_name: rstr(&i.given_name),
        surname: rstr(&i.surname),
        extra: RSlice::from_slice(extra),
    }
}

/// An account's values as views, one per value, in attribute order.
pub fn value_views(a: &Account) -> impl Iterator<Item = abi::AttributeView<'_>> {
    a.attributes.iter().flat_map(|(name, values)| {
        values.iter().map(move |value| abi::AttributeView {
            name: RStr::from_str(name),
            value: RStr::from_str(value),
        })
    })
}

pub fn account_view<'a>(
    target: &'a str,
    a: &'a Account,
    values: &'a [abi::AttributeView<'a>],
) -> abi::AccountView<'a> {
    abi::AccountView {
        target: RStr::from_str(target),
        dn: RStr::from_str(&a.dn),
        id: rstr(&a.id),
        values: RSlice::from_slice(values),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_codes_become_plugin_fault_naming_the_plugin() {
        let o = abi::Outcome::new(abi::OutcomeCode(99), "hm");
        let core = outcome(&o, "policy `x`");
        assert_eq!(core.code, OutcomeCode::PluginFault);
        assert!(core.admin_detail.unwrap_or_default().contains("policy `x`"));
    }

    #[test]
    fn empty_message_takes_the_default_and_long_text_is_cut() {
        let mut o = abi::Outcome::new(abi::OutcomeCode::NOT_FOUND, "");
        o.rules
            .push(abi::RuleViolation::new("r", &"x".repeat(5_000)));
        let core = outcome(&o, "t");
        assert_eq!(core.message, OutcomeCode::NotFound.default_message());
        assert_eq!(core.rules[0].message.len(), MAX_TEXT);
    }

    #[test]
    fn codes_map_both_ways() {
        for code in OutcomeCode::ALL {
            let back = outcome(&outcome_to_abi(&Outcome::of(code)), "t");
            // A failure carrying `succeeded` is a plugin bug, never a success.
            let want = if code == OutcomeCode::Succeeded {
                OutcomeCode::PluginFault
            } else {
                code
            };
            assert_eq!(back.code, want);
        }
    }
}
