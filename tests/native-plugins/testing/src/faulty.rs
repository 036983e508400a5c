//! A policy that misbehaves when the password asks it to.

use std::time::Duration;

use serde::Deserialize;
use writeback_plugin_native_abi::{
    ConfigProblem, Connector, ConnectorConfig, Outcome, PasswordView, Policy, PolicyInput,
    RuleViolation,
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
    const DESCRIPTION: &'static str = "Test only: panics on PANIC-NOW, stalls on SLOW-NOW";

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
        if password.expose().contains("PANIC-NOW") {
            panic!("the test asked for a panic");
        }
        if password.expose().contains("SLOW-NOW") {
            std::thread::sleep(self.sleep);
        }
        Ok(Vec::new())
    }
}
