//! Builds every connector from a checked config and runs the sources until shutdown.

use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use writeback_core::{
    BuildContext, CloudSource, ConfigError, ConnectorConfig, ConnectorKind, HealthCheck, Submit,
};

use crate::audit::AuditLog;
use crate::config::Config;
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

/// Options an embedding program may set.
#[derive(Clone, Default)]
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
}

/// Checks a config against the registry without building anything: plugin files are
/// loaded, every `type` must exist and every table must pass its factory's checks.
/// Returns the registry with the plugins' factories added.
pub fn validate(config: &Config, registry: &Registry) -> Result<Registry, ConfigError> {
    let mut registry = registry.clone();
    for spec in &config.plugins {
        registry
            .load_plugin(spec)
            .map_err(|message| config.source.error(&spec.key_path, message))?;
    }
    for connector in config.all_connectors() {
        let known = registry.type_names(connector.kind);
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
            None => {
                return Err(config.source.error(
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
                ))
            }
        }
    }
    Ok(registry)
}

impl Host {
    pub async fn build(config: Config, registry: &Registry) -> Result<Host, ConfigError> {
        Host::build_with(config, registry, HostOptions::default()).await
    }

    pub async fn build_with(
        config: Config,
        registry: &Registry,
        options: HostOptions,
    ) -> Result<Host, ConfigError> {
        if config.targets.is_empty() {
            return Err(config.source.error(
                "targets",
                "no [[targets]]: add at least one directory (for example type = \"openldap\")",
            ));
        }
        let registry = validate(&config, registry)?;
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

        let dispatcher: Arc<dyn Dispatcher> = match &options.dispatcher {
            Some(make) => make(&config, notifiers)?,
            None => crate::notify::dispatcher_for(&config, notifiers, &targets)?,
        };
        let metrics = Arc::new(Metrics::default());
        let audit = AuditLog::open(
            config.audit.path.as_deref().map(|p| ctx.path(p)).as_deref(),
            metrics.audit_dropped.clone(),
        )
        .map_err(|m| config.source.error("audit.path", m))?;
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

    pub fn pipeline_handle(&self) -> &Pipeline {
        &self.pipeline
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
    pub async fn run(self, shutdown: CancellationToken) -> Result<(), String> {
        if self.sources.is_empty() {
            return Err(format!(
                "{}: no [[sources]], so there is nothing to serve; add one (for example \
                 type = \"webhook\") or submit requests through the library API",
                self.config.path.display()
            ));
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
        let admin = self
            .config
            .admin
            .clone()
            .map(|admin| crate::admin::spawn(admin, self.pipeline.clone(), shutdown.clone()));
        for line in self.describe() {
            tracing::info!("{line}");
        }
        self.dispatcher.start(shutdown.clone());

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
        if !shutdown.is_cancelled() {
            failure.get_or_insert("every source stopped on its own".into());
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
