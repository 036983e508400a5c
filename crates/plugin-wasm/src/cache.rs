//! The precompile cache: a component is compiled by Cranelift once, written to disk as
//! native code, and later loads deserialize it (about 100× faster than compiling).
//!
//! The key is a SHA-256 of the component's bytes together with the engine's
//! compatibility hash (wasmtime version, target, settings), so a new wasmtime or a
//! changed config never picks up a stale artifact.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use wasmtime::component::Component;
use wasmtime::Engine;

/// A directory of precompiled components. It must be writable by writeback alone:
/// loading native code from it is trusted (see `load`).
#[derive(Clone, Debug)]
pub struct CompileCache {
    dir: PathBuf,
}

/// How a component was obtained, for logs and the benchmark.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CacheUse {
    /// Found in the cache and deserialized.
    Hit,
    /// Compiled now and written to the cache.
    Compiled,
    /// Compiled now; no cache configured or the write failed.
    Uncached,
}

impl CompileCache {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        CompileCache { dir: dir.into() }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path_for(&self, engine: &Engine, bytes: &[u8]) -> PathBuf {
        let digest = ring::digest::digest(&ring::digest::SHA256, bytes);
        // The compatibility hash only promises `Hash`; fold it into 64 bits.
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        let mut name = String::with_capacity(90);
        for b in digest.as_ref() {
            name.push_str(&format!("{b:02x}"));
        }
        name.push_str(&format!("-{:016x}.cwasm", hasher.finish()));
        self.dir.join(name)
    }

    /// Returns the compiled component from the cache, or compiles and stores it.
    /// A cache that cannot be read or written is logged and bypassed, never fatal.
    pub fn load(&self, engine: &Engine, bytes: &[u8]) -> wasmtime::Result<(Component, CacheUse)> {
        let path = self.path_for(engine, bytes);
        if path.is_file() {
            // SAFETY: `deserialize_file` runs native code from the file. The file name is
            // the SHA-256 of the component we were asked to load and the cache directory
            // is writable by writeback alone (documented in docs/wasm-plugins.md), so the
            // artifact is one this process (or an earlier one) compiled from these bytes.
            // wasmtime itself checks the header and the engine compatibility.
            match unsafe { Component::deserialize_file(engine, &path) } {
                Ok(component) => return Ok((component, CacheUse::Hit)),
                Err(e) => tracing::warn!(
                    path = %path.display(),
                    error = %e,
                    "ignoring unusable precompiled component; compiling again"
                ),
            }
        }
        let compiled = engine.precompile_component(bytes)?;
        let used = match self.store(&path, &compiled) {
            Ok(()) => CacheUse::Compiled,
            Err(e) => {
                tracing::warn!(
                    dir = %self.dir.display(),
                    error = %e,
                    "cannot write the WASM compile cache; the next start compiles again"
                );
                CacheUse::Uncached
            }
        };
        // SAFETY: the bytes were produced just now by `precompile_component` of this engine.
        let component = unsafe { Component::deserialize(engine, &compiled)? };
        Ok((component, used))
    }

    /// Writes atomically (temporary file, then rename) so a crash never leaves half a file.
    fn store(&self, path: &Path, compiled: &[u8]) -> std::io::Result<()> {
        std::fs::create_dir_all(&self.dir)?;
        let tmp = path.with_extension(format!("tmp{}", std::process::id()));
        std::fs::write(&tmp, compiled)?;
        std::fs::rename(&tmp, path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The smallest valid component: the header alone.
    const EMPTY_COMPONENT: &[u8] = b"\0asm\x0d\x00\x01\x00";

    #[test]
    fn compiles_once_then_hits_and_survives_a_damaged_entry() {
        let engine = Engine::default();
        let dir = tempfile::tempdir().unwrap();
        let cache = CompileCache::new(dir.path().join("wasm"));
        let (_, first) = cache.load(&engine, EMPTY_COMPONENT).unwrap();
        assert_eq!(first, CacheUse::Compiled);
        let (_, second) = cache.load(&engine, EMPTY_COMPONENT).unwrap();
        assert_eq!(second, CacheUse::Hit);

        // A damaged artifact is ignored and replaced, never trusted.
        let entry = std::fs::read_dir(dir.path().join("wasm"))
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path();
        std::fs::write(&entry, b"not native code").unwrap();
        let (_, third) = cache.load(&engine, EMPTY_COMPONENT).unwrap();
        assert_eq!(third, CacheUse::Compiled);
        assert_eq!(
            cache.load(&engine, EMPTY_COMPONENT).unwrap().1,
            CacheUse::Hit
        );
    }

    #[test]
    fn an_unwritable_cache_still_compiles() {
        let engine = Engine::default();
        let file = tempfile::NamedTempFile::new().unwrap();
        // The "directory" is a file: nothing can be written under it.
        let cache = CompileCache::new(file.path().join("sub"));
        let (_, used) = cache.load(&engine, EMPTY_COMPONENT).unwrap();
        assert_eq!(used, CacheUse::Uncached);
    }
}
