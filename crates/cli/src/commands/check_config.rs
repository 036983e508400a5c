//! `writeback check-config FILE [--connect]`: validate, print the resolved pipeline,
//! and optionally self-test every directory.

use std::path::Path;

use writeback_host::Host;

use super::{fail_config, load_config};

pub async fn run(config_path: &Path, connect: bool) -> i32 {
    if let Some(code) = super::relay::check_config(config_path, connect).await {
        return code;
    }
    let config = load_config(config_path);
    let registry = crate::builtin_registry();
    let host = match Host::build_with(config, &registry, crate::builtin_options()).await {
        Ok(h) => h,
        Err(e) => fail_config(&e),
    };
    println!("{}: configuration is valid", config_path.display());
    for line in host.describe() {
        println!("  {line}");
    }
    if !connect {
        return 0;
    }
    let mut ok = true;
    for (target, checks) in host.self_test().await {
        println!("target {target}:");
        if checks.is_empty() {
            println!("  (this target has no self-test)");
        }
        for c in checks {
            ok &= c.ok;
            println!(
                "  [{}] {}: {}",
                if c.ok { " ok " } else { "FAIL" },
                c.check,
                c.detail
            );
        }
    }
    if ok {
        0
    } else {
        1
    }
}
