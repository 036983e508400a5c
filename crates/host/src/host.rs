//! The host's two build steps, and the run. [`build_connectors`] turns a checked config
//! into running connectors (public: `writeback expiry scan` uses its targets and
//! notifiers without a host); [`Host::assemble`] wires them into the pipeline, the
//! notification dispatcher, the audit log and the background services; [`Host::run`]
//! serves the sources and starts the services until shutdown.

use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use writeback_core::{
    BuildContext, CloudSource, ConfigError, ConnectorConfig, ConnectorKind, HealthCheck, Submit,
};

use crate::config::Config;
use crate::error::RunError;
use crate::expiry::ExpiryService;
use crate::metrics::Metrics;
use crate::notify::{Dispatcher, NotifierEntry};
use crate::pipeline::{Pipeline, PolicyEntry, TargetEntry};
use crate::registry::Registry;
use crate::secrets::EnvAndFileSecrets;

/// Builds the dispatcher notifications leave through (the default delivers directly;
/// an outbox can be plugged in by the embedding program).
pub type DispatcherFactory = Arc<
    dyn Fn(&Config, Vec<NotifierEntry>) -> Result<Arc<dyn Dispatcher>, ConfigError> + Send + Sync,
>;

/// Options an embedding program may set (`HostOptions::default()`, then the fields).
#[derive(Clone, Default)]
#[non_exhaustive]
pub struct HostOptions {
    pub dispatcher: Option<DispatcherFactory>,
}

/// A built host: every connector ready, sources not yet serving.
pub struct Host {
    config: Config,
    registry: Registry,
    pipeline: Pipeline,
    sources: Vec<(String, Arc<dyn CloudSource>)>,
    dispatcher: Arc<dyn Dispatcher>,
    expiry: Option<ExpiryService>,
}

/// Every connector of a config, built, in the config's order, and the registry with
/// the plugins the config loaded.
#[non_exhaustive]
pub struct Connectors {
    pub registry: Registry,
    pub targets: Vec<TargetEntry>,
    pub policies: Vec<PolicyEntry>,
    pub notifiers: Vec<NotifierEntry>,
    pub sources: Vec<(String, Arc<dyn CloudSource>)>,
}

/// Checks the config, loads its plugin files and builds every connector (targets,
/// policies, notifiers, sources: secrets resolved, files read; directories are
/// connected lazily). Nothing runs yet.
pub async fn build_connectors(
    config: &Config,
    registry: &Registry,
) -> Result<Connectors, ConfigError> {
    if config.targets.is_empty() {
        return Err(config.source.error(
            "targets",
            "no [[targets]]: add at least one directory (for example type = \"openldap\")",
        ));
    }
    let registry = validate(config, registry)?;
    let base_dir = config.base_dir();
    let ctx = BuildContext {
        secrets: &EnvAndFileSecrets,
        base_dir: &base_dir,
    };
    let missing = |c: &ConnectorConfig| c.error("type", "no factory (was it unregistered?)");

    let mut targets = Vec::new();
    for c in &config.targets {
        let f = registry.target(&c.type_name).ok_or_else(|| missing(c))?;
        targets.push(TargetEntry {
            name: c.name.clone(),
            target: f.build(c, &ctx).await?,
        });
    }
    let mut policies = Vec::new();
    for (c, settings) in &config.policies {
        let f = registry.policy(&c.type_name).ok_or_else(|| missing(c))?;
        policies.push(PolicyEntry {
            name: c.name.clone(),
            policy: f.build(c, &ctx).await?,
            settings: settings.clone(),
        });
    }
    let mut notifiers = Vec::new();
    for (c, settings) in &config.notifiers {
        let f = registry.notifier(&c.type_name).ok_or_else(|| missing(c))?;
        notifiers.push(NotifierEntry {
            name: c.name.clone(),
            notifier: f.build(c, &ctx).await?,
            settings: settings.clone(),
        });
    }
    let mut sources = Vec::new();
    for c in &config.sources {
        let f = registry.source(&c.type_name).ok_or_else(|| missing(c))?;
        sources.push((c.name.clone(), f.build(c, &ctx).await?));
    }
    Ok(Connectors {
        registry,
        targets,
        policies,
        notifiers,
        sources,
    })
}

/// Every error of a config against the registry, without building anything: each
/// plugin file that does not load, each unknown `type`, and each connector table's
/// every error (as far as its factory reports more than one), in the order of the file.
pub fn validate_all(config: &Config, registry: &Registry) -> (Registry, Vec<ConfigError>) {
    let mut registry = registry.clone();
    let mut errors = Vec::new();
    for spec in &config.plugins {
        if let Err(e) = registry.load_plugin(spec) {
            errors.push(config.source.error(&spec.key_path, e.to_string()));
        }
    }
    if config.targets.is_empty() {
        errors.push(config.source.error(
            "targets",
            "no [[targets]]: add at least one directory (for example type = \"openldap\")",
        ));
    }
    for connector in config.all_connectors() {
        let found = match connector.kind {
            ConnectorKind::Source => registry
                .source(&connector.type_name)
                .map(|f| f.validate_all(connector)),
            ConnectorKind::Target => registry
                .target(&connector.type_name)
                .map(|f| f.validate_all(connector)),
            ConnectorKind::Policy => registry
                .policy(&connector.type_name)
                .map(|f| f.validate_all(connector)),
            ConnectorKind::Notifier => registry
                .notifier(&connector.type_name)
                .map(|f| f.validate_all(connector)),
        };
        match found {
            Some(found) => errors.extend(found),
            None => errors.push(unknown_type(config, &registry, connector)),
        }
    }
    errors.sort_by_key(|e| e.line.unwrap_or(usize::MAX));
    (registry, errors)
}

fn unknown_type(config: &Config, registry: &Registry, connector: &ConnectorConfig) -> ConfigError {
    let known = registry.type_names(connector.kind);
    config.source.error(
        &format!("{}.type", connector.key_path),
        format!(
            "unknown {} type `{}`; known types: {}",
            connector.kind,
            connector.type_name,
            if known.is_empty() {
                "none".to_string()
            } else {
                known.join(", ")
            }
        ),
    )
}

/// Checks a config against the registry without building anything: plugin files are
/// loaded, every `type` must exist and every table must pass its factory's checks.
/// Returns the registry with the plugins' factories added.
pub fn validate(config: &Config, registry: &Registry) -> Result<Registry, ConfigError> {
    let mut registry = registry.clone();
    for spec in &config.plugins {
        registry
            .load_plugin(spec)
            .map_err(|e| config.source.error(&spec.key_path, e.to_string()))?;
    }
    for connector in config.all_connectors() {
        let result = match connector.kind {
            ConnectorKind::Source => registry
                .source(&connector.type_name)
                .map(|f| f.validate(connector)),
            ConnectorKind::Target => registry
                .target(&connector.type_name)
                .map(|f| f.validate(connector)),
            ConnectorKind::Policy => registry
                .policy(&connector.type_name)
                .map(|f| f.validate(connector)),
            ConnectorKind::Notifier => registry
                .notifier(&connector.type_name)
                .map(|f| f.validate(connector)),
        };
        match result {
            Some(checked) => checked?,
            None => return Err(unknown_type(config, &registry, connector)),
        }
    }
    Ok(registry)
}

impl Host {
    pub async fn build(config: Config, registry: &Registry) -> Result<Host, ConfigError> {
        Host::build_with(config, registry, HostOptions::default()).await
    }

    /// [`build_connectors`], then [`Host::assemble`].
    pub async fn build_with(
        config: Config,
        registry: &Registry,
        options: HostOptions,
    ) -> Result<Host, ConfigError> {
        let connectors = build_connectors(&config, registry).await?;
        Host::assemble(config, connectors, options)
    }

    /// Wires built connectors into a host: the notification dispatcher (the outbox
    /// when the config has `[outbox]`, unless `options` brings its own), the audit log,
    /// the pipeline, and the expiry service when the config has `[expiry]`. Must be
    /// called inside a Tokio runtime (the outbox's delivery loop starts here).
    pub fn assemble(
        config: Config,
        connectors: Connectors,
        options: HostOptions,
    ) -> Result<Host, ConfigError> {
        let Connectors {
            registry,
            targets,
            policies,
            notifiers,
            sources,
        } = connectors;
        let (dispatcher, outbox): (Arc<dyn Dispatcher>, _) = match &options.dispatcher {
            Some(make) => (make(&config, notifiers)?, None),
            None => crate::notify::dispatcher_for(&config, notifiers)?,
        };
        let expiry = match (outbox, &config.expiry) {
            (Some(outbox), Some(expiry)) => Some(ExpiryService {
                outbox,
                targets: targets
                    .iter()
                    .map(|t| (t.name.clone(), t.target.clone()))
                    .collect(),
                config: expiry.clone(),
            }),
            _ => None,
        };
        let metrics = Arc::new(Metrics::default());
        let base_dir = config.base_dir();
        let audit = crate::audit::open_from_config(
            &config.audit,
            |p| {
                if p.is_absolute() {
                    p.to_path_buf()
                } else {
                    base_dir.join(p)
                }
            },
            metrics.audit_dropped.clone(),
            metrics.audit_health.clone(),
        )
        .map_err(|(key, m)| config.source.error(key, m))?;
        let pipeline = Pipeline::new(
            config.pipeline.clone(),
            targets,
            policies,
            audit,
            dispatcher.clone(),
            metrics,
        );
        Ok(Host {
            config,
            registry,
            pipeline,
            sources,
            dispatcher,
            expiry,
        })
    }

    /// Adds a source built outside the config (the relay agent's NATS consumer).
    pub fn add_source(&mut self, name: impl Into<String>, source: Arc<dyn CloudSource>) {
        self.sources.push((name.into(), source));
    }

    /// The pipeline, for embedding programs that submit requests themselves.
    pub fn pipeline(&self) -> Arc<dyn Submit> {
        Arc::new(self.pipeline.clone())
    }

    /// The configured targets, in the config's order (`doctor`, `policy check`).
    pub fn targets(&self) -> &[TargetEntry] {
        self.pipeline.targets()
    }

    /// The configured policies, in the config's order.
    pub fn policies(&self) -> &[PolicyEntry] {
        self.pipeline.policies()
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The registry with the plugins this config loaded.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// One line per stage, for `check-config` and the start-up log.
    pub fn describe(&self) -> Vec<String> {
        let mut lines = Vec::new();
        for (name, source) in &self.sources {
            lines.push(format!("source   {name}: {}", source.describe()));
        }
        let p = &self.config.pipeline;
        lines.push(format!(
            "pipeline deadline {} ms, dedupe {} ids for {} s, at most {} in flight",
            p.deadline_ms, p.dedupe_capacity, p.dedupe_ttl_secs, p.max_in_flight
        ));
        for (c, _) in &self.config.policies {
            lines.push(format!("policy   {} ({})", c.name, c.type_name));
        }
        for c in &self.config.targets {
            lines.push(format!("target   {} ({})", c.name, c.type_name));
        }
        for (c, s) in &self.config.notifiers {
            let on = if s.on.is_empty() {
                "every outcome".to_string()
            } else {
                s.on.iter()
                    .map(|c| c.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            lines.push(format!("notifier {} ({}) on {on}", c.name, c.type_name));
        }
        lines.push(match &self.config.audit.path {
            Some(p) => format!("audit    {}", p.display()),
            None => "audit    log only (no [audit] path)".to_string(),
        });
        lines
    }

    /// Every target's self-test (connect, TLS, bind, permissions).
    pub async fn self_test(&self) -> Vec<(String, Vec<HealthCheck>)> {
        let mut out = Vec::new();
        for t in self.pipeline.targets() {
            out.push((t.name.clone(), t.target.self_test().await));
        }
        out
    }

    /// Serves every source until `shutdown` is cancelled (or a source fails), then
    /// drains in-flight requests and pending notifications.
    pub async fn run(self, shutdown: CancellationToken) -> Result<(), RunError> {
        if self.sources.is_empty() {
            return Err(RunError::NoSources {
                config: self.config.path.clone(),
            });
        }
        let submit: Arc<dyn Submit> = Arc::new(self.pipeline.clone());
        let mut running = JoinSet::new();
        for (name, source) in &self.sources {
            let (name, source, submit, token) = (
                name.clone(),
                source.clone(),
                submit.clone(),
                shutdown.clone(),
            );
            running.spawn(async move { (name, source.run(submit, token).await) });
        }
        let admin = self.config.admin.clone().map(|admin| {
            let sources = crate::status::StatusSources::from_config(&self.config);
            let admin = crate::admin::resolve_paths(admin, &self.config);
            crate::admin::spawn(admin, self.pipeline.clone(), sources, shutdown.clone())
        });
        for line in self.describe() {
            tracing::info!("{line}");
        }
        self.dispatcher.start(shutdown.clone());
        let expiry = self.expiry.map(|service| service.spawn(shutdown.clone()));

        let mut failure = None;
        while let Some(joined) = running.join_next().await {
            match joined {
                Ok((_, Ok(()))) => {}
                Ok((name, Err(error))) => {
                    failure.get_or_insert(RunError::SourceStopped { name, error });
                    shutdown.cancel();
                }
                Err(e) => {
                    failure.get_or_insert(RunError::SourceTask(e));
                    shutdown.cancel();
                }
            }
        }
        if !shutdown.is_cancelled() {
            failure.get_or_insert(RunError::SourcesEnded);
            shutdown.cancel();
        }
        let grace = Duration::from_secs(self.config.pipeline.drain_secs);
        if !self.pipeline.drain(grace).await {
            tracing::warn!(
                "shutdown: requests still running after {} s",
                grace.as_secs()
            );
        }
        self.dispatcher.drain(grace).await;
        if let Some(expiry) = expiry {
            // It waits for the next interval on `shutdown`; a scan in progress is cut
            // (reminders it queued stay queued, the next scan does the rest).
            expiry.abort();
        }
        if let Some(admin) = admin {
            let _ = admin.await;
        }
        tracing::info!("writeback stopped");
        match failure {
            Some(f) => Err(f),
            None => Ok(()),
        }
    }
}
