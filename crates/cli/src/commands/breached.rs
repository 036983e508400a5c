//! `writeback breached build|info`: the offline breached-password file.

use std::io::IsTerminal;
use std::path::PathBuf;

use clap::Subcommand;
use writeback_breached_filter::BreachedFilter;

#[derive(Subcommand)]
pub enum BreachedCommand {
    /// Build a filter file from the Have I Been Pwned "Pwned Passwords" SHA-1 download
    /// (`HASH:COUNT` lines). About 2.26 bytes per hash; memory stays under ~200 MB.
    Build {
        /// The downloaded text file (SHA-1 version, not NTLM).
        #[arg(long)]
        input: PathBuf,
        /// The filter file to write (replaced atomically when done).
        #[arg(long)]
        output: PathBuf,
        /// Keep only hashes seen at least this many times.
        #[arg(long, default_value_t = 1)]
        min_count: u64,
        /// No progress bar (it is also hidden when stderr is not a terminal).
        #[arg(long)]
        no_progress: bool,
    },
    /// Check a filter file (structure and checksum) and print what it holds.
    Info {
        /// The filter file.
        file: PathBuf,
    },
}

pub fn run(command: BreachedCommand) -> i32 {
    match command {
        BreachedCommand::Build {
            input,
            output,
            min_count,
            no_progress,
        } => {
            let progress = !no_progress && std::io::stderr().is_terminal();
            match writeback_breached_filter::build(&input, &output, min_count, progress) {
                Ok(s) => {
                    println!("wrote {}", output.display());
                    println!("  lines read:           {}", s.lines);
                    println!("  below --min-count:    {}", s.below_min_count);
                    println!("  hashes stored:        {}", s.stored);
                    println!(
                        "  file size:            {} bytes ({:.3} bytes per hash)",
                        s.file_bytes,
                        s.bytes_per_hash()
                    );
                    println!("  segments:             {}", s.segments);
                    println!("  build time:           {:.1} s", s.elapsed.as_secs_f64());
                    println!("  false-positive rate:  1 in 65,536 (16-bit fingerprints)");
                    0
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    1
                }
            }
        }
        BreachedCommand::Info { file } => match BreachedFilter::open(&file, true) {
            Ok(f) => {
                println!("{}: valid (checksum verified)", file.display());
                println!("  hashes stored:  {}", f.len());
                println!("  min count:      {}", f.min_count());
                println!("  file size:      {} bytes", f.file_len());
                0
            }
            Err(e) => {
                eprintln!("error: {e}");
                1
            }
        },
    }
}
