//! The real `writeback` binary of this build, for tests that run it as a process.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// Path to `target/<profile>/writeback`, built (incrementally) on first use with the
/// same profile and target dir as the running test binary.
pub fn writeback() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        // …/target/<profile>/deps/e2e-<hash> → …/target/<profile>
        let exe = std::env::current_exe().unwrap_or_else(|e| panic!("current exe: {e}"));
        let profile_dir = exe
            .parent()
            .and_then(Path::parent)
            .unwrap_or_else(|| panic!("unexpected test binary path {}", exe.display()))
            .to_path_buf();
        let target_dir = profile_dir.parent().unwrap_or(&profile_dir).to_path_buf();
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut build = Command::new(cargo);
        build
            .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join(".."))
            .args([
                "build",
                "-p",
                "writeback-cli",
                "--bin",
                "writeback",
                "--target-dir",
            ])
            .arg(&target_dir);
        if profile_dir.file_name().is_some_and(|n| n == "release") {
            build.arg("--release");
        }
        let status = build
            .status()
            .unwrap_or_else(|e| panic!("cargo build: {e}"));
        let bin = profile_dir.join("writeback");
        assert!(
            status.success() && bin.exists(),
            "building the writeback binary failed"
        );
        bin
    })
}
