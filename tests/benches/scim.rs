//! Password PATCHes per second through the SCIM source, beside the webhook source doing
//! the same resets, both into the same host and a target that writes nothing, measured
//! in the same run (alternating rounds, best of each). The ratio is SCIM / webhook.
//!
//! Per request the SCIM source does more than the webhook source: it looks the user up
//! by id in the target (the directory read `PATCH /Users/{id}` needs), renders the User
//! resource it answers with, and keys the body for retry safety.
//!
//! Run: `cargo bench -p writeback-tests --bench scim` (release; `-- --quick` for a short
//! run). Prints a table.
// Test code: a failed step stops the test with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[allow(dead_code)]
mod bench_support;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bench_support::null::{id_of, NullFactory, USERS};
use bench_support::{compare, measure, print_table, Row};
use writeback_host::{CancellationToken, Config, Host};

use writeback_tests::engine::WEBHOOK_SECRET;
const TOKEN: &str = "bench-token-0123456789abcdef";

struct Engine {
    webhook: String,
    scim: String,
    shutdown: CancellationToken,
}

async fn start(dir: &Path) -> Engine {
    let [webhook_port, scim_port] =
        writeback_testkit::process::free_ports::<2>("127.0.0.1").unwrap_or_else(|e| panic!("{e}"));
    let webhook_secret = dir.join("webhook.secret");
    std::fs::write(&webhook_secret, WEBHOOK_SECRET).unwrap_or_else(|e| panic!("{e}"));
    let token = dir.join("scim.token");
    std::fs::write(&token, TOKEN).unwrap_or_else(|e| panic!("{e}"));
    // Both sources over plain HTTP on loopback, so neither pays for TLS.
    let text = format!(
        "[pipeline]\ndedupe_capacity = 1000000\nmax_in_flight = 4096\n\n\
         [[sources]]\ntype = \"webhook\"\nlisten = \"127.0.0.1:{webhook_port}\"\nsecret = {{ file = \"{}\" }}\n\
         replay_cache_size = 1000000\n\n\
         [[sources]]\ntype = \"scim\"\nlisten = \"127.0.0.1:{scim_port}\"\nplain_http_on_loopback = true\n\
         token = {{ file = \"{}\" }}\ntarget = \"null\"\n\n\
         [[targets]]\ntype = \"null\"\n",
        webhook_secret.display(),
        token.display()
    );
    let path = dir.join("bench.toml");
    std::fs::write(&path, &text).unwrap_or_else(|e| panic!("{e}"));
    let mut registry = writeback_cli::builtin_registry();
    registry.register_target(Arc::new(NullFactory));
    let config = Config::load(&path).unwrap_or_else(|e| panic!("{e}"));
    let host = Host::build(config, &registry)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let shutdown = CancellationToken::new();
    tokio::spawn(host.run(shutdown.clone()));
    let engine = Engine {
        webhook: format!("http://127.0.0.1:{webhook_port}"),
        scim: format!("http://127.0.0.1:{scim_port}/scim/v2"),
        shutdown,
    };
    let http = reqwest::Client::new();
    for _ in 0..200 {
        let ok = http
            .get(format!("{}/ServiceProviderConfig", engine.scim))
            .bearer_auth(TOKEN)
            .send()
            .await
            .is_ok_and(|r| r.status().is_success());
        if ok
            && reqwest::get(format!("{}/healthz", engine.webhook))
                .await
                .is_ok()
        {
            return engine;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the sources did not start within 4 s");
}

async fn scim_load(url: String, round: usize, concurrency: usize, total: usize) -> Row {
    let http = reqwest::Client::new();
    measure("scim source: PATCH /Users/{id} password -> null target", concurrency, total, move |i| {
        let (http, url) = (http.clone(), url.clone());
        async move {
            let body = serde_json::json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "replace", "value": {"password": format!("Bench-Passw0rd!{concurrency}-{round}-{i}")}}]
            });
            let response = http
                .patch(format!("{url}/Users/{}", id_of(i % USERS)))
                .bearer_auth(TOKEN)
                .header("content-type", "application/scim+json")
                .body(body.to_string())
                .send()
                .await
                .map_err(|e| e.to_string())?;
            let status = response.status().as_u16();
            let text = response.text().await.map_err(|e| e.to_string())?;
            if status == 200 {
                Ok(())
            } else {
                Err(format!("HTTP {status}: {text}"))
            }
        }
    })
    .await
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"));
    let quick = std::env::args().any(|a| a == "--quick");
    runtime.block_on(async move {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let engine = start(dir.path()).await;
        let (total, rounds) = if quick { (2_000, 1) } else { (10_000, 3) };
        let mut rows = Vec::new();
        for concurrency in [1, 32] {
            let total = if concurrency == 1 { total / 4 } else { total };
            let (mut wr, mut sr) = (0, 0);
            let (baseline, subject) = compare(
                rounds,
                || {
                    wr += 1;
                    bench_support::http::load(
                        "webhook source: signed POST reset -> null target",
                        engine.webhook.clone(),
                        wr,
                        concurrency,
                        total,
                    )
                },
                || {
                    sr += 1;
                    scim_load(engine.scim.clone(), sr, concurrency, total)
                },
            )
            .await;
            rows.push(baseline);
            rows.push(subject);
        }
        engine.shutdown.cancel();
        print_table(&rows);
        println!(
            "ratio = SCIM PATCHes per second / webhook resets per second, same host, same run"
        );
    });
}
