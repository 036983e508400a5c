//! `writeback doctor -c FILE [--json]`: every read-only check, a table for people or
//! JSON for monitoring; exit code 0 all ok, 1 a warning, 2 a failure (3: bad config).

use std::path::PathBuf;

use writeback_core::DoctorOptions;
use writeback_host::Config;

#[derive(clap::Args)]
pub struct DoctorArgs {
    /// The TOML config file.
    #[arg(short, long)]
    config: PathBuf,
    /// JSON on stdout instead of the table.
    #[arg(long)]
    json: bool,
    /// Warn about certificates that expire within this many days.
    #[arg(long, default_value_t = 30)]
    expiry_days: u32,
    /// Warn when a directory's clock is further off than this many seconds.
    #[arg(long, default_value_t = 60)]
    max_skew_secs: u64,
}

pub async fn run(args: DoctorArgs) -> i32 {
    let config = match Config::load(&args.config) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return 3;
        }
    };
    let options = DoctorOptions {
        expiry_warn_days: args.expiry_days,
        max_clock_skew_secs: args.max_skew_secs,
        ..DoctorOptions::default()
    };
    let registry = crate::builtin_registry();
    let report =
        writeback_doctor::examine(config, &registry, crate::builtin_options(), &options).await;
    if args.json {
        println!("{}", report.to_json());
    } else {
        print!("{}", report.to_table());
    }
    report.exit_code()
}
