//! The real `writeback` binary of this build, for tests that run it as a process.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The file name of the CLI as this package builds it (tests/Cargo.toml `[[bin]]`).
const NAME: &str = "writeback-under-test";

/// Path to `target/<profile>/writeback-under-test`: the CLI's main.rs built by cargo as a
/// target of this package before it runs the integration tests, with the same profile
/// and features as the test binary, so nothing is compiled twice.
pub fn writeback() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        // …/target/<profile>/deps/e2e-<hash> → …/target/<profile>
        let exe = std::env::current_exe().unwrap_or_else(|e| panic!("current exe: {e}"));
        let profile_dir = exe
            .parent()
            .and_then(Path::parent)
            .unwrap_or_else(|| panic!("unexpected test binary path {}", exe.display()));
        let bin = profile_dir.join(NAME);
        assert!(
            bin.exists(),
            "{} is missing: run the tests with `cargo test -p writeback-tests` (cargo builds \
             the binary before the integration tests)",
            bin.display()
        );
        bin
    })
}
