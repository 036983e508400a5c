//! How the host calls into a plugin: off the async workers, with a time limit, and
//! with a cap on concurrent calls.
//!
//! A dynamic library has its own copy of tokio's thread-locals, so plugin code is plain
//! blocking code. Each call runs on tokio's blocking pool (`spawn_blocking`); the
//! caller waits at most `call_timeout_ms`, then gets `plugin_fault`. A call that
//! overran cannot be stopped — it keeps its thread until the plugin returns — which is
//! why each connector instance may hold at most `max_concurrent_calls` threads.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;
use tokio::time::{timeout_at, Instant};
use writeback_core::{Outcome, OutcomeCode};

use crate::settings::CallSettings;

/// The calling discipline of one connector instance.
#[derive(Clone)]
pub struct Calls {
    /// How messages name the connector: "policy `words` (native plugin `acme` 1.0 (…))".
    label: Arc<str>,
    timeout: Duration,
    permits: Arc<Semaphore>,
    max: usize,
}

impl Calls {
    pub fn new(label: String, settings: &CallSettings) -> Self {
        Calls {
            label: label.into(),
            timeout: settings.call_timeout(),
            permits: Arc::new(Semaphore::new(settings.max_concurrent_calls)),
            max: settings.max_concurrent_calls,
        }
    }

    pub fn label(&self) -> &str {
        &self.label
    }

    /// Runs `call` on the blocking pool; `Err` is the `plugin_fault` outcome to give.
    pub async fn run<T, F>(&self, method: &str, call: F) -> Result<T, Outcome>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        // The plugin's own limit, or the request's deadline when that is nearer.
        let limit = writeback_core::deadline::bound(self.timeout);
        let deadline = Instant::now() + limit;
        let permit = match timeout_at(deadline, self.permits.clone().acquire_owned()).await {
            Ok(Ok(permit)) => permit,
            _ => {
                return Err(self.fault(&format!(
                    "{} did not get a turn for {method} within {} ms: {} calls are already running \
                     (max_concurrent_calls); the plugin is slow or stuck",
                    self.label,
                    limit.as_millis(),
                    self.max
                )))
            }
        };
        let handle = tokio::task::spawn_blocking(move || {
            let _held_until_the_plugin_returns = permit;
            call()
        });
        match timeout_at(deadline, handle).await {
            Ok(Ok(value)) => Ok(value),
            // Plugin code catches its own panics; this is a panic in the host's adapter.
            Ok(Err(join)) => Err(self.fault(&format!("{} failed in {method}: {join}", self.label))),
            Err(_) => Err(self.fault(&format!(
                "{} did not answer {method} within {} ms (call_timeout_ms, or the request's \
                 deadline when nearer); the call goes on in the background and its result is \
                 dropped",
                self.label,
                limit.as_millis()
            ))),
        }
    }

    fn fault(&self, detail: &str) -> Outcome {
        tracing::error!(connector = %self.label, "{detail}");
        Outcome::of(OutcomeCode::PluginFault).with_admin_detail(detail)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn calls(timeout_ms: u64, max: usize) -> Calls {
        let settings = CallSettings {
            call_timeout_ms: timeout_ms,
            max_concurrent_calls: max,
        };
        Calls::new("policy `t`".into(), &settings)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_slow_call_becomes_plugin_fault_and_others_go_on() {
        let c = calls(50, 1);
        let slow = c.run("evaluate", || {
            std::thread::sleep(Duration::from_millis(300))
        });
        let err = slow
            .await
            .err()
            .map(|o| (o.code, o.admin_detail.unwrap_or_default()));
        let (code, detail) = err.unwrap_or((OutcomeCode::Succeeded, String::new()));
        assert_eq!(code, OutcomeCode::PluginFault);
        assert!(detail.contains("within 50 ms"), "{detail}");
        // The stuck call still holds the only permit: the next one is refused in time.
        let busy = c
            .run("evaluate", || 1)
            .await
            .err()
            .and_then(|o| o.admin_detail);
        assert!(busy.unwrap_or_default().contains("max_concurrent_calls"));
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(c.run("evaluate", || 7).await.ok(), Some(7));
    }
}
