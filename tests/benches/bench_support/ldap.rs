//! (b) resets against the real slapd: writeback's pipeline and OpenLDAP target beside
//! a raw ldap3 client doing the same Password Modify operations on the same number of
//! connections, once without and once with the lookup writeback does first.
//! (c) the same resets through the WASM target example (examples/wasm-target, matching
//! by uid), beside the built-in OpenLDAP target: the cost of the sandbox and of
//! the directory handle, with a fresh instance per call (the default) and with
//! reused instances.

use std::path::Path;
use std::sync::Arc;

use ldap3::exop::PasswordModify;
use ldap3::{LdapConnAsync, LdapConnSettings, Scope, StdStream};
use tokio::sync::Mutex;
use writeback_core::{
    CloudIdentity, Initiator, Operation, OutcomeCode, Password, Request, RequestId,
};
use writeback_host::{Config, Host};
use writeback_testkit::slapd::Slapd;

use super::{compare, measure, Row};

const USERS: usize = 256;

/// A password never used before in this run: slapd keeps the last three of each user
/// and refuses them again, whichever case wrote them.
fn fresh_password() -> String {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("Bench-{n}-Pw!x")
}

/// `n` raw ldap3 connections over LDAPS to 127.0.0.1:`port`, trusting `ca_file`, each
/// bound as `bind_dn` (the baseline clients of every directory bench).
pub async fn raw_connections(
    ca_file: &Path,
    port: u16,
    url: &str,
    bind_dn: &str,
    password: &str,
    n: usize,
) -> Vec<Arc<Mutex<ldap3::Ldap>>> {
    let pem = std::fs::read(ca_file).unwrap_or_else(|e| panic!("{e}"));
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_pemfile::certs(&mut pem.as_slice()).flatten() {
        roots.add(cert).unwrap_or_else(|e| panic!("{e}"));
    }
    let tls = Arc::new(
        rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap_or_else(|e| panic!("{e}"))
        .with_root_certificates(roots)
        .with_no_client_auth(),
    );
    let mut out = Vec::new();
    for _ in 0..n {
        let tcp =
            std::net::TcpStream::connect(("127.0.0.1", port)).unwrap_or_else(|e| panic!("{e}"));
        tcp.set_nodelay(true).unwrap_or_else(|e| panic!("{e}"));
        let settings = LdapConnSettings::new()
            .set_config(tls.clone())
            .set_std_stream(StdStream::Tcp(tcp));
        let (conn, mut ldap) = LdapConnAsync::with_settings(settings, url)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        ldap3::drive!(conn);
        ldap.simple_bind(bind_dn, password)
            .await
            .and_then(|r| r.success())
            .unwrap_or_else(|e| panic!("bind: {e}"));
        out.push(Arc::new(Mutex::new(ldap)));
    }
    out
}

pub async fn raw(
    case: &'static str,
    slapd: &Slapd,
    users: Arc<Vec<(String, String)>>,
    conc: usize,
    total: usize,
    lookup: bool,
) -> Row {
    let conns = Arc::new(
        raw_connections(
            &slapd.ca_file(),
            slapd.ldaps_port(),
            &slapd.ldaps_url(),
            slapd.service_dn(),
            slapd.service_password(),
            conc,
        )
        .await,
    );
    let people = slapd.people_dn();
    measure(case, conc, total, move |i| {
        let (conns, users, people) = (conns.clone(), users.clone(), people.clone());
        async move {
            let (uid, dn) = &users[i % users.len()];
            let mut ldap = conns[i % conns.len()].lock().await;
            let dn = if lookup {
                let filter = format!(
                    "(&(objectClass=inetOrgPerson)(uid={}))",
                    ldap3::ldap_escape(uid)
                );
                let (entries, _) = ldap
                    .search(&people, Scope::Subtree, &filter, vec!["uid", "cn", "mail"])
                    .await
                    .and_then(|r| r.success())
                    .map_err(|e| e.to_string())?;
                if entries.len() != 1 {
                    return Err(format!("{} entries for {uid}", entries.len()));
                }
                ldap3::SearchEntry::construct(entries.into_iter().next().ok_or("none")?).dn
            } else {
                dn.clone()
            };
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
    })
    .await
}

pub async fn through_writeback(
    case: &'static str,
    pipeline: Arc<dyn writeback_core::Submit>,
    users: Arc<Vec<(String, String)>>,
    conc: usize,
    total: usize,
    round: usize,
) -> Row {
    measure(case, conc, total, move |i| {
        let (pipeline, users) = (pipeline.clone(), users.clone());
        async move {
            let (uid, _) = &users[i % users.len()];
            let request = Request {
                id: RequestId::parse(&format!("bench-{round}-{i}")).map_err(|e| e.to_string())?,
                source: "bench".into(),
                operation: Operation::Reset {
                    new_password: Password::new(fresh_password()),
                    must_change: false,
                },
                identity: CloudIdentity {
                    username: Some(uid.clone()),
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
    })
    .await
}

pub async fn ldap_resets(quick: bool) -> Vec<Row> {
    let slapd = Slapd::start().unwrap_or_else(|e| panic!("slapd: {e}"));
    let mut users = Vec::new();
    for _ in 0..USERS {
        let uid = slapd.unique_uid("bench");
        let dn = slapd
            .add_user(&uid, "Initial-Pass-1", &[])
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        users.push((uid, dn));
    }
    // The default policy keeps 3 old passwords; every reset here uses a new one.
    let users = Arc::new(users);
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let secret = dir.path().join("bind.secret");
    std::fs::write(&secret, slapd.service_password()).unwrap_or_else(|e| panic!("{e}"));
    let (total, rounds) = if quick { (1_000, 1) } else { (6_000, 2) };
    let wasm_target = writeback_testkit::components::build(&["examples/wasm-target"])
        .unwrap_or_else(|e| panic!("{e}"))
        .join("wasm_target_example.wasm");
    let mut rows = Vec::new();
    for conc in [1, 8] {
        let text = format!(
            "[pipeline]\ndedupe_capacity = 1000000\n\n[[targets]]\ntype = \"openldap\"\nurl = \"{}\"\nca_file = \"{}\"\n\
             bind_dn = \"{}\"\nbind_password = {{ file = \"{}\" }}\nbase_dn = \"{}\"\n\
             filter = \"(&(objectClass=inetOrgPerson)(uid={{username}}))\"\npool_size = {conc}\n",
            slapd.ldaps_url(),
            slapd.ca_file().display(),
            slapd.service_dn(),
            secret.display(),
            slapd.people_dn()
        );
        let host = build_host(dir.path(), &format!("bench-{conc}"), &text).await;
        let pipeline = host.pipeline();
        let wasm_text = |instances: &str| {
            format!(
                "[pipeline]\ndedupe_capacity = 1000000\n\n[[plugins]]\npath = \"{}\"\n{instances}\n[[targets]]\n\
                 type = \"employee-directory\"\nkey_attribute = \"uid\"\nidentity_attribute = \"username\"\n\n\
                 [targets.directory]\nurl = \"{}\"\nca_file = \"{}\"\nbind_dn = \"{}\"\n\
                 bind_password = {{ file = \"{}\" }}\nbase_dn = \"{}\"\npool_size = {conc}\n",
                wasm_target.display(),
                slapd.ldaps_url(),
                slapd.ca_file().display(),
                slapd.service_dn(),
                secret.display(),
                slapd.people_dn()
            )
        };
        // The default: a fresh instance for every call.
        let fresh_host =
            build_host(dir.path(), &format!("bench-wasm-{conc}"), &wasm_text("")).await;
        let fresh_pipeline = fresh_host.pipeline();
        let reused_host = build_host(
            dir.path(),
            &format!("bench-wasm-reused-{conc}"),
            &wasm_text("instances = \"reused\"\n"),
        )
        .await;
        let reused_pipeline = reused_host.pipeline();
        let total = if conc == 1 { total / 3 } else { total };
        let mut round = conc * 1000;
        let raw_plain = raw(
            "(b) raw ldap3: Password Modify",
            &slapd,
            users.clone(),
            conc,
            total,
            false,
        )
        .await;
        let (b, s) = compare(
            rounds,
            || {
                raw(
                    "(b) raw ldap3: lookup + Password Modify",
                    &slapd,
                    users.clone(),
                    conc,
                    total,
                    true,
                )
            },
            || {
                round += 1;
                through_writeback(
                    "(b) writeback: pipeline -> openldap target",
                    pipeline.clone(),
                    users.clone(),
                    conc,
                    total,
                    round,
                )
            },
        )
        .await;
        let mut vs_plain = Row {
            ratio: None,
            ..s.clone()
        };
        vs_plain.case = "(b)   same, ratio against Password Modify alone".into();
        vs_plain.ratio = Some(s.per_second / raw_plain.per_second);
        rows.push(raw_plain);
        rows.push(b);
        rows.push(s);
        rows.push(vs_plain);

        // Three sides, alternated round by round; each keeps its best round.
        let mut best: [Option<Row>; 3] = [None, None, None];
        for r in 0..rounds.max(1) {
            let sides = [
                ("(c) writeback: pipeline -> openldap target", &pipeline),
                (
                    "(c) writeback: pipeline -> WASM target, fresh instances",
                    &fresh_pipeline,
                ),
                (
                    "(c) writeback: pipeline -> WASM target, reused instances",
                    &reused_pipeline,
                ),
            ];
            for (side, (case, p)) in sides.into_iter().enumerate() {
                let row = through_writeback(
                    case,
                    p.clone(),
                    users.clone(),
                    conc,
                    total,
                    round + 100 + 100 * side + r,
                )
                .await;
                if best[side]
                    .as_ref()
                    .is_none_or(|x| row.per_second > x.per_second)
                {
                    best[side] = Some(row);
                }
            }
        }
        let [Some(base), Some(mut fresh), Some(mut reused)] = best else {
            unreachable!("at least one round ran")
        };
        fresh.ratio = Some(fresh.per_second / base.per_second);
        reused.ratio = Some(reused.per_second / base.per_second);
        rows.push(base);
        rows.push(fresh);
        rows.push(reused);
    }
    rows
}

/// A host built from `text` (written to `<dir>/<name>.toml`).
pub async fn build_host(dir: &Path, name: &str, text: &str) -> Host {
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, text).unwrap_or_else(|e| panic!("{e}"));
    let config = Config::load(&path).unwrap_or_else(|e| panic!("{e}"));
    Host::build(config, &writeback_cli::builtin_registry())
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}
