//! A policy that misbehaves when the candidate password asks it to: loops forever,
//! allocates without bound, panics, or returns an invalid result. Any other password
//! passes (and is logged, to check that the host redacts it).

use writeback_plugin_wasm_guest::policy::{
    log, About, Outcome, PolicyPlugin, Request, RuleViolation,
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
