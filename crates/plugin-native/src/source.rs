//! A plugin's cloud source as a core [`CloudSource`]. A plugin cannot run async code in
//! the host's runtime, so a native source is a blocking poll: the host polls it on the
//! blocking pool, submits each request to the pipeline, and hands the outcome back.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use writeback_core::{BoxError, CloudSource, RequestId, Shutdown, Submit};
use writeback_plugin_native_abi::{IncomingRequest, SourceBox};

use crate::calls::Calls;
use crate::convert;

/// Longest a poll waits for requests (shorter when `call_timeout_ms` is short).
const MAX_POLL_WAIT: Duration = Duration::from_secs(1);
/// Longest pause after the plugin failed to poll, growing from one second.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

pub struct NativeSource {
    source: Arc<SourceBox>,
    calls: Calls,
    /// The instance name from config: what requests name as their source.
    name: String,
    poll_wait: Duration,
}

impl NativeSource {
    pub(crate) fn new(
        source: SourceBox,
        calls: Calls,
        name: String,
        call_timeout: Duration,
    ) -> Self {
        NativeSource {
            source: Arc::new(source),
            calls,
            name,
            poll_wait: MAX_POLL_WAIT
                .min(call_timeout / 2)
                .max(Duration::from_millis(1)),
        }
    }

    async fn handle(self: Arc<Self>, pipeline: Arc<dyn Submit>, incoming: IncomingRequest) {
        let id: String = incoming
            .id
            .as_str()
            .chars()
            .take(RequestId::MAX_LEN)
            .collect();
        let outcome = match convert::request(&incoming, &self.name) {
            Ok(request) => {
                drop(incoming); // the request has its own password copies now
                pipeline.submit(request).await
            }
            Err(refused) => refused,
        };
        let reply = convert::outcome_to_abi(&outcome);
        let source = self.source.clone();
        let handed_back = self
            .calls
            .run("complete", move || {
                source.complete(id.as_str().into(), &reply)
            })
            .await;
        if let Err(fault) = handed_back {
            tracing::warn!(source = %self.name, "outcome not handed back: {}", fault.admin_detail.unwrap_or_default());
        }
    }
}

#[async_trait]
impl CloudSource for NativeSource {
    async fn run(
        self: Arc<Self>,
        pipeline: Arc<dyn Submit>,
        shutdown: Shutdown,
    ) -> Result<(), BoxError> {
        let mut in_flight = tokio::task::JoinSet::new();
        let mut backoff = Duration::from_secs(1);
        let wait_ms = u64::try_from(self.poll_wait.as_millis()).unwrap_or(1_000);
        while !shutdown.is_cancelled() {
            let source = self.source.clone();
            let polled = tokio::select! {
                _ = shutdown.cancelled() => break,
                polled = self.calls.run("poll", move || source.poll(wait_ms).into_result()) => polled,
            };
            let problem = match polled {
                Ok(Ok(batch)) => {
                    backoff = Duration::from_secs(1);
                    for incoming in batch {
                        in_flight.spawn(self.clone().handle(pipeline.clone(), incoming));
                    }
                    None
                }
                Ok(Err(message)) => Some(message.into_string()),
                Err(fault) => Some(fault.admin_detail.unwrap_or(fault.message)),
            };
            if let Some(problem) = problem {
                tracing::warn!(source = %self.name, "poll failed, retrying in {backoff:?}: {problem}");
                tokio::select! {
                    _ = shutdown.cancelled() => break,
                    _ = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
            while in_flight.try_join_next().is_some() {}
        }
        // Every request already taken gets its outcome handed back.
        while in_flight.join_next().await.is_some() {}
        Ok(())
    }

    fn describe(&self) -> String {
        let described = self.source.describe().into_string();
        if described.is_empty() {
            self.calls.label().to_string()
        } else {
            format!("{described} ({})", self.calls.label())
        }
    }
}
