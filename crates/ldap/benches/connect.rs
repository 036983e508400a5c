//! Connect + TLS + bind latency against the test kit's slapd: writeback-ldap's
//! `Connector` (TCP_NODELAY) beside ldap3's own connect (Nagle left on), and a pooled
//! search beside a fresh connection per search. Prints a table; run with
//! `cargo bench -p writeback-ldap --bench connect`.
// Test code: a failed step stops the test with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use writeback_core::Password;
use writeback_ldap::ldap3::{LdapConnAsync, LdapConnSettings, Scope};
use writeback_ldap::{ConnectOptions, Connector, Pool};
use writeback_testkit::slapd::Slapd;

const ROUNDS: usize = 200;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

async fn measure<F, Fut>(mut f: F) -> Vec<Duration>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    for _ in 0..10 {
        f().await;
    }
    let mut samples = Vec::with_capacity(ROUNDS);
    for _ in 0..ROUNDS {
        let t = Instant::now();
        f().await;
        samples.push(t.elapsed());
    }
    samples.sort();
    samples
}

fn row(name: &str, samples: &[Duration], baseline: Option<&[Duration]>) {
    let p50 = percentile(samples, 0.5);
    let p99 = percentile(samples, 0.99);
    let ratio = baseline
        .map(|b| {
            format!(
                "{:.1}x",
                percentile(b, 0.5).as_secs_f64() / p50.as_secs_f64()
            )
        })
        .unwrap_or_else(|| "1.0x".into());
    println!(
        "| {name:<46} | {:>9.2} | {:>9.2} | {ratio:>14} |",
        p50.as_secs_f64() * 1e3,
        p99.as_secs_f64() * 1e3
    );
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let slapd = match Slapd::start() {
        Ok(s) => s,
        Err(e) => panic!("{e}"),
    };
    let mut options = ConnectOptions::new(slapd.ldaps_url());
    options.ca_file = Some(slapd.ca_file());
    let connector = match Connector::new(&options) {
        Ok(c) => std::sync::Arc::new(c),
        Err(e) => panic!("{e}"),
    };
    let tls = match writeback_ldap::tls::client_config(&slapd.ca_file()) {
        Ok(c) => c,
        Err(e) => panic!("{e}"),
    };
    let service = Password::new(slapd.service_password());
    let (dn, url) = (slapd.service_dn().to_string(), slapd.ldaps_url());

    let raw = measure(|| {
        let (tls, url, dn, pw) = (tls.clone(), url.clone(), dn.clone(), service.clone());
        async move {
            let settings = LdapConnSettings::new().set_config(tls);
            let (conn, mut ldap) = match LdapConnAsync::with_settings(settings, &url).await {
                Ok(p) => p,
                Err(e) => panic!("{e}"),
            };
            tokio::spawn(conn.drive());
            let _ = ldap.simple_bind(&dn, pw.expose()).await;
            let _ = ldap.unbind().await;
        }
    })
    .await;
    let ours = measure(|| {
        let (connector, dn, pw) = (connector.clone(), dn.clone(), service.clone());
        async move {
            match connector.connect_as(&dn, &pw).await {
                Ok(s) => s.unbind().await,
                Err(e) => panic!("{e}"),
            }
        }
    })
    .await;
    let pool = Pool::new(connector.clone(), dn.clone(), service.clone(), 1);
    let base = slapd.people_dn();
    let pooled = measure(|| async {
        let mut s = match pool.get().await {
            Ok(s) => s,
            Err(e) => panic!("{e}"),
        };
        let _ = s
            .search(&base, Scope::Base, "(objectClass=*)", &["1.1"], 1)
            .await;
    })
    .await;
    let fresh = measure(|| async {
        let mut s = match connector.connect_as(&dn, &service).await {
            Ok(s) => s,
            Err(e) => panic!("{e}"),
        };
        let _ = s
            .search(&base, Scope::Base, "(objectClass=*)", &["1.1"], 1)
            .await;
        s.unbind().await;
    })
    .await;

    println!("\n{ROUNDS} rounds each, LDAPS to slapd on 127.0.0.1, one at a time\n");
    println!(
        "| {:<46} | {:>9} | {:>9} | {:>14} |",
        "operation", "p50 ms", "p99 ms", "speed-up (p50)"
    );
    println!(
        "|{}|{}|{}|{}|",
        "-".repeat(48),
        "-".repeat(11),
        "-".repeat(11),
        "-".repeat(16)
    );
    row("connect+TLS+bind, ldap3 default (baseline)", &raw, None);
    row(
        "connect+TLS+bind, Connector (TCP_NODELAY)",
        &ours,
        Some(&raw),
    );
    row(
        "search on a fresh bound connection (baseline)",
        &fresh,
        None,
    );
    row("search on a pooled connection", &pooled, Some(&fresh));
}
