//! Counters for operators, rendered in the Prometheus text format on `/metrics`.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use writeback_core::{OperationKind, OutcomeCode};

/// Latency bucket bounds in seconds.
const BUCKETS: [f64; 10] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0];

/// (operation, outcome code) → finished requests.
type CountsByOutcome = BTreeMap<(&'static str, &'static str), u64>;

#[derive(Default)]
pub struct Metrics {
    /// source → (operation, outcome code) → count: keyed by source first so that
    /// counting a request looks the source up by `&str` (no allocation per request).
    outcomes: Mutex<BTreeMap<String, CountsByOutcome>>,
    latency_buckets: [AtomicU64; BUCKETS.len()],
    latency_count: AtomicU64,
    latency_sum_micros: AtomicU64,
    pub in_flight: AtomicU64,
    pub duplicates: AtomicU64,
    pub refused_busy: AtomicU64,
    /// Audit records left out of the file because its queue was full (the audit log
    /// holds a clone).
    pub audit_dropped: std::sync::Arc<AtomicU64>,
    /// The audit writer's failures (full disk) and alarm, shared with `/health`.
    pub audit_health: std::sync::Arc<crate::audit::AuditHealth>,
}

impl Metrics {
    pub fn observe(&self, source: &str, op: OperationKind, code: OutcomeCode, took: Duration) {
        {
            let mut m = self.outcomes.lock().unwrap_or_else(|p| p.into_inner());
            let key = (op.as_str(), code.as_str());
            match m.get_mut(source) {
                Some(by_source) => *by_source.entry(key).or_default() += 1,
                None => {
                    m.entry(source.to_string()).or_default().insert(key, 1);
                }
            }
        }
        let secs = took.as_secs_f64();
        for (i, bound) in BUCKETS.iter().enumerate() {
            if secs <= *bound {
                self.latency_buckets[i].fetch_add(1, Ordering::Relaxed);
            }
        }
        self.latency_count.fetch_add(1, Ordering::Relaxed);
        self.latency_sum_micros
            .fetch_add(took.as_micros() as u64, Ordering::Relaxed);
    }

    /// Finished requests by outcome code, over every source and operation.
    pub fn outcome_counts(&self) -> BTreeMap<&'static str, u64> {
        let mut by_code = BTreeMap::new();
        let outcomes = self.outcomes.lock().unwrap_or_else(|p| p.into_inner());
        for ((_, code), n) in outcomes.values().flatten() {
            *by_code.entry(*code).or_default() += n;
        }
        by_code
    }

    /// (count, mean, p50 bound, p99 bound) in seconds; a bound is the histogram bucket
    /// the quantile falls in (infinite past the last bucket), `None` before any request.
    pub fn latency_summary(&self) -> (u64, Option<f64>, Option<f64>, Option<f64>) {
        let count = self.latency_count.load(Ordering::Relaxed);
        if count == 0 {
            return (0, None, None, None);
        }
        let mean = self.latency_sum_micros.load(Ordering::Relaxed) as f64 / 1e6 / count as f64;
        let quantile = |q: f64| {
            let wanted = (q * count as f64).ceil() as u64;
            BUCKETS
                .iter()
                .zip(&self.latency_buckets)
                .find(|(_, n)| n.load(Ordering::Relaxed) >= wanted)
                .map(|(bound, _)| *bound)
                .unwrap_or(f64::INFINITY)
        };
        (count, Some(mean), Some(quantile(0.5)), Some(quantile(0.99)))
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "# HELP writeback_requests_total Finished requests by source, operation and outcome code.");
        let _ = writeln!(out, "# TYPE writeback_requests_total counter");
        let outcomes = self
            .outcomes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        for (source, (op, code), n) in outcomes
            .iter()
            .flat_map(|(s, m)| m.iter().map(move |(k, n)| (s, k, n)))
        {
            let _ = writeln!(
                out,
                "writeback_requests_total{{source=\"{}\",operation=\"{op}\",outcome=\"{code}\"}} {n}",
                source.replace(['"', '\\', '\n'], "_")
            );
        }
        let _ = writeln!(
            out,
            "# HELP writeback_request_duration_seconds Time from submit to outcome."
        );
        let _ = writeln!(out, "# TYPE writeback_request_duration_seconds histogram");
        for (i, bound) in BUCKETS.iter().enumerate() {
            let _ = writeln!(
                out,
                "writeback_request_duration_seconds_bucket{{le=\"{bound}\"}} {}",
                self.latency_buckets[i].load(Ordering::Relaxed)
            );
        }
        let count = self.latency_count.load(Ordering::Relaxed);
        let _ = writeln!(
            out,
            "writeback_request_duration_seconds_bucket{{le=\"+Inf\"}} {count}"
        );
        let _ = writeln!(
            out,
            "writeback_request_duration_seconds_sum {}",
            self.latency_sum_micros.load(Ordering::Relaxed) as f64 / 1e6
        );
        let _ = writeln!(out, "writeback_request_duration_seconds_count {count}");
        for (name, help, value) in [
            (
                "writeback_requests_in_flight",
                "Requests being processed.",
                &self.in_flight,
            ),
            (
                "writeback_duplicates_total",
                "Repeated request ids answered with the first outcome.",
                &self.duplicates,
            ),
            (
                "writeback_refused_busy_total",
                "Requests refused because max_in_flight was reached.",
                &self.refused_busy,
            ),
            (
                "writeback_audit_dropped_total",
                "Audit records not written to the audit file because its queue was full.",
                &*self.audit_dropped,
            ),
            (
                "writeback_audit_write_errors_total",
                "Audit batches that could not be written or synced (full disk, I/O error).",
                &self.audit_health.write_errors,
            ),
        ] {
            let kind = if name.ends_with("_total") {
                "counter"
            } else {
                "gauge"
            };
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {}",
                value.load(Ordering::Relaxed)
            );
        }
        let _ = writeln!(
            out,
            "# HELP writeback_audit_healthy 1 when the audit file is being written and its queue \
             has not overflowed in the last 5 minutes, else 0.\n# TYPE writeback_audit_healthy \
             gauge\nwriteback_audit_healthy {}",
            u8::from(self.audit_health.alarm().is_none())
        );
        out
    }
}
