//! The precompile cache: a component is compiled by Cranelift once, written to disk as
//! native code, and later loads deserialize it (about 100× faster than compiling).
//!
//! The key is a SHA-256 of the component's bytes together with the engine's
//! compatibility hash (wasmtime version, target, settings), so a new wasmtime or a
//! changed config never picks up a stale artifact.
//!
//! Loading an entry runs its native code, so anyone who can write the directory could
//! put code into the host. Before every use the directory and the entry are checked:
//! owned by the user writeback runs as, not writable by group or others, the entry a
//! regular file. Anything else is refused with a warning, and the component is
//! compiled instead. Entries are written to an exclusively created temporary file with
//! an unpredictable name in the same directory, then renamed into place.
// Deserializing a precompiled component is unsafe (wasmtime trusts the bytes: only
// files this cache wrote, checked, are loaded); geteuid(2) through libc.
#![allow(unsafe_code)]

use std::fs::{DirBuilder, Metadata, OpenOptions};
use std::hash::{Hash, Hasher};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use ring::rand::SecureRandom;

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
    /// A cache that cannot be read or written, or that is not safe to load from, is
    /// logged and bypassed, never fatal.
    pub fn load(&self, engine: &Engine, bytes: &[u8]) -> wasmtime::Result<(Component, CacheUse)> {
        if let Err(problem) = self.prepare_dir() {
            tracing::warn!(
                dir = %self.dir.display(),
                "refusing the WASM compile cache: {problem}; compiling without it"
            );
            let compiled = engine.precompile_component(bytes)?;
            // SAFETY: the bytes were produced just now by `precompile_component` of this engine.
            let component = unsafe { Component::deserialize(engine, &compiled)? };
            return Ok((component, CacheUse::Uncached));
        }
        let path = self.path_for(engine, bytes);
        match trusted_entry(&path) {
            Ok(false) => {}
            Ok(true) => {
                // SAFETY: `deserialize_file` runs native code from the file. Its name is the
                // SHA-256 of the component we were asked to load, and the directory and the
                // file were just checked: owned by this process's user and writable by no
                // one else, so the artifact is one writeback compiled from these bytes.
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
            Err(problem) => tracing::warn!(
                path = %path.display(),
                "refusing a precompiled component: {problem}; compiling again and replacing it"
            ),
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

    /// Creates the directory (mode 0700) if needed and checks it may be trusted.
    fn prepare_dir(&self) -> Result<(), String> {
        DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.dir)
            .map_err(|e| format!("cannot create it: {e}"))?;
        let meta = std::fs::metadata(&self.dir).map_err(|e| format!("cannot read it: {e}"))?;
        if !meta.is_dir() {
            return Err("it is not a directory".into());
        }
        check_trusted(&meta, "directory")
    }

    /// Writes atomically: an exclusively created temporary file with an unpredictable
    /// name (so nobody can prepare it or a symlink in its place), then a rename, so a
    /// crash never leaves half a file under an entry's name.
    fn store(&self, path: &Path, compiled: &[u8]) -> std::io::Result<()> {
        let mut random = [0u8; 16];
        ring::rand::SystemRandom::new()
            .fill(&mut random)
            .map_err(|_| std::io::Error::other("no randomness for a temporary name"))?;
        let name: String = random.iter().map(|b| format!("{b:02x}")).collect();
        let tmp = self.dir.join(format!(".tmp-{name}"));
        let written = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .and_then(|mut file| {
                file.write_all(compiled)?;
                file.sync_all()
            })
            .and_then(|()| std::fs::rename(&tmp, path));
        if written.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        written
    }
}

/// Whether an entry exists and may be loaded; `Err` says why it may not.
fn trusted_entry(path: &Path) -> Result<bool, String> {
    // Not followed: a symlink could point anywhere.
    let meta = match std::fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(format!("cannot read it: {e}")),
    };
    if !meta.file_type().is_file() {
        return Err("it is not a regular file (a symlink or something else)".into());
    }
    check_trusted(&meta, "file").map(|()| true)
}

/// Owned by the user this process runs as, and writable by no one else.
fn check_trusted(meta: &Metadata, what: &str) -> Result<(), String> {
    // SAFETY: geteuid has no preconditions and cannot fail.
    let me = unsafe { libc::geteuid() };
    if meta.uid() != me {
        return Err(format!(
            "the {what} is owned by uid {}, not by the user writeback runs as (uid {me}); \
             `chown` it to that user, or set WRITEBACK_WASM_CACHE to a directory of its own",
            meta.uid()
        ));
    }
    let mode = meta.mode() & 0o777;
    if mode & 0o022 != 0 {
        return Err(format!(
            "the {what} is writable by group or others (mode {mode:03o}); `chmod go-w` it \
             (0700 for the directory)"
        ));
    }
    Ok(())
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

    fn only_entry(dir: &Path) -> PathBuf {
        let entries: Vec<PathBuf> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        assert_eq!(
            entries.len(),
            1,
            "one entry, no temporary files: {entries:?}"
        );
        entries.into_iter().next().unwrap()
    }

    /// A cache in a fresh directory that has just compiled the empty component once.
    fn cache_after_one_compile() -> (Engine, tempfile::TempDir, PathBuf, CompileCache) {
        let engine = Engine::default();
        let dir = tempfile::tempdir().unwrap();
        let wasm = dir.path().join("wasm");
        let cache = CompileCache::new(&wasm);
        assert_eq!(
            cache.load(&engine, EMPTY_COMPONENT).unwrap().1,
            CacheUse::Compiled
        );
        (engine, dir, wasm, cache)
    }

    #[test]
    fn a_directory_others_can_write_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let (engine, _dir, wasm, cache) = cache_after_one_compile();
        // The directory is created 0700 and the entry 0600.
        assert_eq!(std::fs::metadata(&wasm).unwrap().mode() & 0o777, 0o700);
        let entry = only_entry(&wasm);
        assert_eq!(std::fs::metadata(&entry).unwrap().mode() & 0o777, 0o600);

        std::fs::set_permissions(&wasm, std::fs::Permissions::from_mode(0o777)).unwrap();
        assert_eq!(
            cache.load(&engine, EMPTY_COMPONENT).unwrap().1,
            CacheUse::Uncached,
            "an entry in a world-writable directory was loaded"
        );
    }

    #[test]
    fn entries_others_could_have_written_are_never_loaded() {
        use std::os::unix::fs::PermissionsExt;
        let (engine, dir, wasm, cache) = cache_after_one_compile();
        let entry = only_entry(&wasm);

        // Group-writable: refused, compiled again and replaced by a safe entry.
        std::fs::set_permissions(&entry, std::fs::Permissions::from_mode(0o664)).unwrap();
        assert_eq!(
            cache.load(&engine, EMPTY_COMPONENT).unwrap().1,
            CacheUse::Compiled
        );
        assert_eq!(
            cache.load(&engine, EMPTY_COMPONENT).unwrap().1,
            CacheUse::Hit
        );

        // A symlink in its place: refused, whatever it points to.
        let elsewhere = dir.path().join("elsewhere.cwasm");
        std::fs::rename(&entry, &elsewhere).unwrap();
        std::os::unix::fs::symlink(&elsewhere, &entry).unwrap();
        assert_eq!(
            cache.load(&engine, EMPTY_COMPONENT).unwrap().1,
            CacheUse::Compiled
        );
        assert!(!std::fs::symlink_metadata(&entry)
            .unwrap()
            .file_type()
            .is_symlink());

        // Owned by someone else (only root can arrange that here).
        if unsafe { libc::geteuid() } == 0 {
            std::os::unix::fs::chown(&entry, Some(65534), Some(65534)).unwrap();
            assert_eq!(
                cache.load(&engine, EMPTY_COMPONENT).unwrap().1,
                CacheUse::Compiled
            );
            assert_eq!(std::fs::metadata(&entry).unwrap().uid(), 0);
        }
        only_entry(&wasm);
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
