//! The edge's operator endpoint: `/health` (503 unless NATS is connected and an agent
//! is alive), `/agents` (every agent's last heartbeat) and `/metrics`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use hyper_util::service::TowerToHyperService;
use tokio_util::sync::CancellationToken;
use writeback_listener::{Limits, Listener};

use crate::edge::Edge;

const LIMITS: Limits = Limits {
    max_connections: 64,
    handshake_timeout: Duration::from_secs(10),
    header_timeout: Duration::from_secs(10),
    body_timeout: Duration::from_secs(10),
    drain_timeout: Duration::from_secs(10),
};

pub async fn serve(listen: SocketAddr, edge: Arc<Edge>, shutdown: CancellationToken) {
    let app = Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/health", get(health))
        .route("/agents", get(agents))
        .route("/metrics", get(metrics))
        .with_state(edge);
    if !listen.ip().is_loopback() {
        tracing::warn!(key = "relay.health_listen", %listen,
            "the relay health endpoint is plain HTTP on a non-loopback address; listen on 127.0.0.1");
    }
    match Listener::bind(listen, None, LIMITS, "relay health endpoint").await {
        Ok(listener) => {
            tracing::info!(%listen, "relay health endpoint listening");
            listener
                .serve(move |_| TowerToHyperService::new(app.clone()), shutdown)
                .await;
        }
        Err(e) => {
            tracing::error!(%listen, error = %e, "cannot listen for the relay health endpoint")
        }
    }
}

async fn health(State(edge): State<Arc<Edge>>) -> impl IntoResponse {
    let agents = edge.agents();
    let alive = agents.iter().filter(|a| a.alive).count();
    let nats = edge.nats_connected();
    let ok = nats && alive > 0;
    let body = serde_json::json!({
        "status": if ok { "ok" } else { "failing" },
        "nats_connected": nats,
        "agents_alive": alive,
        "agents": agents,
    });
    let status = if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body))
}

async fn agents(State(edge): State<Arc<Edge>>) -> impl IntoResponse {
    Json(edge.agents())
}

async fn metrics(State(edge): State<Arc<Edge>>) -> impl IntoResponse {
    (
        [("content-type", "text/plain; version=0.0.4")],
        edge.render_metrics(),
    )
}
