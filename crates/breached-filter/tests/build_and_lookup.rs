//! Builds filter files from generated HIBP-format downloads and checks what a user
//! relies on: every listed password is found, unlisted ones rarely are, damaged files
//! are refused, bad input names its line.
// Test code: a failed step stops the test with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::fmt::Write as _;
use std::path::Path;

use writeback_breached_filter::{build, build::build_with_segment_target, BreachedFilter, Error};

fn sha1_hex(s: &str) -> String {
    let d = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, s.as_bytes());
    d.as_ref()
        .iter()
        .fold(String::with_capacity(40), |mut acc, b| {
            let _ = write!(acc, "{b:02X}");
            acc
        })
}

/// Writes `n` lines `SHA1("listed-i"):count` with count = i % 7 + 1, CRLF endings.
fn write_download(path: &Path, n: usize) {
    let mut text = String::with_capacity(n * 46);
    for i in 0..n {
        let _ = write!(
            text,
            "{}:{}\r\n",
            sha1_hex(&format!("listed-{i}")),
            i % 7 + 1
        );
    }
    std::fs::write(path, text).unwrap();
}

#[test]
fn every_listed_password_is_found_and_false_positives_are_rare() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("pwned.txt");
    let output = dir.path().join("pwned.bin");
    let n = 200_000;
    write_download(&input, n);
    // a small segment target makes this exercise many buckets and segments
    let stats = build_with_segment_target(&input, &output, 1, false, 20_000).unwrap();
    assert_eq!(stats.lines, n as u64);
    assert_eq!(stats.stored, n as u64);
    assert!(stats.segments >= 8, "{stats:?}");
    let filter = BreachedFilter::open(&output, true).unwrap();
    assert_eq!(filter.len(), n as u64);
    for i in 0..n {
        assert!(
            filter.contains_password(&format!("listed-{i}")),
            "listed-{i} not found"
        );
    }
    let probes = 1_000_000;
    let hits = (0..probes)
        .filter(|i| filter.contains_password(&format!("unlisted-{i}")))
        .count();
    // expected 1e6 / 65536 ≈ 15; 40 would be over 1 in 25,000
    assert!(hits < 40, "{hits} false positives in {probes}");
}

#[test]
fn min_count_drops_rare_hashes() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("pwned.txt");
    let output = dir.path().join("pwned.bin");
    let n = 50_000;
    write_download(&input, n);
    let stats = build(&input, &output, 4, false).unwrap();
    // counts 1..=7 cycle: counts 4..=7 are kept
    let kept = (0..n).filter(|i| i % 7 + 1 >= 4).count() as u64;
    assert_eq!(stats.kept, kept);
    assert_eq!(stats.below_min_count, n as u64 - kept);
    let filter = BreachedFilter::open(&output, true).unwrap();
    assert_eq!(filter.min_count(), 4);
    let dropped_found = (0..n)
        .filter(|i| i % 7 + 1 < 4)
        .filter(|i| filter.contains_password(&format!("listed-{i}")))
        .count();
    assert!(dropped_found < 5, "{dropped_found}");
    assert!((0..n)
        .filter(|i| i % 7 + 1 >= 4)
        .all(|i| filter.contains_password(&format!("listed-{i}"))));
}

#[test]
fn damaged_and_truncated_files_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("pwned.txt");
    let output = dir.path().join("pwned.bin");
    write_download(&input, 10_000);
    build(&input, &output, 1, false).unwrap();
    let good = std::fs::read(&output).unwrap();

    let mut flipped = good.clone();
    let last = flipped.len() - 1;
    flipped[last] ^= 1;
    let bad = dir.path().join("flipped.bin");
    std::fs::write(&bad, &flipped).unwrap();
    let err = BreachedFilter::open(&bad, true).err().unwrap().to_string();
    assert!(err.contains("checksum"), "{err}");

    let cut = dir.path().join("cut.bin");
    std::fs::write(&cut, &good[..good.len() / 2]).unwrap();
    let err = BreachedFilter::open(&cut, false).err().unwrap().to_string();
    assert!(err.contains("truncated"), "{err}");

    let other = dir.path().join("other.bin");
    std::fs::write(&other, b"not a filter at all, just some text padding it out to 128 bytes ........................................").unwrap();
    let err = BreachedFilter::open(&other, true)
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("wrong magic"), "{err}");
}

#[test]
fn bad_input_names_the_line_and_leaves_no_output() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("ntlm.txt");
    let output = dir.path().join("out.bin");
    let good = format!("{}:3\n", sha1_hex("a"));
    std::fs::write(
        &input,
        format!("{good}{good}00000011059407D743D40689940F858C:3\n"),
    )
    .unwrap();
    match build(&input, &output, 1, false) {
        Err(Error::Input { line, message }) => {
            assert_eq!(line, 3);
            assert!(message.contains("NTLM"), "{message}");
        }
        other => panic!("expected an input error, got {other:?}"),
    }
    assert!(!output.exists());
}

#[test]
fn an_empty_download_gives_a_filter_that_finds_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("empty.txt");
    let output = dir.path().join("empty.bin");
    std::fs::write(&input, "").unwrap();
    let stats = build(&input, &output, 1, false).unwrap();
    assert_eq!(stats.stored, 0);
    let filter = BreachedFilter::open(&output, true).unwrap();
    assert!(filter.is_empty());
    assert!(!filter.contains_password("anything"));
}

/// Offsets and sizes in the header and the directory are read from the file: values
/// made to overflow (found by the `breached_filter` fuzz target) are refused as a
/// damaged file, not a panic.
#[test]
fn offsets_made_to_overflow_are_refused_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("pwned.txt");
    let output = dir.path().join("pwned.bin");
    write_download(&input, 1_000);
    build(&input, &output, 1, false).unwrap();
    let good = std::fs::read(&output).unwrap();
    let u64_at = |b: &[u8], at: usize| u64::from_le_bytes(b[at..at + 8].try_into().unwrap());
    let directory = u64_at(&good, 48) as usize;

    // (where, value): the bucket map, directory and slot offsets, the slot length,
    // and the first segment's first slot.
    let hostile = [
        (40, u64::MAX - 3),
        (48, u64::MAX - 31),
        (56, u64::MAX - 1),
        (64, u64::MAX - 1),
        (directory + 8, u64::MAX - 7),
    ];
    for (at, value) in hostile {
        let mut bytes = good.clone();
        bytes[at..at + 8].copy_from_slice(&value.to_le_bytes());
        let path = dir.path().join(format!("hostile-{at}.bin"));
        std::fs::write(&path, &bytes).unwrap();
        for verify in [false, true] {
            let err = BreachedFilter::open(&path, verify)
                .err()
                .unwrap_or_else(|| panic!("offset {at} = {value:#x} was accepted"))
                .to_string();
            assert!(err.contains("rebuild it"), "{err}");
        }
    }
}
