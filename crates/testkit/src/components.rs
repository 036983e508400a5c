//! Builds WASM component workspaces of this repository (the examples, the test
//! guests) for `wasm32-wasip2`, as the tests and benchmarks need them. Each is its own
//! cargo workspace; all share one target directory so rebuilds are incremental.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The repository root (this crate is `crates/testkit`).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Where the components land: `$CARGO_TARGET_DIR/wasm-guests` (or `target/…`).
fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target"))
        .join("wasm-guests")
}

/// Builds each workspace (a path relative to the repository root, e.g.
/// `examples/wasm-policy`) in release mode for `wasm32-wasip2`, and returns the
/// directory holding the `.wasm` files.
pub fn build(workspaces: &[&str]) -> Result<PathBuf, String> {
    let target = target_dir();
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    for workspace in workspaces {
        let output = Command::new(&cargo)
            .args([
                "build",
                "--release",
                "--target",
                "wasm32-wasip2",
                "--manifest-path",
            ])
            .arg(repo_root().join(workspace).join("Cargo.toml"))
            .arg("--target-dir")
            .arg(&target)
            // The host's flags (coverage, sanitizers) do not apply to guests.
            .env_remove("RUSTFLAGS")
            .env_remove("CARGO_ENCODED_RUSTFLAGS")
            .output()
            .map_err(|e| format!("cannot run cargo: {e}"))?;
        if !output.status.success() {
            return Err(format!(
                "building {workspace} for wasm32-wasip2 failed (is the target installed? \
                 `rustup target add wasm32-wasip2`, see .ci/setup.d/wasm.sh):\n{}",
                String::from_utf8_lossy(&output.stderr)
            ));
        }
    }
    Ok(target.join("wasm32-wasip2/release"))
}
