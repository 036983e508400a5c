//! `writeback plugins list [-c FILE]`: every connector type, built in or from plugins.

use std::path::Path;

use super::{fail_config, load_config};

pub fn list(config_path: Option<&Path>) -> i32 {
    let mut registry = crate::builtin_registry();
    if let Some(path) = config_path {
        let config = load_config(path);
        registry = match writeback_host::validate(&config, &registry) {
            Ok(r) => r,
            Err(e) => fail_config(&e),
        };
    }
    println!("{:<9} {:<22} {:<20} DESCRIPTION", "KIND", "TYPE", "FROM");
    for info in registry.list() {
        println!(
            "{:<9} {:<22} {:<20} {}",
            info.kind.singular(),
            info.type_name,
            info.origin,
            info.description
        );
    }
    let loaders = registry.loader_names();
    if !loaders.is_empty() {
        println!("\nplugin loaders: {}", loaders.join(", "));
    }
    0
}
