//! Health and metrics for operators: `/healthz` (the process answers), `/health`
//! (every target's latest self-test and the audit alarm; 503 when one fails),
//! `/metrics`, and the `/status` page (see [`crate::status`]), served on the shared
//! listener with small limits; a warning when it listens beyond loopback.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
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
use crate::status::{self as page, StatusSources};

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
    /// When the last self-test round finished (RFC 3339).
    last_check: Arc<RwLock<Option<String>>>,
    started: Instant,
    sources: Arc<StatusSources>,
    /// `None`: `/status` for loopback clients only.
    status_token: Option<Arc<str>>,
}

/// The client's address, for the loopback-only status page.
#[derive(Clone, Copy)]
struct Peer(SocketAddr);

/// Makes `status_token_file` absolute against the config file's folder.
pub fn resolve_paths(mut admin: AdminConfig, config: &crate::Config) -> AdminConfig {
    if let Some(file) = admin.status_token_file.as_mut() {
        if file.is_relative() {
            *file = config.base_dir().join(&*file);
        }
    }
    admin
}

pub fn spawn(
    config: AdminConfig,
    pipeline: Pipeline,
    sources: StatusSources,
    shutdown: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let status_token = match &config.status_token_file {
            None => None,
            Some(file) => match std::fs::read_to_string(file) {
                Ok(t) if t.trim().len() >= 16 => Some(Arc::from(t.trim())),
                Ok(_) => {
                    tracing::error!(file = %file.display(),
                        "the status page token is shorter than 16 characters: /status is \
                         served to loopback clients only; put a longer random token in the file");
                    None
                }
                Err(e) => {
                    tracing::error!(file = %file.display(), error = %e,
                        "cannot read the status page token: /status is served to loopback \
                         clients only");
                    None
                }
            },
        };
        let state = AdminState {
            pipeline,
            health: Arc::new(RwLock::new(Vec::new())),
            last_check: Arc::new(RwLock::new(None)),
            started: Instant::now(),
            sources: Arc::new(sources),
            status_token,
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
            .route("/status", get(status))
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
                let serve = move |peer| {
                    TowerToHyperService::new(app.clone().layer(axum::Extension(Peer(peer))))
                };
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
        *state.last_check.write().await = Some(crate::pipeline::now_rfc3339());
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

/// The status page: loopback clients, or any client with the token when one is set.
async fn status(
    State(state): State<AdminState>,
    axum::Extension(Peer(peer)): axum::Extension<Peer>,
    headers: HeaderMap,
    uri: Uri,
) -> axum::response::Response {
    let allowed = match &state.status_token {
        None => peer.ip().is_loopback(),
        Some(expected) => {
            let bearer = headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "));
            let query = uri
                .query()
                .and_then(|q| q.split('&').find_map(|kv| kv.strip_prefix("token=")));
            bearer
                .into_iter()
                .chain(query)
                .any(|t| page::token_matches(t, expected))
        }
    };
    if !allowed {
        let why = if state.status_token.is_some() {
            "the status page needs the token from [admin] status_token_file \
             (Authorization: Bearer TOKEN, or ?token=TOKEN)\n"
        } else {
            "the status page is served to loopback clients only; set [admin] \
             status_token_file to open it to others with a token\n"
        };
        return (StatusCode::FORBIDDEN, why).into_response();
    }
    let health = state.health.read().await.clone();
    let last_check = state.last_check.read().await.clone();
    let metrics = state.pipeline.metrics();
    let html = page::render(&page::Snapshot {
        version: env!("CARGO_PKG_VERSION"),
        started: state.started,
        targets: &health,
        last_check: last_check.as_deref(),
        metrics,
        sources: &state.sources,
    });
    (
        [
            ("content-type", "text/html; charset=utf-8"),
            (
                "content-security-policy",
                "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
            ),
            ("cache-control", "no-store"),
            ("referrer-policy", "no-referrer"),
        ],
        html,
    )
        .into_response()
}
