//! The listener every HTTP endpoint of writeback serves on (the webhook and SCIM
//! sources, the `[admin]` endpoint; the relay edge and the password page to come):
//!
//! * [`tls::server_config`]: a rustls server config (ring) from PEM certificate and
//!   key files, errors naming the file;
//! * [`Transport::choose`]: plain HTTP only on a loopback address, or where the config
//!   declares a TLS-terminating proxy in front; each connector words the refusal with
//!   its own keys;
//! * [`settings`]: the `listen`, `tls` and `plain_http` keys every HTTP source has,
//!   read one way (errors name the key; each connector wraps them);
//! * [`Listener`]: the accept loop with a connection cap, timeouts for the TLS
//!   handshake, the request headers and the request body ([`Limits`]), and on shutdown
//!   a drain bounded in time.
//!
//! A new crate rather than a module of `writeback-core` (which has no I/O) or of
//! `writeback-host` (which sources must not depend on): the sources and the host both
//! sit above it, and it depends on no writeback crate.

mod body;
mod serve;
pub mod settings;
pub mod tls;
mod transport;

pub use body::{BodyTimedOut, TimedBody};
pub use serve::{Limits, Listener};
pub use settings::{SettingError, TlsFiles, PLAIN_HTTP_BEHIND_PROXY};
pub use tls::TlsError;
pub use transport::{PlainHttp, Refusal, Transport};

/// The request body a served service reads: hyper's, with the body-read timeout.
pub type Body = TimedBody<hyper::body::Incoming>;
