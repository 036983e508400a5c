//! What a native plugin costs, beside the same code built in. Run in release:
//!
//!     cargo bench -p writeback-plugin-native --bench native_overhead
//!
//! Builds the example plugin (release), then measures, in one run on this machine:
//! 1. a direct policy call: built in, the raw boundary call (views prepared), and the
//!    whole adapter (views built from core's types, result converted back);
//! 2. the blocking-pool hop the host adds to every plugin call (and a bare
//!    `spawn_blocking` for reference);
//! 3. the whole request path through the pipeline with the native policy, the built-in
//!    one, and none (an in-process directory target, so the pipeline is what is timed).
// Test code: a failed step stops the test with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use writeback_core::{
    Account, BuildContext, CloudIdentity, ConfigError, ConnectorConfig, ConnectorFactory,
    DirectoryTarget, Operation, Outcome, OutcomeCode, Password, Policy, PolicyContext, Request,
    RequestId, RuleViolation,
};
use writeback_host::{Config, Host, PluginLoader, PluginSpec, Registry};
use writeback_plugin_native::NativeLoader;
use writeback_plugin_native_abi::abi_stable::std_types::RSlice;

const WORDS: [&str; 2] = ["acme", "winter"];

/// The example plugin's policy, built in: the same logic, no boundary.
struct BuiltinWords {
    words: Vec<String>,
}

impl BuiltinWords {
    fn check(&self, password: &Password) -> Vec<RuleViolation> {
        let lowered = password.expose().to_lowercase();
        self.words
            .iter()
            .filter(|w| lowered.contains(w.as_str()))
            .map(|w| {
                RuleViolation::new(
                    "example.forbidden_word",
                    format!("The password must not contain \"{w}\"."),
                )
            })
            .collect()
    }
}

#[async_trait]
impl Policy for BuiltinWords {
    async fn evaluate(
        &self,
        password: &Password,
        _c: &PolicyContext<'_>,
    ) -> Result<Vec<RuleViolation>, Outcome> {
        Ok(self.check(password))
    }
}

struct BuiltinWordsFactory;

#[async_trait]
impl ConnectorFactory<dyn Policy> for BuiltinWordsFactory {
    fn type_name(&self) -> &'static str {
        "builtin-forbidden-words"
    }
    fn description(&self) -> &'static str {
        "bench: the example policy built in"
    }
    fn validate(&self, _c: &ConnectorConfig) -> Result<(), ConfigError> {
        Ok(())
    }
    async fn build(
        &self,
        _c: &ConnectorConfig,
        _x: &BuildContext<'_>,
    ) -> Result<Arc<dyn Policy>, ConfigError> {
        Ok(Arc::new(BuiltinWords {
            words: WORDS.iter().map(|w| w.to_string()).collect(),
        }))
    }
}

/// The native policy called inline on the async worker (no blocking-pool hop): only
/// to split the whole-request cost into the boundary and the hop. The host never
/// calls plugins this way.
struct InlineNative(writeback_plugin_native::policy::NativePolicy);

#[async_trait]
impl Policy for InlineNative {
    async fn evaluate(
        &self,
        password: &Password,
        c: &PolicyContext<'_>,
    ) -> Result<Vec<RuleViolation>, Outcome> {
        self.0.evaluate_here(password, c.identity, c.accounts)
    }
}

struct InlineNativeFactory(PathBuf);

#[async_trait]
impl ConnectorFactory<dyn Policy> for InlineNativeFactory {
    fn type_name(&self) -> &'static str {
        "inline-native-forbidden-words"
    }
    fn description(&self) -> &'static str {
        "bench: the native policy without the blocking-pool hop"
    }
    fn validate(&self, _c: &ConnectorConfig) -> Result<(), ConfigError> {
        Ok(())
    }
    async fn build(
        &self,
        _c: &ConnectorConfig,
        _x: &BuildContext<'_>,
    ) -> Result<Arc<dyn Policy>, ConfigError> {
        let lib =
            writeback_plugin_native::NativeLibrary::open(&self.0).map_err(ConfigError::new)?;
        let policy = lib
            .build_policy("example-forbidden-words", "words = [\"acme\", \"winter\"]")
            .map_err(ConfigError::new)?;
        let calls = writeback_plugin_native::calls::Calls::new("bench".into(), &Default::default());
        Ok(Arc::new(InlineNative(
            writeback_plugin_native::policy::NativePolicy::new(policy, calls),
        )))
    }
}

/// A directory in memory: resolves everyone, applies nothing. Only the pipeline is timed.
struct NullDirectory;

#[async_trait]
impl DirectoryTarget for NullDirectory {
    async fn resolve(&self, identity: &CloudIdentity) -> Result<Account, Outcome> {
        Ok(account(identity.upn.as_deref().unwrap_or("x")))
    }
    async fn apply(&self, _a: &Account, _o: &Operation) -> Result<(), Outcome> {
        Ok(())
    }
}

struct NullDirectoryFactory;

#[async_trait]
impl ConnectorFactory<dyn DirectoryTarget> for NullDirectoryFactory {
    fn type_name(&self) -> &'static str {
        "null-directory"
    }
    fn description(&self) -> &'static str {
        "bench: resolves everyone, writes nothing"
    }
    fn validate(&self, _c: &ConnectorConfig) -> Result<(), ConfigError> {
        Ok(())
    }
    async fn build(
        &self,
        _c: &ConnectorConfig,
        _x: &BuildContext<'_>,
    ) -> Result<Arc<dyn DirectoryTarget>, ConfigError> {
        Ok(Arc::new(NullDirectory))
    }
}

fn account(user: &str) -> Account {
    let mut attributes = BTreeMap::new();
    attributes.insert("uid".to_string(), vec![user.to_string()]);
    attributes.insert("mail".to_string(), vec![format!("{user}@example.org")]);
    attributes.insert("cn".to_string(), vec!["Alice Example".to_string()]);
    Account {
        dn: format!("uid={user},ou=people,dc=example,dc=org"),
        id: Some("0f8fad5b-d9cb-469f-a165-70867728950e".into()),
        attributes,
    }
}

/// Builds the example plugin in release into this bench's target directory.
fn example_plugin() -> PathBuf {
    let exe = std::env::current_exe().unwrap_or_else(|e| panic!("current exe: {e}"));
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let target_dir = profile_dir
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let path = target_dir.join("release").join(format!(
        "{}writeback_example_native_plugin{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_SUFFIX
    ));
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    if is_fresh(&path, &workspace) {
        // Skips cargo's lock, which other builds on a shared machine may hold for minutes.
        return path;
    }
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .current_dir(&workspace)
        .args([
            "build",
            "--release",
            "-p",
            "writeback-example-native-plugin",
            "--target-dir",
        ])
        .arg(&target_dir)
        .status()
        .unwrap_or_else(|e| panic!("cargo build: {e}"));
    assert!(status.success(), "building the example plugin failed");
    assert!(path.is_file(), "{} missing", path.display());
    path
}

/// Whether the library is newer than every source file it is built from.
fn is_fresh(library: &Path, workspace: &Path) -> bool {
    let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    let Some(built) = modified(library) else {
        return false;
    };
    ["examples/native-plugin/src", "crates/plugin-native-abi/src"]
        .iter()
        .all(|dir| {
            std::fs::read_dir(workspace.join(dir))
                .map(|entries| {
                    entries
                        .flatten()
                        .all(|e| modified(&e.path()).is_some_and(|m| m <= built))
                })
                .unwrap_or(false)
        })
}

fn registry_with(plugin: &Path) -> Registry {
    let mut registry = Registry::new();
    registry.register_policy(Arc::new(BuiltinWordsFactory));
    registry.register_target(Arc::new(NullDirectoryFactory));
    registry.register_policy(Arc::new(InlineNativeFactory(plugin.to_path_buf())));
    let spec = PluginSpec {
        path: plugin.to_path_buf(),
        table: toml::Table::new(),
        key_path: "plugins[0]".into(),
    };
    NativeLoader
        .load(&spec, &mut registry)
        .unwrap_or_else(|e| panic!("load: {e}"));
    registry
}

/// Nanoseconds per iteration of `f`, best of 5 rounds of `n`.
fn per_call(n: u32, mut f: impl FnMut()) -> f64 {
    (0..5)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..n {
                f();
            }
            t.elapsed().as_nanos() as f64 / f64::from(n)
        })
        .fold(f64::INFINITY, f64::min)
}

async fn per_call_async<F, Fut>(n: u32, mut f: F) -> f64
where
    F: FnMut(u32) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let mut best = f64::INFINITY;
    for round in 0..3 {
        let t = Instant::now();
        for i in 0..n {
            f(round * n + i).await;
        }
        best = best.min(t.elapsed().as_nanos() as f64 / f64::from(n));
    }
    best
}

fn row(what: &str, ns: f64, baseline: f64) {
    println!("| {what:<58} | {:>10.1} | {:>6.2}x |", ns, ns / baseline);
}

async fn build_policy(registry: &Registry, type_name: &str) -> Arc<dyn Policy> {
    let factory = registry
        .policy(type_name)
        .unwrap_or_else(|| panic!("{type_name} not registered"));
    let mut table = toml::Table::new();
    table.insert(
        "words".into(),
        toml::Value::Array(
            WORDS
                .iter()
                .map(|w| toml::Value::String(w.to_string()))
                .collect(),
        ),
    );
    let config = ConnectorConfig::in_code(
        writeback_core::ConnectorKind::Policy,
        type_name,
        "words",
        table,
    );
    struct NoSecrets;
    impl writeback_core::SecretResolver for NoSecrets {
        fn resolve(
            &self,
            _s: &writeback_core::SecretRef,
        ) -> Result<Password, writeback_core::SecretError> {
            Err(writeback_core::SecretError::Unsupported("none".into()))
        }
    }
    let ctx = BuildContext {
        secrets: &NoSecrets,
        base_dir: Path::new("."),
    };
    factory
        .build(&config, &ctx)
        .await
        .unwrap_or_else(|e| panic!("build: {e}"))
}

async fn host(registry: &Registry, dir: &Path, policy: Option<&str>) -> Host {
    let policy = policy
        .map(|t| format!("[[policies]]\ntype = \"{t}\"\nwords = [\"acme\", \"winter\"]\n"))
        .unwrap_or_default();
    let text = format!(
        "[pipeline]\ndeadline_ms = 10000\n\n[[targets]]\ntype = \"null-directory\"\n\n{policy}"
    );
    let path = dir.join("bench.toml");
    std::fs::write(&path, &text).unwrap_or_else(|e| panic!("{e}"));
    let config = Config::load(&path).unwrap_or_else(|e| panic!("{e}"));
    Host::build(config, registry)
        .await
        .unwrap_or_else(|e| panic!("host: {e}"))
}

fn request(i: u32, tag: &str) -> Request {
    Request {
        id: RequestId::parse(&format!("{tag}-{i}")).unwrap_or_else(|e| panic!("{e}")),
        source: "bench".into(),
        operation: Operation::Reset {
            new_password: Password::new("Correct-Horse-Battery-9"),
            must_change: false,
        },
        identity: CloudIdentity {
            upn: Some(format!("user{}@example.org", i % 512)),
            ..Default::default()
        },
        initiator: Default::default(),
    }
}

fn main() {
    let plugin = example_plugin();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"));
    runtime.block_on(run(plugin));
}

async fn run(plugin: PathBuf) {
    let registry = registry_with(&plugin);
    let builtin = build_policy(&registry, "builtin-forbidden-words").await;
    let native = build_policy(&registry, "example-forbidden-words").await;

    let password = Password::new("Correct-Horse-Battery-9");
    let identity = CloudIdentity {
        upn: Some("alice@example.org".into()),
        ..Default::default()
    };
    let accounts = vec![("ldap".to_string(), account("alice"))];
    let context = PolicyContext {
        operation: writeback_core::OperationKind::Reset,
        identity: &identity,
        accounts: &accounts,
    };

    // 1. Direct calls, on this thread.
    let words = BuiltinWords {
        words: WORDS.iter().map(|w| w.to_string()).collect(),
    };
    let n = 400_000;
    let t_builtin = per_call(n, || {
        black_box(words.check(black_box(&password)));
    });
    let lib =
        writeback_plugin_native::NativeLibrary::open(&plugin).unwrap_or_else(|e| panic!("{e}"));
    let raw = lib
        .build_policy("example-forbidden-words", "words = [\"acme\", \"winter\"]")
        .unwrap_or_else(|e| panic!("{e}"));
    let empty_identity = writeback_plugin_native_abi::IdentityView {
        upn: "alice@example.org".into(),
        object_id: "".into(),
        immutable_id: "".into(),
        mail: "".into(),
        username: "".into(),
        display_name: "".into(),
        given_name: "".into(),
        surname: "".into(),
        extra: RSlice::from_slice(&[]),
    };
    let input = writeback_plugin_native_abi::PolicyInput {
        identity: empty_identity,
        accounts: RSlice::from_slice(&[]),
    };
    let t_raw = per_call(n, || {
        let view = writeback_plugin_native_abi::PasswordView::new(black_box(password.expose()));
        black_box(raw.evaluate(view, black_box(&input)));
    });
    let calls = writeback_plugin_native::calls::Calls::new("bench".into(), &Default::default());
    let adapter = writeback_plugin_native::policy::NativePolicy::new(raw, calls);
    let t_adapter = per_call(n, || {
        black_box(
            adapter
                .evaluate_here(black_box(&password), &identity, &accounts)
                .ok(),
        );
    });

    // 2. Through the trait, as the pipeline calls it: built in (inline) vs native (hop).
    let m = 20_000;
    let t_builtin_async = per_call_async(m, |_| async {
        black_box(builtin.evaluate(&password, &context).await.ok());
    })
    .await;
    let t_native_async = per_call_async(m, |_| async {
        black_box(native.evaluate(&password, &context).await.ok());
    })
    .await;
    let t_hop = per_call_async(m, |_| async {
        black_box(tokio::task::spawn_blocking(|| black_box(1)).await.ok());
    })
    .await;

    // 3. Whole requests through the pipeline (sequential, one at a time).
    let dir = std::env::temp_dir().join(format!("wb-native-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    let r = 2_000;
    let configs = [
        ("none", None),
        ("builtin", Some("builtin-forbidden-words")),
        ("inline", Some("inline-native-forbidden-words")),
        ("native", Some("example-forbidden-words")),
    ];
    let mut pipelines = Vec::new();
    for (tag, policy) in configs {
        let built = host(&registry, &dir, policy).await;
        pipelines.push((tag, built.pipeline(), built));
    }
    // Rounds interleave the configurations, so a change in the machine's load (it is
    // shared) hits all of them alike; each keeps its best round.
    let mut pipeline_times: Vec<(&str, f64)> =
        configs.iter().map(|(t, _)| (*t, f64::INFINITY)).collect();
    for round in 0..5u32 {
        for (k, (tag, pipeline, _host)) in pipelines.iter().enumerate() {
            let t = Instant::now();
            for i in 0..r {
                let outcome = pipeline.submit(request(round * r + i, tag)).await;
                assert_eq!(outcome.code, OutcomeCode::Succeeded, "{outcome}");
            }
            let ns = t.elapsed().as_nanos() as f64 / f64::from(r);
            pipeline_times[k].1 = pipeline_times[k].1.min(ns);
        }
    }
    let _ = std::fs::remove_dir_all(&dir);

    println!(
        "\nnative plugin overhead (release, {} cores, best of rounds)\n",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    );
    println!("| {:<58} | {:>10} | {:>7} |", "what", "ns / call", "ratio");
    println!("|{:-<60}|{:->12}|{:->9}|", "", "", "");
    row(
        "policy built in, direct call (baseline)",
        t_builtin,
        t_builtin,
    );
    row(
        "native policy, raw boundary call (views prepared)",
        t_raw,
        t_builtin,
    );
    row(
        "native policy, adapter: views built + result converted",
        t_adapter,
        t_builtin,
    );
    println!(
        "\ndirect-path overhead per call: raw boundary {:+.1} ns, whole adapter {:+.1} ns (aim < 100 ns)\n",
        t_raw - t_builtin,
        t_adapter - t_builtin
    );
    println!(
        "| {:<58} | {:>10} | {:>7} |",
        "through the Policy trait (async)", "ns / call", "ratio"
    );
    println!("|{:-<60}|{:->12}|{:->9}|", "", "", "");
    row(
        "built in, awaited inline (baseline)",
        t_builtin_async,
        t_builtin_async,
    );
    row(
        "native, on the blocking pool (spawn_blocking + timeout)",
        t_native_async,
        t_builtin_async,
    );
    row(
        "bare spawn_blocking round trip, for reference",
        t_hop,
        t_builtin_async,
    );
    println!(
        "\nblocking-pool hop: {:+.0} ns per call\n",
        t_native_async - t_builtin_async
    );
    let none = pipeline_times[0].1;
    println!(
        "| {:<58} | {:>10} | {:>7} |",
        "whole request through the pipeline", "ns / req", "ratio"
    );
    println!("|{:-<60}|{:->12}|{:->9}|", "", "", "");
    for (tag, t) in &pipeline_times {
        let label = match *tag {
            "none" => "no policy (baseline)",
            "builtin" => "with the policy built in",
            "inline" => "native policy called inline (no hop; not how the host runs it)",
            _ => "with the native plugin policy",
        };
        row(label, *t, none);
    }
    let builtin_t = pipeline_times[1].1;
    let native_t = pipeline_times[3].1;
    println!(
        "\nnative vs built-in policy on the whole request path: {:.2}x ({:+.0} ns)",
        native_t / builtin_t,
        native_t - builtin_t
    );
}
