//! Embedding writeback: register your own connector, configure in code, submit
//! requests through the library API. Run: `cargo run -p writeback-example-embed`.

use std::path::Path;
use std::sync::Arc;

use writeback_core::{CloudIdentity, Initiator, Operation, Password, Request, RequestId};
use writeback_example_embed::{FileTarget, FileTargetFactory, StoredAccount};
use writeback_host::{Config, Host, Registry};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::temp_dir().join(format!("writeback-embed-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let accounts = dir.join("accounts.json");
    let alice = std::collections::BTreeMap::from([("alice".to_string(), StoredAccount::default())]);
    std::fs::write(&accounts, serde_json::to_vec(&alice)?)?;

    // 1. The connector types this program offers: its own target and the built-ins
    //    this crate enables in Cargo.toml (only the `basic` policy).
    let mut registry = Registry::new();
    writeback_builtins::register_all(&mut registry);
    registry.register_target(Arc::new(FileTargetFactory));

    // 2. Configuration, here as TOML text (Config::load reads a file instead).
    let text = format!(
        "[pipeline]\ndeadline_ms = 5000\n\n[[targets]]\ntype = \"json-file\"\npath = \"{}\"\n\n\
         [[policies]]\ntype = \"basic\"\nmin_length = 12\n",
        accounts.display()
    );
    let config = Config::parse(&text, Path::new("embedded.toml"))?;
    let host = Host::build(config, &registry).await?;
    let pipeline = host.pipeline();

    // 3. Requests straight into the pipeline (a source would do this on its own).
    for (id, password) in [("demo-1", "short"), ("demo-2", "a much longer passphrase")] {
        let outcome = pipeline
            .submit(Request {
                id: RequestId::parse(id)?,
                source: "embedded".into(),
                operation: Operation::Reset {
                    new_password: Password::new(password),
                    must_change: false,
                },
                identity: CloudIdentity {
                    username: Some("alice".into()),
                    ..Default::default()
                },
                initiator: Initiator::default(),
            })
            .await;
        println!("{id}: {} — {}", outcome.code, outcome.message);
        for rule in &outcome.rules {
            println!("    {}: {}", rule.rule, rule.message);
        }
    }
    let stored: std::collections::BTreeMap<String, StoredAccount> =
        serde_json::from_slice(&std::fs::read(&accounts)?)?;
    let ok = stored
        .get("alice")
        .is_some_and(|a| FileTarget::verify(a, "a much longer passphrase"));
    println!("alice's new password verifies against the file: {ok}");
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}
