//! The checks on values a WASM guest hands back (crates/plugin-wasm convert.rs):
//! outcomes, rule violations, accounts, identities, initiators and operations as the
//! component model delivers them. Any value must be accepted within the limits or
//! refused with a reason that never holds a password; `succeeded` is never a failure.
#![no_main]

use arbitrary::{Arbitrary, Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use writeback_core::{OutcomeCode, Password};
use writeback_plugin_wasm::fuzzing::{self as conv, wit};

/// Strings: mostly short, sometimes long or with control characters, which the
/// checks are about.
fn text(u: &mut Unstructured<'_>) -> Result<String> {
    Ok(match u.int_in_range(0u8..=9)? {
        0 => "x".repeat(u.int_in_range(1000usize..=1100)?),
        1 => String::new(),
        _ => String::arbitrary(u)?,
    })
}

fn opt(u: &mut Unstructured<'_>) -> Result<Option<String>> {
    Ok(if bool::arbitrary(u)? {
        Some(text(u)?)
    } else {
        None
    })
}

fn list<T>(
    u: &mut Unstructured<'_>,
    max: usize,
    mut item: impl FnMut(&mut Unstructured<'_>) -> Result<T>,
) -> Result<Vec<T>> {
    let n = u.int_in_range(0..=max)?;
    (0..n).map(|_| item(u)).collect()
}

fn code(u: &mut Unstructured<'_>) -> Result<wit::OutcomeCode> {
    use wit::OutcomeCode as W;
    Ok(*u.choose(&[
        W::Succeeded,
        W::RejectedPolicy,
        W::RejectedHistory,
        W::RejectedMinAge,
        W::WrongOldPassword,
        W::NotFound,
        W::AmbiguousIdentity,
        W::AdminActionRequired,
        W::DirectoryUnavailable,
        W::Timeout,
        W::PluginFault,
        W::InvalidRequest,
        W::Unauthorized,
    ])?)
}

fn rule(u: &mut Unstructured<'_>) -> Result<wit::RuleViolation> {
    Ok(wit::RuleViolation {
        rule: text(u)?,
        message: text(u)?,
    })
}

fn outcome(u: &mut Unstructured<'_>) -> Result<wit::Outcome> {
    Ok(wit::Outcome {
        code: code(u)?,
        message: text(u)?,
        rules: list(u, 70, rule)?,
        admin_detail: opt(u)?,
    })
}

fn account(u: &mut Unstructured<'_>) -> Result<wit::Account> {
    Ok(wit::Account {
        dn: text(u)?,
        id: opt(u)?,
        attributes: list(u, 140, |u| {
            Ok(wit::EntryAttribute {
                name: text(u)?,
                values: list(u, 8, text)?,
            })
        })?,
    })
}

fn identity(u: &mut Unstructured<'_>) -> Result<wit::CloudIdentity> {
    Ok(wit::CloudIdentity {
        upn: opt(u)?,
        object_id: opt(u)?,
        immutable_id: opt(u)?,
        mail: opt(u)?,
        username: opt(u)?,
        display_name: opt(u)?,
        given_name: opt(u)?,
        surname: opt(u)?,
        extra: list(u, 40, |u| {
            Ok(wit::Attribute {
                name: text(u)?,
                value: text(u)?,
            })
        })?,
    })
}

fn initiator(u: &mut Unstructured<'_>) -> Result<wit::Initiator> {
    Ok(wit::Initiator {
        kind: *u.choose(&[
            wit::InitiatorKind::User,
            wit::InitiatorKind::Admin,
            wit::InitiatorKind::System,
        ])?,
        id: opt(u)?,
    })
}

fn operation(u: &mut Unstructured<'_>) -> Result<wit::Operation> {
    Ok(match u.int_in_range(0u8..=2)? {
        0 => wit::Operation::Reset(wit::ResetOperation {
            new_password: text(u)?,
            must_change: bool::arbitrary(u)?,
        }),
        1 => wit::Operation::Change(wit::ChangeOperation {
            old_password: text(u)?,
            new_password: text(u)?,
        }),
        _ => wit::Operation::Unlock,
    })
}

fn mask(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { c } else { 'Q' })
        .collect()
}

fn masked(op: &wit::Operation) -> wit::Operation {
    match op {
        wit::Operation::Reset(r) => wit::Operation::Reset(wit::ResetOperation {
            new_password: mask(&r.new_password),
            must_change: r.must_change,
        }),
        wit::Operation::Change(c) => wit::Operation::Change(wit::ChangeOperation {
            old_password: mask(&c.old_password),
            new_password: mask(&c.new_password),
        }),
        wit::Operation::Unlock => wit::Operation::Unlock,
    }
}

/// A checked text: what the host lets through to logs, replies and notifications.
fn assert_clean(what: &str, s: &str) {
    assert!(s.len() <= 1024, "{what} over 1024 bytes");
    assert!(
        !s.chars().any(|c| c.is_control() && c != '\n'),
        "{what} with control characters"
    );
}

fn check(u: &mut Unstructured<'_>) -> Result<()> {
    match u.int_in_range(0u8..=5)? {
        0 => {
            let o = outcome(u)?;
            let was_succeeded = matches!(o.code, wit::OutcomeCode::Succeeded);
            if let Ok(out) = conv::failure_from_wit(o) {
                assert!(!was_succeeded && out.code != OutcomeCode::Succeeded);
                assert!(!out.message.is_empty());
                assert_clean("outcome message", &out.message);
                assert!(out.rules.len() <= 64);
                for r in &out.rules {
                    assert_clean("rule id", &r.rule);
                    assert_clean("rule message", &r.message);
                }
                if let Some(d) = &out.admin_detail {
                    assert_clean("admin detail", d);
                }
            }
        }
        1 => {
            if let Ok(rules) = conv::rules_from_wit(list(u, 70, rule)?) {
                assert!(rules.len() <= 64);
                for r in &rules {
                    assert!(!r.rule.is_empty() && r.rule.len() <= 128);
                    assert_clean("rule message", &r.message);
                }
            }
        }
        2 => {
            if let Ok(a) = conv::account_from_wit(account(u)?) {
                assert!(!a.dn.trim().is_empty());
                assert_clean("account DN", &a.dn);
                assert!(a.attributes.len() <= 128);
                let size: usize = a.dn.len()
                    + a.attributes
                        .iter()
                        .map(|(k, v)| k.len() + v.iter().map(String::len).sum::<usize>())
                        .sum::<usize>();
                assert!(size <= 256 * 1024);
                for name in a.attributes.keys() {
                    assert_eq!(*name, name.to_ascii_lowercase());
                }
            }
        }
        3 => {
            if let Ok(i) = conv::identity_from_wit(identity(u)?) {
                assert!(i.validate().is_ok());
                assert!(i.extra.len() <= 32);
            }
        }
        4 => {
            if let Ok(i) = conv::initiator_from_wit(initiator(u)?) {
                if let Some(id) = &i.id {
                    assert!(id.len() <= 1024 && !id.chars().any(char::is_control));
                }
            }
        }
        _ => {
            let op = operation(u)?;
            let secrets: Vec<String> = match &op {
                wit::Operation::Reset(r) => vec![r.new_password.clone()],
                wit::Operation::Change(c) => vec![c.old_password.clone(), c.new_password.clone()],
                wit::Operation::Unlock => Vec::new(),
            };
            // The same operation with every character but the control ones replaced:
            // it takes the same path through the checks, so a word both refusals hold
            // is the message's own text ("the password is empty"), not a leak.
            let masked = masked(&op);
            match conv::operation_from_wit(op) {
                Ok(op) => {
                    if let Some(pw) = op.new_password() {
                        assert!(pw.validate_shape().is_ok());
                        assert!(pw.char_count() <= Password::MAX_CHARS);
                    }
                }
                Err(why) => {
                    let again = conv::operation_from_wit(masked).err().unwrap_or_default();
                    for s in secrets.iter().filter(|s| !s.is_empty()) {
                        assert!(
                            !why.contains(s.as_str()) || again.contains(s.as_str()),
                            "a refusal holds a password: {why:?}"
                        );
                    }
                }
            }
        }
    }
    Ok(())
}

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let _ = check(&mut u);
});
