//! The `writeback` binary's library half: the built-in connector list (shared with the
//! end-to-end tests) and the subcommands.

pub mod builtins;
pub mod commands;
pub mod logging;

pub use builtins::{builtin_options, builtin_registry};
