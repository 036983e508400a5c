//! The audit file's hash chain as an operator meets it: records written by the real
//! writer thread, the file edited the way someone covering tracks would (one byte
//! changed, a line deleted, two lines swapped, a line inserted), and `verify` naming
//! the first bad line each time; a clean chain verifies across a rotation.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

use writeback_host::audit::{AuditLog, AuditOptions, AuditRecord};
use writeback_host::audit_chain::{self, CheckpointKey};
use writeback_host::core::{CloudIdentity, Initiator, OperationKind, OutcomeCode};

fn record(i: usize) -> AuditRecord {
    AuditRecord {
        time: "2026-12-04T01:00:00Z".into(),
        request_id: format!("req-{i}"),
        source: "test".into(),
        operation: OperationKind::Reset,
        identity: CloudIdentity::default(),
        initiator: Initiator::default(),
        targets: vec![],
        outcome: OutcomeCode::Succeeded,
        message: format!("record {i}"),
        rules: vec![],
        admin_detail: None,
        duration_ms: 1,
        after_deadline: false,
        duplicate: false,
    }
}

/// Writes `n` records through the real writer (queue large enough to keep them all).
fn write(options: AuditOptions, n: usize) {
    let mut log = AuditLog::open_with(options, Arc::new(AtomicU64::new(0)), Arc::default(), n + 1)
        .unwrap_or_else(|e| panic!("{e}"));
    for i in 0..n {
        log.record(record(i));
    }
    log.close();
}

fn options(path: &Path) -> AuditOptions {
    AuditOptions {
        path: Some(path.to_path_buf()),
        ..AuditOptions::default()
    }
}

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{e}"))
        .lines()
        .map(String::from)
        .collect()
}

fn rewrite(path: &Path, lines: &[String]) {
    std::fs::write(path, lines.join("\n") + "\n").unwrap_or_else(|e| panic!("{e}"));
}

/// A file of 10 records (lines 2..=11 after the header), verified clean first.
fn clean_file(dir: &Path) -> PathBuf {
    let path = dir.join("audit.jsonl");
    write(options(&path), 10);
    let report = audit_chain::verify(std::slice::from_ref(&path), None);
    assert_eq!(report.problem, None, "a file just written must verify");
    assert_eq!(report.records, 10);
    path
}

fn first_bad_line(path: &Path) -> (usize, String) {
    let report = audit_chain::verify(&[path.to_path_buf()], None);
    let problem = report
        .problem
        .unwrap_or_else(|| panic!("the edited file verified as clean"));
    (problem.line, problem.what)
}

#[test]
fn one_changed_byte_is_named() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = clean_file(dir.path());
    let mut all = lines(&path);
    // Line 5 (record 3): "Succeeded" outcome flipped to another code, one byte changed.
    all[4] = all[4].replace("record 3", "record 8");
    rewrite(&path, &all);
    let (line, what) = first_bad_line(&path);
    // The chain breaks at the record after the changed one, which names line 5.
    assert_eq!(line, 6, "{what}");
    assert!(
        what.contains("line 5") && what.contains("changed"),
        "{what}"
    );
}

#[test]
fn a_deleted_line_is_named() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = clean_file(dir.path());
    let mut all = lines(&path);
    all.remove(6);
    rewrite(&path, &all);
    let (line, what) = first_bad_line(&path);
    assert_eq!(line, 7, "{what}");
    assert!(what.contains("removed"), "{what}");
}

#[test]
fn two_swapped_lines_are_named() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = clean_file(dir.path());
    let mut all = lines(&path);
    all.swap(3, 4);
    rewrite(&path, &all);
    let (line, what) = first_bad_line(&path);
    assert_eq!(line, 4, "{what}");
    assert!(what.contains("out of order"), "{what}");
}

#[test]
fn an_inserted_copy_is_named() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = clean_file(dir.path());
    let mut all = lines(&path);
    let copy = all[2].clone();
    all.insert(8, copy);
    rewrite(&path, &all);
    let (line, _) = first_bad_line(&path);
    assert_eq!(line, 9);
}

#[test]
fn removing_the_first_records_is_named() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = clean_file(dir.path());
    let all = lines(&path);
    rewrite(&path, &all[3..]);
    let (line, what) = first_bad_line(&path);
    assert_eq!(line, 1, "{what}");
}

#[test]
fn a_clean_chain_verifies_across_rotation_and_restart() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = dir.path().join("audit.jsonl");
    let opts = AuditOptions {
        rotate_bytes: Some(2_000),
        ..options(&path)
    };
    write(opts.clone(), 30);
    // A restart continues the chain of the file it finds.
    write(opts, 5);
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir.path())
        .unwrap_or_else(|e| panic!("{e}"))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p != &path)
        .collect();
    files.sort();
    assert!(
        files.len() >= 2,
        "2,000 bytes should rotate 35 records: {files:?}"
    );
    files.push(path.clone());
    let report = audit_chain::verify(&files, None);
    assert_eq!(report.problem, None);
    assert_eq!(report.records, 35, "every record is in exactly one file");
    // The last file alone verifies, with a note that it continues an earlier one.
    let alone = audit_chain::verify(std::slice::from_ref(&path), None);
    assert_eq!(alone.problem, None);
    assert!(
        alone.notes.iter().any(|n| n.contains("continues")),
        "{:?}",
        alone.notes
    );
    // Leaving a middle file out breaks the link between files.
    let mut gap = files.clone();
    gap.remove(1);
    let report = audit_chain::verify(&gap, None);
    let problem = report
        .problem
        .unwrap_or_else(|| panic!("a missing file went unnoticed"));
    assert_eq!(problem.line, 1);
    assert!(
        problem.what.contains("does not continue"),
        "{}",
        problem.what
    );
}

#[test]
fn keyed_checkpoints_verify_and_catch_a_rewritten_chain() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let key_path = dir.path().join("audit.key");
    std::fs::write(&key_path, "0123456789abcdef0123456789abcdef\n")
        .unwrap_or_else(|e| panic!("{e}"));
    let key = CheckpointKey::from_file(&key_path).unwrap_or_else(|e| panic!("{e}"));
    let path = dir.path().join("audit.jsonl");
    write(
        AuditOptions {
            checkpoint: Some((key.clone(), 4, Duration::from_secs(3600))),
            ..options(&path)
        },
        10,
    );
    let report = audit_chain::verify(std::slice::from_ref(&path), Some(&key));
    assert_eq!(report.problem, None);
    assert_eq!(report.records, 10);
    // After 4 and 8 records, and the rest at close.
    assert_eq!(report.checkpoints, 3);

    // Someone without the key changes record 1 and recomputes every hash after it:
    // the chain is whole again, but the first checkpoint no longer matches.
    let mut all = lines(&path);
    all[2] = all[2].replace("record 1", "record X");
    let mut prev = audit_chain::line_hash(all[1].as_bytes());
    for line in all.iter_mut().skip(2) {
        let cut = line
            .rfind(",\"prev_hash\"")
            .unwrap_or_else(|| panic!("no prev_hash in {line}"));
        let json = format!("{}}}", &line[..cut]);
        let (chained, hash) = audit_chain::chain_line(json.into_bytes(), &prev);
        *line = String::from_utf8(chained).unwrap_or_else(|e| panic!("{e}"));
        prev = hash;
    }
    rewrite(&path, &all);
    assert_eq!(
        audit_chain::verify(std::slice::from_ref(&path), None).problem,
        None,
        "without the key a recomputed chain looks whole"
    );
    let report = audit_chain::verify(std::slice::from_ref(&path), Some(&key));
    let problem = report
        .problem
        .unwrap_or_else(|| panic!("the rewrite went unnoticed"));
    assert_eq!(problem.line, 6, "the first checkpoint, after records 0..=3");
    assert!(problem.what.contains("checkpoint"), "{}", problem.what);
}

#[test]
fn a_short_key_is_refused_with_the_fix() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let key_path = dir.path().join("audit.key");
    std::fs::write(&key_path, "short").unwrap_or_else(|e| panic!("{e}"));
    let err = CheckpointKey::from_file(&key_path)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.contains("at least 16"), "{err}");
}
