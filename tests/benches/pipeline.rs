//! Throughput and latency of writeback against baselines measured in the same run.
//!
//! (a) the webhook source → pipeline → a target that writes nothing, beside a bare
//!     HTTP server doing the same parse-and-reply work (signature check, JSON parse,
//!     JSON reply);
//! (b) resets against the real slapd through writeback's pipeline and OpenLDAP target,
//!     beside a raw ldap3 client doing the same Password Modify operations (with and
//!     without the lookup writeback does first) at the same concurrency.
//!
//! Run: `cargo bench -p writeback-tests --bench pipeline` (release). Prints a table.
//! `-- a` runs (a) alone, `-- b` (b) and (c) alone (for a profiler); `-- --allocs` adds
//! heap allocations per request to each row (the counting costs a little speed).
// Test code: a failed step stops the test with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod bench_support;

use bench_support::http::http_pipeline;
use bench_support::ldap::ldap_resets;
use bench_support::print_table;

fn main() {
    bench_support::allocs::enable_if_asked();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"));
    let quick = std::env::args().any(|a| a == "--quick");
    let only = |part: &str| std::env::args().any(|a| a == part);
    let all = !only("a") && !only("b");
    runtime.block_on(async move {
        let mut rows = Vec::new();
        if all || only("a") {
            rows.extend(http_pipeline(quick).await);
        }
        if all || only("b") {
            rows.extend(ldap_resets(quick).await);
        }
        print_table(&rows);
    });
}
