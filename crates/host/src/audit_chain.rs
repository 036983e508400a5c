//! The audit file's hash chain: each line ends with `"prev_hash"`, the SHA-256 of the
//! line before it, so a changed, removed, inserted or reordered record breaks the chain
//! at a line [`verify`] can name. Each file opens with a `chain_start` header that
//! carries the last hash of the file before it (rotation keeps one chain across files),
//! and an optional keyed checkpoint (HMAC-SHA-256 of the chain head, key from a file)
//! every N records or minutes stops someone without the key from rewriting the whole
//! chain from the top.
//!
//! The hash covers the line's exact bytes (without its newline), so verification never
//! depends on how JSON is re-serialised.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use ring::{digest, hmac};

use crate::error::AuditError;

/// The `prev_hash` of the first file of a chain.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The field every chained line ends with.
pub const PREV_FIELD: &str = "prev_hash";

/// Lowercase hex of the SHA-256 of `line` (without its newline).
pub fn line_hash(line: &[u8]) -> String {
    hex(digest::digest(&digest::SHA256, line).as_ref())
}

fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// Appends `,"prev_hash":"<prev>"` inside the JSON object `json` (which must end with
/// `}`) and returns the finished line (no newline) and its hash, the next `prev`.
pub fn chain_line(mut json: Vec<u8>, prev: &str) -> (Vec<u8>, String) {
    if json.last() == Some(&b'}') {
        json.pop();
        if json.len() > 1 {
            json.push(b',');
        }
    } else {
        // Not an object: wrap it so the line is still one JSON object.
        let mut wrapped = b"{\"record\":".to_vec();
        wrapped.extend_from_slice(&json);
        wrapped.push(b',');
        json = wrapped;
    }
    json.extend_from_slice(b"\"prev_hash\":\"");
    json.extend_from_slice(prev.as_bytes());
    json.extend_from_slice(b"\"}");
    let hash = line_hash(&json);
    (json, hash)
}

/// The key for checkpoints, read from a file (its bytes, trailing newline removed).
#[derive(Clone)]
pub struct CheckpointKey(hmac::Key);

impl CheckpointKey {
    pub fn from_file(path: &Path) -> Result<CheckpointKey, AuditError> {
        let mut bytes = std::fs::read(path).map_err(|source| AuditError::ReadKey {
            path: path.to_path_buf(),
            source,
        })?;
        while bytes.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
            bytes.pop();
        }
        if bytes.len() < 16 {
            return Err(AuditError::ShortKey {
                path: path.to_path_buf(),
                len: bytes.len(),
            });
        }
        Ok(CheckpointKey(hmac::Key::new(hmac::HMAC_SHA256, &bytes)))
    }

    /// The HMAC over the chain head a checkpoint vouches for.
    pub fn sign(&self, head: &str) -> String {
        hex(hmac::sign(&self.0, head.as_bytes()).as_ref())
    }

    fn check(&self, head: &str, mac: &str) -> bool {
        // Constant time: compare the MAC bytes with ring's verify.
        let Some(raw) = unhex(mac) else { return false };
        hmac::verify(&self.0, head.as_bytes(), &raw).is_ok()
    }
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// The JSON (without `prev_hash`) of the header that opens every file.
pub fn start_json(time: &str, previous_file: Option<&str>) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "chain_start": true,
        "time": time,
        "previous_file": previous_file,
    }))
    .unwrap_or_else(|_| b"{\"chain_start\":true}".to_vec())
}

/// The JSON (without `prev_hash`) of a keyed checkpoint over the chain head `head`.
pub fn checkpoint_json(time: &str, records: u64, head: &str, key: &CheckpointKey) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "checkpoint": { "time": time, "records": records, "hmac": key.sign(head) },
    }))
    .unwrap_or_else(|_| b"{\"checkpoint\":{}}".to_vec())
}

/// What `audit verify` found in the files it was given, in order.
#[derive(Debug, Default)]
pub struct Report {
    /// Records (not headers or checkpoints) that verified.
    pub records: u64,
    /// Keyed checkpoints that verified.
    pub checkpoints: u64,
    /// Notes that are not failures (e.g. the first file continues an earlier one).
    pub notes: Vec<String>,
    /// The first problem: file, 1-based line, and what is wrong there.
    pub problem: Option<Problem>,
    /// The last line's hash: the head to compare with a copy kept elsewhere.
    pub head: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub file: PathBuf,
    pub line: usize,
    pub what: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} line {}: {}",
            self.file.display(),
            self.line,
            self.what
        )
    }
}

/// Checks the chain through `files` (oldest first); stops at the first problem.
/// With `key`, every checkpoint's HMAC is checked too.
pub fn verify(files: &[PathBuf], key: Option<&CheckpointKey>) -> Report {
    let mut report = Report {
        head: GENESIS.to_string(),
        ..Report::default()
    };
    let mut prev_file_head: Option<(String, PathBuf)> = None;
    for file in files {
        let problem = |line: usize, what: String| Problem {
            file: file.clone(),
            line,
            what,
        };
        let bytes = match std::fs::read(file) {
            Ok(b) => b,
            Err(e) => {
                report.problem = Some(problem(0, format!("cannot read the file: {e}")));
                return report;
            }
        };
        let mut lines: Vec<&[u8]> = bytes.split(|b| *b == b'\n').collect();
        if lines.last().is_some_and(|l| l.is_empty()) {
            lines.pop();
        }
        let hashes: Vec<String> = lines.iter().map(|l| line_hash(l)).collect();
        let mut where_is: HashMap<&str, usize> = HashMap::new();
        for (i, h) in hashes.iter().enumerate() {
            where_is.entry(h.as_str()).or_insert(i);
        }
        for (i, line) in lines.iter().enumerate() {
            let n = i + 1;
            let value: Option<serde_json::Value> = serde_json::from_slice(line).ok();
            let Some(prev) = value
                .as_ref()
                .and_then(|v| v.get(PREV_FIELD))
                .and_then(|p| p.as_str())
                .filter(|_| line.ends_with(b"\"}"))
            else {
                report.problem = Some(problem(
                    n,
                    "not a chained audit record (no prev_hash at its end): this line was \
                     changed, cut short, or inserted"
                        .into(),
                ));
                return report;
            };
            let is_start = value
                .as_ref()
                .and_then(|v| v.get("chain_start"))
                .is_some_and(|s| s == &serde_json::Value::Bool(true));
            if i == 0 {
                if !is_start {
                    report.problem = Some(problem(
                        n,
                        "the file does not open with its chain_start header: its first \
                         records were removed, or it was not written by writeback"
                            .into(),
                    ));
                    return report;
                }
                match &prev_file_head {
                    Some((head, before)) if prev != head => {
                        report.problem = Some(problem(
                            n,
                            format!(
                                "this file does not continue {}: its header names a different \
                                 last record (records were removed from the end of {}, or \
                                 the files are out of order or not consecutive)",
                                before.display(),
                                before.display()
                            ),
                        ));
                        return report;
                    }
                    Some(_) => {}
                    None if prev != GENESIS => {
                        let named = value
                            .as_ref()
                            .and_then(|v| v.get("previous_file"))
                            .and_then(|p| p.as_str())
                            .unwrap_or("an earlier file");
                        report.notes.push(format!(
                            "{} continues {named}; give that file first to check the link",
                            file.display()
                        ));
                    }
                    None => {}
                }
            } else {
                let expected = &hashes[i - 1];
                if prev != expected {
                    let what = match where_is.get(prev) {
                        Some(&j) if j > i => format!(
                            "out of order: this record belongs after line {} (records were \
                             reordered)",
                            j + 1
                        ),
                        Some(&j) if j == i => {
                            "this record names itself as the one before it: it was forged".into()
                        }
                        Some(&j) => format!(
                            "this record follows line {} in the chain: line(s) {}..{} were \
                             inserted or moved here",
                            j + 1,
                            j + 2,
                            i
                        ),
                        None => format!(
                            "the record before it (line {i}) was changed, or records between \
                             line {i} and this one were removed"
                        ),
                    };
                    report.problem = Some(problem(n, what));
                    return report;
                }
                if is_start {
                    report.problem = Some(problem(
                        n,
                        "a chain_start header in the middle of a file: files were joined or \
                         a line was inserted"
                            .into(),
                    ));
                    return report;
                }
            }
            if let Some(cp) = value.as_ref().and_then(|v| v.get("checkpoint")) {
                if let Some(key) = key {
                    let mac = cp.get("hmac").and_then(|m| m.as_str()).unwrap_or_default();
                    if !key.check(prev, mac) {
                        report.problem = Some(problem(
                            n,
                            "the keyed checkpoint does not match the chain before it (or \
                             the key): the records before it were rewritten, or the key is \
                             not the one the writer used"
                                .into(),
                        ));
                        return report;
                    }
                    report.checkpoints += 1;
                }
            } else if !is_start {
                report.records += 1;
            }
        }
        let head = hashes
            .last()
            .cloned()
            .unwrap_or_else(|| GENESIS.to_string());
        if lines.is_empty() {
            report.notes.push(format!("{} is empty", file.display()));
        } else {
            report.head = head.clone();
            prev_file_head = Some((head, file.clone()));
        }
    }
    report
}

/// The hash of the last complete line of `path` (the chain head to continue from), or
/// `None` for an empty or missing file. A last line without its newline (cut short by
/// a crash) is not a chain head; the caller starts a new line after it.
pub fn last_line_hash(path: &Path) -> std::io::Result<Option<(String, bool)>> {
    // A device (e.g. /dev/null) is not read: it has no chain to continue.
    if std::fs::metadata(path).is_ok_and(|m| !m.is_file()) {
        return Ok(None);
    }
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    if bytes.is_empty() {
        return Ok(None);
    }
    let complete = bytes.ends_with(b"\n");
    let body = bytes.strip_suffix(b"\n").unwrap_or(&bytes);
    let last = body.rsplit(|b| *b == b'\n').next().unwrap_or(body);
    Ok(Some((line_hash(last), complete)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chain_line_keeps_valid_json_and_links() {
        let (line, hash) = chain_line(br#"{"a":1}"#.to_vec(), GENESIS);
        let v: serde_json::Value = serde_json::from_slice(&line).unwrap_or_default();
        assert_eq!(v["a"], 1);
        assert_eq!(v[PREV_FIELD], GENESIS);
        assert_eq!(hash, line_hash(&line));
        let (empty, _) = chain_line(b"{}".to_vec(), &hash);
        let v: serde_json::Value = serde_json::from_slice(&empty).unwrap_or_default();
        assert_eq!(v[PREV_FIELD], hash.as_str());
    }

    #[test]
    fn unhex_round_trips() {
        assert_eq!(unhex(&hex(&[0, 1, 254, 255])), Some(vec![0, 1, 254, 255]));
        assert_eq!(unhex("zz"), None);
        assert_eq!(unhex("abc"), None);
    }
}
