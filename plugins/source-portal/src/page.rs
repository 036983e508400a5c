//! The HTML: every page server-rendered (so it works with JavaScript off), every value
//! escaped, no inline script or style (the CSP forbids both), labels on every field,
//! errors tied to their field with `aria-describedby`, verdicts in a live region.

use std::fmt::Write;

use writeback_core::{Outcome, OutcomeCode, Preflight};

use crate::config::{Branding, Mode};
use crate::i18n::{outcome_de, rule_label, texts, Lang};

/// HTML-escapes text for element content and quoted attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// What every page needs to know.
pub struct Frame<'a> {
    pub lang: Lang,
    pub branding: &'a Branding,
    pub provider_name: &'a str,
}

impl Frame<'_> {
    fn wrap(&self, body: &str) -> String {
        let t = texts(self.lang);
        let b = self.branding;
        let heading = match &b.organisation {
            Some(org) => format!("{} – {}", esc(org), esc(t.title)),
            None => esc(t.title),
        };
        let logo = b
            .logo_url
            .as_deref()
            .map(|u| format!("<img class=\"logo\" src=\"{}\" alt=\"\">", esc(u)))
            .unwrap_or_default();
        let help = match &b.help_url {
            Some(url) => format!(
                "<footer><p>{} <a href=\"{}\">{}</a></p></footer>",
                esc(t.need_help),
                esc(url),
                esc(b.help_text.as_deref().unwrap_or(url))
            ),
            None => String::new(),
        };
        format!(
            "<!doctype html>\n<html lang=\"{lang}\"><head><meta charset=\"utf-8\">\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
             <title>{title}</title><link rel=\"stylesheet\" href=\"/assets/portal.css\">\
             <script src=\"/assets/portal.js\" defer></script></head>\
             <body><main>\n<header>{logo}<h1>{heading}</h1></header>\n{body}\n{help}</main></body></html>\n",
            lang = self.lang.code(),
            title = esc(t.title),
        )
    }

    /// The page before sign-in (with a notice, e.g. why the last sign-in failed).
    /// `fresh`: the provider is asked for a new sign-in (`prompt=login`).
    pub fn sign_in(&self, notice: Option<&str>, fresh: bool) -> String {
        let t = texts(self.lang);
        let notice = notice
            .map(|n| {
                format!(
                    "<p class=\"notice\" id=\"notice\" role=\"alert\">{}</p>",
                    esc(n)
                )
            })
            .unwrap_or_default();
        self.wrap(&format!(
            "{notice}<p>{intro}</p>\
             <p><a class=\"button\" id=\"sign-in\" href=\"/login{fresh}\">{with} {provider}</a></p>",
            fresh = if fresh { "?fresh=1" } else { "" },
            intro = esc(t.intro),
            with = esc(t.sign_in_with),
            provider = esc(self.provider_name),
        ))
    }

    /// A plain message page (too many attempts, a refused form) with a way back.
    pub fn message(&self, text: &str) -> String {
        let t = texts(self.lang);
        self.wrap(&format!(
            "<p class=\"notice\" id=\"notice\" role=\"alert\">{}</p><p><a href=\"/\">{}</a></p>",
            esc(text),
            esc(t.back)
        ))
    }
}

/// What the password form shows besides its fields.
#[derive(Default)]
pub struct FormState<'a> {
    pub verdicts: Option<&'a Verdicts>,
    pub notice: Option<String>,
}

/// The verdicts of a pre-flight, ready to show.
pub struct Verdicts {
    pub preflight: Preflight,
    /// Whether the two new-password entries match (`None`: the second is empty).
    pub confirm_matches: Option<bool>,
}

impl Verdicts {
    pub fn acceptable(&self) -> bool {
        self.preflight.failed.is_empty() && self.confirm_matches == Some(true)
    }

    /// The verdict list as JSON for the page's script: the same words as the HTML.
    pub fn to_json(&self, lang: Lang) -> serde_json::Value {
        let t = texts(lang);
        let mut rules: Vec<serde_json::Value> = Vec::new();
        for v in &self.preflight.failed {
            rules.push(serde_json::json!({
                "rule": v.rule, "passed": false,
                "label": rule_label(lang, &v.rule),
                "message": crate::details::rule_detail(lang, &v.rule, &v.message),
                "state": t.rule_broken,
            }));
        }
        for id in &self.preflight.passed {
            rules.push(serde_json::json!({
                "rule": id, "passed": true, "label": rule_label(lang, id), "message": "",
                "state": t.rule_met,
            }));
        }
        if let Some(m) = self.confirm_matches {
            rules.push(serde_json::json!({
                "rule": "confirm.matches", "passed": m, "label": t.confirm_matches,
                "message": if m { "" } else { t.confirm_differs },
                "state": if m { t.rule_met } else { t.rule_broken },
            }));
        }
        serde_json::json!({
            "acceptable": self.acceptable(),
            "summary": if self.preflight.failed.is_empty() { t.all_rules_met } else { "" },
            "rules": rules,
        })
    }

    fn html(&self, lang: Lang) -> String {
        let json = self.to_json(lang);
        let mut out = String::new();
        if let Some(rules) = json["rules"].as_array() {
            for r in rules {
                let passed = r["passed"].as_bool().unwrap_or(false);
                let _ = write!(
                    out,
                    "<li class=\"{cls}\" data-rule=\"{rule}\"><span class=\"mark\" aria-hidden=\"true\">{mark}</span> \
                     <span class=\"label\">{label}</span> <span class=\"state\">({state})</span>",
                    cls = if passed { "pass" } else { "fail" },
                    rule = esc(r["rule"].as_str().unwrap_or("")),
                    mark = if passed { "✓" } else { "✗" },
                    label = esc(r["label"].as_str().unwrap_or("")),
                    state = esc(r["state"].as_str().unwrap_or("")),
                );
                let message = r["message"].as_str().unwrap_or("");
                if !message.is_empty() {
                    let _ = write!(out, "<br><span class=\"message\">{}</span>", esc(message));
                }
                out.push_str("</li>");
            }
        }
        out
    }
}

/// The password form for a signed-in person.
#[allow(clippy::too_many_arguments)]
pub fn password_form(
    frame: &Frame<'_>,
    who: &str,
    csrf: &str,
    mode: Mode,
    allow_unlock: bool,
    state: &FormState<'_>,
) -> String {
    let t = texts(frame.lang);
    let lang = frame.lang;
    let notice = state
        .notice
        .as_deref()
        .map(|n| {
            format!(
                "<p class=\"notice\" id=\"notice\" role=\"alert\">{}</p>",
                esc(n)
            )
        })
        .unwrap_or_default();
    let current = match mode {
        Mode::Change => format!(
            "<label for=\"current-password\">{}</label>\
             <input id=\"current-password\" name=\"current\" type=\"password\" \
             autocomplete=\"current-password\" required>",
            esc(t.current_password)
        ),
        Mode::Reset => String::new(),
    };
    let (verdicts, summary) = match state.verdicts {
        Some(v) => {
            let s = if v.preflight.failed.is_empty() && v.confirm_matches != Some(false) {
                esc(t.all_rules_met)
            } else {
                String::new()
            };
            (v.html(lang), s)
        }
        None => (String::new(), String::new()),
    };
    let unlock = if allow_unlock {
        format!(
            "<section class=\"unlock\"><h2>{}</h2><p id=\"unlock-hint\">{}</p>\
             <form method=\"post\" action=\"/unlock\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
             <button type=\"submit\" id=\"unlock\" aria-describedby=\"unlock-hint\">{}</button></form></section>",
            esc(t.locked_out),
            esc(t.unlock_hint),
            esc(t.unlock),
            csrf = esc(csrf),
        )
    } else {
        String::new()
    };
    let body = format!(
        "<p class=\"who\">{signed_in_as} <strong id=\"who\">{who}</strong></p>\
         <form method=\"post\" action=\"/logout\" class=\"logout\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
         <button type=\"submit\" id=\"sign-out\" class=\"link\">{sign_out}</button></form>\
         {notice}\
         <form method=\"post\" action=\"/submit\" id=\"password-form\" data-lang=\"{lang_code}\" novalidate>\
         <input type=\"hidden\" name=\"csrf\" id=\"csrf\" value=\"{csrf}\">\
         {current}\
         <label for=\"new-password\">{new_password}</label>\
         <input id=\"new-password\" name=\"password\" type=\"password\" autocomplete=\"new-password\" \
         required aria-describedby=\"rules-hint verdicts\">\
         <label for=\"confirm-password\">{confirm_password}</label>\
         <input id=\"confirm-password\" name=\"confirm\" type=\"password\" autocomplete=\"new-password\" \
         required aria-describedby=\"verdicts\">\
         <p id=\"rules-hint\" class=\"hint\">{hint}</p>\
         <section aria-labelledby=\"rules-heading\"><h2 id=\"rules-heading\">{rules_heading}</h2>\
         <p id=\"summary\" aria-live=\"polite\">{summary}</p>\
         <ul id=\"verdicts\" aria-live=\"polite\">{verdicts}</ul></section>\
         <div class=\"actions\"><button type=\"submit\" formaction=\"/check\" id=\"check\" class=\"secondary\">{check}</button>\
         <button type=\"submit\" id=\"submit\">{set_password}</button></div></form>\
         {unlock}",
        signed_in_as = esc(t.signed_in_as),
        who = esc(who),
        csrf = esc(csrf),
        sign_out = esc(t.sign_out),
        lang_code = lang.code(),
        new_password = esc(t.new_password),
        confirm_password = esc(t.confirm_password),
        hint = esc(t.show_rules_hint),
        rules_heading = esc(t.rules_heading),
        check = esc(t.check),
        set_password = esc(t.set_password),
    );
    frame.wrap(&body)
}

/// The outcome of a write, per directory, in words a person understands.
pub fn result(
    frame: &Frame<'_>,
    outcome: &Outcome,
    updated: &[String],
    missing: &[String],
) -> String {
    let t = texts(frame.lang);
    let ok = outcome.is_success();
    let message = match frame.lang {
        Lang::En => outcome.message.clone(),
        Lang::De => outcome_de(outcome.code).to_string(),
    };
    let mut body = format!(
        "<section id=\"result\" class=\"{cls}\" role=\"status\" data-code=\"{code}\"><h2>{heading}</h2><p id=\"result-message\">{message}</p>",
        cls = if ok { "ok" } else { "failed" },
        code = outcome.code.as_str(),
        heading = esc(if ok { t.result_heading_ok } else { t.result_heading_failed }),
        message = esc(&message),
    );
    if !outcome.rules.is_empty() {
        body.push_str("<ul id=\"result-rules\">");
        for r in &outcome.rules {
            let _ = write!(
                body,
                "<li data-rule=\"{}\"><strong>{}</strong>: {}</li>",
                esc(&r.rule),
                esc(&rule_label(frame.lang, &r.rule)),
                esc(&r.message)
            );
        }
        body.push_str("</ul>");
    }
    if ok && !updated.is_empty() {
        let _ = write!(
            body,
            "<p id=\"directories\">{}: {}</p>",
            esc(t.updated_in),
            updated
                .iter()
                .map(|d| esc(d))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    if !missing.is_empty() && outcome.code == OutcomeCode::NotFound {
        let _ = write!(
            body,
            "<p id=\"missing\">{}: {}</p>",
            esc(t.not_found_in),
            missing
                .iter()
                .map(|d| esc(d))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let _ = write!(
        body,
        "</section><p><a href=\"/\" id=\"back\">{}</a></p>",
        esc(t.back)
    );
    frame.wrap(&body)
}

/// The stylesheet: the built-in one with the operator's accent colour.
pub fn stylesheet(branding: &Branding) -> String {
    let mut css = include_str!("../assets/portal.css").to_string();
    if let Some(c) = &branding.accent_colour {
        // Checked as #rrggbb when the config was loaded.
        let _ = write!(css, "\n:root {{ --accent: {c}; }}\n");
    }
    css
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn everything_shown_is_escaped() {
        assert_eq!(
            esc("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
        let branding = Branding {
            organisation: Some("<script>alert(1)</script>".into()),
            ..Default::default()
        };
        let frame = Frame {
            lang: Lang::En,
            branding: &branding,
            provider_name: "\"><img src=x>",
        };
        let html = frame.sign_in(Some("<b>"), false);
        assert!(
            !html.contains("<script>alert")
                && !html.contains("<img src=x>")
                && !html.contains("<b>")
        );
        // No inline script or style anywhere: the CSP forbids them.
        assert!(!html.contains("<script>") && !html.contains("style="));
    }
}
