//! Opening a filter file (memory-mapped) and asking whether a password is in it.
// Memory-mapping the filter file is unsafe: the file must not change while mapped.
#![allow(unsafe_code)]

use std::fs::File;
use std::path::Path;

use memmap2::Mmap;

use crate::format::{self, Header, SegmentEntry, ENTRY_LEN};
use crate::hibp::key_of_digest;
use crate::Error;

/// A breached-password filter, memory-mapped read-only. Lookups read three 16-bit
/// slots; the operating system pages them in on demand and shares them between
/// processes.
///
/// Replace a file in use by building a new one and renaming it over the old (which
/// `build` does): never write into a mapped file.
pub struct BreachedFilter {
    map: Mmap,
    header: Header,
    /// Bucket → segment.
    segment_of_bucket: Vec<u32>,
    segments: Vec<SegmentEntry>,
    data_offset: usize,
}

fn damaged(path: &Path, why: impl std::fmt::Display) -> Error {
    Error::Format(format!(
        "{}: {why}; rebuild it with `writeback breached build`",
        path.display()
    ))
}

impl BreachedFilter {
    /// Maps the file and checks its structure. With `verify_checksum`, also reads the
    /// whole file once to check its SHA-256 (about a second per gigabyte).
    pub fn open(path: &Path, verify_checksum: bool) -> Result<Self, Error> {
        let file = File::open(path).map_err(|source| Error::Io {
            what: format!("open the breached-password file {}", path.display()),
            source,
        })?;
        // SAFETY: the mapping is read-only and private to this process's view; the file
        // is replaced by rename (a new inode), never written in place, by `build`. A
        // file truncated underneath by someone else would fault, as documented.
        #[allow(unsafe_code)]
        let map = unsafe { Mmap::map(&file) }.map_err(|source| Error::Io {
            what: format!("memory-map {}", path.display()),
            source,
        })?;
        let header = Header::parse(&map).map_err(|e| damaged(path, e))?;
        let len = map.len() as u64;
        let bucket_count = header.bucket_count();
        // Every offset and size comes from the file: checked arithmetic, so a file
        // made to overflow is refused as damaged instead of panicking or wrapping.
        let map_end = (4u64 * bucket_count as u64).checked_add(header.map_offset);
        let dir_end = (header.segment_count as u64)
            .checked_mul(ENTRY_LEN as u64)
            .and_then(|n| n.checked_add(header.directory_offset));
        let data_end = header.data_offset.checked_add(header.data_len);
        let (Some(map_end), Some(dir_end), Some(data_end)) = (map_end, dir_end, data_end) else {
            return Err(damaged(path, "an offset in the header is out of range"));
        };
        if map_end > len || dir_end > len || data_end > len || header.data_offset % 2 != 0 {
            return Err(damaged(
                path,
                "the file is shorter than its header says (truncated?)",
            ));
        }
        let map_bytes = &map[header.map_offset as usize..map_end as usize];
        let dir_bytes = &map[header.directory_offset as usize..dir_end as usize];
        let mut segment_of_bucket = Vec::with_capacity(bucket_count);
        for c in map_bytes.chunks_exact(4) {
            let s = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
            if s >= header.segment_count {
                return Err(damaged(
                    path,
                    "the bucket map names a segment that does not exist",
                ));
            }
            segment_of_bucket.push(s);
        }
        let total_slots = header.data_len / 2;
        let mut segments = Vec::with_capacity(header.segment_count as usize);
        for c in dir_bytes.chunks_exact(ENTRY_LEN) {
            let e = SegmentEntry::parse(c).map_err(|m| damaged(path, m))?;
            let end = e.first_slot.checked_add(u64::from(e.params.array_length));
            if end.is_none_or(|end| end > total_slots) {
                return Err(damaged(path, "a segment lies outside the file"));
            }
            segments.push(e);
        }
        if verify_checksum {
            let data = &map[header.data_offset as usize..data_end as usize];
            let digest = ring::digest::digest(&ring::digest::SHA256, data);
            let expected =
                format::checksum(&header.to_bytes(), map_bytes, dir_bytes, digest.as_ref());
            if expected != header.checksum {
                return Err(damaged(
                    path,
                    "the checksum does not match (the file is damaged or incomplete)",
                ));
            }
        }
        Ok(BreachedFilter {
            data_offset: header.data_offset as usize,
            map,
            header,
            segment_of_bucket,
            segments,
        })
    }

    /// Distinct hashes stored.
    pub fn len(&self) -> u64 {
        self.header.key_count
    }

    pub fn is_empty(&self) -> bool {
        self.header.key_count == 0
    }

    /// The minimum count the file was built with.
    pub fn min_count(&self) -> u64 {
        self.header.min_count
    }

    /// The file's size in bytes.
    pub fn file_len(&self) -> u64 {
        self.map.len() as u64
    }

    /// Whether the first 8 bytes of a SHA-1 (big-endian) may be in the set.
    #[inline]
    pub fn contains_key(&self, key: u64) -> bool {
        let bucket = if self.header.bucket_bits == 0 {
            0
        } else {
            (key >> (64 - self.header.bucket_bits)) as usize
        };
        let Some(segment) = self
            .segment_of_bucket
            .get(bucket)
            .and_then(|&s| self.segments.get(s as usize))
        else {
            return false;
        };
        let base = self.data_offset + 2 * segment.first_slot as usize;
        let data = &self.map[..];
        segment.params.contains(key, |i| {
            let at = base + 2 * i;
            match data.get(at..at + 2) {
                Some(b) => u16::from_le_bytes([b[0], b[1]]),
                None => 0,
            }
        })
    }

    /// Whether a SHA-1 digest may be in the set.
    pub fn contains_sha1(&self, digest: &[u8; 20]) -> bool {
        self.contains_key(key_of_digest(digest))
    }

    /// Whether a password (its UTF-8 bytes, as HIBP hashes them) may be in the set.
    pub fn contains_password(&self, password: &str) -> bool {
        let d = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, password.as_bytes());
        let mut digest = [0u8; 20];
        digest.copy_from_slice(d.as_ref());
        self.contains_sha1(&digest)
    }
}
