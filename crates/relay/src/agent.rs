//! `writeback agent`: the relay's consumer, run as the host's one source. It only
//! dials out: per partition it pulls one message at a time, opens it with its private
//! key, claims the id in the ledger, runs the pipeline, replies, records the outcome
//! and acks. It heartbeats into the agents bucket. While its directories are down and
//! another agent's are up, it stops pulling and hands back what it holds, so the
//! request lands where it can be served.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
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
    /// The targets' self-test passed and the last request did not find a directory
    /// down.
    directory_ok: AtomicBool,
    /// Another live agent's heartbeat says its targets are up.
    healthy_peer: AtomicBool,
}

impl AgentSource {
    /// This agent's directory is down and another agent can serve: leave the work to
    /// it (stop pulling, hand back what arrives).
    fn deferring(&self) -> bool {
        !self.directory_ok.load(Ordering::Relaxed) && self.healthy_peer.load(Ordering::Relaxed)
    }
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
            directory_ok: AtomicBool::new(true),
            healthy_peer: AtomicBool::new(false),
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
    let mut problems = Vec::new();
    let mut self_test_ok = true;
    loop {
        // Every 15 s while the directories are up; at every beat while one is down (or
        // a request found it down), so the agent takes work again soon after it is back.
        let down = !agent.directory_ok.load(Ordering::Relaxed);
        if down || checked_at.is_none_or(|t| t.elapsed() > Duration::from_secs(15)) {
            let mut ok = true;
            problems = Vec::new();
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
            agent.directory_ok.store(ok, Ordering::Relaxed);
            // Said once when it changes, not at every beat.
            if ok != self_test_ok {
                if ok {
                    tracing::info!("relay: the targets' self-test passes again; taking requests");
                } else {
                    tracing::warn!(problems = %problems.join("; "), "relay: a target's self-test fails; this agent leaves requests to agents whose targets are up, if any");
                }
                self_test_ok = ok;
            }
        }
        let timeout = Duration::from_millis(agent.cfg.agent_timeout_ms);
        if let Ok(peers) = crate::agents::read(&store, timeout).await {
            let healthy = peers
                .iter()
                .any(|p| p.alive && p.heartbeat.targets_ok && p.heartbeat.agent != agent.name);
            agent.healthy_peer.store(healthy, Ordering::Relaxed);
        }
        let last = agent.last_request_ms.load(Ordering::Relaxed);
        let beat = Heartbeat {
            agent: agent.name.clone(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            key_ids: agent.keys.iter().map(|k| k.id.clone()).collect(),
            targets_ok: agent.directory_ok.load(Ordering::Relaxed),
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
        if shared.agent.deferring() {
            // No pull open: NATS hands this partition's messages to the other agents.
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(Duration::from_millis(200)) => {}
            }
            continue;
        }
        // A standing pull (the client keeps a request for up to `PULL_BATCH` messages
        // open and tops it up) rather than one pull request per message: with
        // `max_ack_pending = 1` the server still hands out one message at a time, but
        // the next one leaves the server as soon as the previous ack arrives, without
        // waiting for this agent to ask again (one round trip less per message).
        let opened = tokio::select! {
            _ = shutdown.cancelled() => return,
            s = consumer
                .stream()
                .max_messages_per_batch(PULL_BATCH)
                .expires(Duration::from_secs(10))
                .heartbeat(Duration::from_secs(4))
                .messages() => s,
        };
        let mut messages = match opened {
            Ok(m) => m,
            Err(e) => {
                tracing::debug!(error = %e, "relay: pull not opened; retrying");
                tokio::time::sleep(Duration::from_millis(250)).await;
                continue;
            }
        };
        loop {
            // Once a message is here it is handled to the end, shutdown or not.
            let next = tokio::select! {
                _ = shutdown.cancelled() => return,
                n = messages.next() => n,
            };
            match next {
                Some(Ok(msg)) => {
                    handle(&shared, msg).await;
                    if shared.agent.deferring() {
                        // Dropping the pull withdraws it, so the server stops
                        // delivering here.
                        break;
                    }
                }
                Some(Err(e)) => {
                    // A missed heartbeat (NATS away) or a consumer gone: open a new pull.
                    tracing::debug!(error = %e, "relay: pull ended; retrying");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    break;
                }
                None => break,
            }
        }
    }
}

/// How long a handed-back message waits before NATS delivers it again.
const HAND_BACK_DELAY: Duration = Duration::from_millis(50);

/// Handing a request on is worth it only with time left for another agent to run it;
/// otherwise this agent answers (`directory_unavailable`) before the deadline.
fn handing_back_fits(envelope: &Envelope) -> bool {
    envelope.bound.deadline_unix_ms > wire::unix_ms() + 1500
}

/// How many messages one standing pull asks for before the client renews it. With one
/// message in flight per partition this only sets how often the request is renewed.
const PULL_BATCH: usize = 64;

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
    if agent.deferring() && handing_back_fits(&envelope) {
        // Not claimed, nothing written: another agent takes it after the delay.
        tracing::debug!(id = %id, "relay: handed back (this agent's directory is down)");
        let _ = msg.ack_with(AckKind::Nak(Some(HAND_BACK_DELAY))).await;
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
    if outcome.code == OutcomeCode::DirectoryUnavailable {
        agent.directory_ok.store(false, Ordering::Relaxed);
        if agent.deferring() && handing_back_fits(&envelope) {
            // Nothing was written (that is what `directory_unavailable` means), so the
            // claim is released and the message handed to an agent whose directory is
            // up instead of answering the caller with this agent's failure.
            record(shared, &key, revision, claim, &outcome).await;
            progress.cancel();
            let _ = ticker.await;
            tracing::info!(id = %id, "relay: directory unavailable here; handed the request to another agent");
            let _ = msg.ack_with(AckKind::Nak(Some(HAND_BACK_DELAY))).await;
            return;
        }
    } else if outcome.code != OutcomeCode::Timeout {
        agent.directory_ok.store(true, Ordering::Relaxed);
    }
    // The caller hears the outcome now, while the ledger write is under way: the ack,
    // which is what lets NATS drop the message and hand out the partition's next one,
    // still waits for that write. So a redelivery (this agent dies before the ack) or a
    // caller's retry finds either the outcome or the bare claim, which is answered
    // `timeout` and never applied again; and the next request of the same user cannot
    // start before this one is recorded. One round trip off the caller's wait.
    reply(shared, reply_to, &id, &outcome).await;
    record(shared, &key, revision, claim, &outcome).await;
    progress.cancel();
    let _ = ticker.await;
    if let Err(e) = msg.ack_with(AckKind::Ack).await {
        tracing::debug!(error = %e, "relay: ack not sent; the message will be redelivered and answered from the ledger");
    }
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
    reply(shared, reply_to, id, &outcome).await;
    if let Err(e) = msg.ack_with(ack).await {
        tracing::debug!(error = %e, "relay: ack not sent; the message will be redelivered and answered from the ledger");
    }
}

/// Publishes the outcome on the edge's reply subject (nothing waits for it: the edge
/// falls back to the ledger if it is lost).
async fn reply(shared: &Shared, reply_to: Option<String>, id: &str, outcome: &Outcome) {
    if let Some(subject) = reply_to {
        let reply = Reply {
            id: id.to_string(),
            agent: shared.agent.name.clone(),
            outcome: outcome.clone(),
        };
        if let Ok(body) = serde_json::to_vec(&reply) {
            let _ = shared.client.publish(subject, body.into()).await;
        }
    }
}
