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

            impl OutcomeCode {
                /// The stable name of the code (`rejected_policy`, …), as in the core model.
                pub fn as_str(self) -> &'static str {
                    match self {
                        OutcomeCode::Succeeded => "succeeded",
                        OutcomeCode::RejectedPolicy => "rejected_policy",
                        OutcomeCode::RejectedHistory => "rejected_history",
                        OutcomeCode::RejectedMinAge => "rejected_min_age",
                        OutcomeCode::WrongOldPassword => "wrong_old_password",
                        OutcomeCode::NotFound => "not_found",
                        OutcomeCode::AmbiguousIdentity => "ambiguous_identity",
                        OutcomeCode::AdminActionRequired => "admin_action_required",
                        OutcomeCode::DirectoryUnavailable => "directory_unavailable",
                        OutcomeCode::Timeout => "timeout",
                        OutcomeCode::PluginFault => "plugin_fault",
                        OutcomeCode::InvalidRequest => "invalid_request",
                        OutcomeCode::Unauthorized => "unauthorized",
                    }
                }
            }

            impl CloudIdentity {
                /// The value of a named or extra attribute, when present and not empty.
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
