//! The relay's cost, measured in the same run against its baselines: resets through
//! edge → NATS JetStream → agent(s) → pipeline, beside the same pipeline called
//! directly, on the same slapd (and on a target that writes nothing, where the
//! directory is not the wall), at concurrency 1 and 16. The edge and agents run in
//! this process (their library halves), so the rows measure the relay, not HTTP.
//!
//! Run: `cargo bench -p writeback-tests --bench relay [-- --quick]` (needs
//! nats-server: `.ci/setup.d/nats.sh`). Prints a line per run (rate, p50, and the CPU
//! time per request of nats-server and of this process, which holds the edge, the
//! agents, the pipeline and the load) and then a table of each case's best run; ratios
//! are relay ÷ direct, and two agents ÷ one agent. `RELAY_BENCH_PARTITIONS` sets the
//! relay's partitions (default 16, the config's default).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[allow(dead_code)]
mod bench_support;

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bench_support::null::NullFactory;
use bench_support::{compare, measure, print_table, Row};
use writeback_core::{
    CloudIdentity, Initiator, Operation, OutcomeCode, Password, Request, RequestId, Submit,
};
use writeback_host::{CancellationToken, Config, Host, Registry};
use writeback_relay::agent::AgentSource;
use writeback_relay::edge::Edge;
use writeback_relay::seal::PrivateKey;
use writeback_relay::RelayConfig;
use writeback_testkit::nats::NatsServer;
use writeback_testkit::slapd::Slapd;

const USERS: usize = 64;

fn partitions() -> u16 {
    std::env::var("RELAY_BENCH_PARTITIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(16)
}

/// User plus system CPU time of a process so far, in ms (from /proc; 0 where absent).
fn cpu_ms(pid: Option<u32>) -> f64 {
    let path = match pid {
        Some(p) => format!("/proc/{p}/stat"),
        None => "/proc/self/stat".into(),
    };
    let text = std::fs::read_to_string(path).unwrap_or_default();
    // Fields after the command name (which may hold spaces): utime is the 14th field.
    let rest = text.rsplit(") ").next().unwrap_or_default();
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) * 10.0 // 100 ticks a second on Linux
}

fn registry() -> Registry {
    let mut r = writeback_cli::builtin_registry();
    r.register_target(Arc::new(NullFactory));
    r
}

fn request(tag: &str, i: usize) -> Request {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    Request {
        id: RequestId::parse(&format!("{tag}-{n}")).unwrap_or_else(|e| panic!("{e}")),
        source: "bench".into(),
        operation: Operation::Reset {
            new_password: Password::new(format!("Bench-{n}-Rl!x")),
            must_change: false,
        },
        identity: CloudIdentity {
            username: Some(format!("relaybench{}", i % USERS)),
            ..Default::default()
        },
        initiator: Initiator::default(),
    }
}

async fn run_load(
    case: String,
    submit: Arc<dyn Submit>,
    conc: usize,
    total: usize,
    nats: Option<u32>,
) -> Row {
    let tag = format!("{}-{conc}", case.len());
    let (nats0, self0) = (nats.map(|p| cpu_ms(Some(p))), cpu_ms(None));
    let row = measure(&case, conc, total, move |i| {
        let (submit, tag) = (submit.clone(), tag.clone());
        async move {
            let o = submit.submit(request(&tag, i)).await;
            if o.code == OutcomeCode::Succeeded {
                Ok(())
            } else {
                Err(format!("{}: {} {:?}", o.code, o.message, o.admin_detail))
            }
        }
    })
    .await;
    let per = |ms: f64| ms * 1000.0 / total as f64;
    println!(
        "run: {case:<52} conc {conc:>2}: {:>6.0}/s p50 {:>6.2} ms; CPU µs/request: nats-server {:>5.0}, edge+agents+pipeline+load {:>5.0}",
        row.per_second,
        row.p50.as_secs_f64() * 1e3,
        nats0.map_or(0.0, |n| per(cpu_ms(nats) - n)),
        per(cpu_ms(None) - self0),
    );
    row
}

fn load(dir: &Path, name: &str, text: &str) -> Config {
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, text).unwrap_or_else(|e| panic!("{e}"));
    Config::load(&path).unwrap_or_else(|e| panic!("{e}"))
}

/// A direct host's pipeline for `target` (a `[[targets]]` table).
async fn direct(dir: &Path, name: &str, target: &str) -> Arc<dyn Submit> {
    let text = format!("[pipeline]\ndedupe_capacity = 1000000\ndeadline_ms = 30000\n\n{target}");
    let host = Host::build(load(dir, name, &text), &registry())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    host.pipeline()
}

/// NATS, an edge and `agents` agents on `target`; the edge as a `Submit`.
struct Relay {
    nats: NatsServer,
    edge: Arc<Edge>,
    stop: CancellationToken,
}

async fn relay(dir: &Path, name: &str, target: &str, agents: usize) -> Relay {
    let nats = NatsServer::start().unwrap_or_else(|e| panic!("nats: {e}"));
    let (key, _) = PrivateKey::generate();
    let keydir = dir.join(name);
    std::fs::create_dir_all(&keydir).unwrap_or_else(|e| panic!("{e}"));
    let (key_path, pub_path) = key
        .write_pair(&keydir, "k")
        .unwrap_or_else(|e| panic!("{e}"));
    let common = format!(
        "servers = [\"{}\"]\npartitions = {}\nheartbeat_ms = 500\nagent_timeout_ms = 3000\n",
        nats.url(),
        partitions()
    );
    let stop = CancellationToken::new();
    for a in 0..agents {
        let text = format!(
            "[pipeline]\ndedupe_capacity = 1000000\ndeadline_ms = 30000\nmax_in_flight = 64\n\n{target}\
             [relay]\nrole = \"agent\"\nname = \"{name}-{a}\"\n{common}private_keys = [\"{}\"]\n",
            key_path.display()
        );
        let config = load(dir, &format!("{name}-agent{a}"), &text);
        let relay = RelayConfig::from_config(&config)
            .unwrap_or_else(|e| panic!("{e}"))
            .unwrap_or_else(|| panic!("no [relay]"));
        let names = config.targets.iter().map(|t| t.name.clone()).collect();
        let source = AgentSource::new(relay, names).unwrap_or_else(|e| panic!("{e}"));
        let mut host = Host::build(config, &registry())
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        host.add_source("relay", Arc::new(source));
        tokio::spawn(host.run(stop.clone()));
    }
    let text = format!(
        "[relay]\nrole = \"edge\"\n{common}deadline_ms = 30000\npublic_keys = [\"{}\"]\n",
        pub_path.display()
    );
    let config = load(dir, &format!("{name}-edge"), &text);
    let relay = RelayConfig::from_config(&config)
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|| panic!("no [relay]"));
    let edge = Edge::start(relay, stop.clone())
        .await
        .unwrap_or_else(|e| panic!("edge: {e}"));
    let started = Instant::now();
    while edge.agents().iter().filter(|a| a.alive).count() < agents {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "agents did not come up"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Relay { nats, edge, stop }
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"));
    let quick = std::env::args().any(|a| a == "--quick");
    runtime.block_on(async move {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let slapd = Slapd::start().unwrap_or_else(|e| panic!("slapd: {e}"));
        for i in 0..USERS {
            slapd
                .add_user(&format!("relaybench{i}"), "Initial-Pass-1", &[])
                .await
                .unwrap_or_else(|e| panic!("{e}"));
        }
        let secret = dir.path().join("bind.secret");
        std::fs::write(&secret, slapd.service_password()).unwrap_or_else(|e| panic!("{e}"));
        let ldap = format!(
            "[[targets]]\ntype = \"openldap\"\nname = \"ldap\"\nurl = \"{}\"\nca_file = \"{}\"\n\
             bind_dn = \"{}\"\nbind_password = {{ file = \"{}\" }}\nbase_dn = \"{}\"\n\
             filter = \"(&(objectClass=inetOrgPerson)(uid={{username}}))\"\npool_size = 16\n\n",
            slapd.ldaps_url(),
            slapd.ca_file().display(),
            slapd.service_dn(),
            secret.display(),
            slapd.people_dn()
        );
        let null = "[[targets]]\ntype = \"null\"\nname = \"null\"\n\n";
        let scale = if quick { 1 } else { 3 };
        let rounds = if quick { 1 } else { 2 };
        let mut rows = Vec::new();

        let ldap_direct = direct(dir.path(), "ldap-direct", &ldap).await;
        let one = relay(dir.path(), "ldap-one", &ldap, 1).await;
        let one_edge: Arc<dyn Submit> = one.edge.clone();
        for (conc, total) in [(1, 300 * scale), (16, 1500 * scale)] {
            let (b, s) = compare(
                rounds,
                || {
                    run_load(
                        "slapd: pipeline directly".into(),
                        ldap_direct.clone(),
                        conc,
                        total,
                        None,
                    )
                },
                || {
                    run_load(
                        "slapd: edge -> NATS -> 1 agent".into(),
                        one_edge.clone(),
                        conc,
                        total,
                        one.nats.pid(),
                    )
                },
            )
            .await;
            rows.push(b);
            rows.push(s);
        }
        one.stop.cancel();

        let null_direct = direct(dir.path(), "null-direct", null).await;
        let one = relay(dir.path(), "null-one", null, 1).await;
        let two = relay(dir.path(), "null-two", null, 2).await;
        let (one_edge, two_edge): (Arc<dyn Submit>, Arc<dyn Submit>) =
            (one.edge.clone(), two.edge.clone());
        let total = 2000 * scale;
        let (b, s) = compare(
            rounds,
            || {
                run_load(
                    "no-op target: pipeline directly".into(),
                    null_direct.clone(),
                    16,
                    total,
                    None,
                )
            },
            || {
                run_load(
                    "no-op target: edge -> NATS -> 1 agent".into(),
                    one_edge.clone(),
                    16,
                    total,
                    one.nats.pid(),
                )
            },
        )
        .await;
        let (_, mut s2) = compare(
            rounds,
            || {
                run_load(
                    "no-op target: edge -> NATS -> 1 agent".into(),
                    one_edge.clone(),
                    16,
                    total,
                    one.nats.pid(),
                )
            },
            || {
                run_load(
                    "no-op target: edge -> NATS -> 2 agents (÷ 1 agent)".into(),
                    two_edge.clone(),
                    16,
                    total,
                    two.nats.pid(),
                )
            },
        )
        .await;
        s2.ratio = s2.ratio.map(|r| (r * 100.0).round() / 100.0);
        rows.push(b);
        rows.push(s);
        rows.push(s2);
        one.stop.cancel();
        two.stop.cancel();
        print_table(&rows);
        println!(
            "\n(the edge and the agents share this machine's cores with nats-server and slapd; relay partitions: {})",
            partitions()
        );
    });
}
