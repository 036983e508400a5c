//! Subject, text and HTML bodies from minijinja templates: English defaults built in,
//! any of them replaced by a file of the same name in `templates_dir`.

use std::path::Path;

use minijinja::Environment;
use serde::Serialize;
use writeback_core::{Event, ExpiryReminder};

/// The template names; the same names are looked for in `templates_dir`.
pub const NAMES: [(&str, &str); 6] = [
    (
        "outcome.subject",
        include_str!("../templates/outcome.subject"),
    ),
    ("outcome.txt", include_str!("../templates/outcome.txt")),
    ("outcome.html", include_str!("../templates/outcome.html")),
    (
        "expiry_reminder.subject",
        include_str!("../templates/expiry_reminder.subject"),
    ),
    (
        "expiry_reminder.txt",
        include_str!("../templates/expiry_reminder.txt"),
    ),
    (
        "expiry_reminder.html",
        include_str!("../templates/expiry_reminder.html"),
    ),
];

/// One rendered message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}

pub struct Templates {
    env: Environment<'static>,
    vars: std::collections::BTreeMap<String, String>,
}

impl Templates {
    /// The defaults, with files from `dir` (if given) in their place. Every template is
    /// compiled now, so a syntax error shows at startup, naming the file.
    pub fn load(
        dir: Option<&Path>,
        vars: std::collections::BTreeMap<String, String>,
    ) -> Result<Self, String> {
        let mut env = Environment::new();
        // `.html` templates escape their values; subjects and text bodies do not.
        env.set_auto_escape_callback(|name| {
            if name.ends_with(".html") {
                minijinja::AutoEscape::Html
            } else {
                minijinja::AutoEscape::None
            }
        });
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Chainable);
        for (name, default) in NAMES {
            let source = match dir.map(|d| d.join(name)) {
                Some(path) if path.exists() => std::fs::read_to_string(&path)
                    .map_err(|e| format!("cannot read template {}: {e}", path.display()))?,
                _ => default.to_string(),
            };
            env.add_template_owned(name, source)
                .map_err(|e| format!("template `{name}`: {e}"))?;
        }
        Ok(Templates { env, vars })
    }

    fn render(&self, kind: &str, context: &impl Serialize) -> Result<Rendered, String> {
        let one = |suffix: &str| -> Result<String, String> {
            let name = format!("{kind}.{suffix}");
            self.env
                .get_template(&name)
                .and_then(|t| t.render(context))
                .map_err(|e| format!("template `{name}` failed: {e}"))
        };
        Ok(Rendered {
            // A subject is one line: header injection is impossible and folding is lettre's.
            subject: one("subject")?
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" "),
            text: one("txt")?,
            html: one("html")?,
        })
    }

    pub fn render_event(&self, event: &Event) -> Result<Rendered, String> {
        self.render("outcome", &OutcomeContext::new(event, &self.vars))
    }

    pub fn render_reminder(&self, reminder: &ExpiryReminder) -> Result<Rendered, String> {
        self.render(
            "expiry_reminder",
            &ReminderContext::new(reminder, &self.vars),
        )
    }
}

/// RFC 3339 UTC shown as "2026-11-25 10:42 UTC"; anything else is shown as it is.
fn readable_time(rfc3339: &str) -> String {
    use time::format_description::well_known::Rfc3339;
    match time::OffsetDateTime::parse(rfc3339, &Rfc3339) {
        Ok(t) => {
            let t = t.to_offset(time::UtcOffset::UTC);
            format!(
                "{:04}-{:02}-{:02} {:02}:{:02} UTC",
                t.year(),
                t.month() as u8,
                t.day(),
                t.hour(),
                t.minute()
            )
        }
        Err(_) => rfc3339.to_string(),
    }
}

/// What outcome templates see. Built from the event's fields: there is no password in
/// an event, so there is none here.
#[derive(Serialize)]
struct OutcomeContext<'a> {
    person: String,
    operation: &'a str,
    /// The operation in the past tense ("reset", "changed", "unlocked").
    done: &'static str,
    code: &'a str,
    message: &'a str,
    rules: &'a [writeback_core::RuleViolation],
    admin_detail: Option<&'a str>,
    time: String,
    source: &'a str,
    initiator: &'static str,
    request_id: &'a str,
    event_id: &'a str,
    identity: &'a writeback_core::CloudIdentity,
    targets: &'a [writeback_core::event::TargetResult],
    vars: &'a std::collections::BTreeMap<String, String>,
}

impl<'a> OutcomeContext<'a> {
    fn new(e: &'a Event, vars: &'a std::collections::BTreeMap<String, String>) -> Self {
        use writeback_core::{InitiatorKind, OperationKind};
        OutcomeContext {
            person: e
                .identity
                .display_name
                .clone()
                .unwrap_or_else(|| e.identity.label()),
            operation: e.operation.as_str(),
            done: match e.operation {
                OperationKind::Reset => "reset",
                OperationKind::Change => "changed",
                OperationKind::Unlock => "unlocked",
            },
            code: e.outcome.code.as_str(),
            message: &e.outcome.message,
            rules: &e.outcome.rules,
            admin_detail: e.outcome.admin_detail.as_deref(),
            time: readable_time(&e.time),
            source: &e.source,
            initiator: match e.initiator.kind {
                InitiatorKind::User => "user",
                InitiatorKind::Admin => "admin",
                InitiatorKind::System => "system",
            },
            request_id: &e.request_id,
            event_id: &e.event_id,
            identity: &e.identity,
            targets: &e.targets,
            vars,
        }
    }
}

#[derive(Serialize)]
struct ReminderContext<'a> {
    person: String,
    account: &'a str,
    dn: &'a str,
    target: &'a str,
    expires_at: String,
    days_left: u64,
    threshold_days: u64,
    vars: &'a std::collections::BTreeMap<String, String>,
}

impl<'a> ReminderContext<'a> {
    fn new(r: &'a ExpiryReminder, vars: &'a std::collections::BTreeMap<String, String>) -> Self {
        let account = r.username.as_deref().unwrap_or(&r.dn);
        ReminderContext {
            person: r
                .display_name
                .clone()
                .unwrap_or_else(|| account.to_string()),
            account,
            dn: &r.dn,
            target: &r.target,
            expires_at: readable_time(&r.expires_at),
            days_left: r.days_left,
            threshold_days: r.threshold_days,
            vars,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use writeback_core::{CloudIdentity, Initiator, OperationKind, Outcome, RuleViolation};

    fn event(outcome: Outcome) -> Event {
        Event {
            event_id: "ev-1".into(),
            time: "2026-11-25T10:42:05Z".into(),
            request_id: "req-1".into(),
            source: "portal".into(),
            operation: OperationKind::Reset,
            identity: CloudIdentity {
                upn: Some("alice@example.org".into()),
                display_name: Some("Alice <Admin>".into()),
                ..Default::default()
            },
            initiator: Initiator::default(),
            targets: vec![],
            outcome,
            after_deadline: false,
        }
    }

    #[test]
    fn default_outcome_templates_say_what_happened() {
        let vars = [("helpdesk".to_string(), "+1 555 0100".to_string())].into();
        let t = Templates::load(None, vars).unwrap_or_else(|e| panic!("{e}"));
        let ok = t
            .render_event(&event(Outcome::succeeded()))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(ok.subject, "Your password was reset");
        assert!(
            ok.text.contains("at 2026-11-25 10:42 UTC from portal"),
            "{}",
            ok.text
        );
        assert!(ok.text.contains("+1 555 0100"));
        assert!(ok.html.contains("Alice &lt;Admin&gt;"), "{}", ok.html);
        assert!(ok.text.contains("Hello Alice <Admin>,"));
        let bad = t
            .render_event(&event(Outcome::rejected(vec![RuleViolation::new(
                "length.min",
                "Use at least 12 characters.",
            )])))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(bad.subject, "Your password reset did not go through");
        assert!(
            bad.text.contains("- Use at least 12 characters."),
            "{}",
            bad.text
        );
    }

    #[test]
    fn files_replace_defaults_and_errors_name_the_template() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(dir.path().join("outcome.subject"), "[IT] {{ code }}")
            .unwrap_or_else(|e| panic!("{e}"));
        let t =
            Templates::load(Some(dir.path()), Default::default()).unwrap_or_else(|e| panic!("{e}"));
        let r = t
            .render_event(&event(Outcome::succeeded()))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(r.subject, "[IT] succeeded");
        std::fs::write(dir.path().join("outcome.txt"), "{% if %}")
            .unwrap_or_else(|e| panic!("{e}"));
        let err = Templates::load(Some(dir.path()), Default::default())
            .err()
            .unwrap_or_default();
        assert!(err.contains("outcome.txt"), "{err}");
    }
}
