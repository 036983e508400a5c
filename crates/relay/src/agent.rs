//! `writeback agent`: the relay's consumer, run as the host's one source. It only
//! dials out: per partition it pulls one message at a time, opens it with its private
//! key, claims the id in the ledger, runs the pipeline, records the outcome, replies
//! and acks. It heartbeats into the agents bucket.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::{self, kv, AckKind};
use async_trait::async_trait;
use futures::StreamExt;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use writeback_core::{BoxError, CloudSource, Outcome, OutcomeCode, Submit};

use crate::bus;
use crate::config::RelayConfig;
use crate::seal::PrivateKey;
use crate::wire::{self, Envelope, Heartbeat, LedgerEntry, Reply};

/// The agent as the host runs it.
pub struct AgentSource {
    cfg: RelayConfig,
    name: String,
    keys: Arc<Vec<PrivateKey>>,
    targets: Vec<String>,
    started_ms: u64,
    requests: AtomicU64,
    last_request_ms: AtomicU64,
}

struct Shared {
    agent: Arc<AgentSource>,
    client: async_nats::Client,
    ledger: kv::Store,
    pipeline: Arc<dyn Submit>,
}

impl AgentSource {
    /// Loads the private keys (refusing files others can read). `targets` are the
    /// configured target names, for the heartbeat's self-test.
    pub fn new(cfg: RelayConfig, targets: Vec<String>) -> Result<AgentSource, String> {
        let keys = cfg
            .private_keys
            .iter()
            .map(|p| PrivateKey::load(p))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| e.to_string())?;
        let name = cfg.name.clone().unwrap_or_else(default_name);
        Ok(AgentSource {
            cfg,
            name,
            keys: Arc::new(keys),
            targets,
            started_ms: wire::unix_ms(),
            requests: AtomicU64::new(0),
            last_request_ms: AtomicU64::new(0),
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }
}

fn default_name() -> String {
    // The kernel's host name, read without unsafe code; "agent" where it is not there.
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .unwrap_or_default()
        .trim()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .take(64)
        .collect::<String>();
    format!(
        "{}-{}",
        if host.is_empty() { "agent" } else { &host },
        std::process::id()
    )
}

#[async_trait]
impl CloudSource for AgentSource {
    async fn run(
        self: Arc<Self>,
        pipeline: Arc<dyn Submit>,
        shutdown: CancellationToken,
    ) -> Result<(), BoxError> {
        let client = bus::connect(&self.cfg, &format!("writeback-agent-{}", self.name)).await?;
        let js = bus::context(&client);
        let stream = bus::stream(&js, &self.cfg).await?;
        let ledger = bus::ledger(&js, &self.cfg).await?;
        let agents = bus::agents(&js, &self.cfg).await?;
        let mut consumers = Vec::new();
        for p in 0..self.cfg.partitions {
            consumers.push(bus::partition_consumer(&stream, &self.cfg, p).await?);
        }
        tracing::info!(
            agent = %self.name,
            keys = %self.keys.iter().map(|k| k.id.as_str()).collect::<Vec<_>>().join(", "),
            partitions = self.cfg.partitions,
            "relay agent connected to NATS"
        );
        let shared = Arc::new(Shared {
            agent: self.clone(),
            client,
            ledger,
            pipeline,
        });
        // Pre-flight checks (the password page on the edge) answered beside the requests.
        let checks = tokio::spawn(crate::check::serve(
            shared.client.clone(),
            self.cfg.clone(),
            self.name.clone(),
            self.keys.clone(),
            shared.pipeline.clone(),
            shutdown.clone(),
        ));
        let beat_stop = CancellationToken::new();
        let beats = tokio::spawn(heartbeat(shared.clone(), agents.clone(), beat_stop.clone()));
        let mut loops = JoinSet::new();
        for consumer in consumers {
            loops.spawn(partition_loop(shared.clone(), consumer, shutdown.clone()));
        }
        while loops.join_next().await.is_some() {}
        let _ = checks.await;
        beat_stop.cancel();
        let _ = beats.await;
        // Gone at once rather than after the edge's timeout.
        let _ = agents.delete(heartbeat_key(&self.name)).await;
        let _ = shared.client.flush().await;
        tracing::info!(agent = %self.name, "relay agent stopped");
        Ok(())
    }

    fn describe(&self) -> String {
        format!(
            "relay agent `{}` on {} ({} partitions, keys {})",
            self.name,
            self.cfg.servers.join(", "),
            self.cfg.partitions,
            self.keys
                .iter()
                .map(|k| k.id.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )
    }
}

fn heartbeat_key(name: &str) -> String {
    format!("agent.{name}")
}

async fn heartbeat(shared: Arc<Shared>, store: kv::Store, stop: CancellationToken) {
    let agent = &shared.agent;
    let every = Duration::from_millis(agent.cfg.heartbeat_ms);
    let mut checked_at: Option<tokio::time::Instant> = None;
    let (mut ok, mut problems) = (true, Vec::new());
    loop {
        if checked_at.is_none_or(|t| t.elapsed() > Duration::from_secs(15)) {
            (ok, problems) = (true, Vec::new());
            for name in &agent.targets {
                if let Some(t) = shared.pipeline.target(name) {
                    for check in t.self_test().await {
                        if !check.ok {
                            ok = false;
                            problems.push(format!("{name}: {}: {}", check.check, check.detail));
                        }
                    }
                }
            }
            checked_at = Some(tokio::time::Instant::now());
        }
        let last = agent.last_request_ms.load(Ordering::Relaxed);
        let beat = Heartbeat {
            agent: agent.name.clone(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            key_ids: agent.keys.iter().map(|k| k.id.clone()).collect(),
            targets_ok: ok,
            target_problems: problems.clone(),
            started_unix_ms: agent.started_ms,
            sent_unix_ms: wire::unix_ms(),
            last_request_unix_ms: (last > 0).then_some(last),
            requests: agent.requests.load(Ordering::Relaxed),
        };
        if let Ok(body) = serde_json::to_vec(&beat) {
            if let Err(e) = store.put(heartbeat_key(&agent.name), body.into()).await {
                tracing::warn!(error = %e, "relay: heartbeat not stored (NATS unreachable?)");
            }
        }
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(every) => {}
        }
    }
}

async fn partition_loop(
    shared: Arc<Shared>,
    consumer: jetstream::consumer::Consumer<jetstream::consumer::pull::Config>,
    shutdown: CancellationToken,
) {
    while !shutdown.is_cancelled() {
        let fetched = tokio::select! {
            _ = shutdown.cancelled() => return,
            // `batch` waits (up to `expires`) for a message; `fetch` would return at once
            // when there is none, and this loop would poll NATS as fast as it can.
            f = consumer.batch().max_messages(1).expires(Duration::from_secs(2)).messages() => f,
        };
        let mut batch = match fetched {
            Ok(b) => b,
            Err(e) => {
                tracing::debug!(error = %e, "relay: fetch failed; retrying");
                tokio::time::sleep(Duration::from_millis(250)).await;
                continue;
            }
        };
        loop {
            // Once a message is here it is handled to the end, shutdown or not.
            let next = tokio::select! {
                _ = shutdown.cancelled() => return,
                n = batch.next() => n,
            };
            match next {
                Some(Ok(msg)) => handle(&shared, msg).await,
                Some(Err(e)) => {
                    tracing::debug!(error = %e, "relay: pull ended; retrying");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    break;
                }
                None => break,
            }
        }
    }
}

fn refused(detail: String) -> Outcome {
    Outcome::of(OutcomeCode::AdminActionRequired).with_admin_detail(detail)
}

async fn handle(shared: &Shared, msg: jetstream::Message) {
    let agent = &shared.agent;
    let reply_to = msg
        .headers
        .as_ref()
        .and_then(|h| h.get(wire::REPLY_HEADER))
        .map(|v| v.as_str().to_string())
        .filter(|s| s.starts_with(&format!("{}.reply.", agent.cfg.subject_prefix)));
    let envelope: Envelope = match serde_json::from_slice(&msg.payload) {
        Ok(e) => e,
        Err(e) => {
            tracing::warn!(error = %e, "relay: a malformed message was refused");
            let o = refused(format!(
                "relay agent `{}`: malformed relay message: {e}",
                agent.name
            ));
            finish(shared, &msg, reply_to, "", o, AckKind::Term).await;
            return;
        }
    };
    let id = envelope.bound.id.clone();
    let request = match wire::open_request(&envelope, &agent.keys) {
        Ok(r) => r,
        Err(e) => {
            // Never applied; not recorded either (a forged message may carry a real id).
            tracing::warn!(id = %id, error = %e, "relay: a sealed request was refused");
            let o = refused(format!("relay agent `{}`: {e}", agent.name));
            finish(shared, &msg, reply_to, &id, o, AckKind::Term).await;
            return;
        }
    };
    if wire::unix_ms() > envelope.bound.deadline_unix_ms {
        // The caller was already answered `timeout`; applying now would surprise them.
        tracing::info!(id = %id, "relay: dropped a request past its deadline, nothing written");
        let _ = msg.ack().await;
        return;
    }
    let key = wire::ledger_key(&request.source, request.id.as_str());
    let binding = wire::binding(request.operation.kind(), &request.identity);
    let claim = LedgerEntry {
        binding: binding.clone(),
        agent: agent.name.clone(),
        claimed_unix_ms: wire::unix_ms(),
        outcome: None,
    };
    let revision = match shared
        .ledger
        .create(&key, serde_json::to_vec(&claim).unwrap_or_default().into())
        .await
    {
        Ok(rev) => rev,
        Err(e) if e.kind() == kv::CreateErrorKind::AlreadyExists => {
            let o = earlier(shared, &key, &binding).await;
            match o {
                Some(o) => finish(shared, &msg, reply_to, &id, o, AckKind::Ack).await,
                None => {
                    let _ = msg
                        .ack_with(AckKind::Nak(Some(Duration::from_millis(200))))
                        .await;
                }
            }
            return;
        }
        Err(e) => {
            tracing::warn!(id = %id, error = %e, "relay: cannot claim in the ledger; will retry");
            let _ = msg
                .ack_with(AckKind::Nak(Some(Duration::from_millis(500))))
                .await;
            return;
        }
    };
    agent.requests.fetch_add(1, Ordering::Relaxed);
    agent
        .last_request_ms
        .store(wire::unix_ms(), Ordering::Relaxed);
    // Keep the message ours while the pipeline works.
    let progress = CancellationToken::new();
    let ticker = {
        let (progress, every) = (
            progress.clone(),
            Duration::from_millis(agent.cfg.ack_wait_ms / 3),
        );
        let msg = msg.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = progress.cancelled() => return,
                    _ = tokio::time::sleep(every) => { let _ = msg.ack_with(AckKind::Progress).await; }
                }
            }
        })
    };
    let outcome = shared.pipeline.submit(request).await;
    record(shared, &key, revision, claim, &outcome).await;
    progress.cancel();
    let _ = ticker.await;
    finish(shared, &msg, reply_to, &id, outcome, AckKind::Ack).await;
}

/// The outcome an earlier delivery of the same id left in the ledger, or what to say
/// when it left only a claim. `None`: the entry could not be read (try again).
async fn earlier(shared: &Shared, key: &str, binding: &str) -> Option<Outcome> {
    let entry = shared.ledger.get(key).await.ok()?;
    let Some(entry) = entry else {
        // Released (`directory_unavailable`) between our create and this read.
        return None;
    };
    let entry: LedgerEntry = serde_json::from_slice(&entry).ok()?;
    if entry.binding != binding {
        return Some(Outcome::new(
            OutcomeCode::InvalidRequest,
            "This request id was already used for a different request (another user or \
             operation), so nothing was done. Send this request with a new id.",
        ));
    }
    Some(entry.outcome.unwrap_or_else(|| {
        Outcome::of(OutcomeCode::Timeout).with_admin_detail(format!(
            "relay: agent `{}` claimed this request at {} (Unix ms) and recorded no outcome: \
             it stopped or lost NATS while working on it, so the password may or may not \
             have been written. It is not applied a second time. Check the account in the \
             directory, then send the request again with a new id if needed",
            entry.agent, entry.claimed_unix_ms
        ))
    }))
}

/// Records the outcome (or releases the claim when nothing was written and a retry may
/// run), retrying while NATS is away so a redelivery finds it.
async fn record(
    shared: &Shared,
    key: &str,
    revision: u64,
    mut claim: LedgerEntry,
    outcome: &Outcome,
) {
    for attempt in 0..40u32 {
        let result = match outcome.code {
            OutcomeCode::DirectoryUnavailable => shared
                .ledger
                .delete_expect_revision(key, Some(revision))
                .await
                .map_err(|e| e.to_string()),
            // The pipeline gave up waiting, the write may still land: leave the bare
            // claim, which later deliveries answer with its detail.
            OutcomeCode::Timeout => Ok(()),
            _ => {
                claim.outcome = Some(outcome.clone());
                shared
                    .ledger
                    .update(
                        key,
                        serde_json::to_vec(&claim).unwrap_or_default().into(),
                        revision,
                    )
                    .await
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            }
        };
        match result {
            Ok(()) => return,
            Err(e) => {
                if attempt == 0 {
                    tracing::warn!(error = %e, "relay: outcome not recorded yet; retrying");
                }
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        }
    }
    tracing::error!("relay: the outcome could not be recorded in the ledger; a redelivery will answer `timeout`");
}

async fn finish(
    shared: &Shared,
    msg: &jetstream::Message,
    reply_to: Option<String>,
    id: &str,
    outcome: Outcome,
    ack: AckKind,
) {
    if let Some(subject) = reply_to {
        let reply = Reply {
            id: id.to_string(),
            agent: shared.agent.name.clone(),
            outcome,
        };
        if let Ok(body) = serde_json::to_vec(&reply) {
            let _ = shared.client.publish(subject, body.into()).await;
        }
    }
    if let Err(e) = msg.ack_with(ack).await {
        tracing::debug!(error = %e, "relay: ack not sent; the message will be redelivered and answered from the ledger");
    }
}
