//! The shared listener as the SCIM source and the `[admin]` endpoint use it: a
//! connection cap, a body-read timeout and a header-read timeout, seen by real HTTP
//! clients against the real host (SCIM reading the real slapd).

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use writeback_testkit::slapd;
use writeback_tests::engine::write_secret;
use writeback_tests::Engine;

use crate::support::*;

const TOKEN: &str = "listener-e2e-token-Qz81mW4nVb7x";

/// Reads from `stream` until the server closes it (or `limit` passes): what it sent.
async fn read_until_closed(stream: &mut TcpStream, limit: Duration) -> Option<String> {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let read_all = async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    };
    tokio::time::timeout(limit, read_all).await.ok()?;
    Some(String::from_utf8_lossy(&got).into_owned())
}

/// Whether `send` gets a 200 within `tries` × 25 ms.
async fn answers_200<F, Fut>(tries: u32, send: F) -> bool
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = reqwest::Result<reqwest::Response>>,
{
    for _ in 0..tries {
        if send().await.is_ok_and(|r| r.status() == 200) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    false
}

#[tokio::test]
async fn scim_source_caps_connections_and_times_out_a_slow_body() {
    let slapd = slapd::shared();
    let [port] = writeback_testkit::process::free_ports::<1>("127.0.0.1")
        .unwrap_or_else(|e| panic!("free port: {e}"));
    let engine = Engine::start(|dir| {
        let token = write_secret(dir, "scim-token", TOKEN);
        format!(
            "[[sources]]\ntype = \"scim\"\nname = \"scim\"\nlisten = \"127.0.0.1:{port}\"\n\
             plain_http_on_loopback = true\ntoken = {{ file = \"{token}\" }}\ntarget = \"ldap\"\n\
             max_connections = 1\nbody_timeout_secs = 1\n\n{}{}",
            openldap_target(slapd, dir, "ldap", BY_UID),
            BASIC_POLICY,
            token = token.display(),
        )
    })
    .await;
    let base = format!("http://127.0.0.1:{port}/scim/v2");
    // A fresh connection per request, so that a kept-alive one does not hold the slot.
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .timeout(Duration::from_millis(1500))
        .build()
        .unwrap_or_else(|e| panic!("client: {e}"));
    let config = || {
        http.get(format!("{base}/ServiceProviderConfig"))
            .bearer_auth(TOKEN)
            .send()
    };
    assert!(
        answers_200(200, config).await,
        "the SCIM source did not answer"
    );

    // One client holds the only slot: the next is not served until it lets go.
    let held = TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap_or_else(|e| panic!("connect: {e}"));
    tokio::time::sleep(Duration::from_millis(100)).await;
    let while_held = config().await;
    assert!(
        while_held.is_err(),
        "served beyond max_connections = 1: {while_held:?}"
    );
    drop(held);
    assert!(
        answers_200(80, config).await,
        "not served after the slot was given back"
    );

    // Headers, then a body that stops half-way: 408 after body_timeout_secs, and the
    // connection is closed.
    let mut slow = TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap_or_else(|e| panic!("connect: {e}"));
    let head = format!(
        "PATCH /scim/v2/Users/someone HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {TOKEN}\r\n\
         Content-Type: application/scim+json\r\nContent-Length: 400\r\n\r\n{{\"schemas\": ["
    );
    slow.write_all(head.as_bytes())
        .await
        .unwrap_or_else(|e| panic!("write: {e}"));
    let started = Instant::now();
    let reply = read_until_closed(&mut slow, Duration::from_secs(10))
        .await
        .unwrap_or_else(|| panic!("a trickled body held the connection for 10 s"));
    let waited = started.elapsed();
    assert!(reply.starts_with("HTTP/1.1 408"), "{reply}");
    assert!(reply.contains("within 1 s"), "{reply}");
    assert!(
        waited >= Duration::from_millis(900) && waited < Duration::from_secs(5),
        "{waited:?}"
    );
    engine.stop().await.unwrap_or_else(|e| panic!("stop: {e}"));
}

#[tokio::test]
async fn admin_endpoint_drops_a_client_that_never_finishes_its_headers() {
    let slapd = slapd::shared();
    let [port] = writeback_testkit::process::free_ports::<1>("127.0.0.1")
        .unwrap_or_else(|e| panic!("free port: {e}"));
    let engine = Engine::start(|dir| {
        format!(
            "[admin]\nlisten = \"127.0.0.1:{port}\"\n\n{}{}",
            openldap_target(slapd, dir, "ldap", BY_UID),
            BASIC_POLICY,
        )
    })
    .await;
    let http = reqwest::Client::new();
    let healthz = || http.get(format!("http://127.0.0.1:{port}/healthz")).send();
    assert!(
        answers_200(200, healthz).await,
        "the admin endpoint did not answer"
    );

    // Half a request, then nothing: the endpoint must not keep the connection forever.
    let mut stream = TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap_or_else(|e| panic!("connect: {e}"));
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        .await
        .unwrap_or_else(|e| panic!("write: {e}"));
    let started = Instant::now();
    let reply = read_until_closed(&mut stream, Duration::from_secs(20)).await;
    let waited = started.elapsed();
    let reply = reply.unwrap_or_else(|| panic!("connection still open after 20 s"));
    assert!(!reply.contains("200 OK"), "{reply}");
    assert!(
        waited >= Duration::from_secs(9) && waited < Duration::from_secs(15),
        "closed after {waited:?}, the header timeout is 10 s"
    );
    engine.stop().await.unwrap_or_else(|e| panic!("stop: {e}"));
}
