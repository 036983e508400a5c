//! `writeback edge`: runs the configured sources with the relay in place of the
//! pipeline. Each request is sealed to the agents' public keys, published to its
//! user's partition, and answered with the agent's outcome (reply subject, the ledger
//! as fallback) before the deadline. No directory credentials here.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use async_nats::jetstream::{self, kv};
use async_trait::async_trait;
use futures::StreamExt;
use tokio::sync::oneshot;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use writeback_core::{BuildContext, CloudSource, Outcome, OutcomeCode, Request, Submit};
use writeback_host::secrets::EnvAndFileSecrets;
use writeback_host::{Config, Registry};

use crate::agents::{self, AgentStatus};
use crate::bus;
use crate::config::RelayConfig;
use crate::seal::PublicKey;
use crate::wire::{self, LedgerEntry, Reply};

/// Counters for `/metrics`.
#[derive(Default)]
pub struct EdgeMetrics {
    pub requests: AtomicU64,
    pub no_agent: AtomicU64,
    pub publish_failures: AtomicU64,
    pub duplicates: AtomicU64,
    pub from_ledger: AtomicU64,
    pub outcomes: Mutex<HashMap<OutcomeCode, u64>>,
}

/// The relay as the sources see it: a [`Submit`] that forwards to the agents.
pub struct Edge {
    cfg: RelayConfig,
    client: async_nats::Client,
    js: jetstream::Context,
    ledger: kv::Store,
    agents_store: kv::Store,
    keys: Vec<PublicKey>,
    edge_id: String,
    pending: Mutex<HashMap<u64, oneshot::Sender<Outcome>>>,
    next: AtomicU64,
    agents: RwLock<Vec<AgentStatus>>,
    pub metrics: EdgeMetrics,
}

fn random_hex(bytes: usize) -> String {
    use rand_core::RngCore;
    let mut b = vec![0u8; bytes];
    rand_core::OsRng.fill_bytes(&mut b);
    b.iter().map(|x| format!("{x:02x}")).collect()
}

impl Edge {
    /// Loads the public keys, connects, makes sure the stream and buckets exist, and
    /// starts the reply listener and the agents' view (until `shutdown`).
    pub async fn start(cfg: RelayConfig, shutdown: CancellationToken) -> Result<Arc<Edge>, String> {
        let keys = cfg
            .public_keys
            .iter()
            .map(|p| PublicKey::load(p))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| e.to_string())?;
        let edge_id = random_hex(8);
        let client = bus::connect(&cfg, &format!("writeback-edge-{edge_id}"))
            .await
            .map_err(|e| e.to_string())?;
        let js = bus::context(&client);
        bus::stream(&js, &cfg).await.map_err(|e| e.to_string())?;
        let ledger = bus::ledger(&js, &cfg).await.map_err(|e| e.to_string())?;
        let agents_store = bus::agents(&js, &cfg).await.map_err(|e| e.to_string())?;
        let replies = client
            .subscribe(format!("{}.reply.{edge_id}.*", cfg.subject_prefix))
            .await
            .map_err(|e| format!("cannot subscribe to the reply subject: {e}"))?;
        let edge = Arc::new(Edge {
            cfg,
            client,
            js,
            ledger,
            agents_store,
            keys,
            edge_id,
            pending: Mutex::new(HashMap::new()),
            next: AtomicU64::new(1),
            agents: RwLock::new(Vec::new()),
            metrics: EdgeMetrics::default(),
        });
        edge.refresh_agents().await;
        tokio::spawn(edge.clone().listen(replies, shutdown.clone()));
        tokio::spawn(edge.clone().watch_agents(shutdown));
        tracing::info!(
            edge = %edge.edge_id,
            keys = %edge.keys.iter().map(|k| k.id.as_str()).collect::<Vec<_>>().join(", "),
            partitions = edge.cfg.partitions,
            "relay edge connected to NATS"
        );
        Ok(edge)
    }

    async fn listen(
        self: Arc<Self>,
        mut replies: async_nats::Subscriber,
        shutdown: CancellationToken,
    ) {
        loop {
            let msg = tokio::select! {
                _ = shutdown.cancelled() => return,
                m = replies.next() => match m { Some(m) => m, None => return },
            };
            let token = msg
                .subject
                .rsplit('.')
                .next()
                .and_then(|t| t.parse::<u64>().ok());
            let Some(token) = token else { continue };
            let Ok(reply) = serde_json::from_slice::<Reply>(&msg.payload) else {
                tracing::warn!("relay: an unreadable reply on the reply subject was ignored");
                continue;
            };
            let waiter = self
                .pending
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&token);
            if let Some(tx) = waiter {
                let _ = tx.send(reply.outcome);
            }
        }
    }

    async fn refresh_agents(&self) {
        match agents::read(&self.agents_store, self.agent_timeout()).await {
            Ok(list) => *self.agents.write().unwrap_or_else(|e| e.into_inner()) = list,
            Err(e) => tracing::debug!(error = %e, "relay: agents not refreshed"),
        }
    }

    async fn watch_agents(self: Arc<Self>, shutdown: CancellationToken) {
        let every = Duration::from_millis((self.cfg.heartbeat_ms / 2).clamp(100, 1000));
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(every) => {}
            }
            self.refresh_agents().await;
        }
    }

    fn agent_timeout(&self) -> Duration {
        Duration::from_millis(self.cfg.agent_timeout_ms)
    }

    /// The agents as last read.
    pub fn agents(&self) -> Vec<AgentStatus> {
        self.agents
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub fn nats_connected(&self) -> bool {
        self.client.connection_state() == async_nats::connection::State::Connected
    }

    /// The recorded outcome of a request id, if an agent recorded one.
    async fn recorded(&self, key: &str, binding: &str) -> Option<Outcome> {
        let entry = tokio::time::timeout(Duration::from_secs(1), self.ledger.get(key))
            .await
            .ok()?
            .ok()??;
        let entry: LedgerEntry = serde_json::from_slice(&entry).ok()?;
        let outcome = entry.outcome?;
        if entry.binding != binding {
            return Some(reused_id());
        }
        Some(outcome)
    }

    async fn forward(&self, request: Request, deadline: Instant) -> Outcome {
        let key = wire::ledger_key(&request.source, request.id.as_str());
        let binding = wire::binding(request.operation.kind(), &request.identity);
        let alive: Vec<AgentStatus> = self.agents();
        if !alive.iter().any(|a| a.alive) {
            // A retry of a finished request still gets its outcome with no agent up.
            // (With agents up the ledger is read only for a duplicate: one round trip
            // less on every request.)
            if let Some(o) = self.recorded(&key, &binding).await {
                self.metrics.from_ledger.fetch_add(1, Ordering::Relaxed);
                return o;
            }
            self.metrics.no_agent.fetch_add(1, Ordering::Relaxed);
            return Outcome::of(OutcomeCode::DirectoryUnavailable)
                .with_admin_detail(agents::none_alive_detail(&alive, self.agent_timeout()));
        }
        let left = deadline.saturating_duration_since(Instant::now());
        let deadline_unix_ms = wire::unix_ms() + left.as_millis() as u64;
        let envelope = match wire::seal_request(&request, deadline_unix_ms, &self.keys) {
            Ok(e) => e,
            Err(e) => {
                return Outcome::of(OutcomeCode::PluginFault)
                    .with_admin_detail(format!("relay: cannot seal the request: {e}"))
            }
        };
        let subject = bus::partition_subject(
            &self.cfg,
            wire::partition(&request.identity, self.cfg.partitions),
        );
        let id = request.id.to_string();
        drop(request);
        let body = bytes::Bytes::from(serde_json::to_vec(&envelope).unwrap_or_default());
        let token = self.next.fetch_add(1, Ordering::Relaxed);
        let (tx, mut rx) = oneshot::channel();
        self.pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(token, tx);
        let outcome = self
            .publish_and_wait(&subject, &key, &binding, body, token, &mut rx, deadline)
            .await;
        self.pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&token);
        tracing::debug!(id = %id, code = %outcome.code, "relay: answered");
        outcome
    }

    #[allow(clippy::too_many_arguments)]
    async fn publish_and_wait(
        &self,
        subject: &str,
        key: &str,
        binding: &str,
        body: bytes::Bytes,
        token: u64,
        rx: &mut oneshot::Receiver<Outcome>,
        deadline: Instant,
    ) -> Outcome {
        let mut headers = async_nats::HeaderMap::new();
        headers.insert("Nats-Msg-Id", key);
        headers.insert(
            wire::REPLY_HEADER,
            format!("{}.reply.{}.{token}", self.cfg.subject_prefix, self.edge_id).as_str(),
        );
        let mut last_error = String::new();
        let ack = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left < Duration::from_millis(20) {
                break None;
            }
            let attempt = async {
                self.js
                    .publish_with_headers(subject.to_string(), headers.clone(), body.clone())
                    .await
                    .map_err(|e| e.to_string())?
                    .await
                    .map_err(|e| e.to_string())
            };
            match tokio::time::timeout(left.min(Duration::from_secs(2)), attempt).await {
                Ok(Ok(ack)) => break Some(ack),
                Ok(Err(e)) => last_error = e,
                Err(_) => last_error = "no acknowledgement".into(),
            }
            self.metrics
                .publish_failures
                .fetch_add(1, Ordering::Relaxed);
            let left = deadline.saturating_duration_since(Instant::now());
            tokio::time::sleep(left.min(Duration::from_millis(200))).await;
        };
        let Some(ack) = ack else {
            return Outcome::of(OutcomeCode::Timeout).with_admin_detail(format!(
                "relay: NATS did not accept the request before the deadline ({last_error}); \
                 check that nats-server is up and reachable from the edge. If it was queued \
                 after all, an agent drops it once past its deadline"
            ));
        };
        if ack.duplicate {
            // The same id is already queued or done: its first try's reply goes to its
            // own caller, so this one reads the ledger.
            self.metrics.duplicates.fetch_add(1, Ordering::Relaxed);
        }
        let poll = if ack.duplicate {
            Duration::from_millis(100)
        } else {
            Duration::from_millis(500)
        };
        if ack.duplicate {
            // Most often a retry of a request already finished: its outcome is there now.
            if let Some(o) = self.recorded(key, binding).await {
                self.metrics.from_ledger.fetch_add(1, Ordering::Relaxed);
                return o;
            }
        }
        let mut replied = ack.duplicate;
        loop {
            let next = (Instant::now() + poll).min(deadline);
            if replied {
                tokio::time::sleep_until(next).await;
            } else {
                tokio::select! {
                    r = &mut *rx => match r {
                        Ok(outcome) => return outcome,
                        Err(_) => replied = true,
                    },
                    _ = tokio::time::sleep_until(next) => {}
                }
            }
            if let Some(o) = self.recorded(key, binding).await {
                self.metrics.from_ledger.fetch_add(1, Ordering::Relaxed);
                return o;
            }
            if Instant::now() >= deadline {
                return Outcome::of(OutcomeCode::Timeout).with_admin_detail(format!(
                    "relay: no agent answered within {} ms. The request is queued; an agent \
                     that takes it after the deadline drops it without writing. Check the \
                     agents (`writeback agents list`) and the directories' latency",
                    self.cfg.deadline_ms
                ));
            }
        }
    }

    /// `/metrics` text (Prometheus exposition format).
    pub fn render_metrics(&self) -> String {
        let m = &self.metrics;
        let mut out = String::new();
        let mut line = |name: &str, help: &str, kind: &str, value: String| {
            out.push_str(&format!(
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{value}"
            ));
        };
        let agents = self.agents();
        line(
            "writeback_relay_requests_total",
            "Requests the edge forwarded.",
            "counter",
            format!(
                "writeback_relay_requests_total {}\n",
                m.requests.load(Ordering::Relaxed)
            ),
        );
        let outcomes = m.outcomes.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let mut text = String::new();
        for code in OutcomeCode::ALL {
            text.push_str(&format!(
                "writeback_relay_outcomes_total{{code=\"{code}\"}} {}\n",
                outcomes.get(&code).copied().unwrap_or(0)
            ));
        }
        line(
            "writeback_relay_outcomes_total",
            "Outcomes answered, by code.",
            "counter",
            text,
        );
        for (name, help, v) in [
            (
                "writeback_relay_no_agent_total",
                "Requests answered directory_unavailable because no agent was alive.",
                &m.no_agent,
            ),
            (
                "writeback_relay_publish_failures_total",
                "Publish attempts NATS did not acknowledge.",
                &m.publish_failures,
            ),
            (
                "writeback_relay_duplicates_total",
                "Publishes NATS found duplicate (same id in the window).",
                &m.duplicates,
            ),
            (
                "writeback_relay_ledger_answers_total",
                "Outcomes read from the ledger instead of a reply.",
                &m.from_ledger,
            ),
        ] {
            line(
                name,
                help,
                "counter",
                format!("{name} {}\n", v.load(Ordering::Relaxed)),
            );
        }
        line(
            "writeback_relay_agents_alive",
            "Agents whose last heartbeat is recent.",
            "gauge",
            format!(
                "writeback_relay_agents_alive {}\n",
                agents.iter().filter(|a| a.alive).count()
            ),
        );
        let mut seen = String::new();
        for a in &agents {
            seen.push_str(&format!(
                "writeback_relay_agent_last_seen_seconds{{agent=\"{}\"}} {:.3}\n",
                label(&a.heartbeat.agent),
                a.last_seen_ms_ago as f64 / 1000.0
            ));
        }
        line(
            "writeback_relay_agent_last_seen_seconds",
            "Seconds since each agent's last heartbeat.",
            "gauge",
            seen,
        );
        line(
            "writeback_relay_nats_connected",
            "1 when the edge is connected to NATS.",
            "gauge",
            format!(
                "writeback_relay_nats_connected {}\n",
                u8::from(self.nats_connected())
            ),
        );
        out
    }
}

fn label(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_control())
        .flat_map(|c| match c {
            '"' | '\\' => vec!['\\', c],
            c => vec![c],
        })
        .collect()
}

fn reused_id() -> Outcome {
    Outcome::new(
        OutcomeCode::InvalidRequest,
        "This request id was already used for a different request (another user or \
         operation), so nothing was done. Send this request with a new id.",
    )
}

#[async_trait]
impl Submit for Edge {
    async fn submit(&self, request: Request) -> Outcome {
        self.metrics.requests.fetch_add(1, Ordering::Relaxed);
        let deadline = Instant::now() + self.cfg.deadline();
        let (id, user) = (request.id.to_string(), request.identity.label());
        let outcome = self.forward(request, deadline).await;
        // The edge has no audit log: what an administrator needs goes to its log.
        match &outcome.admin_detail {
            Some(detail) => {
                tracing::warn!(id = %id, user = %user, code = %outcome.code, detail = %detail, "relay outcome")
            }
            None => tracing::info!(id = %id, user = %user, code = %outcome.code, "relay outcome"),
        }
        *self
            .metrics
            .outcomes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(outcome.code)
            .or_default() += 1;
        outcome
    }

    /// The pre-flight of a source on the edge (the password page's verdicts, the
    /// webhook's policy check), answered by one agent's pipeline (crate::check).
    async fn preflight(
        &self,
        identity: &writeback_core::CloudIdentity,
        operation: writeback_core::OperationKind,
        password: &writeback_core::Password,
    ) -> Result<writeback_core::Preflight, Outcome> {
        let alive = self.agents();
        if !alive.iter().any(|a| a.alive) {
            return Err(Outcome::of(OutcomeCode::DirectoryUnavailable)
                .with_admin_detail(agents::none_alive_detail(&alive, self.agent_timeout())));
        }
        crate::check::ask(
            &self.client,
            &self.cfg,
            &self.keys,
            identity,
            operation,
            password,
            self.cfg.deadline(),
        )
        .await
    }
}

/// Builds the config's sources, connects the edge and serves until `shutdown`.
pub async fn run(
    config: Config,
    relay: RelayConfig,
    registry: &Registry,
    shutdown: CancellationToken,
) -> Result<(), String> {
    if config.sources.is_empty() {
        return Err(format!(
            "{}: an edge needs [[sources]] (for example type = \"webhook\")",
            config.path.display()
        ));
    }
    let registry = writeback_host::validate(&config, registry).map_err(|e| e.to_string())?;
    let base_dir = config.base_dir();
    let ctx = BuildContext {
        secrets: &EnvAndFileSecrets,
        base_dir: &base_dir,
    };
    let mut sources: Vec<(String, Arc<dyn CloudSource>)> = Vec::new();
    for c in &config.sources {
        let f = registry
            .source(&c.type_name)
            .ok_or_else(|| c.error("type", "no factory").to_string())?;
        sources.push((
            c.name.clone(),
            f.build(c, &ctx).await.map_err(|e| e.to_string())?,
        ));
    }
    let edge = Edge::start(relay.clone(), shutdown.clone()).await?;
    let health = relay
        .health_listen
        .map(|listen| tokio::spawn(crate::health::serve(listen, edge.clone(), shutdown.clone())));
    let submit: Arc<dyn Submit> = edge.clone();
    let mut running = JoinSet::new();
    for (name, source) in sources {
        tracing::info!("source   {name}: {}", source.describe());
        let (submit, token) = (submit.clone(), shutdown.clone());
        running.spawn(async move { (name, source.run(submit, token).await) });
    }
    let mut failure = None;
    while let Some(joined) = running.join_next().await {
        match joined {
            Ok((_, Ok(()))) => {}
            Ok((name, Err(e))) => {
                failure.get_or_insert(format!("source `{name}` stopped: {e}"));
                shutdown.cancel();
            }
            Err(e) => {
                failure.get_or_insert(format!("a source task failed: {e}"));
                shutdown.cancel();
            }
        }
    }
    shutdown.cancel();
    if let Some(h) = health {
        let _ = h.await;
    }
    tracing::info!("writeback edge stopped");
    failure.map_or(Ok(()), Err)
}
