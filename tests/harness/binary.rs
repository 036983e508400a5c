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

/// What one finished run of the binary printed, and how it exited.
pub struct Ran {
    /// The exit code; `None` when a signal ended it.
    pub code: Option<i32>,
    pub stdout: String,
    /// stdout then stderr, for assertions on what an operator sees.
    pub text: String,
}

/// Runs the binary with `args` in `dir` (or the test's directory) to the end.
pub fn run_in<I, S>(dir: Option<&Path>, args: I) -> Ran
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    let mut command = std::process::Command::new(writeback());
    command.args(args);
    if let Some(dir) = dir {
        command.current_dir(dir);
    }
    let out = command
        .output()
        .unwrap_or_else(|e| panic!("run {}: {e}", writeback().display()));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let text = format!("{stdout}{}", String::from_utf8_lossy(&out.stderr));
    Ran {
        code: out.status.code(),
        stdout,
        text,
    }
}

/// Runs the binary with `args` to the end.
pub fn run<I, S>(args: I) -> Ran
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    run_in(None, args)
}
