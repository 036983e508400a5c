//! What the webhook source costs per request: the real source (signature check, replay
//! guard, parse, reply) with a pipeline that answers at once, beside a bare hyper
//! server that only parses the same JSON and replies. Same client, same signed
//! requests, same concurrency, measured in the same run.
//!
//! `cargo bench -p writeback-source-webhook --bench source_overhead`
//! (env: BENCH_SECONDS, default 3; BENCH_CONCURRENCY, default 32)
// Test code: a failed step stops the test with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::convert::Infallible;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio_util::sync::CancellationToken;
use writeback_core::{
    BuildContext, CloudSource, ConnectorConfig, ConnectorKind, Outcome, Password, Request,
    SecretRef, SecretResolver, Submit,
};
use writeback_signing::{sign_headers, Secret};
use writeback_source_webhook::client::unix_now;
use writeback_source_webhook::WebhookSource;

const SECRET: &str = "whsec_d3JpdGViYWNrLXRlc3Qtc2lnbmluZy1rZXktMDAwMSE=";

struct Instant200;
#[async_trait]
impl Submit for Instant200 {
    async fn submit(&self, _request: Request) -> Outcome {
        Outcome::succeeded()
    }
}

struct Inline;
impl SecretResolver for Inline {
    fn resolve(&self, secret: &SecretRef) -> Result<Password, writeback_core::SecretError> {
        secret
            .value
            .clone()
            .ok_or_else(|| writeback_core::SecretError::Unsupported("inline only".into()))
    }
}

async fn start_source(shutdown: CancellationToken) -> String {
    let text = format!("listen = \"127.0.0.1:0\"\nsecret = {{ value = \"{SECRET}\" }}");
    let table: toml::Table = toml::from_str(&text).unwrap();
    let config = ConnectorConfig::in_code(ConnectorKind::Source, "webhook", "bench", table);
    let ctx = BuildContext {
        secrets: &Inline,
        base_dir: Path::new("."),
    };
    let source = Arc::new(WebhookSource::build(&config, &ctx).await.unwrap());
    tokio::spawn({
        let source = source.clone();
        async move { source.run(Arc::new(Instant200), shutdown).await }
    });
    format!("http://{}/v1/requests", source.local_addr().await.unwrap())
}

/// The baseline: read the body, parse the JSON, answer with a small JSON reply.
async fn start_bare() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let _ = stream.set_nodelay(true);
            tokio::spawn(async move {
                let service = service_fn(
                    |request: hyper::Request<hyper::body::Incoming>| async move {
                        let body = request
                            .into_body()
                            .collect()
                            .await
                            .map(|c| c.to_bytes())
                            .unwrap_or_default();
                        let value: serde_json::Value =
                            serde_json::from_slice(&body).unwrap_or_default();
                        let reply = serde_json::json!({
                            "id": value["id"], "outcome": "succeeded", "message": "Your password was updated.", "retryable": false
                        });
                        let mut response = hyper::Response::new(Full::new(Bytes::from(
                            serde_json::to_vec(&reply).unwrap(),
                        )));
                        response
                            .headers_mut()
                            .insert("content-type", "application/json".parse().unwrap());
                        Ok::<_, Infallible>(response)
                    },
                );
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    format!("http://{addr}/v1/requests")
}

struct Measured {
    requests: usize,
    errors: usize,
    seconds: f64,
    latencies: Vec<Duration>,
}

async fn load(url: &str, concurrency: usize, duration: Duration, tag: &str) -> Measured {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .build()
        .unwrap();
    let secret = Arc::new(Secret::parse(SECRET).unwrap());
    let started = Instant::now();
    let deadline = started + duration;
    let mut workers = tokio::task::JoinSet::new();
    for worker in 0..concurrency {
        let (client, secret, url, tag) = (
            client.clone(),
            secret.clone(),
            url.to_string(),
            tag.to_string(),
        );
        workers.spawn(async move {
            let mut latencies = Vec::new();
            let mut errors = 0;
            let mut n = 0u64;
            while Instant::now() < deadline {
                n += 1;
                let id = format!("{tag}-{worker}-{n}");
                let body = format!(
                    r#"{{"id":"{id}","operation":"reset","identity":{{"username":"user{worker}"}},"new_password":"Bench-Passw0rd-{n}"}}"#
                );
                let headers = sign_headers(&[&secret], &format!("msg_{id}"), unix_now(), body.as_bytes()).unwrap();
                let t = Instant::now();
                let ok = match client.post(&url).headers(headers).body(body).send().await {
                    Ok(r) => r.status().is_success() && r.bytes().await.is_ok(),
                    Err(_) => false,
                };
                if ok {
                    latencies.push(t.elapsed());
                } else {
                    errors += 1;
                }
            }
            (latencies, errors)
        });
    }
    let mut all = Vec::new();
    let mut errors = 0;
    while let Some(Ok((l, e))) = workers.join_next().await {
        all.extend(l);
        errors += e;
    }
    all.sort();
    Measured {
        requests: all.len(),
        errors,
        seconds: started.elapsed().as_secs_f64(),
        latencies: all,
    }
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

fn main() {
    let seconds: u64 = std::env::var("BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3);
    let concurrency: usize = std::env::var("BENCH_CONCURRENCY")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(32);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let shutdown = CancellationToken::new();
        let source_url = start_source(shutdown.clone()).await;
        let bare_url = start_bare().await;
        // Warm both up (connections, allocator), then measure each in turn, twice,
        // alternating, and keep each one's better run.
        let warm = Duration::from_millis(500);
        load(&bare_url, concurrency, warm, "warm-bare").await;
        load(&source_url, concurrency, warm, "warm-src").await;
        let mut best: [Option<Measured>; 2] = [None, None];
        for round in 0..2 {
            for (slot, url) in [(0, &bare_url), (1, &source_url)] {
                let m = load(url, concurrency, Duration::from_secs(seconds), &format!("r{round}s{slot}")).await;
                let rps = |m: &Measured| m.requests as f64 / m.seconds;
                if best[slot].as_ref().is_none_or(|b| rps(&m) > rps(b)) {
                    best[slot] = Some(m);
                }
            }
        }
        shutdown.cancel();
        println!("webhook source overhead: {concurrency} concurrent clients, {seconds} s per run, best of 2 (debug logs off)");
        println!("| server | requests/s | p50 ms | p99 ms | errors |");
        println!("| --- | ---: | ---: | ---: | ---: |");
        let mut rates = [0.0; 2];
        for (slot, name) in [(0, "bare hyper: parse JSON + reply"), (1, "webhook source: verify + replay guard + parse + reply")] {
            let Some(m) = &best[slot] else { continue };
            rates[slot] = m.requests as f64 / m.seconds;
            println!(
                "| {name} | {:.0} | {:.2} | {:.2} | {} |",
                rates[slot],
                percentile(&m.latencies, 0.50),
                percentile(&m.latencies, 0.99),
                m.errors
            );
        }
        println!("ratio source/bare (requests/s): {:.2}", rates[1] / rates[0]);
    });
}
