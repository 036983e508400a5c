//! The request's deadline, for connectors that must bound their own work by it (plugin
//! calls on a blocking pool or in a WASM sandbox). The pipeline sets it around each
//! request's processing; outside a request there is none.

use std::future::Future;
use std::time::{Duration, Instant};

tokio::task_local! {
    static DEADLINE: Instant;
}

/// Runs `work` with `deadline` as the current request's deadline.
pub async fn within<F: Future>(deadline: Instant, work: F) -> F::Output {
    DEADLINE.scope(deadline, work).await
}

/// Time left before the current request's deadline, if there is a request.
pub fn remaining() -> Option<Duration> {
    DEADLINE
        .try_with(|d| d.saturating_duration_since(Instant::now()))
        .ok()
}

/// `limit`, or less when the current request's deadline is nearer.
pub fn bound(limit: Duration) -> Duration {
    remaining().map_or(limit, |left| left.min(limit))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_nearer_of_limit_and_deadline() {
        assert_eq!(bound(Duration::from_secs(5)), Duration::from_secs(5));
        let soon = Instant::now() + Duration::from_millis(100);
        within(soon, async {
            assert!(bound(Duration::from_secs(5)) <= Duration::from_millis(100));
            assert_eq!(bound(Duration::from_millis(1)), Duration::from_millis(1));
        })
        .await;
    }
}
