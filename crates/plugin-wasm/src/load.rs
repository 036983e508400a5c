//! Loading a `.wasm` file: checks that it is a component of a world this host knows,
//! at a WIT version it implements, importing nothing its world does not grant; then
//! compiles it (or takes it from the cache), links it, and asks it who it is.

use std::path::Path;
use std::sync::Arc;

use wasmtime::component::Component;

use crate::bindings::notifier::writeback::plugin::types::{Metadata, PluginKind};
use crate::bindings::{notifier, policy, source, target};
use crate::cache::CacheUse;
use crate::call::Limit;
use crate::engine::WasmRuntime;
use crate::error::WasmError;
use crate::http::HttpGrant;
use crate::options::PluginOptions;
use crate::sandbox::{Plugin, PluginMeta};
use crate::state::Grants;
use crate::world::{Bindings, World, WIT_VERSION};

/// Largest component file accepted.
const MAX_COMPONENT_BYTES: usize = 64 * 1024 * 1024;
const PACKAGE: &str = "writeback:plugin/";

/// A loaded plugin of one of the worlds this host runs.
#[derive(Clone)]
pub struct LoadedPlugin(pub(crate) Loaded);

#[derive(Clone)]
pub(crate) enum Loaded {
    Policy(Arc<Plugin<policy::PolicyPlugin>>),
    Notifier(Arc<Plugin<notifier::NotifierPlugin>>),
    Target(Arc<Plugin<target::TargetPlugin>>),
    Source(Arc<Plugin<source::SourcePlugin>>),
}

impl LoadedPlugin {
    pub fn meta(&self) -> &PluginMeta {
        match &self.0 {
            Loaded::Policy(p) => &p.meta,
            Loaded::Notifier(p) => &p.meta,
            Loaded::Target(p) => &p.meta,
            Loaded::Source(p) => &p.meta,
        }
    }
}

impl std::fmt::Debug for LoadedPlugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.meta().fmt(f)
    }
}

/// Loads the component `options.path` (already made absolute by the caller).
/// Errors are sentences for the administrator: what is wrong and what to do.
pub async fn load(
    runtime: &Arc<WasmRuntime>,
    options: PluginOptions,
) -> Result<LoadedPlugin, WasmError> {
    options
        .check()
        .map_err(|(key, message)| WasmError::Option { key, message })?;
    let path = options.path.clone();
    let bytes = read_component(&path)?;
    let (component, cache) = compile(runtime, &bytes).map_err(|e| WasmError::Compile {
        path: path.clone(),
        reason: e.to_string(),
    })?;
    let refused = |reason: String| WasmError::Refused {
        path: path.clone(),
        reason,
    };
    let world = detect_world(runtime, &component).map_err(refused)?;
    check_imports(runtime, &component, world).map_err(refused)?;
    let http = grant_http(&options, world).map_err(refused)?;
    let (o, h, c) = (options, http, cache);
    let loaded = match world {
        World::Policy => Loaded::Policy(link(runtime, component, o, h, c).await?),
        World::Notifier => Loaded::Notifier(link(runtime, component, o, h, c).await?),
        World::Target => Loaded::Target(link(runtime, component, o, h, c).await?),
        World::Source => Loaded::Source(link(runtime, component, o, h, c).await?),
    };
    Ok(LoadedPlugin(loaded))
}

fn read_component(path: &Path) -> Result<Vec<u8>, WasmError> {
    let unreadable = |e: std::io::Error| WasmError::Unreadable {
        path: path.to_path_buf(),
        reason: e.to_string(),
    };
    let not_a_component = |reason: String| WasmError::NotAComponent {
        path: path.to_path_buf(),
        reason,
    };
    let meta = std::fs::metadata(path).map_err(unreadable)?;
    if meta.len() > MAX_COMPONENT_BYTES as u64 {
        return Err(not_a_component(format!(
            "the file is over {} MiB",
            MAX_COMPONENT_BYTES >> 20
        )));
    }
    let bytes = std::fs::read(path).map_err(unreadable)?;
    match bytes.get(..8) {
        Some([0, b'a', b's', b'm', 0x0d, 0, 1, 0]) => Ok(bytes),
        Some([0, b'a', b's', b'm', 1, 0, 0, 0]) => Err(not_a_component(
            "this is a core WebAssembly module, not a component; build it with `--target wasm32-wasip2` \
             (or wrap it with `wasm-tools component new`)"
                .into(),
        )),
        _ => Err(not_a_component(
            "not a WebAssembly component (bad header)".into(),
        )),
    }
}

fn compile(runtime: &WasmRuntime, bytes: &[u8]) -> wasmtime::Result<(Component, CacheUse)> {
    match &runtime.cache {
        Some(cache) => cache.load(&runtime.engine, bytes),
        None => Ok((Component::new(&runtime.engine, bytes)?, CacheUse::Uncached)),
    }
}

/// `writeback:plugin/policy@0.1.0` → ("policy", "0.1.0").
fn split_export(name: &str) -> Option<(&str, &str)> {
    name.strip_prefix(PACKAGE)?.split_once('@')
}

/// The world, from the kind interface the component exports.
fn detect_world(runtime: &WasmRuntime, component: &Component) -> Result<World, String> {
    let ty = component.component_type();
    let exports: Vec<String> = ty
        .exports(&runtime.engine)
        .map(|(name, _)| name.to_string())
        .collect();
    let mut found = Vec::new();
    for name in &exports {
        let Some((iface, version)) = split_export(name) else {
            continue;
        };
        if version != WIT_VERSION {
            return Err(format!(
                "the component was built for writeback:plugin@{version} (it exports `{name}`); this host \
                 implements writeback:plugin@{WIT_VERSION}: rebuild it against that version of the WIT package"
            ));
        }
        if let Some(world) = World::from_interface(iface) {
            found.push(world);
        }
    }
    match found.as_slice() {
        [world] => Ok(*world),
        [] => Err(format!(
            "the component is not a writeback plugin: it exports {}; a plugin exports \
             `writeback:plugin/meta@{WIT_VERSION}` and one of the policy, notifier, target or source interfaces",
            if exports.is_empty() {
                "nothing".to_string()
            } else {
                exports.join(", ")
            }
        )),
        _ => Err("the component exports several plugin kinds; build one component per kind".into()),
    }
}

/// Refuses imports the world does not grant (a policy asking for `http`, say), with
/// a message naming them, rather than a linker error at instantiation.
fn check_imports(runtime: &WasmRuntime, component: &Component, world: World) -> Result<(), String> {
    let ty = component.component_type();
    let mut refused = Vec::new();
    for (name, _) in ty.imports(&runtime.engine) {
        if name.starts_with("wasi:") {
            continue;
        }
        let granted = match split_export(name) {
            Some((iface, version)) => {
                version == WIT_VERSION && world.granted_imports().contains(&iface)
            }
            None => false,
        };
        if !granted {
            refused.push(name.to_string());
        }
    }
    if refused.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "the component is a {world} but imports {}, which that world does not grant (it grants {}); \
             build it for the right world",
            refused.join(", "),
            world.granted_imports()[1..].join(", ")
        ))
    }
}

fn grant_http(options: &PluginOptions, world: World) -> Result<Option<Arc<HttpGrant>>, String> {
    if options.allow_http.is_empty() {
        return Ok(None);
    }
    if !world.granted_imports().contains(&"http") {
        return Err(format!(
            "`allow_http` is given but a {world} gets no HTTP capability; remove it"
        ));
    }
    let roots = match &options.http_ca_file {
        Some(file) => Some(
            std::fs::read(file).map_err(|e| format!("`http_ca_file` {}: {e}", file.display()))?,
        ),
        None => std::fs::read("/etc/ssl/certs/ca-certificates.crt").ok(),
    };
    HttpGrant::new(&options.allow_http, roots.as_deref())
        .map(|g| Some(Arc::new(g)))
        .map_err(|m| format!("`allow_http`: {m}"))
}

async fn link<B: Bindings>(
    runtime: &Arc<WasmRuntime>,
    component: Component,
    options: PluginOptions,
    http: Option<Arc<HttpGrant>>,
    cache: CacheUse,
) -> Result<Arc<Plugin<B>>, WasmError> {
    let path = options.path.clone();
    let pre = runtime
        .linker(B::WORLD)
        .instantiate_pre(&component)
        .and_then(B::new_pre)
        .map_err(|e| WasmError::Link {
            path: path.clone(),
            reason: format!("{e:#}"),
        })?;
    let mut plugin: Plugin<B> = Plugin {
        meta: PluginMeta {
            name: String::new(),
            version: String::new(),
            description: String::new(),
            world: B::WORLD,
            path: path.clone(),
            cache,
        },
        name: Arc::from(path.display().to_string()),
        pre,
        runtime: runtime.clone(),
        options,
        http,
    };
    // `describe` runs while the host starts, on the loader's own small executor:
    // no capability is granted to it (an HTTP call could not be driven there).
    let mut store = runtime.new_store(
        plugin.name.clone(),
        plugin.options.memory_bytes(),
        Grants::default(),
    );
    store
        .data_mut()
        .begin_call(Limit::from_now(plugin.options.timeout()), Vec::new());
    let bindings =
        B::instantiate(&plugin.pre, &mut store)
            .await
            .map_err(|e| WasmError::Instantiate {
                path: path.clone(),
                reason: format!("{e:#}"),
            })?;
    let described = bindings.describe(&mut store).await;
    let metadata = described.map_err(|e| WasmError::Describe {
        path: path.clone(),
        reason: e.to_string(),
    })?;
    check_metadata(&metadata, B::WORLD).map_err(|reason| WasmError::Refused {
        path: path.clone(),
        reason,
    })?;
    plugin.name = Arc::from(metadata.name.as_str());
    plugin.meta.name = metadata.name;
    plugin.meta.version = metadata.version;
    plugin.meta.description = metadata.description;
    Ok(Arc::new(plugin))
}

fn check_metadata(m: &Metadata, world: World) -> Result<(), String> {
    let name_ok = !m.name.is_empty()
        && m.name.len() <= 64
        && m.name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if !name_ok {
        return Err(format!(
            "the plugin's name {:?} is not usable as a config `type`: use 1 to 64 lowercase letters, digits, `-` or `_`",
            crate::fault::clip(m.name.clone(), 80)
        ));
    }
    let kind = match m.kind {
        PluginKind::Policy => World::Policy,
        PluginKind::Notifier => World::Notifier,
        PluginKind::Target => World::Target,
        PluginKind::Source => World::Source,
    };
    if kind != world {
        return Err(format!(
            "the plugin says it is a {} but it is built as a {world}",
            kind.interface()
        ));
    }
    if m.version.is_empty()
        || m.version.len() > 32
        || m.version
            .chars()
            .any(|c| c.is_control() || c.is_whitespace())
    {
        return Err("the plugin's version must be 1 to 32 characters without spaces".into());
    }
    if m.description.len() > 200 || m.description.chars().any(char::is_control) {
        return Err("the plugin's description must be one line of at most 200 bytes".into());
    }
    Ok(())
}
