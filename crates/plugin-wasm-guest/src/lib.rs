//! Write a writeback WASM plugin in Rust.
//!
//! Enable one feature — `policy`, `notifier`, `target` or `source` — implement that
//! world's trait for a type (`policy::PolicyPlugin`, `notifier::NotifierPlugin`,
//! `target::TargetPlugin`, `source::SourcePlugin`), and export it with the world's
//! macro (`policy_plugin!`, `notifier_plugin!`, `target_plugin!`, `source_plugin!`). Build with
//! `cargo build --release --target wasm32-wasip2`: the `.wasm` file is the plugin.
//!
//! ```ignore
//! use writeback_plugin_wasm_guest::policy::{About, PolicyPlugin, Request, RuleViolation, Outcome};
//!
//! #[derive(serde::Deserialize)]
//! struct Config { banned: Vec<String> }
//!
//! struct NoBanned;
//!
//! impl PolicyPlugin for NoBanned {
//!     type Config = Config;
//!     const ABOUT: About = About { name: "no-banned", version: "1.0.0", description: "refuses banned words" };
//!     fn evaluate(config: &Config, request: &Request<'_>) -> Result<Vec<RuleViolation>, Outcome> {
//!         Ok(Vec::new())
//!     }
//! }
//!
//! writeback_plugin_wasm_guest::policy_plugin!(NoBanned);
//! ```
//!
//! The sandbox: no files, no environment, no sockets. Logging always; HTTP for
//! notifiers and sources to the URLs the administrator allowed; for targets a
//! directory handle on one server and subtree; a clock and randomness through the
//! standard library. See docs/wasm-plugins.md.

// The generated code names this crate by its path, from inside it too.
extern crate self as writeback_plugin_wasm_guest;

// One world per component: at most one of the world features.
#[cfg(any(
    all(
        feature = "policy",
        any(feature = "notifier", feature = "target", feature = "source")
    ),
    all(feature = "notifier", any(feature = "target", feature = "source")),
    all(feature = "target", feature = "source"),
))]
compile_error!(
    "enable one world per component: exactly one of the features `policy`, `notifier`, `target` or `source`"
);

/// The writeback model (`writeback-core` without its config and runtime parts):
/// `OutcomeCode`, `Outcome`, `CloudIdentity` and their rules. Each world's WIT types
/// convert to and from these with `From`/`Into`.
pub use writeback_core as model;

#[doc(hidden)]
pub use serde_json as __serde_json;
#[doc(hidden)]
pub use wit_bindgen as __wit_bindgen;
#[doc(hidden)]
pub use zeroize as __zeroize;

pub mod config;

#[cfg(feature = "policy")]
pub mod policy;

#[cfg(feature = "notifier")]
pub mod notifier;

#[cfg(feature = "target")]
pub mod target;

#[cfg(feature = "source")]
pub mod source;

/// What a plugin says about itself. `name` becomes the `type` in the config file:
/// 1 to 64 lowercase letters, digits, `-` or `_`.
#[derive(Clone, Copy, Debug)]
pub struct About {
    pub name: &'static str,
    /// Your plugin's version (semver), shown by `writeback plugins list`.
    pub version: &'static str,
    /// One line for `writeback plugins list`.
    pub description: &'static str,
}

/// Generates the logging helpers over one world's `log` import.
#[cfg(any(
    feature = "policy",
    feature = "notifier",
    feature = "target",
    feature = "source"
))]
macro_rules! log_helpers {
    ($log:path) => {
        /// Structured logging into the host's log (the host adds the plugin's name).
        /// Never log a password: the host redacts the current one, but do not rely on it.
        pub mod log {
            pub use wit::Level;
            use $log as wit;

            /// One line with `key=value` fields.
            pub fn event(level: Level, message: &str, fields: &[(&str, &str)]) {
                let fields: Vec<wit::Field> = fields
                    .iter()
                    .map(|(k, v)| wit::Field {
                        key: (*k).to_string(),
                        value: (*v).to_string(),
                    })
                    .collect();
                wit::log(level, message, &fields);
            }

            pub fn debug(message: &str) {
                event(Level::Debug, message, &[]);
            }

            pub fn info(message: &str) {
                event(Level::Info, message, &[]);
            }

            pub fn warn(message: &str) {
                event(Level::Warn, message, &[]);
            }

            pub fn error(message: &str) {
                event(Level::Error, message, &[]);
            }
        }
    };
}
#[cfg(any(
    feature = "policy",
    feature = "notifier",
    feature = "target",
    feature = "source"
))]
pub(crate) use log_helpers;

/// Helpers on the model types of one world's bindings (each world generates its own
/// copy of the `types` interface).
#[cfg(any(
    feature = "policy",
    feature = "notifier",
    feature = "target",
    feature = "source"
))]
macro_rules! model_helpers {
    ($types:path) => {
        mod __model_helpers {
            use types::{CloudIdentity, Outcome, OutcomeCode, RuleViolation};
            use $types as types;

            impl Outcome {
                /// A failure with a message for the person and a detail for the administrator.
                pub fn failure(
                    code: OutcomeCode,
                    message: impl Into<String>,
                    admin_detail: Option<String>,
                ) -> Self {
                    Outcome {
                        code,
                        message: message.into(),
                        rules: Vec::new(),
                        admin_detail,
                    }
                }
            }

            impl RuleViolation {
                pub fn new(rule: impl Into<String>, message: impl Into<String>) -> Self {
                    RuleViolation {
                        rule: rule.into(),
                        message: message.into(),
                    }
                }
            }

            /// The WIT enum and core's are the same list in the same order; the
            /// conversions are the one place that says so (and the compiler checks
            /// both matches are exhaustive).
            impl From<OutcomeCode> for writeback_core::OutcomeCode {
                fn from(code: OutcomeCode) -> Self {
                    use writeback_core::OutcomeCode as Core;
                    match code {
                        OutcomeCode::Succeeded => Core::Succeeded,
                        OutcomeCode::RejectedPolicy => Core::RejectedPolicy,
                        OutcomeCode::RejectedHistory => Core::RejectedHistory,
                        OutcomeCode::RejectedMinAge => Core::RejectedMinAge,
                        OutcomeCode::WrongOldPassword => Core::WrongOldPassword,
                        OutcomeCode::NotFound => Core::NotFound,
                        OutcomeCode::AmbiguousIdentity => Core::AmbiguousIdentity,
                        OutcomeCode::AdminActionRequired => Core::AdminActionRequired,
                        OutcomeCode::DirectoryUnavailable => Core::DirectoryUnavailable,
                        OutcomeCode::Timeout => Core::Timeout,
                        OutcomeCode::PluginFault => Core::PluginFault,
                        OutcomeCode::InvalidRequest => Core::InvalidRequest,
                        OutcomeCode::Unauthorized => Core::Unauthorized,
                    }
                }
            }

            impl From<writeback_core::OutcomeCode> for OutcomeCode {
                fn from(code: writeback_core::OutcomeCode) -> Self {
                    use writeback_core::OutcomeCode as Core;
                    match code {
                        Core::Succeeded => OutcomeCode::Succeeded,
                        Core::RejectedPolicy => OutcomeCode::RejectedPolicy,
                        Core::RejectedHistory => OutcomeCode::RejectedHistory,
                        Core::RejectedMinAge => OutcomeCode::RejectedMinAge,
                        Core::WrongOldPassword => OutcomeCode::WrongOldPassword,
                        Core::NotFound => OutcomeCode::NotFound,
                        Core::AmbiguousIdentity => OutcomeCode::AmbiguousIdentity,
                        Core::AdminActionRequired => OutcomeCode::AdminActionRequired,
                        Core::DirectoryUnavailable => OutcomeCode::DirectoryUnavailable,
                        Core::Timeout => OutcomeCode::Timeout,
                        Core::PluginFault => OutcomeCode::PluginFault,
                        Core::InvalidRequest => OutcomeCode::InvalidRequest,
                        Core::Unauthorized => OutcomeCode::Unauthorized,
                    }
                }
            }

            impl OutcomeCode {
                /// The stable name of the code (`rejected_policy`, …): core's.
                pub fn as_str(self) -> &'static str {
                    writeback_core::OutcomeCode::from(self).as_str()
                }

                /// Whether the same request may succeed if tried again later: core's rule.
                pub fn is_retryable(self) -> bool {
                    writeback_core::OutcomeCode::from(self).is_retryable()
                }
            }

            impl From<RuleViolation> for writeback_core::RuleViolation {
                fn from(v: RuleViolation) -> Self {
                    writeback_core::RuleViolation::new(v.rule, v.message)
                }
            }

            impl From<writeback_core::RuleViolation> for RuleViolation {
                fn from(v: writeback_core::RuleViolation) -> Self {
                    RuleViolation {
                        rule: v.rule,
                        message: v.message,
                    }
                }
            }

            impl From<Outcome> for writeback_core::Outcome {
                fn from(o: Outcome) -> Self {
                    writeback_core::Outcome {
                        code: o.code.into(),
                        message: o.message,
                        rules: o.rules.into_iter().map(Into::into).collect(),
                        admin_detail: o.admin_detail,
                    }
                }
            }

            impl From<writeback_core::Outcome> for Outcome {
                fn from(o: writeback_core::Outcome) -> Self {
                    Outcome {
                        code: o.code.into(),
                        message: o.message,
                        rules: o.rules.into_iter().map(Into::into).collect(),
                        admin_detail: o.admin_detail,
                    }
                }
            }

            /// Core's identity, for its accessors (`label`, `ordering_key`, `validate`).
            impl From<CloudIdentity> for writeback_core::CloudIdentity {
                fn from(i: CloudIdentity) -> Self {
                    writeback_core::CloudIdentity {
                        upn: i.upn,
                        object_id: i.object_id,
                        immutable_id: i.immutable_id,
                        mail: i.mail,
                        username: i.username,
                        display_name: i.display_name,
                        given_name: i.given_name,
                        surname: i.surname,
                        extra: i.extra.into_iter().map(|a| (a.name, a.value)).collect(),
                    }
                }
            }

            impl From<writeback_core::CloudIdentity> for CloudIdentity {
                fn from(i: writeback_core::CloudIdentity) -> Self {
                    CloudIdentity {
                        upn: i.upn,
                        object_id: i.object_id,
                        immutable_id: i.immutable_id,
                        mail: i.mail,
                        username: i.username,
                        display_name: i.display_name,
                        given_name: i.given_name,
                        surname: i.surname,
                        extra: i
                            .extra
                            .into_iter()
                            .map(|(name, value)| types::Attribute { name, value })
                            .collect(),
                    }
                }
            }

            impl CloudIdentity {
                /// The value of a named or extra attribute, when present and not empty:
                /// core's `CloudIdentity::get` without copying the identity (the WIT
                /// record keeps `extra` as a list, core as a map).
                pub fn get(&self, name: &str) -> Option<&str> {
                    let v = match name {
                        "upn" => self.upn.as_deref(),
                        "object_id" => self.object_id.as_deref(),
                        "immutable_id" => self.immutable_id.as_deref(),
                        "mail" => self.mail.as_deref(),
                        "username" => self.username.as_deref(),
                        "display_name" => self.display_name.as_deref(),
                        "given_name" => self.given_name.as_deref(),
                        "surname" => self.surname.as_deref(),
                        other => self
                            .extra
                            .iter()
                            .find(|a| a.name == other)
                            .map(|a| a.value.as_str()),
                    };
                    v.filter(|s| !s.is_empty())
                }
            }
        }
    };
}
#[cfg(any(
    feature = "policy",
    feature = "notifier",
    feature = "target",
    feature = "source"
))]
pub(crate) use model_helpers;

#[cfg(all(test, feature = "policy"))]
mod tests {
    use crate::model;
    use crate::policy::{Attribute, CloudIdentity, OutcomeCode};

    /// Each WIT code maps to core's code of the same name, and back.
    #[test]
    fn outcome_codes_map_to_cores_of_the_same_name() {
        for core in model::OutcomeCode::ALL {
            let wit = OutcomeCode::from(core);
            let wit_name = format!("{wit:?}");
            assert!(
                wit_name.ends_with(&format!("{core:?}")),
                "{core:?} became {wit_name}"
            );
            assert_eq!(wit.as_str(), core.as_str());
            assert_eq!(model::OutcomeCode::from(wit), core);
        }
    }

    #[test]
    fn identities_convert_with_their_extra_attributes() {
        let wit = CloudIdentity {
            upn: Some("alice@example.org".into()),
            object_id: None,
            immutable_id: None,
            mail: Some(String::new()),
            username: None,
            display_name: None,
            given_name: None,
            surname: None,
            extra: vec![Attribute {
                name: "employee_id".into(),
                value: "E-1".into(),
            }],
        };
        let core = model::CloudIdentity::from(wit.clone());
        for name in ["upn", "mail", "employee_id", "surname"] {
            assert_eq!(wit.get(name), core.get(name), "{name}");
        }
        assert_eq!(core.label(), "alice@example.org");
        let back = CloudIdentity::from(core);
        assert_eq!(back.extra.len(), 1);
        assert_eq!(back.get("employee_id"), Some("E-1"));
    }
}
