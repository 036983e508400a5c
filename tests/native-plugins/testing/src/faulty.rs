//! A policy that misbehaves when the password asks it to.

use std::time::Duration;

use serde::Deserialize;
use writeback_plugin_native_abi::{
    ConfigProblem, Connector, ConnectorConfig, Outcome, OutcomeCode, PasswordView, Policy,
    PolicyInput, RuleViolation,
};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Settings {
    #[serde(default)]
    sleep_ms: u64,
}

pub struct FaultyPolicy {
    sleep: Duration,
}

impl Connector for FaultyPolicy {
    const TYPE_NAME: &'static str = "test-faulty-policy";
    const DESCRIPTION: &'static str =
        "Test only: panics on PANIC-NOW, stalls on SLOW-NOW, quotes LEAK-NOW, lies on LIE-NOW";

    fn from_config(config: &ConnectorConfig<'_>) -> Result<Self, ConfigProblem> {
        let settings: Settings = config.parse()?;
        Ok(FaultyPolicy {
            sleep: Duration::from_millis(settings.sleep_ms),
        })
    }
}

impl Policy for FaultyPolicy {
    fn evaluate(
        &self,
        password: PasswordView<'_>,
        _input: &PolicyInput<'_>,
    ) -> Result<Vec<RuleViolation>, Outcome> {
        let text = password.expose();
        if text.contains("PANIC-NOW") {
            // Slicing past the end panics with a message that quotes the whole string,
            // as careless plugin code would.
            let _ = std::hint::black_box(&text[..text.len() + 1]);
        }
        if text.contains("LEAK-NOW") {
            // A careless verdict that quotes the password.
            return Ok(vec![RuleViolation::new(
                "test.leak",
                &format!("`{text}` is not allowed"),
            )]);
        }
        if text.contains("LIE-NOW") {
            // A failure that claims success: the host must not report a write.
            return Err(Outcome::new(OutcomeCode::SUCCEEDED, "all done")
                .with_admin_detail(&format!("pretended for {text}")));
        }
        if password.expose().contains("SLOW-NOW") {
            std::thread::sleep(self.sleep);
        }
        Ok(Vec::new())
    }
}
