//! Starts real servers for tests, on loopback, torn down with the test binary.
//!
//! * [`slapd`] — a throwaway OpenLDAP with ppolicy and TLS: [`slapd::shared`] for the
//!   server a test binary shares, [`slapd::Slapd::start`] for a private one.
//! * [`tls`] — a CA and a server certificate made with rcgen.
//! * [`delay_proxy`] — a TCP proxy that holds a server's replies on demand (a slow
//!   directory).
//! * [`process`] — spawning server processes that die with the test binary.
//! * [`nats`] — a nats-server with JetStream, restartable on the same store.
//!
//! When a server cannot start, the error says what to install; tests then fail,
//! never skip.
#![deny(clippy::unwrap_used, clippy::expect_used)]

pub mod components;
pub mod delay_proxy;
pub mod process;
pub mod samba;
pub mod slapd;
pub mod tls;

pub use slapd::Slapd;
pub mod http_receiver;
pub mod nats;
pub mod smtp;
