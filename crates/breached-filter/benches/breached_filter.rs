//! Breached-password filter benchmark: builds filters from generated HIBP-format
//! downloads and prints a table of file size, build time, peak build memory, lookup
//! latency and measured false-positive rate, beside a baseline measured in the same run
//! (a sorted array of the same 64-bit keys, binary-searched: 8 bytes per hash).
//!
//! ```text
//! cargo bench -p writeback-breached-filter --bench breached_filter
//! BREACHED_BENCH_SIZES=10000000,100000000 cargo bench -p writeback-breached-filter --bench breached_filter
//! ```
//! Generated inputs are kept in `BREACHED_BENCH_DIR` (default
//! /tmp/writeback-breached-bench) so a second run does not regenerate them.
// Test code: a failed step stops the test with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use writeback_breached_filter::{build, BreachedFilter};

/// splitmix64: a fast deterministic generator, so members can be regenerated.
struct Gen(u64);

impl Gen {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A random 20-byte "SHA-1" and an HIBP-like count (mostly small).
    fn entry(&mut self) -> ([u8; 20], u64) {
        let (a, b, c) = (self.next(), self.next(), self.next());
        let mut d = [0u8; 20];
        d[..8].copy_from_slice(&a.to_be_bytes());
        d[8..16].copy_from_slice(&b.to_be_bytes());
        d[16..].copy_from_slice(&c.to_be_bytes()[..4]);
        let count = 1 + (c & 0xffff_ffff) % 97 * ((c >> 40) % 3 + 1);
        (d, count)
    }
}

const MEMBER_SEED: u64 = 0x1234_5678;
const OTHER_SEED: u64 = 0xdead_beef;

fn generate(path: &Path, n: u64) -> std::io::Result<()> {
    let hex = b"0123456789ABCDEF";
    let mut out = BufWriter::with_capacity(1 << 22, File::create(path)?);
    let mut g = Gen(MEMBER_SEED);
    let mut line = Vec::with_capacity(64);
    for _ in 0..n {
        let (d, count) = g.entry();
        line.clear();
        for b in d {
            line.push(hex[(b >> 4) as usize]);
            line.push(hex[(b & 15) as usize]);
        }
        line.push(b':');
        line.extend_from_slice(count.to_string().as_bytes());
        line.extend_from_slice(b"\r\n");
        out.write_all(&line)?;
    }
    out.flush()
}

fn vm_hwm_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

/// Child mode: build, then print `stored file_bytes segments peak_kib`.
fn child_build(input: &str, output: &str) {
    match build(Path::new(input), Path::new(output), 1, false) {
        Ok(s) => println!(
            "{} {} {} {}",
            s.stored,
            s.file_bytes,
            s.segments,
            vm_hwm_kib()
        ),
        Err(e) => {
            eprintln!("build failed: {e}");
            std::process::exit(1);
        }
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(i).copied().unwrap_or_default()
}

fn timed<F: FnMut(usize) -> bool>(n: usize, mut f: F) -> (Duration, Duration, usize) {
    let mut times = Vec::with_capacity(n);
    let mut hits = 0;
    for i in 0..n {
        let t = Instant::now();
        hits += usize::from(std::hint::black_box(f(i)));
        times.push(t.elapsed());
    }
    times.sort_unstable();
    (percentile(&times, 0.5), percentile(&times, 0.99), hits)
}

fn ns(d: Duration) -> String {
    format!("{:.0} ns", d.as_nanos() as f64)
}

struct Row {
    n: u64,
    file_bytes: u64,
    build: Duration,
    peak_mib: f64,
    input_bytes: u64,
    open_verify: Duration,
    hit_p50: Duration,
    hit_p99: Duration,
    miss_p50: Duration,
    miss_p99: Duration,
    pw_p50: Duration,
    pw_p99: Duration,
    members_found: String,
    fpr_hits: usize,
    fpr_probes: usize,
    base_p50: Duration,
    base_p99: Duration,
}

fn run_size(dir: &Path, n: u64) -> Row {
    let input = dir.join(format!("hibp-{n}.txt"));
    if !input.exists() {
        eprintln!("generating {n} hashes into {} ...", input.display());
        let t = Instant::now();
        if let Err(e) = generate(&input, n) {
            eprintln!("cannot generate input: {e}");
            std::process::exit(1);
        }
        eprintln!("  generated in {:.1} s", t.elapsed().as_secs_f64());
    }
    let input_bytes = std::fs::metadata(&input).map(|m| m.len()).unwrap_or(0);
    let output = dir.join(format!("hibp-{n}.bin"));
    eprintln!("building {} in a child process ...", output.display());
    let exe = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("breached_filter"));
    let t = Instant::now();
    let out = Command::new(exe)
        .arg("--child-build")
        .arg(&input)
        .arg(&output)
        .output()
        .unwrap_or_else(|e| {
            eprintln!("cannot run the child build: {e}");
            std::process::exit(1)
        });
    let build_time = t.elapsed();
    if !out.status.success() {
        eprintln!("{}", String::from_utf8_lossy(&out.stderr));
        std::process::exit(1);
    }
    let fields: Vec<u64> = String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .filter_map(|f| f.parse().ok())
        .collect();
    let (file_bytes, peak_kib) = (
        fields.get(1).copied().unwrap_or(0),
        fields.get(3).copied().unwrap_or(0),
    );

    let t = Instant::now();
    let filter = BreachedFilter::open(&output, true).unwrap_or_else(|e| {
        eprintln!("{e}");
        std::process::exit(1)
    });
    let open_verify = t.elapsed();

    // Members: every k-th generated entry (regenerated from the same seed).
    let sample = 1_000_000usize.min(n as usize);
    let stride = (n as usize / sample).max(1);
    let mut g = Gen(MEMBER_SEED);
    let mut members = Vec::with_capacity(sample);
    let mut keys = Vec::with_capacity(n as usize);
    for i in 0..n as usize {
        let (d, _) = g.entry();
        keys.push(u64::from_be_bytes([
            d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7],
        ]));
        if i % stride == 0 && members.len() < sample {
            members.push(d);
        }
    }
    let found = members.iter().filter(|d| filter.contains_sha1(d)).count();
    let members_found = format!("{found}/{}", members.len());
    let mut g = Gen(OTHER_SEED);
    let others: Vec<[u8; 20]> = (0..sample).map(|_| g.entry().0).collect();

    let (hit_p50, hit_p99, _) = timed(members.len(), |i| filter.contains_sha1(&members[i]));
    let (miss_p50, miss_p99, _) = timed(others.len(), |i| filter.contains_sha1(&others[i]));
    let passwords: Vec<String> = (0..sample).map(|i| format!("Candidate-{i}!")).collect();
    let (pw_p50, pw_p99, _) = timed(passwords.len(), |i| filter.contains_password(&passwords[i]));

    let fpr_probes = 20_000_000usize;
    let mut g = Gen(OTHER_SEED ^ 0x55);
    let fpr_hits = (0..fpr_probes)
        .filter(|_| filter.contains_sha1(&g.entry().0))
        .count();

    // Baseline: the same keys sorted in memory, binary search.
    keys.sort_unstable();
    let member_keys: Vec<u64> = members
        .iter()
        .map(|d| u64::from_be_bytes([d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7]]))
        .collect();
    let (base_p50, base_p99, _) = timed(member_keys.len(), |i| {
        keys.binary_search(&member_keys[i]).is_ok()
    });
    drop(keys);

    Row {
        n,
        file_bytes,
        build: build_time,
        peak_mib: peak_kib as f64 / 1024.0,
        input_bytes,
        open_verify,
        hit_p50,
        hit_p99,
        miss_p50,
        miss_p99,
        pw_p50,
        pw_p99,
        members_found,
        fpr_hits,
        fpr_probes,
        base_p50,
        base_p99,
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--child-build") {
        if let (Some(input), Some(output)) = (args.get(i + 1), args.get(i + 2)) {
            child_build(input, output);
        }
        return;
    }
    let sizes: Vec<u64> = std::env::var("BREACHED_BENCH_SIZES")
        .unwrap_or_else(|_| "10000000".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let dir = PathBuf::from(
        std::env::var("BREACHED_BENCH_DIR")
            .unwrap_or_else(|_| "/tmp/writeback-breached-bench".into()),
    );
    if let Err(e) = std::fs::create_dir_all(&dir) {
        eprintln!("cannot create {}: {e}", dir.display());
        std::process::exit(1);
    }
    let rows: Vec<Row> = sizes.iter().map(|&n| run_size(&dir, n)).collect();

    println!();
    println!("| hashes | input | file | bytes/hash | build | build rate | peak build RSS | open+verify | members found | FPR measured | lookup hit p50/p99 | miss p50/p99 | SHA-1+lookup p50/p99 | baseline sorted u64 (8 B/hash) p50/p99 | filter p50 / baseline p50 |");
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    for r in &rows {
        let fpr = r.fpr_hits as f64 / r.fpr_probes as f64;
        println!(
            "| {} | {:.2} GB | {:.1} MB | {:.3} | {:.1} s | {:.2} M/s | {:.1} MiB | {:.0} ms | {} | {:.2e} (1 in {:.0}; {} of {}) | {} / {} | {} / {} | {} / {} | {} / {} | {:.2} |",
            r.n,
            r.input_bytes as f64 / 1e9,
            r.file_bytes as f64 / 1e6,
            r.file_bytes as f64 / r.n as f64,
            r.build.as_secs_f64(),
            r.n as f64 / r.build.as_secs_f64() / 1e6,
            r.peak_mib,
            r.open_verify.as_secs_f64() * 1e3,
            r.members_found,
            fpr,
            if r.fpr_hits == 0 { f64::INFINITY } else { 1.0 / fpr },
            r.fpr_hits,
            r.fpr_probes,
            ns(r.hit_p50),
            ns(r.hit_p99),
            ns(r.miss_p50),
            ns(r.miss_p99),
            ns(r.pw_p50),
            ns(r.pw_p99),
            ns(r.base_p50),
            ns(r.base_p99),
            r.hit_p50.as_nanos() as f64 / r.base_p50.as_nanos().max(1) as f64,
        );
    }
    if let Some(r) = rows.iter().max_by_key(|r| r.n) {
        let scale = 1e9 / r.n as f64;
        println!();
        println!(
            "Extrapolated to 1,000,000,000 hashes (from {}): file {:.2} GB ({:.3} B/hash), build {:.0} s ({:.1} min, linear in the input), \
             peak build memory bounded by one segment plus the bucket buffers, not by the corpus: at most ~2.5 x 2^20 keys x ~40 B \
             + 2^10 buckets x 32 KiB = ~130 MiB (a bound, not a measurement), lookups as measured when the file is in the page cache \
             (it needs RAM equal to the file size for that).",
            r.n,
            r.file_bytes as f64 * scale / 1e9,
            r.file_bytes as f64 / r.n as f64,
            r.build.as_secs_f64() * scale,
            r.build.as_secs_f64() * scale / 60.0,
        );
    }
}
