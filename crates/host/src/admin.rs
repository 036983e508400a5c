//! Health and metrics for operators: `/healthz` (the process answers), `/health`
//! (every target's latest self-test; 503 when one fails) and `/metrics`, served on the
//! shared listener with small limits; a warning when it listens beyond loopback.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use hyper_util::service::TowerToHyperService;
use tokio::sync::RwLock;
use tokio_util::sync::CancellationToken;
use writeback_core::HealthCheck;
use writeback_listener::{Limits, Listener};

use crate::config::AdminConfig;
use crate::pipeline::Pipeline;

/// Few and short: operators' scrapers, not the public. A client that does not send
/// its request headers within 10 s is disconnected.
pub const LIMITS: Limits = Limits {
    max_connections: 64,
    handshake_timeout: Duration::from_secs(10),
    header_timeout: Duration::from_secs(10),
    body_timeout: Duration::from_secs(10),
    drain_timeout: Duration::from_secs(10),
};

/// Each target's name with its latest self-test.
type TargetHealth = Vec<(String, Vec<HealthCheck>)>;

#[derive(Clone)]
struct AdminState {
    pipeline: Pipeline,
    health: Arc<RwLock<TargetHealth>>,
}

pub fn spawn(
    config: AdminConfig,
    pipeline: Pipeline,
    shutdown: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let state = AdminState {
            pipeline,
            health: Arc::new(RwLock::new(Vec::new())),
        };
        let checker = tokio::spawn(check_loop(
            state.clone(),
            Duration::from_secs(config.health_interval_secs.max(5)),
            shutdown.clone(),
        ));
        let app = Router::new()
            .route("/healthz", get(|| async { "ok\n" }))
            .route("/health", get(health))
            .route("/metrics", get(metrics))
            .with_state(state);
        if !config.listen.ip().is_loopback() {
            tracing::warn!(
                key = "admin.listen",
                listen = %config.listen,
                "the admin endpoint (health with target names and errors, metrics) is served \
                 over plain HTTP on a non-loopback address: anyone who can reach it can read \
                 it; listen on 127.0.0.1 and scrape through a proxy or an SSH tunnel"
            );
        }
        match Listener::bind(config.listen, None, LIMITS, "admin endpoint").await {
            Ok(listener) => {
                tracing::info!(listen = %config.listen, "admin endpoint (health, metrics) listening");
                let serve = move |_peer| TowerToHyperService::new(app.clone());
                listener.serve(serve, shutdown).await;
            }
            Err(e) => tracing::error!(listen = %config.listen, error = %e,
                "cannot listen for the admin endpoint; health and metrics are not served"),
        }
        checker.abort();
    })
}

async fn check_loop(state: AdminState, every: Duration, shutdown: CancellationToken) {
    loop {
        let mut results = Vec::new();
        for t in state.pipeline.targets() {
            results.push((t.name.clone(), t.target.self_test().await));
        }
        *state.health.write().await = results;
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(every) => {}
        }
    }
}

async fn health(State(state): State<AdminState>) -> impl IntoResponse {
    let health = state.health.read().await.clone();
    let audit_alarm = state.pipeline.metrics().audit_health.alarm();
    let ok = !health.is_empty()
        && health.iter().all(|(_, checks)| checks.iter().all(|c| c.ok))
        && audit_alarm.is_none();
    let body = serde_json::json!({
        "status": if ok { "ok" } else { "failing" },
        "audit": match &audit_alarm {
            None => serde_json::json!({ "ok": true }),
            Some(alarm) => serde_json::json!({ "ok": false, "alarm": alarm }),
        },
        "targets": health.iter().map(|(name, checks)| serde_json::json!({
            "target": name,
            "checks": checks,
        })).collect::<Vec<_>>(),
    });
    let status = if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body))
}

async fn metrics(State(state): State<AdminState>) -> impl IntoResponse {
    (
        [("content-type", "text/plain; version=0.0.4")],
        state.pipeline.metrics().render(),
    )
}
