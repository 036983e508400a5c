//! The file layout (all integers little-endian). Version 1:
//!
//! ```text
//! offset  size  field
//! 0       8     magic "WBBREACH"
//! 8       4     version = 1
//! 12      4     fingerprint bits = 16
//! 16      8     distinct hashes stored
//! 24      8     minimum count the file was built with
//! 32      4     bucket bits b (keys are split into 2^b buckets by their top b bits)
//! 36      4     segment count s
//! 40      8     offset of the bucket map  (2^b × u32: bucket → segment)
//! 48      8     offset of the directory   (s × 32 bytes, see SegmentEntry)
//! 56      8     offset of the slots       (16-bit fingerprints, all segments)
//! 64      8     length of the slots in bytes
//! 72      32    SHA-256 over bytes 0..72, the bucket map, the directory, then the
//!               SHA-256 of the slots
//! 104     24    zero
//! ```
//!
//! A key (the first 8 bytes of a SHA-1, big-endian) belongs to bucket `key >> (64 - b)`;
//! its segment is a binary fuse filter of its own.

use crate::fuse::FuseParams;

pub const MAGIC: &[u8; 8] = b"WBBREACH";
pub const VERSION: u32 = 1;
pub const FINGERPRINT_BITS: u32 = 16;
pub const HEADER_LEN: usize = 128;
pub const ENTRY_LEN: usize = 32;
/// Bytes 0..72 are covered by the checksum; the checksum itself follows.
pub const CHECKED_HEADER_LEN: usize = 72;
pub const MAX_BUCKET_BITS: u32 = 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub key_count: u64,
    pub min_count: u64,
    pub bucket_bits: u32,
    pub segment_count: u32,
    pub map_offset: u64,
    pub directory_offset: u64,
    pub data_offset: u64,
    pub data_len: u64,
    pub checksum: [u8; 32],
}

/// One segment's filter parameters and where its slots start (in slots, from the start
/// of the slot area).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SegmentEntry {
    pub params: FuseParams,
    pub first_slot: u64,
    pub key_count: u32,
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[at..at + 4]);
    u32::from_le_bytes(a)
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(a)
}

impl Header {
    pub fn to_bytes(&self) -> [u8; HEADER_LEN] {
        let mut b = [0u8; HEADER_LEN];
        b[0..8].copy_from_slice(MAGIC);
        b[8..12].copy_from_slice(&VERSION.to_le_bytes());
        b[12..16].copy_from_slice(&FINGERPRINT_BITS.to_le_bytes());
        b[16..24].copy_from_slice(&self.key_count.to_le_bytes());
        b[24..32].copy_from_slice(&self.min_count.to_le_bytes());
        b[32..36].copy_from_slice(&self.bucket_bits.to_le_bytes());
        b[36..40].copy_from_slice(&self.segment_count.to_le_bytes());
        b[40..48].copy_from_slice(&self.map_offset.to_le_bytes());
        b[48..56].copy_from_slice(&self.directory_offset.to_le_bytes());
        b[56..64].copy_from_slice(&self.data_offset.to_le_bytes());
        b[64..72].copy_from_slice(&self.data_len.to_le_bytes());
        b[72..104].copy_from_slice(&self.checksum);
        b
    }

    /// Reads a header, refusing other files and other versions with a clear reason.
    pub fn parse(b: &[u8]) -> Result<Header, String> {
        if b.len() < HEADER_LEN || &b[0..8] != MAGIC {
            return Err(
                "not a writeback breached-password file (wrong magic); build one with \
                        `writeback breached build`"
                    .into(),
            );
        }
        let version = u32_at(b, 8);
        if version != VERSION {
            return Err(format!(
                "file format version {version}, this writeback reads version {VERSION}: rebuild \
                 the file with this writeback's `writeback breached build`"
            ));
        }
        let bits = u32_at(b, 12);
        if bits != FINGERPRINT_BITS {
            return Err(format!(
                "{bits}-bit fingerprints are not supported (only 16)"
            ));
        }
        let mut checksum = [0u8; 32];
        checksum.copy_from_slice(&b[72..104]);
        let h = Header {
            key_count: u64_at(b, 16),
            min_count: u64_at(b, 24),
            bucket_bits: u32_at(b, 32),
            segment_count: u32_at(b, 36),
            map_offset: u64_at(b, 40),
            directory_offset: u64_at(b, 48),
            data_offset: u64_at(b, 56),
            data_len: u64_at(b, 64),
            checksum,
        };
        if h.bucket_bits > MAX_BUCKET_BITS {
            return Err(format!("bucket bits {} is out of range", h.bucket_bits));
        }
        Ok(h)
    }

    pub fn bucket_count(&self) -> usize {
        1usize << self.bucket_bits
    }
}

impl SegmentEntry {
    pub fn to_bytes(&self) -> [u8; ENTRY_LEN] {
        let mut b = [0u8; ENTRY_LEN];
        b[0..8].copy_from_slice(&self.params.seed.to_le_bytes());
        b[8..16].copy_from_slice(&self.first_slot.to_le_bytes());
        b[16..20].copy_from_slice(&self.params.segment_length.to_le_bytes());
        b[20..24].copy_from_slice(&self.params.segment_count_length.to_le_bytes());
        b[24..28].copy_from_slice(&self.params.array_length.to_le_bytes());
        b[28..32].copy_from_slice(&self.key_count.to_le_bytes());
        b
    }

    pub fn parse(b: &[u8]) -> Result<SegmentEntry, String> {
        let params = FuseParams {
            seed: u64_at(b, 0),
            segment_length: u32_at(b, 16),
            segment_count_length: u32_at(b, 20),
            array_length: u32_at(b, 24),
        };
        let spans = u64::from(params.segment_count_length) + 2 * u64::from(params.segment_length);
        let nonempty_ok =
            params.segment_count_length > 0 && spans <= u64::from(params.array_length);
        if !params.segment_length.is_power_of_two() || (params.array_length != 0 && !nonempty_ok) {
            return Err("a segment's parameters are inconsistent: the file is damaged".into());
        }
        Ok(SegmentEntry {
            params,
            first_slot: u64_at(b, 8),
            key_count: u32_at(b, 28),
        })
    }
}

/// The checksum stored in the header, from its parts.
pub fn checksum(
    header: &[u8; HEADER_LEN],
    map: &[u8],
    directory: &[u8],
    data_digest: &[u8],
) -> [u8; 32] {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    ctx.update(&header[..CHECKED_HEADER_LEN]);
    ctx.update(map);
    ctx.update(directory);
    ctx.update(data_digest);
    let mut out = [0u8; 32];
    out.copy_from_slice(ctx.finish().as_ref());
    out
}
