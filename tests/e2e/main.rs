//! End-to-end tests: one binary, real servers from the test kit (slapd, Samba AD,
//! SMTP, HTTP), the real host and the real webhook source.

mod active_directory;
mod cli;
mod listeners;
mod native_plugins;
mod notifications;
mod openldap_target;
mod pipeline_semantics;
mod policies;
mod relay;
mod scim;
mod support;
mod wasm_plugins;
mod wasm_source;
mod wasm_target;
mod writeback_openldap;
