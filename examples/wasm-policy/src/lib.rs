//! A company-specific password rule as a WASM policy plugin.
//!
//! ```toml
//! [[plugins]]
//! path = "wasm_policy_example.wasm"
//!
//! [[policies]]
//! type = "company-words"
//! words = ["acme", "rocket"]   # company, product and team names
//! min_distinct = 5             # distinct characters
//! ```

use serde::Deserialize;
use writeback_plugin_wasm_guest::policy::{
    log, About, Outcome, PolicyPlugin, Request, RuleViolation,
};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    /// Words no password may contain, whatever the case.
    #[serde(default)]
    words: Vec<String>,
    /// At least this many distinct characters.
    #[serde(default = "default_min_distinct")]
    min_distinct: usize,
}

fn default_min_distinct() -> usize {
    5
}

struct CompanyWords;

impl PolicyPlugin for CompanyWords {
    type Config = Config;
    const ABOUT: About = About {
        name: "company-words",
        version: "1.0.0",
        description:
            "refuses company words, parts of the person's name, and too few distinct characters",
    };

    fn evaluate(config: &Config, request: &Request<'_>) -> Result<Vec<RuleViolation>, Outcome> {
        let lower = request.password.to_lowercase();
        let mut broken = Vec::new();

        if config
            .words
            .iter()
            .any(|w| !w.is_empty() && lower.contains(&w.to_lowercase()))
        {
            broken.push(RuleViolation::new(
                "company.words",
                "Do not use the company's, a product's or a team's name in your password.",
            ));
        }

        let name_parts = ["username", "given_name", "surname"]
            .iter()
            .filter_map(|k| request.identity.get(k))
            .map(str::to_lowercase)
            .filter(|p| p.chars().count() >= 3);
        if name_parts.into_iter().any(|p| lower.contains(&p)) {
            broken.push(RuleViolation::new(
                "company.personal-name",
                "Do not use your name or user name in your password.",
            ));
        }

        let mut distinct: Vec<char> = request.password.chars().collect();
        distinct.sort_unstable();
        distinct.dedup();
        if distinct.len() < config.min_distinct {
            broken.push(RuleViolation::new(
                "company.distinct-characters",
                format!("Use at least {} different characters.", config.min_distinct),
            ));
        }

        if !broken.is_empty() {
            let rules: Vec<&str> = broken.iter().map(|r| r.rule.as_str()).collect();
            log::event(
                log::Level::Debug,
                "password refused",
                &[("rules", &rules.join(","))],
            );
        }
        Ok(broken)
    }
}

writeback_plugin_wasm_guest::policy_plugin!(CompanyWords);
