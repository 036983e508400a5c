//! The bookkeeping of the current guest call that every capability reads: whose call
//! it is (for log lines), when it must end, and the passwords to keep out of any text
//! the guest or a server hands back. Capabilities get it read-only beside their own
//! state, so none of them depends on another.

use std::sync::Arc;
use std::time::{Duration, Instant};

use writeback_core::Password;

use crate::fault::clip;

/// The time one call may take (waiting for a slot and instantiation included).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Limit {
    /// The limit as configured, or the time left before the request's deadline.
    pub time: Duration,
    /// When the call must end.
    pub until: Instant,
    /// `time` is the request's deadline (nearer than the plugin's `timeout_ms`).
    pub deadline: bool,
}

impl Limit {
    /// A limit of `time` from now that is not the request's deadline.
    pub fn from_now(time: Duration) -> Self {
        Limit {
            time,
            until: Instant::now() + time,
            deadline: false,
        }
    }
}

/// The current call of one store.
pub(crate) struct Call {
    /// The plugin's name, added to every log line it writes.
    pub plugin: Arc<str>,
    /// When the current call must stop (checked on every epoch tick).
    pub deadline: Instant,
    /// Set by the epoch callback when it interrupted the call.
    pub timed_out: bool,
    /// The time limit of the current call (for the fault message).
    pub limit: Duration,
    /// The limit is the request's deadline (nearer than the plugin's `timeout_ms`).
    pub limit_is_deadline: bool,
    /// The passwords of the current call, so a guest that logs one gets it redacted.
    pub redact: Vec<Password>,
}

impl Call {
    pub fn new(plugin: Arc<str>) -> Self {
        Call {
            plugin,
            deadline: Instant::now(),
            timed_out: false,
            limit: Duration::ZERO,
            limit_is_deadline: false,
            redact: Vec::new(),
        }
    }

    /// Starts a call: its time limit and the passwords to keep out of logs.
    pub fn begin(&mut self, limit: Limit, redact: Vec<Password>) {
        self.deadline = limit.until;
        self.limit = limit.time;
        self.limit_is_deadline = limit.deadline;
        self.timed_out = false;
        self.redact = redact;
    }

    /// Ends a call: the password copies are dropped (and zeroized) now.
    pub fn end(&mut self) {
        self.redact.clear();
    }

    /// The time left before the call's deadline (the guest's clock is stopped while
    /// the host waits, so a host call bounds its wait by this).
    pub fn budget(&self) -> Duration {
        self.deadline.saturating_duration_since(Instant::now())
    }

    /// The text with the call's passwords replaced, control characters blanked, and
    /// clipped to `max` bytes.
    pub fn scrub(&self, text: &str, max: usize) -> String {
        let mut text = text.to_string();
        for p in &self.redact {
            if !p.is_empty() && text.contains(p.expose()) {
                text = text.replace(p.expose(), "[redacted]");
            }
        }
        let text: String = text
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        clip(text, max)
    }
}
