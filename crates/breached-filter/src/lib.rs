//! An offline breached-password set: the SHA-1 hashes of the Have I Been Pwned
//! "Pwned Passwords" download in a compact, memory-mappable file.
//!
//! * [`build`] turns the download (`SHA1HEX:COUNT` lines) into a file of about 2.26
//!   bytes per hash, with memory bounded by one segment (see [`build`](mod@build)).
//! * [`BreachedFilter::open`] maps the file; [`BreachedFilter::contains_password`]
//!   answers in well under a microsecond. A password not in the set is reported as in
//!   it with probability 2^-16 (one in 65,536): 16-bit fingerprints in a binary fuse
//!   filter ([`fuse`]).
//!
//! The file layout is in [`format`].

pub mod build;
pub mod filter;
pub mod format;
pub mod fuse;
pub mod hibp;

pub use build::{build, BuildStats};
pub use filter::BreachedFilter;

/// What can go wrong building or opening a filter file.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("could not {what}: {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },
    #[error("input line {line}: {message}")]
    Input { line: u64, message: String },
    #[error("{0}")]
    Format(String),
    #[error("could not build the filter: {0} (report this as a bug)")]
    Construction(String),
}
