//! A WASM component as a [`CloudSource`]. A component cannot listen (no inbound
//! sockets, no background tasks, every call time-limited), so the host polls it: every
//! `poll_interval_ms` it calls `poll`, the plugin fetches the pending requests through
//! its HTTP grant, the host runs each through the pipeline and hands each outcome back
//! with `report`. Each call runs on a fresh instance by default: pending requests
//! carry passwords.
//!
//! Nothing a plugin hands over is logged but request ids and the reasons a request was
//! refused (which never hold a password).

use std::ops::RangeInclusive;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures::stream::{self, StreamExt};
use writeback_core::{
    BoxError, BuildContext, CloudSource, ConfigError, ConnectorConfig, Outcome, OutcomeCode,
    Request, RequestId, Shutdown, Submit,
};

use crate::bindings::source::exports::writeback::plugin::source::PendingRequest;
use crate::bindings::source::SourcePlugin;
use crate::convert;
use crate::factory::WasmConnector;
use crate::fault::clip;
use crate::sandbox::{Lends, Plugin, Sandbox};

/// Most requests taken from one `poll`; the rest stay on the cloud side for the next.
pub const MAX_BATCH: usize = 100;
/// Longest request id handed back to `report` for a refused pending request.
const MAX_REPORTED_ID: usize = 1024;
const DEFAULT_POLL_INTERVAL_MS: u64 = 5000;
const POLL_INTERVAL_MS: RangeInclusive<u64> = 100..=3_600_000;
const DEFAULT_MAX_IN_FLIGHT: usize = 16;
const MAX_IN_FLIGHT: RangeInclusive<usize> = 1..=MAX_BATCH;
/// The only value of `plain_http`: the plain-HTTP URLs in `allow_http` reach a
/// TLS-originating proxy, so the passwords do not cross the network in clear.
pub const PLAIN_HTTP_BEHIND_PROXY: &str = "behind-tls-proxy";
/// Keys of a `[[sources]]` table the host takes; the guest's `configure` gets the rest.
const HOST_KEYS: [&str; 3] = ["poll_interval_ms", "max_in_flight", "plain_http"];
/// After the first failed poll, one warning per this many failures in a row.
const WARN_EVERY: u32 = 10;

/// How the host drives one WASM source.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SourceSettings {
    /// Time between the end of one poll's batch and the next poll.
    pub interval: Duration,
    /// Requests of one batch submitted (and reported) at the same time.
    pub max_in_flight: usize,
}

impl Default for SourceSettings {
    fn default() -> Self {
        SourceSettings {
            interval: Duration::from_millis(DEFAULT_POLL_INTERVAL_MS),
            max_in_flight: DEFAULT_MAX_IN_FLIGHT,
        }
    }
}

/// The host's keys of the table, checked, and the JSON the guest gets (the table
/// without the host's keys).
fn split_config(
    config: &ConnectorConfig,
    allow_http: &[String],
) -> Result<(SourceSettings, String), ConfigError> {
    let table = &config.table;
    let mut settings = SourceSettings::default();
    if let Some(v) = table.get("poll_interval_ms") {
        let ms = v
            .as_integer()
            .and_then(|i| u64::try_from(i).ok())
            .filter(|ms| POLL_INTERVAL_MS.contains(ms))
            .ok_or_else(|| {
                config.error(
                    "poll_interval_ms",
                    format!(
                        "must be a whole number of milliseconds from {} to {}",
                        POLL_INTERVAL_MS.start(),
                        POLL_INTERVAL_MS.end()
                    ),
                )
            })?;
        settings.interval = Duration::from_millis(ms);
    }
    if let Some(v) = table.get("max_in_flight") {
        settings.max_in_flight = v
            .as_integer()
            .and_then(|i| usize::try_from(i).ok())
            .filter(|n| MAX_IN_FLIGHT.contains(n))
            .ok_or_else(|| {
                config.error(
                    "max_in_flight",
                    format!(
                        "must be a whole number from {} to {}",
                        MAX_IN_FLIGHT.start(),
                        MAX_IN_FLIGHT.end()
                    ),
                )
            })?;
    }
    let behind_proxy = match table.get("plain_http") {
        None => false,
        Some(toml::Value::String(s)) if s == PLAIN_HTTP_BEHIND_PROXY => true,
        Some(_) => {
            return Err(config.error(
                "plain_http",
                format!("the only value is \"{PLAIN_HTTP_BEHIND_PROXY}\""),
            ))
        }
    };
    if !behind_proxy {
        if let Some(url) = allow_http.iter().find(|u| is_plain_remote(u)) {
            return Err(config.error(
                "",
                format!(
                    "the plugin's `allow_http` lists {url}: a source receives passwords, and they \
                     travel only over TLS; use https://, or a loopback address, or set \
                     plain_http = \"{PLAIN_HTTP_BEHIND_PROXY}\" in this table when that URL is a \
                     TLS-originating proxy"
                ),
            ));
        }
    }
    let json = crate::factory::guest_json(config, &HOST_KEYS)?;
    Ok((settings, json))
}

/// A plain `http://` URL to a host that is not this machine.
fn is_plain_remote(url: &str) -> bool {
    let Ok(url) = reqwest::Url::parse(url) else {
        // The grant was built from this list, so it parses; refuse nothing here.
        return false;
    };
    if url.scheme() != "http" {
        return false;
    }
    let Some(host) = url.host_str() else {
        return true;
    };
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    match bare.parse::<std::net::IpAddr>() {
        Ok(ip) => !ip.is_loopback(),
        Err(_) => !bare.eq_ignore_ascii_case("localhost"),
    }
}

/// A configured WASM source.
pub struct WasmSource {
    /// The connector's name from the config: every request's `source`.
    name: String,
    sandbox: Sandbox<SourcePlugin>,
    settings: SourceSettings,
}

/// Why a poll gave nothing.
enum PollError {
    /// The plugin returned `err`.
    Plugin(String),
    /// A trap, the time limit, the memory cap.
    Fault(String),
}

impl WasmSource {
    pub(crate) async fn build(
        plugin: Arc<Plugin<SourcePlugin>>,
        name: String,
        config_json: String,
        settings: SourceSettings,
    ) -> Result<Self, String> {
        Ok(WasmSource {
            name,
            sandbox: Sandbox::new(plugin, config_json, None).await?,
            settings,
        })
    }

    pub fn settings(&self) -> SourceSettings {
        self.settings
    }

    /// One `poll` call.
    async fn poll(&self) -> Result<Vec<PendingRequest>, PollError> {
        let fault = |f| PollError::Fault(format!("the plugin {f}"));
        // The passwords are not known before the call: nothing to redact in advance.
        let mut live = self
            .sandbox
            .checkout(Vec::new(), Lends::Secrets)
            .await
            .map_err(fault)?;
        let until = live.until();
        let result = crate::sandbox::bounded(
            until,
            live.bindings
                .writeback_plugin_source()
                .call_poll(&mut live.store),
        )
        .await;
        match self.sandbox.finish(live, result).map_err(fault)? {
            Ok(pending) => Ok(pending),
            Err(message) => Err(PollError::Plugin(clip(message, 1024))),
        }
    }

    /// One `report` call: the outcome of the request `id`.
    async fn report(&self, id: &str, outcome: &Outcome) -> Result<(), String> {
        let outcome = convert::outcome_to_wit(outcome);
        let mut live = self
            .sandbox
            .checkout(Vec::new(), Lends::Secrets)
            .await
            .map_err(|f| format!("the plugin {f}"))?;
        let until = live.until();
        let result = crate::sandbox::bounded(
            until,
            live.bindings
                .writeback_plugin_source()
                .call_report(&mut live.store, id, &outcome),
        )
        .await;
        match self
            .sandbox
            .finish(live, result)
            .map_err(|f| format!("the plugin {f}"))?
        {
            Ok(()) => Ok(()),
            Err(message) => Err(format!(
                "the plugin's report failed: {}",
                clip(message, 1024)
            )),
        }
    }

    /// A pending request as the pipeline takes it, or why it is refused.
    fn request(&self, pending: PendingRequest) -> Result<Request, String> {
        let PendingRequest {
            id,
            operation,
            identity,
            initiator,
        } = pending;
        // The operation first: it owns the passwords, which then drop (zeroized) on
        // any error below.
        let operation = convert::operation_from_wit(operation)?;
        Ok(Request {
            id: RequestId::parse(&id)?,
            source: self.name.clone(),
            operation,
            identity: convert::identity_from_wit(identity)?,
            initiator: convert::initiator_from_wit(initiator)?,
        })
    }

    /// Runs one poll's requests through the pipeline, at most `max_in_flight` at a
    /// time, and reports each outcome as soon as it is known. Returns once every
    /// request has its outcome (and its report was tried), even after shutdown.
    async fn run_batch(&self, pipeline: &dyn Submit, mut pending: Vec<PendingRequest>) {
        if pending.len() > MAX_BATCH {
            let left = pending.len() - MAX_BATCH;
            for mut p in pending.drain(MAX_BATCH..) {
                convert::wipe(&mut p.operation);
            }
            tracing::warn!(
                source = %self.name,
                plugin = %self.sandbox.name(),
                taken = MAX_BATCH,
                left,
                "WASM source: poll returned more than {MAX_BATCH} requests; the rest are left \
                 for the next poll"
            );
        }
        // The futures are first polled in this order, so requests for one user enter
        // the pipeline (which orders them per user) in the order `poll` gave them.
        stream::iter(pending)
            .map(|p| self.handle(pipeline, p))
            .buffer_unordered(self.settings.max_in_flight)
            .for_each(|()| async {})
            .await;
    }

    async fn handle(&self, pipeline: &dyn Submit, pending: PendingRequest) {
        let id = pending.id.clone();
        let outcome = match self.request(pending) {
            Ok(request) => {
                tracing::debug!(
                    source = %self.name,
                    request_id = %request.id,
                    operation = %request.operation.kind(),
                    "WASM source: request received"
                );
                pipeline.submit(request).await
            }
            Err(reason) => {
                tracing::warn!(
                    source = %self.name,
                    plugin = %self.sandbox.name(),
                    request_id = ?clip(id.clone(), 128),
                    reason = %reason,
                    "WASM source: pending request refused as invalid_request"
                );
                Outcome::new(
                    OutcomeCode::InvalidRequest,
                    format!("The request was not accepted: {reason}."),
                )
            }
        };
        if id.len() > MAX_REPORTED_ID {
            tracing::warn!(
                source = %self.name,
                plugin = %self.sandbox.name(),
                outcome = %outcome.code,
                "WASM source: the request id is over {MAX_REPORTED_ID} bytes; its outcome is not reported"
            );
            return;
        }
        match self.report(&id, &outcome).await {
            Ok(()) => tracing::debug!(
                source = %self.name,
                request_id = ?clip(id, 128),
                outcome = %outcome.code,
                "WASM source: outcome reported"
            ),
            Err(error) => tracing::warn!(
                source = %self.name,
                plugin = %self.sandbox.name(),
                request_id = ?clip(id, 128),
                outcome = %outcome.code,
                error = ?error,
                "WASM source: the outcome could not be reported; when the cloud side hands the \
                 request over again, the pipeline answers with the same outcome (within \
                 [pipeline] dedupe_ttl_secs) without applying it twice"
            ),
        }
    }
}

#[async_trait]
impl CloudSource for WasmSource {
    async fn run(
        self: Arc<Self>,
        pipeline: Arc<dyn Submit>,
        shutdown: Shutdown,
    ) -> Result<(), BoxError> {
        let interval_ms = self.settings.interval.as_millis();
        tracing::info!(
            source = %self.name,
            plugin = %self.sandbox.name(),
            interval_ms,
            "WASM source: polling"
        );
        let mut failures: u32 = 0;
        while !shutdown.is_cancelled() {
            // A poll and its batch run to the end: the requests are in flight once
            // they are fetched, and each gets its outcome reported.
            match self.poll().await {
                Ok(pending) => {
                    if failures > 0 {
                        tracing::info!(
                            source = %self.name,
                            failures,
                            "WASM source: poll works again"
                        );
                        failures = 0;
                    }
                    if !pending.is_empty() {
                        self.run_batch(&*pipeline, pending).await;
                    }
                }
                Err(e) => {
                    failures = failures.saturating_add(1);
                    let (what, detail) = match e {
                        PollError::Plugin(m) => ("the plugin returned an error", m),
                        PollError::Fault(m) => ("plugin fault", m),
                    };
                    if failures == 1 || failures.is_multiple_of(WARN_EVERY) {
                        tracing::warn!(
                            source = %self.name,
                            plugin = %self.sandbox.name(),
                            failures,
                            error = ?detail,
                            "WASM source: poll failed ({what}); polling again in {interval_ms} ms"
                        );
                    } else {
                        tracing::debug!(
                            source = %self.name,
                            failures,
                            error = ?detail,
                            "WASM source: poll failed ({what})"
                        );
                    }
                }
            }
            tokio::select! {
                () = shutdown.cancelled() => break,
                () = tokio::time::sleep(self.settings.interval) => {}
            }
        }
        tracing::info!(source = %self.name, "WASM source: stopped");
        Ok(())
    }

    fn describe(&self) -> String {
        format!(
            "WASM source `{}` polling every {} ms (at most {} requests at once)",
            self.sandbox.name(),
            self.settings.interval.as_millis(),
            self.settings.max_in_flight
        )
    }
}

#[async_trait]
impl WasmConnector for SourcePlugin {
    type Connector = dyn CloudSource;

    fn validate(plugin: &Plugin<Self>, config: &ConnectorConfig) -> Result<(), ConfigError> {
        split_config(config, &plugin.options.allow_http).map(|_| ())
    }

    async fn build(
        plugin: Arc<Plugin<Self>>,
        config: &ConnectorConfig,
        _ctx: &BuildContext<'_>,
    ) -> Result<Arc<dyn CloudSource>, ConfigError> {
        let (settings, json) = split_config(config, &plugin.options.allow_http)?;
        let source = WasmSource::build(plugin, config.name.clone(), json, settings)
            .await
            .map_err(|m| config.error("", m))?;
        Ok(Arc::new(source))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use writeback_core::ConnectorKind;

    fn config(toml_text: &str) -> ConnectorConfig {
        let table: toml::Table = toml::from_str(toml_text).unwrap();
        ConnectorConfig::in_code(ConnectorKind::Source, "cloud", "cloud", table)
    }

    #[test]
    fn host_keys_are_taken_out_and_checked() {
        let (s, json) = split_config(
            &config("poll_interval_ms = 250\nmax_in_flight = 4\nbase_url = \"https://x/\""),
            &[],
        )
        .unwrap();
        assert_eq!(s.interval, Duration::from_millis(250));
        assert_eq!(s.max_in_flight, 4);
        assert_eq!(json, r#"{"base_url":"https://x/"}"#);

        let (s, json) = split_config(&config(""), &[]).unwrap();
        assert_eq!(s, SourceSettings::default());
        assert_eq!(json, "{}");

        for bad in [
            "poll_interval_ms = 99",
            "poll_interval_ms = 3600001",
            "poll_interval_ms = \"5s\"",
            "max_in_flight = 0",
            "max_in_flight = 101",
            "plain_http = \"yes\"",
        ] {
            let e = split_config(&config(bad), &[]).unwrap_err().to_string();
            let key = bad.split(' ').next().unwrap();
            assert!(e.contains(key), "{bad}: {e}");
        }
    }

    #[test]
    fn handed_over_values_are_checked_without_quoting_passwords() {
        use crate::bindings::notifier::writeback::plugin::types as wit;
        let reset = |p: &str| {
            wit::Operation::Reset(wit::ResetOperation {
                new_password: p.to_string(),
                must_change: false,
            })
        };
        assert!(convert::operation_from_wit(reset("Good-Pass-1")).is_ok());
        for bad in ["", "Marker\u{7}-Bell-1"] {
            let e = convert::operation_from_wit(reset(bad)).err().unwrap();
            assert!(e.starts_with("new-password"), "{e}");
            assert!(bad.is_empty() || !e.contains("Marker"), "{e}");
        }
        let change = wit::Operation::Change(wit::ChangeOperation {
            old_password: String::new(),
            new_password: "Good-Pass-1".into(),
        });
        assert!(convert::operation_from_wit(change).is_err());

        let mut identity = wit::CloudIdentity {
            upn: None,
            object_id: None,
            immutable_id: None,
            mail: None,
            username: None,
            display_name: None,
            given_name: None,
            surname: None,
            extra: Vec::new(),
        };
        assert!(
            convert::identity_from_wit(identity.clone()).is_err(),
            "no identifier"
        );
        identity.username = Some("alice".into());
        let attr = |n: &str| wit::Attribute {
            name: n.into(),
            value: "1".into(),
        };
        identity.extra = vec![attr("employee_id")];
        let core = convert::identity_from_wit(identity.clone()).unwrap();
        assert_eq!(core.get("employee_id"), Some("1"));
        identity.extra = vec![attr("employee_id"), attr("employee_id")];
        assert!(convert::identity_from_wit(identity).is_err(), "twice");

        let initiator = wit::Initiator {
            kind: wit::InitiatorKind::Admin,
            id: Some("help\ndesk".into()),
        };
        assert!(convert::initiator_from_wit(initiator).is_err());
    }

    #[test]
    fn passwords_travel_over_tls_unless_said_otherwise() {
        let remote = ["http://cloud.example/api/".to_string()];
        let e = split_config(&config(""), &remote).unwrap_err().to_string();
        assert!(e.contains("only over TLS"), "{e}");
        assert!(split_config(&config("plain_http = \"behind-tls-proxy\""), &remote).is_ok());
        for ok in [
            "https://cloud.example/api/",
            "http://127.0.0.1:8080/",
            "http://[::1]:8080/",
            "http://localhost/",
        ] {
            assert!(split_config(&config(""), &[ok.to_string()]).is_ok(), "{ok}");
        }
    }
}
