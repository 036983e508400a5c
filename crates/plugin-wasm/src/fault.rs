//! What can go wrong inside a sandbox, and how it becomes an outcome: `plugin_fault`
//! for the plugin's own faults, `timeout` when the request's deadline stopped it, and
//! the retryable busy answer when no instance slot came free in time.

use std::fmt;
use std::time::Duration;

use writeback_core::redact::redact;
use writeback_core::{Outcome, OutcomeCode, Password};

/// A failure of the plugin itself (never a verdict). Each one fails only the request
/// that hit it; the host goes on and the next call gets a fresh instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// The call ran past its time limit and was interrupted (or, blocked in a host
    /// call, abandoned). `deadline`: the limit was the request's deadline, nearer than
    /// the plugin's own `timeout_ms`.
    TimeLimit { limit: Duration, deadline: bool },
    /// No instance slot came free before the call's deadline: the host is busy.
    Busy { waited: Duration },
    /// The guest tried to grow its memories and tables past the cap (one total).
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
            Fault::TimeLimit {
                limit,
                deadline: false,
            } => write!(
                f,
                "interrupted after its time limit of {} ms (raise `timeout_ms` in its [[plugins]] entry if the work is legitimate)",
                limit.as_millis()
            ),
            Fault::TimeLimit {
                limit,
                deadline: true,
            } => write!(
                f,
                "was stopped at the request's deadline, {} ms into the call (`[pipeline] deadline_ms` is nearer than the plugin's `timeout_ms`)",
                limit.as_millis()
            ),
            Fault::Busy { waited } => write!(
                f,
                "waited {} ms for an instance and got none: all {} call slots of the host's WASM instance pool are in use ({} instances per host, {} of them kept for idle reused instances); lower `[pipeline] max_in_flight` or the plugins' `timeout_ms`, or spread the load over more writeback hosts",
                waited.as_millis(),
                crate::engine::CALL_SLOTS,
                crate::engine::POOL_INSTANCES,
                crate::engine::IDLE_SLOTS
            ),
            Fault::MemoryCap { cap, wanted } => write!(
                f,
                "stopped at its memory cap: its memories and tables together would take {} KiB, the cap is {} KiB (`memory_mb` in its [[plugins]] entry)",
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
            // The caller's deadline, not the plugin, ended the call: the same answer the
            // pipeline gives at that moment, so reply and audit agree.
            fault @ Fault::TimeLimit { deadline: true, .. } => Outcome::of(OutcomeCode::Timeout)
                .with_admin_detail(format!("WASM plugin `{plugin}` {fault}")),
            // Backpressure, as the pipeline's own busy refusal: retryable.
            fault @ Fault::Busy { .. } => Outcome::new(
                OutcomeCode::DirectoryUnavailable,
                "writeback is busy with other requests. Try again in a minute.",
            )
            .with_admin_detail(format!("WASM plugin `{plugin}` {fault}")),
            fault => Outcome::of(OutcomeCode::PluginFault)
                .with_admin_detail(format!("WASM plugin `{plugin}` {fault}")),
        }
    }

    /// Logs a real fault (the host goes on) and gives the request's outcome.
    pub fn report(self, plugin: &str) -> Outcome {
        self.report_redacted(plugin, &[])
    }

    /// [`Fault::report`] for a call that was lent passwords: they are replaced in the
    /// log line and in every text of the outcome (a guest may quote them).
    pub fn report_redacted(self, plugin: &str, secrets: &[&Password]) -> Outcome {
        if !matches!(self, Fault::Stated(_)) {
            let text = self.to_string();
            let fault = redact(&text, secrets);
            if matches!(self, Fault::Busy { .. }) {
                tracing::warn!(plugin, %fault, "WASM instance pool busy: the request is refused as retryable");
            } else {
                tracing::warn!(plugin, %fault, "WASM plugin fault: the request fails with plugin_fault");
            }
        }
        self.into_outcome(plugin).redacted(secrets)
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
