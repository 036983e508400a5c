//! The notification receiver the engine tests use: the test kit's real HTTP server,
//! which verifies each Standard Webhooks signature, seen through the event bodies.

use std::sync::Arc;

use writeback_testkit::http_receiver::HttpReceiver;

pub const RECEIVER_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

#[derive(Clone)]
pub struct Receiver {
    /// The signing secret the notifier must use (`whsec_…`).
    pub secret: String,
    inner: Arc<HttpReceiver>,
}

impl Receiver {
    pub async fn start() -> Receiver {
        let inner = HttpReceiver::start(RECEIVER_SECRET)
            .unwrap_or_else(|e| panic!("notification receiver: {e}"));
        Receiver {
            secret: RECEIVER_SECRET.to_string(),
            inner: Arc::new(inner),
        }
    }

    pub fn url(&self) -> String {
        self.inner.url()
    }

    /// Every correctly signed event received, first delivery of each webhook-id.
    pub fn bodies(&self) -> Vec<serde_json::Value> {
        self.inner
            .deliveries()
            .iter()
            .filter_map(|d| serde_json::from_str(&d.body).ok())
            .collect()
    }

    /// Waits until a notification for `request_id` arrived (or 10 s passed).
    pub async fn wait_for(&self, request_id: &str) -> Option<serde_json::Value> {
        for _ in 0..200 {
            if let Some(b) = self
                .bodies()
                .into_iter()
                .find(|b| b["request_id"] == request_id)
            {
                return Some(b);
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        None
    }
}
