//! The relay's commands: `writeback edge`, `writeback agent`, `writeback keys
//! generate` and `writeback agents list` (docs/relay.md).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::Subcommand;
use writeback_host::{CancellationToken, Config, Host};
use writeback_relay::{agent::AgentSource, RelayConfig, Role};

use super::{fail_config, load_config};

#[derive(Subcommand)]
pub enum KeysCommand {
    /// Make an agent key pair: NAME.key (private, mode 0600) and NAME.pub (for the edge).
    Generate {
        /// Directory to write into.
        #[arg(long, default_value = ".")]
        out: PathBuf,
        /// File name stem.
        #[arg(long, default_value = "agent")]
        name: String,
    },
}

#[derive(Subcommand)]
pub enum AgentsCommand {
    /// Every agent that heartbeats on the bus, alive or not, with its last heartbeat.
    List {
        /// An edge's or an agent's config file (its [relay] table says where NATS is).
        #[arg(short, long)]
        config: PathBuf,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
}

fn relay_of(config: &Config, role: Role) -> RelayConfig {
    match RelayConfig::from_config(config) {
        Ok(Some(r)) if r.role == role => r,
        Ok(Some(r)) => fail_config(&format!(
            "{}: [relay] role is {:?}; this command needs role = \"{}\"",
            config.path.display(),
            r.role,
            if role == Role::Edge { "edge" } else { "agent" }
        )),
        Ok(None) => fail_config(&format!(
            "{}: no [relay] table; see docs/relay.md for the edge and agent configs",
            config.path.display()
        )),
        Err(e) => fail_config(&e),
    }
}

pub async fn edge(config_path: &Path) -> i32 {
    let config = load_config(config_path);
    let relay = relay_of(&config, Role::Edge);
    let shutdown = CancellationToken::new();
    tokio::spawn(super::run::cancel_on_signal(shutdown.clone()));
    tracing::info!(version = env!("CARGO_PKG_VERSION"), config = %config_path.display(), "writeback edge starting");
    match writeback_relay::edge::run(config, relay, &crate::builtin_registry(), shutdown).await {
        Ok(()) => 0,
        Err(e) => {
            tracing::error!(error = %e, "writeback edge stopped with an error");
            eprintln!("error: {e}");
            1
        }
    }
}

pub async fn agent(config_path: &Path) -> i32 {
    let config = load_config(config_path);
    let relay = relay_of(&config, Role::Agent);
    let targets = config.targets.iter().map(|t| t.name.clone()).collect();
    let source = match AgentSource::new(relay, targets) {
        Ok(s) => s,
        Err(e) => fail_config(&e),
    };
    let mut host = match Host::build_with(
        config,
        &crate::builtin_registry(),
        crate::builtin_options(),
    )
    .await
    {
        Ok(h) => h,
        Err(e) => fail_config(&e),
    };
    let name = format!("relay-agent {}", source.name());
    host.add_source(name, Arc::new(source));
    let shutdown = CancellationToken::new();
    tokio::spawn(super::run::cancel_on_signal(shutdown.clone()));
    tracing::info!(version = env!("CARGO_PKG_VERSION"), config = %config_path.display(), "writeback agent starting");
    match host.run(shutdown).await {
        Ok(()) => 0,
        Err(e) => {
            tracing::error!(error = %e, "writeback agent stopped with an error");
            eprintln!("error: {e}");
            1
        }
    }
}

pub fn keys(command: KeysCommand) -> i32 {
    match command {
        KeysCommand::Generate { out, name } => {
            if name.is_empty()
                || !name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            {
                eprintln!("error: --name must be letters, digits, `-` or `_`");
                return 2;
            }
            let (private, _) = writeback_relay::seal::PrivateKey::generate();
            match private.write_pair(&out, &name) {
                Ok((key, public)) => {
                    println!("key id   {}", private.id);
                    println!(
                        "private  {}  (mode 0600: give it to the agents only)",
                        key.display()
                    );
                    println!(
                        "public   {}  (list it in the edge's [relay] public_keys)",
                        public.display()
                    );
                    0
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    1
                }
            }
        }
    }
}

pub async fn agents(command: AgentsCommand) -> i32 {
    let AgentsCommand::List { config, json } = command;
    let config = load_config(&config);
    let relay = match RelayConfig::from_config(&config) {
        Ok(Some(r)) => r,
        Ok(None) => fail_config(&format!("{}: no [relay] table", config.path.display())),
        Err(e) => fail_config(&e),
    };
    let result = async {
        let client = writeback_relay::bus::connect(&relay, "writeback-agents-list")
            .await
            .map_err(|e| e.to_string())?;
        let js = writeback_relay::bus::context(&client);
        let store = writeback_relay::bus::agents(&js, &relay)
            .await
            .map_err(|e| e.to_string())?;
        writeback_relay::agents::read(
            &store,
            std::time::Duration::from_millis(relay.agent_timeout_ms),
        )
        .await
    }
    .await;
    let list = match result {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: {e}");
            return 1;
        }
    };
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&list).unwrap_or_default()
        );
        return 0;
    }
    if list.is_empty() {
        println!("no agent has sent a heartbeat to this bus");
        return 1;
    }
    println!(
        "{:<28} {:<6} {:>10} {:<9} {:<8} {:>9}  keys",
        "agent", "alive", "seen (s)", "version", "targets", "requests"
    );
    for a in &list {
        let h = &a.heartbeat;
        println!(
            "{:<28} {:<6} {:>10.1} {:<9} {:<8} {:>9}  {}",
            h.agent,
            if a.alive { "yes" } else { "no" },
            a.last_seen_ms_ago as f64 / 1000.0,
            h.version,
            if h.targets_ok { "ok" } else { "failing" },
            h.requests,
            h.key_ids.join(",")
        );
        for p in &h.target_problems {
            println!("    {p}");
        }
    }
    i32::from(!list.iter().any(|a| a.alive))
}

/// `check-config` for a file with `[relay]`: `None` when it has none (the single
/// process check runs). With `connect`, also NATS: reachable, JetStream, the stream and
/// buckets with their settings (and, on an agent, every directory's self-test).
pub async fn check_config(config_path: &Path, connect: bool) -> Option<i32> {
    let config = load_config(config_path);
    let relay = match RelayConfig::from_config(&config) {
        Ok(Some(r)) => r,
        Ok(None) => return None,
        Err(e) => fail_config(&e),
    };
    let registry = crate::builtin_registry();
    let mut ok = true;
    let mut host = None;
    match relay.role {
        Role::Edge => {
            if let Err(e) = writeback_host::validate(&config, &registry) {
                fail_config(&e);
            }
            for p in &relay.public_keys {
                match writeback_relay::seal::PublicKey::load(p) {
                    Ok(k) => println!("  seals to key {} ({})", k.id, p.display()),
                    Err(e) => fail_config(&e),
                }
            }
            println!("{}: edge configuration is valid", config_path.display());
            for c in &config.sources {
                println!("  source   {} ({})", c.name, c.type_name);
            }
        }
        Role::Agent => {
            if let Err(e) = AgentSource::new(relay.clone(), Vec::new()) {
                fail_config(&e);
            }
            let h = match Host::build_with(config, &registry, crate::builtin_options()).await {
                Ok(h) => h,
                Err(e) => fail_config(&e),
            };
            println!("{}: agent configuration is valid", config_path.display());
            for line in h.describe().iter().filter(|l| !l.starts_with("source")) {
                println!("  {line}");
            }
            host = Some(h);
        }
    }
    println!(
        "  relay    {} partitions on {} (stream {})",
        relay.partitions,
        relay.servers.join(", "),
        relay.stream
    );
    if !connect {
        return Some(0);
    }
    let mut line = |good: bool, check: &str, detail: String| {
        ok &= good;
        println!(
            "  [{}] {check}: {detail}",
            if good { " ok " } else { "FAIL" }
        );
    };
    println!("nats:");
    match writeback_relay::bus::connect(&relay, "writeback-check-config").await {
        Err(e) => line(false, "connect", e.to_string()),
        Ok(client) => {
            line(true, "connect", relay.servers.join(", "));
            let js = writeback_relay::bus::context(&client);
            match js.query_account().await {
                Ok(a) => line(true, "jetstream", format!("{} streams in this account", a.streams)),
                Err(e) => line(false, "jetstream", format!("{e}: start nats-server with JetStream (-js) and enable it for this account")),
            }
            match js.get_stream(&relay.stream).await {
                Ok(mut s) => match s.info().await {
                    Ok(info) => {
                        let c = &info.config;
                        let good = c.retention == writeback_relay::async_nats::jetstream::stream::RetentionPolicy::WorkQueue
                            && !c.duplicate_window.is_zero();
                        line(
                            good,
                            "stream",
                            format!(
                                "{}: retention {:?}, storage {:?}, replicas {}, duplicate window {:?}, {} messages{}",
                                relay.stream,
                                c.retention,
                                c.storage,
                                c.num_replicas,
                                c.duplicate_window,
                                info.state.messages,
                                if good { "" } else { " (needs work-queue retention and a duplicate window)" }
                            ),
                        );
                    }
                    Err(e) => line(false, "stream", format!("{}: {e}", relay.stream)),
                },
                Err(e) => line(
                    relay.manage,
                    "stream",
                    if relay.manage {
                        format!(
                            "{} does not exist yet; it is created at start (manage = true)",
                            relay.stream
                        )
                    } else {
                        format!(
                            "{}: {e}; with manage = false create it as docs/relay.md shows",
                            relay.stream
                        )
                    },
                ),
            }
            for bucket in [&relay.ledger_bucket, &relay.agents_bucket] {
                match js.get_key_value(bucket.as_str()).await {
                    Ok(_) => line(true, "bucket", bucket.clone()),
                    Err(e) => line(
                        relay.manage,
                        "bucket",
                        if relay.manage {
                            format!("{bucket} does not exist yet; it is created at start")
                        } else {
                            format!("{bucket}: {e}")
                        },
                    ),
                }
            }
        }
    }
    if let Some(h) = host {
        ok &= super::check_config::print_self_tests(&h).await;
    }
    Some(i32::from(!ok))
}
