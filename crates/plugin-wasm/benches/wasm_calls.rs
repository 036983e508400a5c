//! What a WASM plugin costs, beside the same policy built in and a native plugin.
//! Run in release:
//!
//!     cargo bench -p writeback-plugin-wasm --bench wasm_calls
//!
//! Builds examples/wasm-policy and examples/wasm-notifier for wasm32-wasip2 and the
//! native example plugin, then measures in one run on this machine:
//! 1. a policy call (warm): the company-words policy built in, the WASM policy on a
//!    fresh instance per call (the default), the WASM policy on a reused instance, and
//!    the native example plugin's word policy (through its adapter);
//! 2. cold: compiling the component, loading it from the compile cache, and the first
//!    call on a new connector;
//! 3. host start with two WASM plugins (engine, load from the cache, configure).
// Test code: a failed step stops the test with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use writeback_core::{
    BuildContext, CloudIdentity, ConnectorConfig, ConnectorKind, Notifier, Outcome, Password,
    Policy, PolicyContext, RuleViolation, SecretRef, SecretResolver,
};
use writeback_host::{PluginLoader, PluginSpec, Registry};
use writeback_plugin_native::NativeLoader;
use writeback_plugin_wasm::{CompileCache, PluginOptions, WasmFactory, WasmLoader, WasmPlugins};

const WORDS: [&str; 2] = ["acme", "winter"];
const PASSWORD: &str = "Correct-Horse-Battery-9";

/// The WASM example's rule, built in: the same logic, no sandbox.
struct BuiltinCompanyWords {
    words: Vec<String>,
    min_distinct: usize,
}

#[async_trait]
impl Policy for BuiltinCompanyWords {
    async fn evaluate(
        &self,
        password: &Password,
        context: &PolicyContext<'_>,
    ) -> Result<Vec<RuleViolation>, Outcome> {
        let lower = password.expose().to_lowercase();
        let mut broken = Vec::new();
        if self.words.iter().any(|w| lower.contains(w.as_str())) {
            broken.push(RuleViolation::new("company.words", "no company words"));
        }
        let id = context.identity;
        let parts = [&id.username, &id.given_name, &id.surname];
        if parts
            .iter()
            .filter_map(|p| p.as_deref())
            .map(str::to_lowercase)
            .filter(|p| p.chars().count() >= 3)
            .any(|p| lower.contains(&p))
        {
            broken.push(RuleViolation::new("company.personal-name", "no names"));
        }
        let mut distinct: Vec<char> = password.expose().chars().collect();
        distinct.sort_unstable();
        distinct.dedup();
        if distinct.len() < self.min_distinct {
            broken.push(RuleViolation::new(
                "company.distinct-characters",
                "more distinct characters",
            ));
        }
        Ok(broken)
    }
}

struct NoSecrets;

impl SecretResolver for NoSecrets {
    fn resolve(&self, _secret: &SecretRef) -> Result<Password, writeback_core::SecretError> {
        Err(writeback_core::SecretError::Unsupported(
            "no secrets here".into(),
        ))
    }
}

fn ctx() -> BuildContext<'static> {
    BuildContext {
        secrets: &NoSecrets,
        base_dir: Path::new("/"),
    }
}

fn words_table() -> toml::Table {
    let mut t = toml::Table::new();
    t.insert(
        "words".into(),
        toml::Value::Array(
            WORDS
                .iter()
                .map(|w| toml::Value::String(w.to_string()))
                .collect(),
        ),
    );
    t
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target"))
}

fn cargo(args: &[&str], dir: &Path) {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .current_dir(dir)
        .args(args)
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .status()
        .unwrap_or_else(|e| panic!("cargo: {e}"));
    assert!(
        status.success(),
        "cargo {args:?} in {} failed",
        dir.display()
    );
}

/// The two example components, built for wasm32-wasip2 (as the e2e tests do).
fn build_wasm_examples() -> (PathBuf, PathBuf) {
    let release =
        writeback_testkit::components::build(&["examples/wasm-policy", "examples/wasm-notifier"])
            .unwrap_or_else(|e| panic!("{e}"));
    (
        release.join("wasm_policy_example.wasm"),
        release.join("wasm_notifier_example.wasm"),
    )
}

fn build_native_example() -> PathBuf {
    let target = target_dir();
    cargo(
        &[
            "build",
            "--release",
            "-p",
            "writeback-example-native-plugin",
            "--target-dir",
            &target.display().to_string(),
        ],
        &repo_root(),
    );
    target.join("release").join(format!(
        "{}writeback_example_native_plugin{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_SUFFIX
    ))
}

/// Nanoseconds per call, best of 5 rounds of `n` calls.
async fn per_call(policy: &dyn Policy, n: u32) -> f64 {
    let identity = CloudIdentity {
        username: Some("alice".into()),
        ..Default::default()
    };
    let context = PolicyContext {
        operation: writeback_core::OperationKind::Reset,
        identity: &identity,
        accounts: &[],
    };
    let password = Password::new(PASSWORD);
    let mut best = f64::MAX;
    for _ in 0..5 {
        let start = Instant::now();
        for _ in 0..n {
            let verdict = policy.evaluate(&password, &context).await;
            assert_eq!(black_box(verdict), Ok(Vec::new()));
        }
        best = best.min(start.elapsed().as_nanos() as f64 / f64::from(n));
    }
    best
}

async fn wasm_policy(plugins: &WasmPlugins, path: &Path, reused: bool) -> Arc<dyn Policy> {
    let mut options = PluginOptions::for_path(path);
    if reused {
        options.instances = Some(writeback_plugin_wasm::InstanceMode::Reused);
    }
    let loaded = plugins
        .load(options)
        .await
        .unwrap_or_else(|e| panic!("load: {e}"));
    let WasmFactory::Policy(factory) = loaded.factory() else {
        panic!("not a policy")
    };
    let config = ConnectorConfig::in_code(
        ConnectorKind::Policy,
        factory.type_name(),
        "p",
        words_table(),
    );
    factory
        .build(&config, &ctx())
        .await
        .unwrap_or_else(|e| panic!("build: {e}"))
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn row(name: &str, value: String, ratio: String) {
    println!("| {name:<58} | {value:>12} | {ratio:>10} |");
}

async fn host_start(cache: &Path, policy: &Path, notifier: &Path) -> Duration {
    let start = Instant::now();
    let loader = WasmLoader::new(Some(CompileCache::new(cache)));
    let mut registry = Registry::new();
    for (path, table) in [
        (policy, toml::Table::new()),
        (notifier, {
            let mut t = toml::Table::new();
            t.insert(
                "allow_http".into(),
                toml::Value::Array(vec![toml::Value::String("http://127.0.0.1:9/x".into())]),
            );
            t
        }),
    ] {
        let spec = PluginSpec {
            path: path.to_path_buf(),
            table,
            key_path: "plugins[0]".into(),
        };
        loader
            .load(&spec, &mut registry)
            .unwrap_or_else(|e| panic!("load: {e}"));
    }
    let p = registry
        .policy("company-words")
        .unwrap_or_else(|| panic!("no policy"));
    let config =
        ConnectorConfig::in_code(ConnectorKind::Policy, "company-words", "p", words_table());
    let _policy = p
        .build(&config, &ctx())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let n = registry
        .notifier("chat-webhook")
        .unwrap_or_else(|| panic!("no notifier"));
    let mut t = toml::Table::new();
    t.insert(
        "url".into(),
        toml::Value::String("http://127.0.0.1:9/x".into()),
    );
    let config = ConnectorConfig::in_code(ConnectorKind::Notifier, "chat-webhook", "n", t);
    let _notifier: Arc<dyn Notifier> = n
        .build(&config, &ctx())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    start.elapsed()
}

fn main() {
    let (policy_wasm, notifier_wasm) = build_wasm_examples();
    let native_so = build_native_example();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"));
    rt.block_on(async move {
        let cache_dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));

        // Cold: compile without a cache, then with an empty cache, then a cache hit.
        let t = Instant::now();
        let uncached = WasmPlugins::new(None).unwrap_or_else(|e| panic!("{e}"));
        let engine_start = t.elapsed();
        let t = Instant::now();
        let _ = uncached.load(PluginOptions::for_path(&policy_wasm)).await.unwrap_or_else(|e| panic!("{e}"));
        let compile = t.elapsed();
        let cached = WasmPlugins::new(Some(CompileCache::new(cache_dir.path()))).unwrap_or_else(|e| panic!("{e}"));
        let _ = cached.load(PluginOptions::for_path(&policy_wasm)).await.unwrap_or_else(|e| panic!("{e}"));
        let mut hits = Vec::new();
        for _ in 0..5 {
            let t = Instant::now();
            let loaded = cached.load(PluginOptions::for_path(&policy_wasm)).await.unwrap_or_else(|e| panic!("{e}"));
            hits.push(t.elapsed());
            assert_eq!(loaded.meta().cache, writeback_plugin_wasm::CacheUse::Hit);
        }
        let t = Instant::now();
        let fresh_policy = wasm_policy(&cached, &policy_wasm, false).await;
        let identity = CloudIdentity::default();
        let context = PolicyContext {
            operation: writeback_core::OperationKind::Reset,
            identity: &identity,
            accounts: &[],
        };
        let _ = fresh_policy.evaluate(&Password::new(PASSWORD), &context).await;
        let first_call = t.elapsed();

        // Warm calls.
        let builtin = BuiltinCompanyWords {
            words: WORDS.iter().map(|w| w.to_string()).collect(),
            min_distinct: 5,
        };
        let builtin_ns = per_call(&builtin, 200_000).await;
        let fresh_ns = per_call(&*fresh_policy, 2_000).await;
        let reused_policy = wasm_policy(&cached, &policy_wasm, true).await;
        let reused_ns = per_call(&*reused_policy, 50_000).await;

        let mut registry = Registry::new();
        let spec = PluginSpec {
            path: native_so.clone(),
            table: toml::Table::new(),
            key_path: "plugins[0]".into(),
        };
        NativeLoader.load(&spec, &mut registry).unwrap_or_else(|e| panic!("native load: {e}"));
        let native_factory = registry
            .policy("example-forbidden-words")
            .unwrap_or_else(|| panic!("no native example policy"));
        let config = ConnectorConfig::in_code(ConnectorKind::Policy, "example-forbidden-words", "n", words_table());
        let native_policy = native_factory.build(&config, &ctx()).await.unwrap_or_else(|e| panic!("{e}"));
        let native_ns = per_call(&*native_policy, 20_000).await;

        // Host start with two WASM plugins and a warm compile cache.
        let _ = host_start(cache_dir.path(), &policy_wasm, &notifier_wasm).await;
        let mut starts = Vec::new();
        for _ in 0..5 {
            starts.push(host_start(cache_dir.path(), &policy_wasm, &notifier_wasm).await);
        }

        let us = |ns: f64| format!("{:.2} µs", ns / 1000.0);
        let ms = |d: Duration| format!("{:.2} ms", d.as_secs_f64() * 1000.0);
        let x = |ns: f64| format!("{:.0}×", ns / builtin_ns);
        println!();
        println!("WASM plugin cost (release, {} cores; ratios against the built-in policy)", std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1));
        println!();
        row("measure", "value".into(), "ratio".into());
        println!("|{:-<60}|{:-<14}|{:-<12}|", "", "", "");
        row("policy call: company-words built in", us(builtin_ns), "1×".into());
        row("policy call: WASM, fresh instance per call (default)", us(fresh_ns), x(fresh_ns));
        row("policy call: WASM, reused instance", us(reused_ns), x(reused_ns));
        row("policy call: native plugin (forbidden-words, blocking pool)", us(native_ns), x(native_ns));
        row("fresh instance (fresh − reused call)", us(fresh_ns - reused_ns), String::new());
        row("engine start (epoch thread, linkers)", ms(engine_start), String::new());
        row("cold: Cranelift compile + link + describe (no cache)", ms(compile), String::new());
        row("cold: load from the compile cache (median of 5)", ms(median(hits)), String::new());
        row("cold: build connector + first call", ms(first_call), String::new());
        row("host start, two WASM plugins, warm cache (median of 5)", ms(median(starts)), String::new());
        println!();
        println!("aims (issue 7): fresh-instance call < 40 µs, reused call < 2 µs, host start with two WASM plugins < 100 ms");
    });
}
