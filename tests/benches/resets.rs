//! Resets on slapd as a production directory runs them, and as the directory and the
//! load grow; and writeback's resident memory.
//!
//! * `(b)`: writeback's pipeline and OpenLDAP target beside a raw ldap3 client doing
//!   the same lookup + Password Modify, at 1, 4 and 16 connections, on the test slapd
//!   with `olcDbNoSync` (fast, hides the disk) and with fsync on (as production runs);
//!   alternating rounds, best of each; one row with the default `pool_size` at 16.
//! * `scaling`: resets/s and p99 of writeback beside the raw client (same run), with
//!   1k, 10k and 100k entries in the tree
//!   (bulk-loaded with slapadd) and 1 to 64 concurrent requests, users picked across
//!   the whole tree (cost per request must stay flat: indexed lookups).
//! * `memory`: this process's resident memory (VmRSS) with a host built (idle), with
//!   1,000 requests in flight on a target that takes 2 s per write, and after 50k to
//!   400k requests through a target that writes nothing (the dedupe window holds 100k
//!   ids by default: the figure must stop growing once its table has settled). The load
//!   generator lives in the same process, so the figures are an upper bound.
//!
//! Run: `cargo bench -p writeback-tests --bench resets` (release; `-- --quick` for a
//! short run, `-- b`, `-- scaling` or `-- memory` for one part). Prints tables.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[allow(dead_code)]
mod bench_support;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bench_support::ldap::{build_host, raw, through_writeback};
use bench_support::{compare, print_table, Row};
use writeback_core::{
    Account, CloudIdentity, DirectoryTarget, Initiator, Operation, Outcome, Password, Request,
    RequestId, Submit,
};
use writeback_host::{Config, Host};
use writeback_testkit::slapd::{Options, Slapd};

/// Request-id rounds never reused in this run (each id is new to the dedupe window).
fn next_round() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(1_000_000);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

fn users_of(slapd: &Slapd, count: usize) -> Vec<(String, String)> {
    let people = slapd.people_dn();
    (0..count)
        .map(|i| {
            let uid = Slapd::bulk_uid(i);
            let dn = format!("uid={uid},{people}");
            (uid, dn)
        })
        .collect()
}

/// The host's config for the OpenLDAP target on `slapd` (`pool_size` left out: the
/// default). A long operation timeout: with fsync on a shared disk one write can stall
/// for seconds, and the bench measures throughput, not that limit.
fn openldap_config(slapd: &Slapd, secret: &std::path::Path, pool_size: Option<usize>) -> String {
    let pool = pool_size
        .map(|n| format!("pool_size = {n}\n"))
        .unwrap_or_default();
    format!(
        "[pipeline]\ndedupe_capacity = 1000000\ndeadline_ms = 120000\n\n[[targets]]\ntype = \"openldap\"\nurl = \"{}\"\nca_file = \"{}\"\n\
         bind_dn = \"{}\"\nbind_password = {{ file = \"{}\" }}\nbase_dn = \"{}\"\n\
         filter = \"(&(objectClass=inetOrgPerson)(uid={{username}}))\"\ntimeout_ms = 60000\n{pool}",
        slapd.ldaps_url(),
        slapd.ca_file().display(),
        slapd.service_dn(),
        secret.display(),
        slapd.people_dn()
    )
}

async fn host_for(slapd: &Slapd, dir: &std::path::Path, pool_size: Option<usize>) -> Host {
    let secret = dir.join("bind.secret");
    std::fs::write(&secret, slapd.service_password()).unwrap_or_else(|e| panic!("{e}"));
    let name = format!("host-{}", next_round());
    build_host(dir, &name, &openldap_config(slapd, &secret, pool_size)).await
}

/// The raw client's lookup + Password Modify beside writeback's pipeline on the same
/// slapd and users, alternated `rounds` times (best of each): (raw row, writeback row).
#[allow(clippy::too_many_arguments)]
async fn raw_beside_writeback(
    rounds: usize,
    raw_case: &'static str,
    wb_case: &'static str,
    slapd: &Slapd,
    users: &Arc<Vec<(String, String)>>,
    pipeline: &Arc<dyn writeback_core::Submit>,
    conc: usize,
    total: usize,
) -> (Row, Row) {
    compare(
        rounds,
        || raw(raw_case, slapd, users.clone(), conc, total, true),
        || {
            through_writeback(
                wb_case,
                pipeline.clone(),
                users.clone(),
                conc,
                total,
                next_round(),
            )
        },
    )
    .await
}

/// (b) at 1, 4 and 16 connections, without and with fsync.
async fn side_by_side(quick: bool) -> Vec<Row> {
    let (total, rounds) = if quick { (1_000, 1) } else { (3_000, 3) };
    let mut rows = Vec::new();
    for fsync in [false, true] {
        let slapd = Slapd::start_with(&Options {
            fsync,
            bulk_users: 256,
        })
        .unwrap_or_else(|e| panic!("slapd: {e}"));
        let users = Arc::new(users_of(&slapd, 256));
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let disk = if fsync { "fsync on" } else { "no fsync" };
        // Fewer resets where each one waits for the disk.
        let total = if fsync { total / 3 } else { total };
        for conc in [1, 4, 16] {
            let host = host_for(&slapd, dir.path(), Some(conc)).await;
            let pipeline = host.pipeline();
            let total = if conc == 1 { total / 2 } else { total };
            let raw_case: &'static str =
                leak(format!("(b) {disk}: raw ldap3 lookup + Password Modify"));
            let wb_case: &'static str = leak(format!("(b) {disk}: writeback, pool_size = conc"));
            let (b, s) = raw_beside_writeback(
                rounds, raw_case, wb_case, &slapd, &users, &pipeline, conc, total,
            )
            .await;
            print_added(&b, &s);
            rows.push(b);
            rows.push(s);
            if conc == 16 {
                let host = host_for(&slapd, dir.path(), None).await;
                let pipeline = host.pipeline();
                let case: &'static str = leak(format!("(b) {disk}: writeback, default pool_size"));
                let (_, mut s) = raw_beside_writeback(
                    rounds, raw_case, case, &slapd, &users, &pipeline, conc, total,
                )
                .await;
                // Against the best raw round of the pool_size = conc comparison above.
                if let Some(raw_row) = rows.iter().rev().nth(1) {
                    s.ratio = Some(s.per_second / raw_row.per_second);
                }
                rows.push(s);
            }
        }
    }
    rows
}

fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

fn print_added(raw: &Row, wb: &Row) {
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "{} @{}: added p50 {:+.3} ms, p99 {:+.3} ms, ratio {:.2}",
        wb.case,
        wb.concurrency,
        ms(wb.p50) - ms(raw.p50),
        ms(wb.p99) - ms(raw.p99),
        wb.per_second / raw.per_second
    );
}

/// Resets/s and p99 as the tree and the load grow.
async fn scaling(quick: bool) -> Vec<Row> {
    let total = if quick { 1_000 } else { 3_000 };
    let mut rows = Vec::new();
    for entries in [1_000, 10_000, 100_000] {
        let started = std::time::Instant::now();
        let slapd = Slapd::start_with(&Options {
            fsync: false,
            bulk_users: entries,
        })
        .unwrap_or_else(|e| panic!("slapd: {e}"));
        println!(
            "slapd with {entries} entries built in {:.1} s",
            started.elapsed().as_secs_f64()
        );
        // Users spread over the whole tree, a different one each request.
        let users: Vec<(String, String)> = users_of(&slapd, entries)
            .into_iter()
            .enumerate()
            .filter(|(i, _)| entries <= total || i % (entries / total) == 0)
            .map(|(_, u)| u)
            .collect();
        let users = Arc::new(users);
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        for conc in [1, 4, 16, 64] {
            let host = host_for(&slapd, dir.path(), Some(conc)).await;
            let pipeline = host.pipeline();
            let raw_case: &'static str = leak(format!("scaling: {entries} entries, raw ldap3"));
            let case: &'static str = leak(format!("scaling: {entries} entries, writeback"));
            // The raw client beside it: a slower directory shows on both sides alike.
            let (b, s) =
                raw_beside_writeback(1, raw_case, case, &slapd, &users, &pipeline, conc, total)
                    .await;
            rows.push(b);
            rows.push(s);
        }
    }
    rows
}

/// A target that takes 2 s per write: requests stay in flight.
struct Slow;

#[async_trait]
impl DirectoryTarget for Slow {
    async fn resolve(&self, identity: &CloudIdentity) -> Result<Account, Outcome> {
        Ok(Account {
            dn: format!("uid={},ou=slow", identity.label()),
            id: None,
            attributes: BTreeMap::new(),
        })
    }
    async fn apply(&self, _account: &Account, _operation: &Operation) -> Result<(), Outcome> {
        tokio::time::sleep(Duration::from_secs(2)).await;
        Ok(())
    }
}

const SLOW_FACTORY: bench_support::null::FixedTargetFactory =
    bench_support::null::FixedTargetFactory {
        name: "slow",
        description: "benchmark: writes nothing, 2 s per write",
        make: || Arc::new(Slow),
    };

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

fn reset(id: String, user: usize) -> Request {
    Request {
        id: RequestId::parse(&id).unwrap_or_else(|e| panic!("{e}")),
        source: "bench".into(),
        operation: Operation::Reset {
            new_password: Password::new(format!("Bench-Passw0rd!{id}")),
            must_change: false,
        },
        identity: CloudIdentity {
            username: Some(format!("user{}", user % 500)),
            ..Default::default()
        },
        initiator: Initiator::default(),
    }
}

async fn memory() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    // The pipeline's defaults (dedupe window of 100k ids, max_in_flight 1024, deadline 10 s).
    let before = rss_kib();
    let mut registry = writeback_cli::builtin_registry();
    registry.register_target(Arc::new(SLOW_FACTORY));
    registry.register_target(Arc::new(bench_support::null::NullFactory));
    // Two hosts: one whose every request is slow, one that writes nothing.
    let slow_text = "[[targets]]\ntype = \"slow\"\n";
    let null_text = "[[targets]]\ntype = \"null\"\n";
    let build = |name: &str, text: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap_or_else(|e| panic!("{e}"));
        let config = Config::load(&p).unwrap_or_else(|e| panic!("{e}"));
        let registry = &registry;
        async move {
            Host::build(config, registry)
                .await
                .unwrap_or_else(|e| panic!("{e}"))
        }
    };
    let slow = build("slow.toml", slow_text).await;
    let null = build("null.toml", null_text).await;
    let idle = rss_kib();
    println!("\nmemory (VmRSS of the bench process, KiB)");
    println!("{:<58} {:>10}", "before building the hosts", before);
    println!("{:<58} {:>10}", "hosts built, idle", idle);

    let pipeline = slow.pipeline();
    let mut handles = Vec::new();
    for i in 0..1_000 {
        let p = pipeline.clone();
        handles.push(tokio::spawn(async move {
            p.submit(reset(format!("slow-{i}"), i)).await
        }));
    }
    tokio::time::sleep(Duration::from_millis(1_000)).await;
    // Not answered yet: still in the pipeline (the target takes 2 s).
    let in_flight = handles.iter().filter(|h| !h.is_finished()).count();
    println!(
        "{:<58} {:>10}",
        format!("{in_flight} requests in flight (2 s target)"),
        rss_kib()
    );
    for h in handles {
        let _ = h.await;
    }
    println!("{:<58} {:>10}", "after they finished", rss_kib());

    let pipeline: Arc<dyn Submit> = null.pipeline();
    let mut done = 0usize;
    for mark in [50_000, 100_000, 200_000, 300_000, 400_000] {
        let conc = 32;
        let next = Arc::new(AtomicUsize::new(done));
        let workers: Vec<_> = (0..conc)
            .map(|_| {
                let (p, next) = (pipeline.clone(), next.clone());
                tokio::spawn(async move {
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= mark {
                            return;
                        }
                        let _ = p.submit(reset(format!("mem-{i}"), i)).await;
                    }
                })
            })
            .collect();
        for w in workers {
            let _ = w.await;
        }
        done = mark;
        println!(
            "{:<58} {:>10}",
            format!("after {mark} requests (null target, conc 32)"),
            rss_kib()
        );
    }
}

fn main() {
    bench_support::allocs::enable_if_asked();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"));
    let args: Vec<String> = std::env::args().collect();
    let quick = args.iter().any(|a| a == "--quick");
    let parts: Vec<&str> = args
        .iter()
        .map(String::as_str)
        .filter(|a| ["b", "scaling", "memory"].contains(a))
        .collect();
    let wants = |p: &str| parts.is_empty() || parts.contains(&p);
    runtime.block_on(async move {
        let mut rows = Vec::new();
        if wants("b") {
            rows.extend(side_by_side(quick).await);
        }
        if wants("scaling") {
            rows.extend(scaling(quick).await);
        }
        if !rows.is_empty() {
            print_table(&rows);
        }
        if wants("memory") {
            memory().await;
        }
    });
}
