//! End-to-end tests: one binary, real servers from the test kit.
mod active_directory;
mod openldap_target;
mod native_plugins;
mod wasm_plugins;
