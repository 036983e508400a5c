//! Resets per second through the `active-directory` target (resolve + protected-account
//! check + modify) beside a raw ldap3 client doing the same unicodePwd modifies, against
//! the same throwaway Samba AD DC, at the same concurrency, on the same service account.
//!
//! `cargo bench -p writeback-target-active-directory --bench resets`
//! (env `RESETS` = resets per run, default 120; `CONCURRENCY` = list, default "1,4,16").
// Test code: a failed step stops the test with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use writeback_core::{
    BuildContext, CloudIdentity, ConnectorConfig, ConnectorKind, DirectoryTarget, Operation,
    Password, SecretRef, SecretResolver,
};
use writeback_ldap::ldap3::{Ldap, Mod};
use writeback_ldap::{ConnectOptions, Connector, WipedBytes};
use writeback_target_active_directory::{
    unicode_pwd, ActiveDirectoryTarget, ActiveDirectoryTargetFactory,
};
use writeback_testkit::samba::{NewUser, SambaDc, TestUser};

struct Inline;

impl SecretResolver for Inline {
    fn resolve(&self, secret: &SecretRef) -> Result<Password, writeback_core::SecretError> {
        secret
            .value
            .clone()
            .ok_or_else(|| writeback_core::SecretError::Unsupported("inline only".into()))
    }
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

async fn target(dc: &SambaDc, pool: usize) -> Result<ActiveDirectoryTarget, BoxError> {
    let svc = dc.service_account();
    let text = format!(
        "url = \"{}\"\nca_file = \"{}\"\nbind_dn = \"{}\"\nbind_password = {{ value = \"{}\" }}\nbase_dn = \"{}\"\npool_size = {pool}\ntimeout_ms = 60000\n",
        dc.ldaps_url(),
        dc.ca_file().display(),
        svc.upn,
        svc.password,
        dc.base_dn()
    );
    let table: toml::Table = toml::from_str(&text)?;
    let config = ConnectorConfig::in_code(ConnectorKind::Target, "active-directory", "ad", table);
    let ctx = BuildContext {
        secrets: &Inline,
        base_dir: Path::new("/"),
    };
    Ok(ActiveDirectoryTargetFactory
        .build_target(&config, &ctx)
        .await?)
}

/// A raw ldap3 connection bound as the service account (TLS verified, TCP_NODELAY).
async fn raw_connection(dc: &SambaDc) -> Result<Ldap, BoxError> {
    let mut options = ConnectOptions::new(dc.ldaps_url());
    options.ca_file = Some(dc.ca_file().to_path_buf());
    let connector = Connector::new(&options)?;
    let svc = dc.service_account();
    let mut session = connector
        .connect_as(&svc.upn, &Password::new(svc.password.as_str()))
        .await?;
    Ok(session.ldap().clone())
}

struct Run {
    seconds: f64,
    latencies: Vec<Duration>,
    failures: usize,
}

impl Run {
    fn per_second(&self) -> f64 {
        self.latencies.len() as f64 / self.seconds
    }

    fn p50_ms(&self) -> f64 {
        let mut l = self.latencies.clone();
        l.sort();
        l.get(l.len() / 2)
            .map(|d| d.as_secs_f64() * 1000.0)
            .unwrap_or(0.0)
    }
}

/// Runs `total` resets with `concurrency` workers; worker `w` does every request
/// `i ≡ w (mod concurrency)`.
async fn drive<F, Fut>(total: usize, concurrency: usize, job: F) -> Run
where
    F: Fn(usize, usize) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    let started = Instant::now();
    let mut tasks = Vec::new();
    for worker in 0..concurrency {
        let job = job.clone();
        tasks.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            let mut failures = 0;
            let mut i = worker;
            while i < total {
                let t = Instant::now();
                if job(worker, i).await {
                    mine.push(t.elapsed());
                } else {
                    failures += 1;
                }
                i += concurrency;
            }
            (mine, failures)
        }));
    }
    let mut latencies = Vec::new();
    let mut failures = 0;
    for task in tasks {
        if let Ok((mine, f)) = task.await {
            latencies.extend(mine);
            failures += f;
        }
    }
    Run {
        seconds: started.elapsed().as_secs_f64(),
        latencies,
        failures,
    }
}

fn password(i: usize) -> String {
    format!("Bench!{i}-Reset-Xy")
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let total: usize = std::env::var("RESETS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(120);
    let levels: Vec<usize> = std::env::var("CONCURRENCY")
        .unwrap_or_else(|_| "1,4,16".into())
        .split(',')
        .filter_map(|v| v.trim().parse().ok())
        .collect();
    eprintln!("provisioning a Samba AD DC …");
    let dc = Arc::new(SambaDc::start()?);
    let mut users: Vec<TestUser> = Vec::new();
    for _ in 0..32 {
        users.push(
            dc.add_user(NewUser::new(&dc.unique_name("bench"), "Bench!Initial-1"))
                .await?,
        );
    }
    let users = Arc::new(users);

    println!(
        "| client | concurrency | resets | seconds | resets/s | p50 ms | failures | ratio vs raw |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    for &concurrency in &levels {
        // Raw ldap3: one bound connection per worker, the modify only.
        let mut connections = Vec::new();
        for _ in 0..concurrency {
            connections.push(raw_connection(&dc).await?);
        }
        let connections = Arc::new(connections);
        let raw = {
            let (users, connections) = (users.clone(), connections.clone());
            drive(total, concurrency, move |worker, i| {
                let (users, connections) = (users.clone(), connections.clone());
                async move {
                    let mut ldap = connections[worker].clone();
                    let user = &users[i % users.len()];
                    let value = HashSet::from([WipedBytes::from(unicode_pwd(&password(i)))]);
                    let attr = WipedBytes::copy_of(b"unicodePwd");
                    let mods = vec![Mod::Replace(attr, value)];
                    match ldap.modify(&user.dn, mods).await {
                        Ok(r) if r.rc == 0 => true,
                        other => {
                            eprintln!("raw failure: {other:?}");
                            false
                        }
                    }
                }
            })
            .await
        };
        // Through the target: resolve by UPN, protected-account check, modify.
        let target = Arc::new(target(&dc, concurrency).await?);
        let through = {
            let (users, target) = (users.clone(), target.clone());
            drive(total, concurrency, move |_, i| {
                let (users, target) = (users.clone(), target.clone());
                async move {
                    let user = &users[i % users.len()];
                    let identity = CloudIdentity {
                        upn: Some(user.upn.clone()),
                        ..Default::default()
                    };
                    let op = Operation::Reset {
                        new_password: Password::new(password(i + total)),
                        must_change: false,
                    };
                    let result = match target.resolve(&identity).await {
                        Ok(account) => target.apply(&account, &op).await,
                        Err(outcome) => Err(outcome),
                    };
                    if let Err(o) = &result {
                        // Outcomes never hold a password.
                        eprintln!(
                            "target failure: {} {}",
                            o.code,
                            o.admin_detail.as_deref().unwrap_or("")
                        );
                    }
                    result.is_ok()
                }
            })
            .await
        };
        for (name, run) in [("raw ldap3 modify", &raw), ("writeback target", &through)] {
            println!(
                "| {name} | {concurrency} | {} | {:.2} | {:.1} | {:.1} | {} | {:.2} |",
                run.latencies.len(),
                run.seconds,
                run.per_second(),
                run.p50_ms(),
                run.failures,
                run.per_second() / raw.per_second().max(f64::MIN_POSITIVE)
            );
        }
    }
    Ok(())
}
