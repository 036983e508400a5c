//! Cloud source: a SCIM 2.0 service provider (RFC 7643, RFC 7644).
//!
//! Identity providers that provision over SCIM can push a person's new password to an
//! application (Okta's "Sync password"). This source presents the on-premises directory
//! as such an application: `/Users` lists the accounts of one configured directory target
//! (read-only, with filters and pages, so the provider can link its users), and a `PUT` or
//! `PATCH` carrying `password` becomes a reset request through the pipeline. The HTTP
//! response waits for the outcome, and a refusal comes back as a SCIM error with the
//! reasons. Users are neither created nor deleted here: writeback does not provision.
//!
//! Modules, in the order a request meets them: [`config`] (the TOML table), `auth`
//! (bearer token), `routes` (endpoints), [`filter`] (the filter subset), `users`
//! (reads), [`update`] (what a PUT/PATCH asks for), `push` (the pipeline round trip),
//! `idempotency` (retry-safe request ids), [`error`] (SCIM errors, outcome mapping).

mod auth;
pub mod config;
mod directory;
pub mod discovery;
pub mod error;
mod factory;
pub mod filter;
mod idempotency;
mod push;
pub mod resource;
mod routes;
mod server;
pub mod update;
mod users;

pub use factory::{ScimFactory, ScimSourceFactory};
pub use server::ScimSource;

#[cfg(test)]
mod tests;
