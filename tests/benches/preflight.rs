//! The password page's pre-flight (issue 17): checks per second and p50/p99 at
//! concurrency 1 and 16, for
//!
//! * the in-process pre-flight (account lookup in the real slapd + the basic policy,
//!   the work `writeback policy check` does), the floor;
//! * the page's `POST /v1/preflight` over HTTPS with a real session (signed in through
//!   the real OpenID Connect provider in a real browser) and its CSRF token;
//! * the webhook source's signed `POST /v1/policy-check` over HTTPS.
//!
//! The pre-flight remembers a found account for 30 s (pre-flights only); one more
//! in-process row misses that cache on purpose, for the cost of the lookup.
//!
//! Aim: p99 under 5 ms, so verdicts feel instant while typing. The directory policy
//! (AD's effective policy, cached by the `directory` policy) is not in this setup:
//! slapd has none to read.
//!
//! Run: `cargo bench -p writeback-tests --bench preflight` (release; `-- --quick` for a
//! short run). Needs slapd, Chromium and oidc-provider (`scripts/setup.sh`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[allow(dead_code)]
mod bench_support;

use std::sync::Arc;
use std::time::Duration;

use bench_support::{measure, print_table, Row};
use serde_json::json;
use writeback_core::{CloudIdentity, OperationKind, Password};
use writeback_signing::{sign_headers, Secret};
use writeback_testkit::browser::{Browser, BrowserOptions};
use writeback_testkit::oidc::{OidcClient, OidcProvider, OidcUser};
use writeback_testkit::slapd;
use writeback_tests::engine::{write_secret, WEBHOOK_SECRET};
use writeback_tests::Engine;

const CLIENT_SECRET: &str = "bench-client-secret-0123456789abcdef";
const PROVIDER_PASSWORD: &str = "bench-provider-pass-1";

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let rows = runtime.block_on(run(quick));
    print_table(&rows);
}

async fn run(quick: bool) -> Vec<Row> {
    let total = if quick { 2_000 } else { 10_000 };
    let s = slapd::shared();
    let uid = s.unique_uid("bench-pf");
    s.add_user(&uid, "Initial-Pass-1", &[])
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let [port] =
        writeback_testkit::process::free_ports::<1>("127.0.0.1").unwrap_or_else(|e| panic!("{e}"));
    let portal_url = format!("https://127.0.0.1:{port}");
    let provider = OidcProvider::start(
        &[OidcClient {
            client_id: "portal".into(),
            client_secret: CLIENT_SECRET.into(),
            redirect_uris: vec![format!("{portal_url}/callback")],
        }],
        &[OidcUser {
            username: uid.clone(),
            password: PROVIDER_PASSWORD.into(),
            claims: json!({"sub": format!("sub-{uid}"), "preferred_username": uid}),
        }],
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let engine = Engine::start(|dir| {
        let certs = writeback_testkit::tls::TestCerts::generate(&["127.0.0.1"])
            .and_then(|c| c.write_to(&dir.join("portal-tls")))
            .unwrap_or_else(|e| panic!("{e}"));
        let secret = write_secret(dir, "client-secret", CLIENT_SECRET);
        let bind = write_secret(dir, "bind", s.service_password());
        format!(
            "[[sources]]\ntype = \"portal\"\nlisten = \"127.0.0.1:{port}\"\npublic_url = \"{portal_url}\"\n\
             tls = {{ cert_file = \"{cert}\", key_file = \"{key}\" }}\n\
             limits = {{ checks_per_account = 100000000, checks_per_address = 100000000 }}\n\
             [sources.oidc]\nissuer = \"{issuer}\"\nclient_id = \"portal\"\n\
             client_secret = {{ file = \"{secret}\" }}\nca_file = \"{idp_ca}\"\n\
             [sources.identity]\nusername = [\"preferred_username\"]\n\n\
             [pipeline]\ndeadline_ms = 8000\n\n\
             [[targets]]\ntype = \"openldap\"\nname = \"ldap\"\nurl = \"{url}\"\nca_file = \"{ca}\"\n\
             bind_dn = \"{bind_dn}\"\nbind_password = {{ file = \"{bind}\" }}\nbase_dn = \"{base}\"\n\
             filter = \"(&(objectClass=inetOrgPerson)(uid={{username}}))\"\n\n\
             [[policies]]\ntype = \"basic\"\nmin_length = 10\nmin_categories = 3\n",
            cert = certs.cert.display(),
            key = certs.key.display(),
            issuer = provider.issuer(),
            secret = secret.display(),
            idp_ca = provider.ca_file().display(),
            url = s.ldaps_url(),
            ca = s.ca_file().display(),
            bind_dn = s.service_dn(),
            bind = bind.display(),
            base = s.people_dn(),
        )
    })
    .await;

    // A real session: sign in through the provider in a real browser.
    let browser = Browser::start(BrowserOptions::default())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    for _ in 0..100 {
        if browser.goto(&portal_url).await.is_ok() && browser.find("#sign-in").await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    browser
        .click("#sign-in")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    browser
        .wait_for("#username")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    browser
        .fill("#username", &uid)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    browser
        .fill("#password", PROVIDER_PASSWORD)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    browser
        .click("#sign-in")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    browser
        .wait_for("#who")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let cookie = browser
        .cookies()
        .await
        .unwrap_or_default()
        .iter()
        .find(|c| c["name"] == "__Host-wb-portal")
        .and_then(|c| c["value"].as_str().map(|v| format!("__Host-wb-portal={v}")))
        .unwrap_or_else(|| panic!("no session cookie"));
    let csrf = browser
        .attribute("#csrf", "value")
        .await
        .ok()
        .flatten()
        .unwrap_or_else(|| panic!("no CSRF token"));
    drop(browser);

    let pem = std::fs::read(&engine.ca_file).unwrap_or_else(|e| panic!("{e}"));
    let portal_pem = std::fs::read(engine.dir.path().join("portal-tls/ca.pem"))
        .unwrap_or_else(|e| panic!("{e}"));
    let http = reqwest::Client::builder()
        .add_root_certificate(
            reqwest::Certificate::from_pem(&pem).unwrap_or_else(|e| panic!("{e}")),
        )
        .add_root_certificate(
            reqwest::Certificate::from_pem(&portal_pem).unwrap_or_else(|e| panic!("{e}")),
        )
        .pool_max_idle_per_host(64)
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let candidates = ["short", "Bench-Good-Pass-1!"];
    let mut rows = Vec::new();
    for concurrency in [1, 16] {
        // In process, twice: first with a new identity key each check (an `extra` value
        // the filter does not use), so the pre-flight's account cache never hits and the
        // account is looked up in slapd every time, as before the cache; then as a page
        // asks, the same person over and over.
        for (case, miss) in [
            (
                "in process, account looked up each time (cache missed)",
                true,
            ),
            ("in process: lookup + policies (policy check)", false),
        ] {
            let (pipeline, uid) = (engine.pipeline.clone(), uid.clone());
            let row = measure(case, concurrency, total, move |i| {
                let pipeline = pipeline.clone();
                let mut identity = CloudIdentity {
                    username: Some(uid.clone()),
                    ..Default::default()
                };
                if miss {
                    identity
                        .extra
                        .insert("bench_miss".into(), format!("{concurrency}-{i}"));
                }
                async move {
                    let p = Password::new(candidates[i % 2]);
                    pipeline
                        .preflight(&identity, OperationKind::Reset, &p)
                        .await
                        .map(|_| ())
                        .map_err(|o| o.to_string())
                }
            })
            .await;
            rows.push(row);
        }
        let (h, url, cookie, csrf) = (
            http.clone(),
            format!("{portal_url}/v1/preflight"),
            cookie.clone(),
            csrf.clone(),
        );
        let shared = Arc::new((h, url, cookie, csrf));
        rows.push(
            measure(
                "page: POST /v1/preflight (HTTPS, session, CSRF)",
                concurrency,
                total,
                move |i| {
                    let shared = shared.clone();
                    async move {
                        let (h, url, cookie, csrf) = &*shared;
                        let pw = candidates[i % 2];
                        let r = h
                            .post(url)
                            .header("cookie", cookie)
                            .header("x-csrf-token", csrf)
                            .header("content-type", "application/json")
                            .body(json!({"password": pw, "confirm": pw}).to_string())
                            .send()
                            .await
                            .map_err(|e| e.to_string())?;
                        if r.status() != 200 {
                            return Err(format!("HTTP {}", r.status()));
                        }
                        r.bytes().await.map(|_| ()).map_err(|e| e.to_string())
                    }
                },
            )
            .await,
        );
        let secret = Arc::new(Secret::parse(WEBHOOK_SECRET).unwrap_or_else(|e| panic!("{e}")));
        let shared = Arc::new((
            http.clone(),
            format!("{}/v1/policy-check", engine.url),
            uid.clone(),
        ));
        rows.push(
            measure("webhook: signed POST /v1/policy-check (HTTPS)", concurrency, total, move |i| {
                let (shared, secret) = (shared.clone(), secret.clone());
                async move {
                    let (h, url, uid) = &*shared;
                    let body = json!({"id": format!("pc-{concurrency}-{i}"), "operation": "reset",
                                      "new_password": candidates[i % 2], "identity": {"username": uid}})
                    .to_string();
                    let now = std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .map(|d| d.as_secs() as i64)
                        .unwrap_or(0);
                    let headers = sign_headers(&[&*secret], &format!("msg_{concurrency}_{i}"), now, body.as_bytes())
                        .map_err(|e| e.to_string())?;
                    let r = h
                        .post(url)
                        .headers(headers)
                        .header("content-type", "application/json")
                        .body(body)
                        .send()
                        .await
                        .map_err(|e| e.to_string())?;
                    if r.status() != 200 {
                        return Err(format!("HTTP {}", r.status()));
                    }
                    r.bytes().await.map(|_| ()).map_err(|e| e.to_string())
                }
            })
            .await,
        );
    }
    drop(provider);
    rows
}
