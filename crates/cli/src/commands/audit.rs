//! `writeback audit verify FILE...`: checks the audit files' hash chain (and, with
//! `--key`, their keyed checkpoints) and names the first record that was changed,
//! removed, inserted or reordered. Exit 0 when whole, 1 at the first problem, 2 when
//! the key cannot be read.

use std::path::PathBuf;

use writeback_host::audit_chain::{self, CheckpointKey};

#[derive(clap::Subcommand)]
pub enum AuditCommand {
    /// Verify audit files, oldest first (e.g. `audit.jsonl.2026* audit.jsonl`).
    Verify {
        /// The files, oldest first; rotated files sort by name.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// The checkpoint key file ([audit] checkpoint_key_file) to check checkpoints.
        #[arg(long)]
        key: Option<PathBuf>,
    },
}

pub fn run(command: AuditCommand) -> i32 {
    match command {
        AuditCommand::Verify { files, key } => verify(&files, key),
    }
}

fn verify(files: &[PathBuf], key: Option<PathBuf>) -> i32 {
    let key = match key.map(|k| CheckpointKey::from_file(&k)).transpose() {
        Ok(k) => k,
        Err(e) => {
            eprintln!("error: {e}");
            return 2;
        }
    };
    let report = audit_chain::verify(files, key.as_ref());
    for note in &report.notes {
        println!("note: {note}");
    }
    match &report.problem {
        Some(problem) => {
            println!(
                "FAILED: {problem}\n{} records verified before it. Compare the file with its \
                 backup from that line on.",
                report.records
            );
            1
        }
        None => {
            println!(
                "ok: {} records in {} file(s), {} keyed checkpoint(s) verified{}; chain head {}",
                report.records,
                files.len(),
                report.checkpoints,
                if key.is_none() {
                    " (no --key: checkpoints not checked)"
                } else {
                    ""
                },
                report.head
            );
            0
        }
    }
}
