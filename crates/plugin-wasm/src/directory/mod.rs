//! The `directory` capability of WASM targets: search, modify and extended operations
//! on the one server the target's `[targets.directory]` table defines, as its service
//! account, inside its `base_dn` subtree. The guest never sees the service account's
//! password; every refusal is logged with the plugin's name.
//!
//! * [`config`]: the `[targets.directory]` table and its checks;
//! * [`grant`]: what a target was granted (a pool bound as the service account, the
//!   subtree, the operations), built at startup;
//! * [`host`]: the WIT `directory` interface the guest calls, the sandbox's checks of
//!   each call and the mapping of LDAP results to the guest's errors; the capability's
//!   per-store state and its `add_to_linker` (linked through wasmtime's `HasData`).

mod config;
mod grant;
mod host;

pub use config::DirectoryConfig;
pub use grant::DirectoryGrant;
pub(crate) use host::{add_to_linker, DirectoryState, DirectoryView};

/// Password Modify (RFC 3062), the one extended operation allowed by default.
pub const PASSWORD_MODIFY_OID: &str = "1.3.6.1.4.1.4203.1.11.1";
/// Entries one search may return at most.
pub(super) const MAX_ENTRIES: u32 = 1000;
/// Bytes of attribute values one search may return at most.
pub(super) const MAX_RESULT_BYTES: usize = 4 * 1024 * 1024;
pub(super) const MAX_FILTER: usize = 4096;
pub(super) const MAX_ATTRIBUTES: usize = 64;
pub(super) const MAX_CHANGES: usize = 64;
pub(super) const MAX_VALUE_BYTES: usize = 256 * 1024;
