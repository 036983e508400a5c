//! Keeping a request's passwords out of text a plugin hands back. A plugin (native or
//! WASM) may quote the password it was lent in a rule message, an outcome message, an
//! admin detail or a panic message; all of that reaches replies, the audit log,
//! notifications and logs, so the host replaces every copy before it goes anywhere.

use std::borrow::Cow;

use crate::outcome::{Outcome, RuleViolation};
use crate::secret::Password;

/// What stands where a password was.
pub const REDACTED: &str = "[password]";

/// `text` with every copy of each password (as typed, and as Rust's `{:?}` would
/// escape it) replaced by [`REDACTED`].
pub fn redact<'a>(text: &'a str, secrets: &[&Password]) -> Cow<'a, str> {
    let mut out = Cow::Borrowed(text);
    for secret in secrets {
        let plain = secret.expose();
        if plain.is_empty() {
            continue;
        }
        if out.contains(plain) {
            out = Cow::Owned(out.replace(plain, REDACTED));
        }
        // A `{:?}` rendering escapes quotes, backslashes and non-printing characters;
        // the escaped form then no longer contains the plain one.
        let debug = format!("{plain:?}");
        let escaped = &debug[1..debug.len() - 1];
        if escaped != plain && out.contains(escaped) {
            out = Cow::Owned(out.replace(escaped, REDACTED));
        }
    }
    out
}

fn redact_in_place(text: &mut String, secrets: &[&Password]) {
    if let Cow::Owned(clean) = redact(text, secrets) {
        *text = clean;
    }
}

impl RuleViolation {
    /// Replaces the passwords in the rule id and message.
    pub fn redact(&mut self, secrets: &[&Password]) {
        redact_in_place(&mut self.rule, secrets);
        redact_in_place(&mut self.message, secrets);
    }
}

impl Outcome {
    /// Replaces the passwords in the message, every rule and the admin detail.
    pub fn redact(&mut self, secrets: &[&Password]) {
        redact_in_place(&mut self.message, secrets);
        for rule in &mut self.rules {
            rule.redact(secrets);
        }
        if let Some(detail) = &mut self.admin_detail {
            redact_in_place(detail, secrets);
        }
    }

    /// The outcome, with the passwords replaced (for `map_err`).
    pub fn redacted(mut self, secrets: &[&Password]) -> Self {
        self.redact(secrets);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::OutcomeCode;

    #[test]
    fn every_copy_in_every_field_is_replaced() {
        let p = Password::new("Marker-\"quoted\"-1");
        let o = Outcome::new(OutcomeCode::PluginFault, "bad Marker-\"quoted\"-1")
            .with_rules(vec![RuleViolation::new(
                "r",
                "Marker-\"quoted\"-1 twice Marker-\"quoted\"-1",
            )])
            .with_admin_detail("payload \"Marker-\\\"quoted\\\"-1\"");
        let o = o.redacted(&[&p]);
        let all = serde_json::to_string(&o).unwrap_or_default();
        assert!(!all.contains("quoted"), "{all}");
        assert_eq!(o.message, "bad [password]");
        assert_eq!(o.rules[0].message, "[password] twice [password]");
        assert_eq!(o.admin_detail.as_deref(), Some("payload \"[password]\""));
    }

    #[test]
    fn an_empty_password_changes_nothing() {
        assert_eq!(redact("abc", &[&Password::new("")]), "abc");
    }
}
