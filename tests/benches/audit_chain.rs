//! The audit hash chain's cost per record, beside the same records written without it,
//! in the same run: serialise a typical record and append it to a buffer (the writer
//! thread's work before the fsync), with and without `chain_line` (SHA-256 of the line).
//! The fsync per batch is the same either way and is left out.
//!
//! Run: `cargo bench -p writeback-tests --bench audit_chain` (add `-- --quick` for a
//! short run). Aim (issue 18): the chain adds under 5 µs per record.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::hint::black_box;
use std::time::Instant;

use writeback_host::audit::AuditRecord;
use writeback_host::audit_chain::{chain_line, GENESIS};
use writeback_host::core::{CloudIdentity, Initiator, OperationKind, OutcomeCode};

fn record(i: usize) -> AuditRecord {
    AuditRecord {
        time: "2026-12-04T01:00:00.123456Z".into(),
        request_id: format!("3f1c2a9e-1b7d-4c2a-9f00-{i:012}"),
        source: "webhook".into(),
        operation: OperationKind::Reset,
        identity: CloudIdentity::default(),
        initiator: Initiator::default(),
        targets: vec![],
        outcome: OutcomeCode::Succeeded,
        message: "the password was reset in every directory".into(),
        rules: vec!["basic.length".into()],
        admin_detail: None,
        duration_ms: 42,
        after_deadline: false,
        duplicate: false,
    }
}

/// Nanoseconds per record over `n` records.
fn run(n: usize, chained: bool) -> f64 {
    let records: Vec<AuditRecord> = (0..256).map(record).collect();
    let mut out = Vec::with_capacity(1 << 20);
    let mut head = GENESIS.to_string();
    let started = Instant::now();
    for i in 0..n {
        let json = serde_json::to_vec(&records[i % records.len()]).unwrap_or_default();
        if chained {
            let (line, hash) = chain_line(json, &head);
            out.extend_from_slice(&line);
            head = hash;
        } else {
            out.extend_from_slice(&json);
        }
        out.push(b'\n');
        if out.len() > (1 << 20) {
            black_box(&out);
            out.clear();
        }
    }
    black_box(&out);
    black_box(&head);
    started.elapsed().as_nanos() as f64 / n as f64
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let n = if quick { 20_000 } else { 200_000 };
    // Warm up, then alternate so both see the same machine load.
    run(n / 10, false);
    run(n / 10, true);
    let (mut plain, mut chained) = (Vec::new(), Vec::new());
    for _ in 0..3 {
        plain.push(run(n, false));
        chained.push(run(n, true));
    }
    let best = |v: &[f64]| v.iter().cloned().fold(f64::INFINITY, f64::min);
    let (p, c) = (best(&plain), best(&chained));
    println!("audit record, serialise + append (best of 3 x {n} records)");
    println!("  without chain  {:>8.2} µs/record", p / 1000.0);
    println!("  with chain     {:>8.2} µs/record", c / 1000.0);
    println!(
        "  chain costs    {:>8.2} µs/record (ratio {:.2}x; aim < 5 µs)",
        (c - p) / 1000.0,
        c / p
    );
}
