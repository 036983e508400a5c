//! `writeback check-config FILE [--connect]`: validate, print the resolved pipeline,
//! and optionally self-test every directory. Every error of the file is reported in
//! one run, in the order of the file, as `cargo` does.

use std::path::Path;

use writeback_host::{validate_all, Config, Host};

use super::fail_config;

pub async fn run(config_path: &Path, connect: bool) -> i32 {
    let registry = crate::builtin_registry();
    let (config, mut errors) = Config::load_all(config_path);
    // An edge's or agent's file has its own checks (sources without targets, or the
    // reverse); every other file gets every error reported below.
    if config
        .as_ref()
        .is_some_and(|c| c.extra.contains_key("relay"))
    {
        if let Some(code) = super::relay::check_config(config_path, connect).await {
            return code;
        }
    }
    if let Some(config) = &config {
        errors.extend(validate_all(config, &registry).1);
    }
    errors.sort_by_key(|e| e.line.unwrap_or(usize::MAX));
    let config = match (config, errors.is_empty()) {
        (Some(config), true) => config,
        _ => {
            for e in &errors {
                eprintln!("error: {e}");
            }
            if errors.len() > 1 {
                eprintln!(
                    "{}: {} errors; fix them and run check-config again",
                    config_path.display(),
                    errors.len()
                );
            }
            std::process::exit(2)
        }
    };
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
    i32::from(!print_self_tests(&host).await)
}

/// Runs and prints every target's self-test (`--connect`); whether all checks passed.
pub async fn print_self_tests(host: &Host) -> bool {
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
    ok
}
