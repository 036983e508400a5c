//! Refusals the host can see and log. WASI is linked with an empty context, so a
//! guest that looks for a directory gets none and a guest that opens a socket gets
//! `access-denied`; these wrappers only make the attempt visible to the administrator.
//!
//! They are defined with dynamic values (`func_new`) so they match whatever resource
//! types wasmtime-wasi registered for descriptors and sockets.

use wasmtime::component::{Linker, Val};

use crate::state::HostState;

/// The WASI version wasmtime-wasi 48 provides; guests built for any 0.2.x match it.
const WASI_VERSION: &str = "0.2.12";

pub(crate) fn log_filesystem_requests(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    linker.allow_shadowing(true);
    linker
        .instance(&format!("wasi:filesystem/preopens@{WASI_VERSION}"))?
        .func_new("get-directories", |store, _ty, _params, results| {
            tracing::warn!(
                plugin = %store.data().call.plugin,
                "WASM plugin tried to use the filesystem: refused, no directory is granted to plugins"
            );
            if let Some(slot) = results.first_mut() {
                *slot = Val::List(Vec::new());
            }
            Ok(())
        })?;
    linker
        .instance(&format!("wasi:sockets/tcp-create-socket@{WASI_VERSION}"))?
        .func_new("create-tcp-socket", |store, _ty, _params, results| {
            tracing::warn!(
                plugin = %store.data().call.plugin,
                "WASM plugin tried to open a network socket: refused, plugins get no network (use the http grant)"
            );
            if let Some(slot) = results.first_mut() {
                *slot = Val::Result(Err(Some(Box::new(Val::Enum("access-denied".into())))));
            }
            Ok(())
        })?;
    linker.allow_shadowing(false);
    Ok(())
}
