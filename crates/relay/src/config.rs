//! `[relay]`: where NATS is, how to authenticate, the keys, the partitions. Read
//! from the host config's extra sections and checked at load, with file, line and key
//! in every error.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;
use writeback_core::config::parse_section;
use writeback_core::ConfigError;
use writeback_host::Config;

/// Which side of the relay this process is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Edge,
    Agent,
}

/// The `[relay]` table.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RelayConfig {
    pub role: Role,
    /// NATS server URLs (`tls://host:4222`, `nats://…` on loopback, `wss://…`).
    pub servers: Vec<String>,
    /// CA file for the NATS server's certificate.
    #[serde(default)]
    pub tls_ca_file: Option<PathBuf>,
    /// A `.creds` file (JWT + NKEY seed). Else `WRITEBACK_NATS_CREDS` (the file's text).
    #[serde(default)]
    pub credentials_file: Option<PathBuf>,
    /// Plain-text NATS without TLS is refused unless every server is on loopback or
    /// this says so in so many words.
    #[serde(default)]
    pub allow_plaintext: bool,
    #[serde(default = "default_stream")]
    pub stream: String,
    #[serde(default = "default_subject_prefix")]
    pub subject_prefix: String,
    #[serde(default = "default_ledger")]
    pub ledger_bucket: String,
    #[serde(default = "default_agents")]
    pub agents_bucket: String,
    /// Create the stream, consumers and buckets if missing.
    #[serde(default = "yes")]
    pub manage: bool,
    #[serde(default = "default_partitions")]
    pub partitions: u16,
    /// Edge: the agents' public key files (every request is sealed to each).
    #[serde(default)]
    pub public_keys: Vec<PathBuf>,
    /// Agent: its private key files.
    #[serde(default)]
    pub private_keys: Vec<PathBuf>,
    /// Edge: how long a caller waits for the agent's outcome.
    #[serde(default = "default_deadline")]
    pub deadline_ms: u64,
    /// Edge: an agent whose last heartbeat is older is not alive.
    #[serde(default = "default_agent_timeout")]
    pub agent_timeout_ms: u64,
    /// Agent: how often it heartbeats.
    #[serde(default = "default_heartbeat")]
    pub heartbeat_ms: u64,
    /// Agent: after this long without an ack or a progress signal, NATS hands a message
    /// to another agent.
    #[serde(default = "default_ack_wait")]
    pub ack_wait_ms: u64,
    /// Agent: its name in heartbeats (default: host name and pid).
    #[serde(default)]
    pub name: Option<String>,
    /// Edge: `/health`, `/metrics` and `/agents` over plain HTTP (loopback advised).
    #[serde(default)]
    pub health_listen: Option<SocketAddr>,
}

fn default_stream() -> String {
    "WRITEBACK_REQUESTS".into()
}
fn default_subject_prefix() -> String {
    "writeback".into()
}
fn default_ledger() -> String {
    "WRITEBACK_LEDGER".into()
}
fn default_agents() -> String {
    "WRITEBACK_AGENTS".into()
}
fn yes() -> bool {
    true
}
fn default_partitions() -> u16 {
    16
}
fn default_deadline() -> u64 {
    8000
}
fn default_agent_timeout() -> u64 {
    6000
}
fn default_heartbeat() -> u64 {
    2000
}
fn default_ack_wait() -> u64 {
    5000
}

fn name_ok(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

impl RelayConfig {
    /// Reads `[relay]` from a loaded config; `None` when there is none.
    pub fn from_config(config: &Config) -> Result<Option<RelayConfig>, ConfigError> {
        let Some(value) = config.extra.get("relay") else {
            return Ok(None);
        };
        let mut c: RelayConfig = parse_section(&config.source, "relay", value.clone())?;
        let err = |key: &str, m: String| config.source.error(&format!("relay.{key}"), m);
        if c.servers.is_empty() {
            return Err(err(
                "servers",
                "list at least one NATS server, for example [\"tls://nats.example.net:4222\"]"
                    .into(),
            ));
        }
        for s in &c.servers {
            let plain = s.starts_with("nats://") || s.starts_with("ws://");
            let known = plain || s.starts_with("tls://") || s.starts_with("wss://");
            if !known {
                return Err(err(
                    "servers",
                    format!("`{s}` must start with tls://, wss://, nats:// or ws://"),
                ));
            }
            let loopback = ["127.0.0.1", "localhost", "[::1]"].iter().any(|h| {
                s.split("://")
                    .nth(1)
                    .is_some_and(|rest| rest.starts_with(h))
            });
            if plain && !loopback && !c.allow_plaintext && c.tls_ca_file.is_none() {
                return Err(err("servers", format!(
                    "`{s}` is plain text beyond loopback: sealed requests are safe, but outcomes, identities and credentials would travel in clear; use tls:// (with tls_ca_file) or set allow_plaintext = true behind a TLS-terminating network"
                )));
            }
        }
        for (key, v) in [
            ("stream", &c.stream),
            ("ledger_bucket", &c.ledger_bucket),
            ("agents_bucket", &c.agents_bucket),
        ] {
            if !name_ok(v) {
                return Err(err(
                    key,
                    format!("`{v}` must be 1 to 64 letters, digits, `_` or `-`"),
                ));
            }
        }
        if !c.subject_prefix.split('.').all(name_ok) {
            return Err(err(
                "subject_prefix",
                "must be dot-separated tokens of letters, digits, `_` or `-`".into(),
            ));
        }
        if c.partitions == 0 || c.partitions > 1024 {
            return Err(err(
                "partitions",
                "must be between 1 and 1024 (and the same on the edge and every agent)".into(),
            ));
        }
        if c.deadline_ms == 0 || c.deadline_ms > 600_000 {
            return Err(err(
                "deadline_ms",
                "must be between 1 and 600000 (10 minutes)".into(),
            ));
        }
        if c.heartbeat_ms < 100 || c.agent_timeout_ms < c.heartbeat_ms * 2 {
            return Err(err(
                "agent_timeout_ms",
                "must be at least twice heartbeat_ms (and heartbeat_ms at least 100)".into(),
            ));
        }
        if c.ack_wait_ms < 1000 {
            return Err(err("ack_wait_ms", "must be at least 1000".into()));
        }
        if let Some(name) = &c.name {
            if !name_ok(name) {
                return Err(err(
                    "name",
                    "must be 1 to 64 letters, digits, `_` or `-`".into(),
                ));
            }
        }
        let base = config.base_dir();
        match c.role {
            Role::Edge => {
                if c.public_keys.is_empty() {
                    return Err(err("public_keys", "the edge seals every request to the agents' public keys: list at least one `.pub` file from `writeback keys generate`".into()));
                }
                if !c.private_keys.is_empty() {
                    return Err(err("private_keys", "an edge must not hold an agent's private key: remove it (the edge needs only public_keys)".into()));
                }
                if !config.targets.is_empty() {
                    return Err(config.source.error("targets", "an edge holds no directory credentials: move [[targets]] to the agent's config"));
                }
            }
            Role::Agent => {
                if c.private_keys.is_empty() {
                    return Err(err("private_keys", "the agent opens requests with its private key: list at least one `.key` file from `writeback keys generate`".into()));
                }
                if !config.sources.is_empty() {
                    return Err(config.source.error(
                        "sources",
                        "an agent only dials out: move [[sources]] to the edge's config",
                    ));
                }
            }
        }
        for p in c
            .public_keys
            .iter_mut()
            .chain(c.private_keys.iter_mut())
            .chain(c.tls_ca_file.iter_mut())
            .chain(c.credentials_file.iter_mut())
        {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        }
        Ok(Some(c))
    }

    pub fn deadline(&self) -> Duration {
        Duration::from_millis(self.deadline_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Option<RelayConfig>, String> {
        let config = Config::parse(text, std::path::Path::new("/etc/wb/edge.toml"))
            .map_err(|e| e.to_string())?;
        RelayConfig::from_config(&config).map_err(|e| e.to_string())
    }

    #[test]
    fn edge_minimal_and_relative_paths() {
        let c = parse("[relay]\nrole = \"edge\"\nservers = [\"nats://127.0.0.1:4222\"]\npublic_keys = [\"k/a.pub\"]\n")
            .ok()
            .flatten();
        let c = c.unwrap_or_else(|| panic!("should parse"));
        assert_eq!(c.public_keys, vec![PathBuf::from("/etc/wb/k/a.pub")]);
        assert_eq!(c.partitions, 16);
    }

    #[test]
    fn errors_name_file_line_and_key() {
        let e = parse("[relay]\nrole = \"edge\"\nservers = [\"nats://127.0.0.1:4222\"]\npublic_keys = [\"a.pub\"]\npartitions = 0\n")
            .err()
            .unwrap_or_default();
        assert!(
            e.contains("edge.toml") && e.contains("relay.partitions") && e.contains(":5"),
            "{e}"
        );
        let e = parse("[relay]\nrole = \"edge\"\nservers = [\"nats://127.0.0.1:4222\"]\npublic_keys = [\"a.pub\"]\nbogus = 1\n")
            .err()
            .unwrap_or_default();
        assert!(e.contains("bogus"), "{e}");
        let e = parse("[relay]\nrole = \"agent\"\nservers = [\"nats://10.1.1.1:4222\"]\nprivate_keys = [\"a.key\"]\n")
            .err()
            .unwrap_or_default();
        assert!(e.contains("plain text"), "{e}");
        let e = parse("[relay]\nrole = \"edge\"\nservers = [\"nats://127.0.0.1:4222\"]\npublic_keys = [\"a.pub\"]\nprivate_keys = [\"a.key\"]\n")
            .err()
            .unwrap_or_default();
        assert!(e.contains("private key"), "{e}");
    }
}
