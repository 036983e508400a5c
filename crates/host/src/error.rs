//! The host's typed errors at its edge: what `Host::run`, `Registry::load_plugin` and
//! opening the audit log can fail with. Each message says what happened and what to do
//! (the words are the ones the binary has always printed); a program that embeds the
//! host can match on the variant instead of parsing the text. Config errors are
//! `writeback_core::ConfigError` (file, line and key).

use std::path::PathBuf;

use writeback_core::{BoxError, ConfigError};

/// Why [`Host::run`](crate::Host::run) stopped other than by a requested shutdown.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RunError {
    /// The config has no `[[sources]]` and none was added in code.
    #[error(
        "{}: no [[sources]], so there is nothing to serve; add one (for example \
         type = \"webhook\") or submit requests through the library API",
        config.display()
    )]
    NoSources { config: PathBuf },
    /// A source returned an error (it could not start, or broke); the others were
    /// shut down.
    #[error("source `{name}` stopped: {error}")]
    SourceStopped {
        name: String,
        #[source]
        error: BoxError,
    },
    /// A source's task panicked or was cancelled.
    #[error("a source task failed: {0}")]
    SourceTask(#[from] tokio::task::JoinError),
    /// Every source returned without error before any shutdown was asked for.
    #[error("every source stopped on its own")]
    SourcesEnded,
}

/// Why a `[[plugins]]` file could not be loaded ([`Registry::load_plugin`](crate::Registry::load_plugin)).
#[derive(Clone, Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PluginError {
    /// No registered loader takes this kind of file.
    #[error(
        "no plugin loader accepts {} (loaders available: {loaders}); native plugins end in \
         .so/.dylib/.dll, WASM components in .wasm",
        path.display()
    )]
    NoLoader { path: PathBuf, loaders: String },
    /// The loader refused the file (it names the file and the key at fault).
    #[error(transparent)]
    Load(#[from] ConfigError),
    /// The plugin provides a type name that is already registered.
    #[error("{file} provides type `{type_name}`, which {existing} already provides; rename it in the plugin")]
    TypeConflict {
        file: String,
        type_name: String,
        existing: String,
    },
}

/// Why the audit log (or its checkpoint key) could not be opened.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuditError {
    #[error("cannot read the audit checkpoint key {}: {source}", path.display())]
    ReadKey {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "the audit checkpoint key {} holds {len} bytes; use at least 16 random bytes \
         (e.g. `head -c 32 /dev/urandom | base64 > {}`)",
        path.display(),
        path.display()
    )]
    ShortKey { path: PathBuf, len: usize },
    #[error("cannot create the audit directory {}: {source}", path.display())]
    CreateDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot read the audit file {}: {source}", path.display())]
    ReadFile {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot open the audit file {}: {source}", path.display())]
    OpenFile {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write the audit file {}: {source}", path.display())]
    WriteFile {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot start the audit writer: {0}")]
    StartWriter(#[source] std::io::Error),
}
