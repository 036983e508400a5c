//! Connecting to NATS and making sure the stream, the per-partition consumers and the
//! two key-value buckets exist with the settings the guarantees rely on.

use std::time::Duration;

use async_nats::jetstream::{self, consumer, kv, stream};

use crate::config::RelayConfig;

/// What went wrong talking to NATS, said so an operator can act.
#[derive(Debug, thiserror::Error)]
pub enum BusError {
    #[error("cannot connect to NATS at {servers}: {reason}; check the URL, that nats-server runs with JetStream (-js), the TLS CA and the credentials")]
    Connect { servers: String, reason: String },
    #[error("cannot read the NATS credentials: {0}")]
    Credentials(String),
    #[error("JetStream {what} `{name}`: {reason}; with manage = false it must be created beforehand (docs/relay.md), and the user needs the permissions listed there")]
    Setup {
        what: &'static str,
        name: String,
        reason: String,
    },
}

/// The subject of one partition.
pub fn partition_subject(c: &RelayConfig, p: u16) -> String {
    format!("{}.req.{p:03}", c.subject_prefix)
}

/// The durable consumer of one partition.
pub fn consumer_name(p: u16) -> String {
    format!("p{p:03}")
}

/// Connects with reconnects that come back quickly after a NATS restart.
pub async fn connect(c: &RelayConfig, client_name: &str) -> Result<async_nats::Client, BusError> {
    let mut opts = async_nats::ConnectOptions::new()
        .name(client_name)
        .connection_timeout(Duration::from_secs(3))
        .ping_interval(Duration::from_secs(2))
        .reconnect_delay_callback(|attempts| {
            Duration::from_millis((attempts as u64 * 100).min(1000))
        });
    if let Some(ca) = &c.tls_ca_file {
        opts = opts.add_root_certificates(ca.clone()).require_tls(true);
    }
    if c.servers.iter().any(|s| s.starts_with("tls://")) {
        opts = opts.require_tls(true);
    }
    if let Some(file) = &c.credentials_file {
        opts = opts
            .credentials_file(file)
            .await
            .map_err(|e| BusError::Credentials(format!("{}: {e}", file.display())))?;
    } else if let Ok(text) = std::env::var("WRITEBACK_NATS_CREDS") {
        opts = opts
            .credentials(&text)
            .map_err(|e| BusError::Credentials(format!("WRITEBACK_NATS_CREDS: {e}")))?;
    }
    let servers: Vec<async_nats::ServerAddr> = c
        .servers
        .iter()
        .map(|s| s.parse())
        .collect::<Result<_, _>>()
        .map_err(|e: std::io::Error| BusError::Connect {
            servers: c.servers.join(", "),
            reason: e.to_string(),
        })?;
    opts.connect(servers).await.map_err(|e| BusError::Connect {
        servers: c.servers.join(", "),
        reason: e.to_string(),
    })
}

pub fn context(client: &async_nats::Client) -> jetstream::Context {
    let mut js = jetstream::new(client.clone());
    js.set_timeout(Duration::from_secs(2));
    js
}

fn setup(what: &'static str, name: &str, e: impl std::fmt::Display) -> BusError {
    BusError::Setup {
        what,
        name: name.to_string(),
        reason: e.to_string(),
    }
}

/// The request stream: a work queue (a message is gone once acked), on disk, with a
/// duplicate window for `Nats-Msg-Id`.
pub async fn stream(js: &jetstream::Context, c: &RelayConfig) -> Result<stream::Stream, BusError> {
    if !c.manage {
        return js
            .get_stream(&c.stream)
            .await
            .map_err(|e| setup("stream", &c.stream, e));
    }
    js.get_or_create_stream(stream::Config {
        name: c.stream.clone(),
        subjects: vec![format!("{}.req.*", c.subject_prefix)],
        retention: stream::RetentionPolicy::WorkQueue,
        storage: stream::StorageType::File,
        duplicate_window: Duration::from_secs(120),
        max_age: Duration::from_secs(24 * 3600),
        ..Default::default()
    })
    .await
    .map_err(|e| setup("stream", &c.stream, e))
}

/// A partition's pull consumer: explicit ack, one message in flight.
pub async fn partition_consumer(
    stream: &stream::Stream,
    c: &RelayConfig,
    p: u16,
) -> Result<consumer::Consumer<consumer::pull::Config>, BusError> {
    let name = consumer_name(p);
    if !c.manage {
        return stream
            .get_consumer(&name)
            .await
            .map_err(|e| setup("consumer", &name, e));
    }
    stream
        .get_or_create_consumer(
            &name,
            consumer::pull::Config {
                durable_name: Some(name.clone()),
                filter_subject: partition_subject(c, p),
                ack_policy: consumer::AckPolicy::Explicit,
                ack_wait: Duration::from_millis(c.ack_wait_ms),
                max_ack_pending: 1,
                deliver_policy: consumer::DeliverPolicy::All,
                ..Default::default()
            },
        )
        .await
        .map_err(|e| setup("consumer", &name, e))
}

async fn bucket(
    js: &jetstream::Context,
    c: &RelayConfig,
    name: &str,
    max_age: Duration,
) -> Result<kv::Store, BusError> {
    match js.get_key_value(name).await {
        Ok(store) => Ok(store),
        Err(_) if c.manage => js
            .create_key_value(kv::Config {
                bucket: name.to_string(),
                history: 1,
                max_age,
                storage: stream::StorageType::File,
                ..Default::default()
            })
            .await
            .map_err(|e| setup("key-value bucket", name, e)),
        Err(e) => Err(setup("key-value bucket", name, e)),
    }
}

/// The ledger: one entry per request id (claim, then outcome), kept a week.
pub async fn ledger(js: &jetstream::Context, c: &RelayConfig) -> Result<kv::Store, BusError> {
    bucket(js, c, &c.ledger_bucket, Duration::from_secs(7 * 24 * 3600)).await
}

/// The agents' heartbeats; an entry left by an agent that died expires on its own.
pub async fn agents(js: &jetstream::Context, c: &RelayConfig) -> Result<kv::Store, BusError> {
    bucket(js, c, &c.agents_bucket, Duration::from_secs(3600)).await
}
