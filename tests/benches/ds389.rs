//! Resets per second on a real 389 Directory Server (the test kit's): writeback's
//! pipeline and `389ds` target beside a raw ldap3 client doing the same lookup +
//! Password Modify on the same number of connections, measured in the same run
//! (alternating rounds, best of each). The ratio is writeback / raw.
//!
//! Run: `cargo bench -p writeback-tests --bench ds389` (release; `-- --quick` for a
//! short run). Prints a table.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[allow(dead_code)]
mod bench_support;

use std::sync::Arc;

use bench_support::ldap::raw_connections;
use bench_support::{compare, print_table, Row};
use ldap3::exop::PasswordModify;
use ldap3::Scope;
use writeback_core::{
    CloudIdentity, Initiator, Operation, OutcomeCode, Password, Request, RequestId,
};
use writeback_host::{Config, Host};
use writeback_testkit::ds389::Ds389;

const USERS: usize = 128;

/// A password never used before in this run (389 DS remembers 3 per user), long enough
/// for the global policy (10), with no
/// 3-character piece of the uids (`bench-…` in letters).
fn fresh_password() -> String {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("Zq{n}#Wx!Ty%Kp")
}

async fn raw(ds: &Ds389, users: Arc<Vec<String>>, conc: usize, total: usize) -> Row {
    let port: u16 = ds
        .ldaps_url()
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no port in {}", ds.ldaps_url()));
    let conns = Arc::new(
        raw_connections(
            &ds.ca_file(),
            port,
            &ds.ldaps_url(),
            &ds.service_dn(),
            ds.service_password(),
            conc,
        )
        .await,
    );
    let base = ds.people_dn();
    bench_support::measure(
        "raw ldap3: lookup + Password Modify",
        conc,
        total,
        move |i| {
            let (conns, users, base) = (conns.clone(), users.clone(), base.clone());
            async move {
                let uid = &users[i % users.len()];
                let mut ldap = conns[i % conns.len()].lock().await;
                let filter = format!(
                    "(&(objectClass=inetOrgPerson)(uid={}))",
                    ldap3::ldap_escape(uid)
                );
                let (entries, _) = ldap
                    .search(&base, Scope::Subtree, &filter, vec!["uid", "cn", "mail"])
                    .await
                    .and_then(|r| r.success())
                    .map_err(|e| e.to_string())?;
                let entry = entries.into_iter().next().ok_or("no entry")?;
                let dn = ldap3::SearchEntry::construct(entry).dn;
                let password = fresh_password();
                ldap.extended(PasswordModify {
                    user_id: Some(&dn),
                    old_pass: None,
                    new_pass: Some(&password),
                })
                .await
                .and_then(|r| r.success())
                .map(|_| ())
                .map_err(|e| e.to_string())
            }
        },
    )
    .await
}

async fn through_writeback(
    pipeline: Arc<dyn writeback_core::Submit>,
    users: Arc<Vec<String>>,
    conc: usize,
    total: usize,
    round: usize,
) -> Row {
    bench_support::measure(
        "writeback: pipeline -> 389ds target",
        conc,
        total,
        move |i| {
            let (pipeline, users) = (pipeline.clone(), users.clone());
            async move {
                let request = Request {
                    id: RequestId::parse(&format!("bench-{round}-{i}"))
                        .map_err(|e| e.to_string())?,
                    source: "bench".into(),
                    operation: Operation::Reset {
                        new_password: Password::new(fresh_password()),
                        must_change: false,
                    },
                    identity: CloudIdentity {
                        username: Some(users[i % users.len()].clone()),
                        ..Default::default()
                    },
                    initiator: Initiator::default(),
                };
                let outcome = pipeline.submit(request).await;
                if outcome.code == OutcomeCode::Succeeded {
                    Ok(())
                } else {
                    Err(format!("{}: {}", outcome.code, outcome.message))
                }
            }
        },
    )
    .await
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"));
    let quick = std::env::args().any(|a| a == "--quick");
    runtime.block_on(async move {
        let ds = Ds389::start().unwrap_or_else(|e| panic!("389 DS: {e}"));
        let mut users = Vec::new();
        for _ in 0..USERS {
            let uid = ds.unique_uid("bench");
            ds.add_user(&uid, "Qz7#Wx9$Rv2!Tb", &[])
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            users.push(uid);
        }
        let users = Arc::new(users);
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let secret = dir.path().join("bind.secret");
        std::fs::write(&secret, ds.service_password()).unwrap_or_else(|e| panic!("{e}"));
        let (total, rounds) = if quick { (300, 1) } else { (2_000, 2) };
        let mut rows = Vec::new();
        for conc in [1, 8] {
            let text = format!(
                "[pipeline]\ndedupe_capacity = 1000000\n\n[[targets]]\ntype = \"389ds\"\nurl = \"{}\"\n\
                 ca_file = \"{}\"\nbind_dn = \"{}\"\nbind_password = {{ file = \"{}\" }}\n\
                 base_dn = \"{}\"\npool_size = {conc}\n",
                ds.ldaps_url(),
                ds.ca_file().display(),
                ds.service_dn(),
                secret.display(),
                ds.people_dn()
            );
            let path = dir.path().join(format!("bench-{conc}.toml"));
            std::fs::write(&path, text).unwrap_or_else(|e| panic!("{e}"));
            let config = Config::load(&path).unwrap_or_else(|e| panic!("{e}"));
            let host = Host::build(config, &writeback_cli::builtin_registry())
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            let pipeline = host.pipeline();
            let total = if conc == 1 { total / 2 } else { total };
            let mut round = conc * 1000;
            let (b, s) = compare(
                rounds,
                || raw(&ds, users.clone(), conc, total),
                || {
                    round += 1;
                    through_writeback(pipeline.clone(), users.clone(), conc, total, round)
                },
            )
            .await;
            rows.push(b);
            rows.push(s);
        }
        print_table(&rows);
    });
}
