//! `writeback`: password writeback from cloud identity services to on-premises
//! directories. See `writeback --help`.

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use writeback_cli::commands;
use writeback_cli::logging::{self, LogFormat};

#[derive(Parser)]
#[command(
    name = "writeback",
    version,
    about = "Writes passwords reset or changed in a cloud identity service back to on-premises directories.",
    long_about = "Writes passwords reset or changed in a cloud identity service back to \
on-premises directories (OpenLDAP, Active Directory, Samba AD), after checking them \
against the on-premises policy, and tells the cloud side the result while the person waits.\n\n\
Start with `writeback check-config FILE`, then `writeback run -c FILE`."
)]
struct Cli {
    /// Log format on stderr (the level comes from RUST_LOG, default info).
    #[arg(long, value_enum, default_value_t = LogFormat::Text, global = true)]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the engine from a config file until SIGINT/SIGTERM (then drain in-flight requests).
    Run {
        /// The TOML config file.
        #[arg(short, long)]
        config: PathBuf,
    },
    /// Check a config file and print the resolved pipeline; --connect also tests every directory.
    CheckConfig {
        /// The TOML config file.
        config: PathBuf,
        /// Connect and bind to each directory and report TLS, bind and permission checks.
        #[arg(long)]
        connect: bool,
    },
    /// Check everything before going live: TLS, rights, policies, paths; exit code by worst verdict.
    Doctor(commands::doctor::DoctorArgs),
    /// Build, sign and send one request to a running webhook source (for operators and demos).
    Request(commands::request::RequestArgs),
    /// The durable notification outbox: list, retry dead letters, purge.
    Outbox {
        #[command(subcommand)]
        command: commands::outbox::OutboxCommand,
    },
    /// Password-expiry reminders.
    Expiry {
        #[command(subcommand)]
        command: commands::expiry::ExpiryCommand,
    },
    /// Try a candidate password against the configured policies for one user.
    Policy {
        #[command(subcommand)]
        command: commands::policy_check::PolicyCommand,
    },
    /// The offline breached-password file: build it from the HIBP download, check it.
    Breached {
        #[command(subcommand)]
        command: commands::breached::BreachedCommand,
    },
    /// The audit trail: verify its hash chain and keyed checkpoints.
    Audit {
        #[command(subcommand)]
        command: commands::audit::AuditCommand,
    },
    /// Relay: serve the sources and forward sealed requests to agents over NATS (no directory credentials).
    Edge {
        /// The edge's TOML config file ([[sources]] and [relay] with role = "edge").
        #[arg(short, long)]
        config: PathBuf,
    },
    /// Relay: pull sealed requests from NATS and apply them to the directories (dials out only).
    Agent {
        /// The agent's TOML config file ([[targets]] and [relay] with role = "agent").
        #[arg(short, long)]
        config: PathBuf,
    },
    /// Relay keys: generate an agent key pair.
    Keys {
        #[command(subcommand)]
        command: commands::relay::KeysCommand,
    },
    /// Relay agents: list what the bus knows about them.
    Agents {
        #[command(subcommand)]
        command: commands::relay::AgentsCommand,
    },
    /// Plugins and connector types.
    Plugins {
        #[command(subcommand)]
        command: PluginsCommand,
    },
}

#[derive(Subcommand)]
enum PluginsCommand {
    /// List every connector type: built in, and from the plugins a config loads.
    List {
        /// Also load the [[plugins]] of this config file.
        #[arg(short, long)]
        config: Option<PathBuf>,
    },
}

fn main() {
    let cli = Cli::parse();
    logging::init(cli.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            std::process::exit(1);
        }
    };
    let code = runtime.block_on(async move {
        match cli.command {
            Command::Run { config } => commands::run::run(&config).await,
            Command::CheckConfig { config, connect } => {
                commands::check_config::run(&config, connect).await
            }
            Command::Doctor(args) => commands::doctor::run(args).await,
            Command::Request(args) => commands::request::run(args).await,
            Command::Outbox { command } => commands::outbox::run(command),
            Command::Expiry { command } => commands::expiry::run(command).await,
            Command::Policy { command } => commands::policy_check::run(command).await,
            Command::Breached { command } => commands::breached::run(command),
            Command::Audit { command } => commands::audit::run(command),
            Command::Edge { config } => commands::relay::edge(&config).await,
            Command::Agent { config } => commands::relay::agent(&config).await,
            Command::Keys { command } => commands::relay::keys(command),
            Command::Agents { command } => commands::relay::agents(command).await,
            Command::Plugins {
                command: PluginsCommand::List { config },
            } => commands::plugins::list(config.as_deref()),
        }
    });
    std::process::exit(code);
}
