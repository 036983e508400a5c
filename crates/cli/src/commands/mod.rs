//! One module per subcommand.

pub mod audit;
pub mod breached;
pub mod check_config;
pub mod doctor;
pub mod expiry;
pub mod outbox;
pub mod plugins;
pub mod policy_check;
pub mod relay;
pub mod request;
pub mod run;

use std::path::Path;

use writeback_host::Config;

/// Loads a config file, or prints the located error and exits with code 2.
pub fn load_config(path: &Path) -> Config {
    match Config::load(path) {
        Ok(c) => c,
        Err(e) => fail_config(&e),
    }
}

pub fn fail_config(e: &dyn std::fmt::Display) -> ! {
    eprintln!("error: {e}");
    std::process::exit(2)
}
