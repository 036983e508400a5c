//! What can go wrong inside a sandbox, and how it becomes `plugin_fault`.

use std::fmt;
use std::time::Duration;

use writeback_core::{Outcome, OutcomeCode};

/// A failure of the plugin itself (never a verdict). Each one fails only the request
/// that hit it; the host goes on and the next call gets a fresh instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// The call ran past its time limit and was interrupted.
    TimeLimit(Duration),
    /// The guest tried to grow its memory past the cap.
    MemoryCap { cap: usize, wanted: usize },
    /// The guest trapped (panic, `unreachable`, out-of-bounds access, stack overflow).
    Trap(String),
    /// The guest returned something the host cannot accept.
    InvalidResult(String),
    /// The instance could not be created or configured.
    Instantiate(String),
    /// Not a fault: the plugin itself returned this failure outcome (a policy whose
    /// data is unavailable, say). It is passed on unchanged.
    Stated(Box<Outcome>),
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fault::TimeLimit(d) => write!(
                f,
                "interrupted after its time limit of {} ms (raise `timeout_ms` in its [[plugins]] entry if the work is legitimate)",
                d.as_millis()
            ),
            Fault::MemoryCap { cap, wanted } => write!(
                f,
                "stopped at its memory cap: tried to grow to {} KiB, the cap is {} KiB (`memory_mb` in its [[plugins]] entry)",
                wanted / 1024,
                cap / 1024
            ),
            Fault::Trap(detail) => write!(f, "trapped: {detail}"),
            Fault::InvalidResult(detail) => write!(f, "returned an invalid result: {detail}"),
            Fault::Instantiate(detail) => write!(f, "could not be instantiated: {detail}"),
            Fault::Stated(outcome) => write!(f, "returned the failure {}", outcome.code),
        }
    }
}

impl Fault {
    /// The outcome for the request, with the detail for the administrator.
    pub fn into_outcome(self, plugin: &str) -> Outcome {
        match self {
            Fault::Stated(outcome) => *outcome,
            fault => Outcome::of(OutcomeCode::PluginFault)
                .with_admin_detail(format!("WASM plugin `{plugin}` {fault}")),
        }
    }

    /// Logs a real fault (the host goes on) and gives the request's outcome.
    pub fn report(self, plugin: &str) -> Outcome {
        if !matches!(self, Fault::Stated(_)) {
            tracing::warn!(plugin, fault = %self, "WASM plugin fault: the request fails with plugin_fault");
        }
        self.into_outcome(plugin)
    }
}

/// Keeps an error text short enough for a log line and an admin detail.
pub(crate) fn clip(mut text: String, max: usize) -> String {
    if text.len() > max {
        let mut end = max;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        text.push('…');
    }
    text
}
