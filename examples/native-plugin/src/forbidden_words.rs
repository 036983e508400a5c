//! A policy: the password must not contain any of the configured words.
//!
//! ```toml
//! [[policies]]
//! type = "example-forbidden-words"
//! words = ["acme", "winter"]
//! ```

use serde::Deserialize;
use writeback_plugin_native_abi::{
    ConfigProblem, Connector, ConnectorConfig, Outcome, PasswordView, Policy, PolicyInput,
    RuleViolation,
};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Settings {
    words: Vec<String>,
}

pub struct ForbiddenWords {
    /// Lower-cased once here, so each check is a plain substring search.
    words: Vec<String>,
}

impl Connector for ForbiddenWords {
    const TYPE_NAME: &'static str = "example-forbidden-words";
    const DESCRIPTION: &'static str = "Refuses passwords that contain a configured word (any case)";

    fn from_config(config: &ConnectorConfig<'_>) -> Result<Self, ConfigProblem> {
        let settings: Settings = config.parse()?;
        if settings.words.is_empty() {
            return Err(ConfigProblem::new("words", "give at least one word"));
        }
        if let Some(i) = settings.words.iter().position(|w| w.trim().is_empty()) {
            return Err(ConfigProblem::new(
                &format!("words[{i}]"),
                "a word cannot be empty",
            ));
        }
        Ok(ForbiddenWords {
            words: settings.words.iter().map(|w| w.to_lowercase()).collect(),
        })
    }
}

impl Policy for ForbiddenWords {
    fn evaluate(
        &self,
        password: PasswordView<'_>,
        _input: &PolicyInput<'_>,
    ) -> Result<Vec<RuleViolation>, Outcome> {
        let lowered = password.expose().to_lowercase();
        // Say which word, never the password.
        Ok(self
            .words
            .iter()
            .filter(|w| lowered.contains(w.as_str()))
            .map(|w| {
                RuleViolation::new(
                    "example.forbidden_word",
                    &format!("The password must not contain \"{w}\"."),
                )
            })
            .collect())
    }
}
