//! Load generation, the baselines and the table.

pub mod allocs;
pub mod http;
pub mod ldap;
pub mod null;

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Clone)]
pub struct Row {
    pub case: String,
    pub concurrency: usize,
    pub requests: usize,
    pub per_second: f64,
    pub p50: Duration,
    pub p99: Duration,
    /// Ratio of this row's rate to its baseline's, when it has one.
    pub ratio: Option<f64>,
    /// Heap allocations per operation in the whole process (load generator included),
    /// when the bench runs with `--allocs`.
    pub allocs: Option<f64>,
}

/// Runs `total` operations with `concurrency` workers; `op(i)` performs operation i and
/// says whether it succeeded. Failures abort the benchmark: a fast failure is no result.
pub async fn measure<F, Fut>(case: &str, concurrency: usize, total: usize, op: F) -> Row
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), String>> + Send,
{
    let op = Arc::new(op);
    let next = Arc::new(AtomicUsize::new(0));
    let allocs_before = allocs::count();
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..concurrency {
        let (op, next) = (op.clone(), next.clone());
        workers.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= total {
                    return Ok::<_, String>(latencies);
                }
                let t = Instant::now();
                op(i).await?;
                latencies.push(t.elapsed());
            }
        }));
    }
    let mut all = Vec::with_capacity(total);
    for w in workers {
        match w.await {
            Ok(Ok(l)) => all.extend(l),
            Ok(Err(e)) => panic!("{case}: an operation failed: {e}"),
            Err(e) => panic!("{case}: a worker died: {e}"),
        }
    }
    let elapsed = started.elapsed();
    let allocs = allocs::count()
        .zip(allocs_before)
        .map(|(after, before)| after.saturating_sub(before) as f64 / total.max(1) as f64);
    all.sort();
    let pick = |q: f64| {
        all.get(((all.len() as f64 - 1.0) * q) as usize)
            .copied()
            .unwrap_or_default()
    };
    Row {
        case: case.to_string(),
        concurrency,
        requests: total,
        per_second: total as f64 / elapsed.as_secs_f64(),
        p50: pick(0.50),
        p99: pick(0.99),
        ratio: None,
        allocs,
    }
}

/// Runs baseline and subject alternately `rounds` times and keeps each one's best
/// round, so a noisy neighbour hurts both alike; sets the subject's ratio.
pub async fn compare<B, S, BF, SF>(rounds: usize, mut baseline: B, mut subject: S) -> (Row, Row)
where
    B: FnMut() -> BF,
    S: FnMut() -> SF,
    BF: Future<Output = Row>,
    SF: Future<Output = Row>,
{
    let mut best_b: Option<Row> = None;
    let mut best_s: Option<Row> = None;
    for _ in 0..rounds.max(1) {
        let b = baseline().await;
        if best_b.as_ref().is_none_or(|x| b.per_second > x.per_second) {
            best_b = Some(b);
        }
        let s = subject().await;
        if best_s.as_ref().is_none_or(|x| s.per_second > x.per_second) {
            best_s = Some(s);
        }
    }
    let (b, mut s) = match (best_b, best_s) {
        (Some(b), Some(s)) => (b, s),
        _ => unreachable!("at least one round ran"),
    };
    s.ratio = Some(s.per_second / b.per_second);
    (b, s)
}

pub fn print_table(rows: &[Row]) {
    let with_allocs = rows.iter().any(|r| r.allocs.is_some());
    println!(
        "\n{:<58} {:>5} {:>7} {:>10} {:>10} {:>10} {:>7}{}",
        "case",
        "conc",
        "reqs",
        "req/s",
        "p50 ms",
        "p99 ms",
        "ratio",
        if with_allocs { "  allocs/req" } else { "" }
    );
    for r in rows {
        let allocs = match r.allocs {
            Some(a) if with_allocs => format!(" {a:>11.1}"),
            _ => String::new(),
        };
        println!(
            "{:<58} {:>5} {:>7} {:>10.0} {:>10.2} {:>10.2} {:>7}{allocs}",
            r.case,
            r.concurrency,
            r.requests,
            r.per_second,
            r.p50.as_secs_f64() * 1e3,
            r.p99.as_secs_f64() * 1e3,
            r.ratio.map(|x| format!("{x:.2}")).unwrap_or_default()
        );
    }
}
