//! Write a writeback WASM plugin in Rust.
//!
//! Enable one feature, `policy` or `notifier`, implement [`policy::PolicyPlugin`] or
//! [`notifier::NotifierPlugin`] for a type, and export it with
//! [`policy_plugin!`] or [`notifier_plugin!`]. Build with
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
//! The sandbox: no files, no environment, no sockets. Logging always; HTTP POST for
//! notifiers to the URLs the administrator allowed; a clock and randomness through
//! the standard library. See docs/wasm-plugins.md.

#![deny(clippy::unwrap_used, clippy::expect_used)]

// The generated code names this crate by its path, from inside it too.
extern crate self as writeback_plugin_wasm_guest;

#[cfg(all(feature = "policy", feature = "notifier"))]
compile_error!(
    "enable one world per component: the `policy` feature or the `notifier` feature, not both"
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
#[cfg(any(feature = "policy", feature = "notifier"))]
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
#[cfg(any(feature = "policy", feature = "notifier"))]
pub(crate) use log_helpers;
