//! Starts real servers for tests, on loopback, torn down with the test binary.
//!
//! * [`slapd`] — a throwaway OpenLDAP with ppolicy and TLS: [`slapd::shared`] for the
//!   server a test binary shares, [`slapd::Slapd::start`] for a private one.
//! * [`ds389`] — a throwaway 389 Directory Server (global, subtree policies, ACIs, TLS):
//!   [`ds389::shared`], or [`ds389::Ds389::start`] for a private copy.
//! * [`tls`] — a CA and a server certificate made with rcgen.
//! * [`delay_proxy`] — a TCP proxy that holds a server's replies on demand (a slow
//!   directory).
//! * [`browser`] — a real headless Chromium driven over WebDriver (pages as a person
//!   sees them, screenshots).
//! * [`oidc`] — a real OpenID Connect provider (npm oidc-provider on Node) with a
//!   login form, clients and users from the test.
//! * [`process`] — spawning server processes that die with the test binary.
//! * [`nats`] — a nats-server with JetStream, restartable on the same store.
//!
//! When a server cannot start, the error says what to install; tests then fail,
//! never skip.
// A test kit: a server that cannot start fails the test loudly, and spawning servers
// tied to the test process needs pre_exec hooks (unsafe).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, unsafe_code)]

pub mod browser;
pub mod components;
pub mod delay_proxy;
pub mod ds389;
pub mod process;
pub mod samba;
pub mod slapd;
pub mod tls;

pub use slapd::Slapd;
pub mod http_receiver;
pub mod ldap_admin;
pub mod nats;
pub mod oidc;
pub mod smtp;
