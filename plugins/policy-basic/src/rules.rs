//! The rules themselves: pure functions of the password, the config and the names.

use writeback_core::{PolicyContext, RuleViolation};
use writeback_policy_support::{account_names, full_names, tokens, AD_DELIMITERS};

use crate::config::{BasicConfig, CharClass};

fn class_of(c: char) -> Option<CharClass> {
    if c.is_uppercase() {
        Some(CharClass::Upper)
    } else if c.is_lowercase() {
        Some(CharClass::Lower)
    } else if c.is_numeric() {
        Some(CharClass::Digit)
    } else if c.is_alphabetic() {
        None // letters without case (e.g. CJK): no class here; see `ad-complexity`
    } else {
        Some(CharClass::Symbol)
    }
}

fn class_rule(class: CharClass) -> (&'static str, &'static str) {
    match class {
        CharClass::Upper => ("classes.upper", "Add at least one upper-case letter."),
        CharClass::Lower => ("classes.lower", "Add at least one lower-case letter."),
        CharClass::Digit => ("classes.digit", "Add at least one digit."),
        CharClass::Symbol => (
            "classes.symbol",
            "Add at least one symbol, such as ! # % or a space.",
        ),
    }
}

/// The ids of the rules `config` turns on, in the order [`evaluate`] reports them.
pub fn rule_ids(config: &BasicConfig) -> Vec<String> {
    let mut ids = vec!["length.min", "length.max"];
    ids.extend(config.require.iter().map(|c| class_rule(*c).0));
    if config.min_categories > 0 {
        ids.push("classes.min_categories");
    }
    if config.forbid_account_name {
        ids.push("name.contains_account_name");
    }
    if config.forbid_display_name {
        ids.push("name.contains_display_name");
    }
    ids.into_iter().map(String::from).collect()
}

/// Every rule `password` breaks, in a stable order.
pub fn evaluate(
    config: &BasicConfig,
    password: &str,
    ctx: &PolicyContext<'_>,
) -> Vec<RuleViolation> {
    let mut out = Vec::new();
    let length = password.chars().count();
    if length < config.min_length {
        out.push(RuleViolation::new(
            "length.min",
            format!("Use at least {} characters.", config.min_length),
        ));
    }
    if length > config.max_length {
        out.push(RuleViolation::new(
            "length.max",
            format!("Use at most {} characters.", config.max_length),
        ));
    }
    let present: Vec<CharClass> = {
        let mut p: Vec<CharClass> = password.chars().filter_map(class_of).collect();
        p.sort_by_key(|c| *c as u8);
        p.dedup();
        p
    };
    for class in &config.require {
        if !present.contains(class) {
            let (rule, message) = class_rule(*class);
            out.push(RuleViolation::new(rule, message));
        }
    }
    if present.len() < config.min_categories {
        out.push(RuleViolation::new(
            "classes.min_categories",
            format!(
                "Use characters of at least {} of these kinds: upper-case letters, lower-case letters, \
                 digits, symbols (this password has {}).",
                config.min_categories,
                present.len()
            ),
        ));
    }
    let lower = password.to_lowercase();
    if config.forbid_account_name
        && account_names(ctx)
            .iter()
            .any(|n| n.chars().count() >= config.name_min_token && lower.contains(n.as_str()))
    {
        out.push(RuleViolation::new(
            "name.contains_account_name",
            "Do not include your account name in your password.",
        ));
    }
    if config.forbid_display_name
        && tokens(&full_names(ctx), &AD_DELIMITERS, config.name_min_token)
            .iter()
            .any(|t| lower.contains(t.as_str()))
    {
        out.push(RuleViolation::new(
            "name.contains_display_name",
            "Do not include your name, or a part of it, in your password.",
        ));
    }
    out
}
