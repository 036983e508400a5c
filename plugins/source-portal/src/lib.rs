//! Cloud source: the password page. People sign in with their cloud identity (OpenID
//! Connect, authorization code flow with PKCE, against any standard provider), choose
//! a new password while the page shows each on-premises rule's verdict (a pre-flight
//! that writes nothing), and have it written to every directory.
//!
//! ```toml
//! [[sources]]
//! type = "portal"
//! listen = "0.0.0.0:8443"
//! public_url = "https://password.example.org"
//! tls = { cert_file = "server.pem", key_file = "server.key" }
//! [sources.oidc]
//! issuer = "https://login.microsoftonline.com/<tenant>/v2.0"
//! client_id = "…"
//! client_secret = { env = "PORTAL_CLIENT_SECRET" }
//! ```
//!
//! The full table, the safety rules and screenshots are in docs/portal.md.

mod config;
mod details;
mod i18n;
mod oidc;
mod page;
mod routes;
mod session;
mod source;
mod wire;

#[doc(hidden)]
pub mod fuzzing;

pub use oidc::SignInError;
pub use source::{PortalSource, PortalSourceFactory};
pub use writeback_listener::PLAIN_HTTP_BEHIND_PROXY;
