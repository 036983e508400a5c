//! (a) the webhook source and pipeline to a target that writes nothing, beside a bare
//! server doing the same signature check, parse and reply.

use std::sync::Arc;

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use writeback_core::{CloudIdentity, Password};
use writeback_host::{CancellationToken, Config, Host};
use writeback_signing::{verify, Secret, DEFAULT_TOLERANCE};
use writeback_source_webhook::client::{Client, RequestBody};

use super::null::NullFactory;
use super::{compare, measure, Row};

use writeback_tests::engine::WEBHOOK_SECRET as SECRET;

/// What the bare server does per request: the same checks and the same reply shape.
async fn bare(headers: HeaderMap, body: Bytes) -> (StatusCode, String) {
    let Ok(secret) = Secret::parse(SECRET) else {
        return (StatusCode::INTERNAL_SERVER_ERROR, String::new());
    };
    if verify(
        &[secret],
        &headers,
        &body,
        std::time::SystemTime::now(),
        DEFAULT_TOLERANCE,
    )
    .is_err()
    {
        return (StatusCode::UNAUTHORIZED, String::new());
    }
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(&body) else {
        return (StatusCode::BAD_REQUEST, String::new());
    };
    let reply = serde_json::json!({
        "id": v["id"], "outcome": "succeeded", "message": "Your password was updated.", "retryable": false
    });
    (StatusCode::OK, reply.to_string())
}

async fn start_bare() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let addr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
    let app = Router::new().route("/v1/requests", post(bare));
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    format!("http://{addr}")
}

async fn start_writeback(dir: &std::path::Path) -> (String, CancellationToken) {
    let [port] =
        writeback_testkit::process::free_ports::<1>("127.0.0.1").unwrap_or_else(|e| panic!("{e}"));
    let secret_file = dir.join("webhook.secret");
    std::fs::write(&secret_file, SECRET).unwrap_or_else(|e| panic!("{e}"));
    let text = format!(
        "[pipeline]\ndedupe_capacity = 1000000\nmax_in_flight = 4096\n\n[[sources]]\ntype = \"webhook\"\n\
         listen = \"127.0.0.1:{port}\"\nsecret = {{ file = \"{}\" }}\nreplay_cache_size = 1000000\n\n\
         [[targets]]\ntype = \"null\"\n",
        secret_file.display()
    );
    let path = dir.join("bench.toml");
    std::fs::write(&path, &text).unwrap_or_else(|e| panic!("{e}"));
    let mut registry = writeback_cli::builtin_registry();
    registry.register_target(Arc::new(NullFactory));
    let config = Config::load(&path).unwrap_or_else(|e| panic!("{e}"));
    let host = Host::build(config, &registry)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let token = CancellationToken::new();
    tokio::spawn(host.run(token.clone()));
    let url = format!("http://127.0.0.1:{port}");
    for _ in 0..200 {
        if reqwest::get(format!("{url}/healthz")).await.is_ok() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    (url, token)
}

/// Signed resets against a webhook source at `url`: every request a new id and a new
/// password, so none is answered from an earlier outcome instead of being measured.
pub async fn load(
    case: &'static str,
    url: String,
    round: usize,
    concurrency: usize,
    total: usize,
) -> Row {
    let client = Arc::new(Client::new(None).unwrap_or_else(|e| panic!("{e}")));
    let secret = Arc::new(Secret::parse(SECRET).unwrap_or_else(|e| panic!("{e}")));
    measure(case, concurrency, total, move |i| {
        let (client, secret, url) = (client.clone(), secret.clone(), url.clone());
        async move {
            let identity = CloudIdentity {
                username: Some(format!("user{}", i % 500)),
                ..Default::default()
            };
            let body = RequestBody::reset(
                &format!("r{}-{concurrency}-{round}-{i}", case.len()),
                identity,
                Password::new(format!("Bench-Passw0rd!{round}-{i}")),
                false,
            );
            let answer = client
                .send(&url, &secret, &body)
                .await
                .map_err(|e| e.to_string())?;
            if answer.status == 200 {
                Ok(())
            } else {
                Err(format!("HTTP {}: {}", answer.status, answer.reply.message))
            }
        }
    })
    .await
}

pub async fn http_pipeline(quick: bool) -> Vec<Row> {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let bare_url = start_bare().await;
    let (wb_url, token) = start_writeback(dir.path()).await;
    let (total, rounds) = if quick { (2_000, 1) } else { (20_000, 3) };
    let mut rows = Vec::new();
    for concurrency in [1, 32] {
        let total = if concurrency == 1 { total / 4 } else { total };
        let mut round = 0;
        let mut round2 = 0;
        let (b, s) = compare(
            rounds,
            || {
                round += 1;
                load(
                    "(a) bare HTTP server: verify, parse, reply",
                    bare_url.clone(),
                    round,
                    concurrency,
                    total,
                )
            },
            || {
                round2 += 1;
                load(
                    "(a) writeback: webhook source -> pipeline -> null target",
                    wb_url.clone(),
                    round2,
                    concurrency,
                    total,
                )
            },
        )
        .await;
        rows.push(b);
        rows.push(s);
    }
    token.cancel();
    rows
}
