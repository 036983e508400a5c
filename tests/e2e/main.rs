//! End-to-end tests: one binary, real servers from the test kit (slapd, Samba AD,
//! SMTP, HTTP), the real host and the real webhook source.
// Test code: a failed step stops the test with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod active_directory;
mod cli;
mod doctor;
mod ds389;
mod listeners;
mod native_plugins;
mod notifications;
mod openldap_target;
mod pipeline_semantics;
mod policies;
mod portal;
mod relay;
mod scim;
mod status_page;
mod support;
mod wasm_plugins;
mod wasm_source;
mod wasm_target;
mod writeback_openldap;
