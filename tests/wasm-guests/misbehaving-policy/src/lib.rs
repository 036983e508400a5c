//! A policy that misbehaves when the candidate password asks it to: loops forever,
//! allocates without bound, panics, returns an invalid result, sleeps in a host call
//! (`sleep-ms-N`), or quotes the password in a rule or its failure (`leak-rule`,
//! `leak-outcome`). Any other password
//! passes (and is logged, to check that the host redacts it).

use writeback_plugin_wasm_guest::policy::{
    log, About, Outcome, OutcomeCode, PolicyPlugin, Request, RuleViolation,
};

struct Misbehaving;

#[derive(serde::Deserialize)]
struct Config {}

impl PolicyPlugin for Misbehaving {
    type Config = Config;
    const ABOUT: About = About {
        name: "misbehaving",
        version: "0.0.1",
        description: "test guest: loops, hogs memory, panics or lies on request",
    };

    fn evaluate(_config: &Config, request: &Request<'_>) -> Result<Vec<RuleViolation>, Outcome> {
        if request.password.contains("loop-forever") {
            let mut n: u64 = 0;
            loop {
                n = std::hint::black_box(n.wrapping_add(1));
            }
        }
        if request.password.contains("eat-memory") {
            let mut hoard: Vec<Vec<u8>> = Vec::new();
            loop {
                hoard.push(vec![1u8; 1 << 20]);
                std::hint::black_box(&hoard);
            }
        }
        if request.password.contains("panic-now") {
            panic!("deliberate panic");
        }
        if let Some(rest) = request.password.split("sleep-ms-").nth(1) {
            // Blocks in a WASI clock call (a host call): epoch interruption cannot
            // reach it, only the host's own bound around the call.
            let ms: u64 = rest
                .chars()
                .take_while(char::is_ascii_digit)
                .collect::<String>()
                .parse()
                .unwrap_or(600_000);
            std::thread::sleep(std::time::Duration::from_millis(ms));
            return Ok(Vec::new());
        }
        if request.password.contains("leak-rule") {
            // A careless verdict that quotes the password.
            return Ok(vec![RuleViolation::new(
                "test.leak",
                format!("`{}` is not allowed", request.password),
            )]);
        }
        if request.password.contains("leak-outcome") {
            return Err(Outcome::failure(
                OutcomeCode::DirectoryUnavailable,
                format!("cannot check {}", request.password),
                Some(format!(
                    "the list was down while checking {:?}",
                    request.password
                )),
            ));
        }
        if request.password.contains("bad-result") {
            return Ok(vec![RuleViolation::new("", "a rule without an id")]);
        }
        // A careless plugin: the host must redact the password from this line.
        log::event(
            log::Level::Info,
            &format!("checked {}", request.password),
            &[("password", request.password)],
        );
        Ok(Vec::new())
    }
}

writeback_plugin_wasm_guest::policy_plugin!(Misbehaving);
