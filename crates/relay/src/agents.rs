//! What the edge (and `writeback agents list`) knows about the agents: their latest
//! heartbeats from the agents bucket, and which are alive.

use std::time::Duration;

use async_nats::jetstream::kv;
use futures::StreamExt;
use serde::Serialize;

use crate::wire::{unix_ms, Heartbeat};

/// One agent as last seen.
#[derive(Clone, Debug, Serialize)]
pub struct AgentStatus {
    #[serde(flatten)]
    pub heartbeat: Heartbeat,
    /// Milliseconds since NATS stored its last heartbeat.
    pub last_seen_ms_ago: u64,
    pub alive: bool,
}

/// Reads every heartbeat; `alive` when stored less than `timeout` ago.
pub async fn read(store: &kv::Store, timeout: Duration) -> Result<Vec<AgentStatus>, String> {
    let mut keys = store
        .keys()
        .await
        .map_err(|e| format!("cannot list the agents bucket: {e}"))?;
    let mut names = Vec::new();
    while let Some(k) = keys.next().await {
        match k {
            Ok(k) => names.push(k),
            Err(e) => return Err(format!("cannot list the agents bucket: {e}")),
        }
    }
    let now_ms = unix_ms();
    let mut out = Vec::new();
    for name in names {
        let Ok(Some(entry)) = store.entry(name).await else {
            continue;
        };
        if entry.operation != kv::Operation::Put {
            continue;
        }
        let Ok(heartbeat) = serde_json::from_slice::<Heartbeat>(&entry.value) else {
            continue;
        };
        let stored_ms = (entry.created.unix_timestamp_nanos() / 1_000_000).max(0) as u64;
        let ago = now_ms.saturating_sub(stored_ms);
        out.push(AgentStatus {
            alive: ago < timeout.as_millis() as u64,
            last_seen_ms_ago: ago,
            heartbeat,
        });
    }
    out.sort_by(|a, b| a.heartbeat.agent.cmp(&b.heartbeat.agent));
    Ok(out)
}

/// The `admin_detail` when no agent is alive.
pub fn none_alive_detail(agents: &[AgentStatus], timeout: Duration) -> String {
    let last = agents
        .iter()
        .min_by_key(|a| a.last_seen_ms_ago)
        .map(|a| {
            format!(
                "; the last agent seen was `{}`, {} s ago",
                a.heartbeat.agent,
                a.last_seen_ms_ago / 1000
            )
        })
        .unwrap_or_else(|| "; no agent has ever sent a heartbeat to this bus".into());
    format!(
        "relay: no writeback agent has sent a heartbeat in the last {} ms{last}. Start \
         `writeback agent -c agent.toml` beside the directories and check that it reaches \
         NATS (its log, `writeback agents list`)",
        timeout.as_millis()
    )
}
