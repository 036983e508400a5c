//! Opening a breached-password filter file (crates/breached-filter filter.rs and
//! format.rs) that is damaged or made to hurt: any bytes must open or give a
//! "damaged, rebuild it" error, and an open filter must answer every lookup.
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use writeback_breached_filter::BreachedFilter;

/// One file per fuzzing process, written for each input and removed after it; in
/// memory (/dev/shm) where there is one, which is many times faster than a disk.
fn scratch() -> &'static PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        let shm = std::path::Path::new("/dev/shm");
        let dir = if shm.is_dir() {
            shm.to_path_buf()
        } else {
            std::env::temp_dir()
        };
        dir.join(format!("writeback-fuzz-{}.bin", std::process::id()))
    })
}

fuzz_target!(|data: &[u8]| {
    let path = scratch();
    if let Err(e) = std::fs::write(path, data) {
        panic!("cannot write {}: {e}", path.display());
    }
    let checked = BreachedFilter::open(path, true);
    match BreachedFilter::open(path, false) {
        Ok(filter) => {
            assert_eq!(filter.file_len(), data.len() as u64);
            // Lookups read only inside the file, whatever its tables say.
            for key in [
                0u64,
                1,
                u64::MAX,
                0x8000_0000_0000_0000,
                0x0123_4567_89ab_cdef,
            ] {
                let _ = filter.contains_key(key);
            }
            for chunk in data.chunks_exact(8).take(64) {
                let mut k = [0u8; 8];
                k.copy_from_slice(chunk);
                let _ = filter.contains_key(u64::from_le_bytes(k));
            }
            let _ = filter.contains_password("password");
        }
        Err(e) => {
            // A file that fails the structural checks fails the full check too.
            assert!(checked.is_err());
            assert!(!e.to_string().is_empty());
        }
    }
    let _ = std::fs::remove_file(path);
});
