//! The `policy-plugin` world: judge a candidate password.

wit_bindgen::generate!({
    world: "policy-plugin",
    path: "../../wit",
    pub_export_macro: true,
    export_macro_name: "__export_policy_world",
    default_bindings_module: "writeback_plugin_wasm_guest::policy",
    runtime_path: "writeback_plugin_wasm_guest::__wit_bindgen::rt",
});

pub use self::writeback::plugin::types::{
    Account, Attribute, CloudIdentity, EntryAttribute, Metadata, Outcome, OutcomeCode, PluginKind,
    RuleViolation, TargetAccount,
};
pub use crate::About;

crate::log_helpers!(super::writeback::plugin::log);
crate::model_helpers!(super::writeback::plugin::types);

/// What `evaluate` gets: the candidate password and who it is for.
pub struct Request<'a> {
    /// The candidate password. Never log, store or send it.
    pub password: &'a str,
    pub identity: &'a CloudIdentity,
    /// Every target's resolved account (target name, entry).
    pub accounts: &'a [TargetAccount],
}

/// A policy plugin. Each call runs on a fresh instance unless the administrator
/// chose otherwise, so keep no state between calls.
pub trait PolicyPlugin {
    /// The connector's table, deserialized (`serde::Deserialize`).
    type Config: serde::de::DeserializeOwned + Send + Sync + 'static;
    const ABOUT: About;

    /// Every rule the password breaks (empty: it passes). `Err` is a failure of the
    /// policy itself (not a verdict); the request fails with that outcome.
    fn evaluate(
        config: &Self::Config,
        request: &Request<'_>,
    ) -> Result<Vec<RuleViolation>, Outcome>;
}

#[doc(hidden)]
pub fn __metadata(about: About) -> Metadata {
    Metadata {
        name: about.name.to_string(),
        kind: PluginKind::Policy,
        version: about.version.to_string(),
        description: about.description.to_string(),
    }
}

/// Exports a [`PolicyPlugin`] as the component's `policy-plugin` world.
#[macro_export]
macro_rules! policy_plugin {
    ($plugin:ty) => {
        struct __WritebackPolicyExport;

        static __WRITEBACK_POLICY_CONFIG: ::std::sync::OnceLock<<$plugin as $crate::policy::PolicyPlugin>::Config> =
            ::std::sync::OnceLock::new();

        impl $crate::policy::exports::writeback::plugin::meta::Guest for __WritebackPolicyExport {
            fn describe() -> $crate::policy::Metadata {
                $crate::policy::__metadata(<$plugin as $crate::policy::PolicyPlugin>::ABOUT)
            }

            fn configure(config_json: String) -> Result<(), String> {
                let config = $crate::config::parse(&config_json)?;
                let _ = __WRITEBACK_POLICY_CONFIG.set(config);
                Ok(())
            }
        }

        impl $crate::policy::exports::writeback::plugin::policy::Guest for __WritebackPolicyExport {
            fn evaluate(
                password: String,
                identity: $crate::policy::CloudIdentity,
                accounts: Vec<$crate::policy::TargetAccount>,
            ) -> Result<Vec<$crate::policy::RuleViolation>, $crate::policy::Outcome> {
                // Wiped when the call ends, even on a reused instance.
                let password = $crate::__zeroize::Zeroizing::new(password);
                let Some(config) = __WRITEBACK_POLICY_CONFIG.get() else {
                    return Err($crate::policy::Outcome::failure(
                        $crate::policy::OutcomeCode::PluginFault,
                        "The password policy is not available.",
                        Some("evaluate was called before configure".to_string()),
                    ));
                };
                let request = $crate::policy::Request {
                    password: password.as_str(),
                    identity: &identity,
                    accounts: &accounts,
                };
                <$plugin as $crate::policy::PolicyPlugin>::evaluate(config, &request)
            }
        }

        $crate::policy::__export_policy_world!(__WritebackPolicyExport with_types_in $crate::policy);
    };
}
