//! What the end-to-end tests and benchmarks share: a running engine built from a TOML
//! config (the real host, the real webhook source over HTTPS), a notification
//! receiver, and the captured log to search for leaked passwords.
// Test code: a failed step stops the test with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod binary;
pub mod engine;
pub mod logs;
pub mod receiver;

pub use engine::Engine;
pub use receiver::Receiver;
