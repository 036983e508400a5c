//! Building a filter file from the HIBP download with memory that does not grow with
//! the corpus.
//!
//! A single fuse filter over a billion keys would need ~25 bytes per key of scratch
//! memory (tens of gigabytes). Instead:
//!
//! 1. **Partition.** Stream the input once; each kept hash's 8-byte key goes to one of
//!    2^b buckets by its top b bits (b chosen from the input's size so a bucket holds
//!    about a million keys). Buckets are buffered 4096 keys at a time and appended as
//!    chunks to one anonymous temporary file next to the output (8 bytes per key on
//!    disk, deleted when done; one file, so no open-file limit to hit).
//! 2. **Build per segment.** Consecutive buckets are grouped into segments of at least
//!    a million keys (the size at which a fuse filter reaches 1.125 slots per key),
//!    each segment's keys read back, sorted, deduplicated and turned into its own fuse
//!    filter, whose slots are streamed to the output.
//!
//! Peak memory is one segment's keys and scratch (~35 bytes × ~1–2 M keys) plus the
//! bucket buffers (32 KiB × 2^b), whatever the corpus size. The output is written to a
//! temporary file and renamed into place at the end, so a running policy never sees a
//! half-written file.

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

use crate::format::{self, Header, SegmentEntry, ENTRY_LEN, HEADER_LEN};
use crate::fuse;
use crate::hibp;
use crate::Error;

/// Keys per bucket the partitioning aims at (and the smallest segment, when enough).
const TARGET_SEGMENT_KEYS: u64 = 1 << 20;
/// Keys buffered per bucket before they are appended to the temporary file.
const CHUNK_KEYS: usize = 4096;
/// The most buckets: 2^12 × 32 KiB = 128 MiB of buffers at most.
const MAX_BUCKET_BITS: u32 = 12;
/// The shortest line of the download (`40 hex` `:` `1` `\n`), to estimate the count.
const SHORTEST_LINE: u64 = 43;

/// What a build did, for the progress summary and the benchmark.
#[derive(Debug, Clone, PartialEq)]
pub struct BuildStats {
    pub lines: u64,
    /// Hashes at or above the minimum count.
    pub kept: u64,
    /// Hashes dropped for being seen fewer than `min_count` times.
    pub below_min_count: u64,
    /// Distinct keys stored (kept hashes minus 64-bit prefix duplicates).
    pub stored: u64,
    pub bucket_bits: u32,
    pub segments: u32,
    pub file_bytes: u64,
    pub elapsed: Duration,
}

impl BuildStats {
    pub fn bytes_per_hash(&self) -> f64 {
        if self.stored == 0 {
            0.0
        } else {
            self.file_bytes as f64 / self.stored as f64
        }
    }
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> Error {
    let what = what.into();
    move |source| Error::Io { what, source }
}

fn bar(show: bool, len: u64, template: &str) -> ProgressBar {
    if !show {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len);
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

/// Builds `output` from the HIBP SHA-1 download at `input`, keeping hashes seen at
/// least `min_count` times. Shows progress bars on standard error when `progress`.
pub fn build(
    input: &Path,
    output: &Path,
    min_count: u64,
    progress: bool,
) -> Result<BuildStats, Error> {
    build_with_segment_target(input, output, min_count, progress, TARGET_SEGMENT_KEYS)
}

/// [`build`] with another segment size target, so tests exercise many segments with
/// small inputs. Not for production use: small segments cost space.
#[doc(hidden)]
pub fn build_with_segment_target(
    input: &Path,
    output: &Path,
    min_count: u64,
    progress: bool,
    target: u64,
) -> Result<BuildStats, Error> {
    let target = target.max(1);
    let started = Instant::now();
    let input_file =
        File::open(input).map_err(io(format!("open the input {}", input.display())))?;
    let input_len = input_file
        .metadata()
        .map_err(io(format!("read the size of {}", input.display())))?
        .len();
    let out_dir = match output.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    let scratch = tempfile::tempfile_in(&out_dir).map_err(io(format!(
        "create a temporary file in {} (it needs about 8 bytes per hash)",
        out_dir.display()
    )))?;

    let estimate = input_len / SHORTEST_LINE + 1;
    let bucket_bits = (estimate
        .div_ceil(target)
        .next_power_of_two()
        .trailing_zeros())
    .min(MAX_BUCKET_BITS);
    let mut parts = Partitioner::new(&scratch, bucket_bits);

    let bar1 = bar(
        progress,
        input_len,
        "reading  [{bar:40}] {bytes}/{total_bytes} {binary_bytes_per_sec} eta {eta}",
    );
    let (mut lines, mut kept, mut below) = (0u64, 0u64, 0u64);
    let mut reader = BufReader::with_capacity(1 << 20, input_file);
    let mut line = Vec::with_capacity(128);
    let mut consumed = 0u64;
    loop {
        line.clear();
        let n = reader
            .read_until(b'\n', &mut line)
            .map_err(io(format!("read {}", input.display())))?;
        if n == 0 {
            break;
        }
        lines += 1;
        consumed += n as u64;
        if lines % 65_536 == 0 {
            bar1.set_position(consumed);
        }
        let entry = hibp::parse_line(&line).map_err(|e| Error::Input {
            line: lines,
            message: e.0,
        })?;
        let Some(entry) = entry else { continue };
        if entry.count < min_count {
            below += 1;
            continue;
        }
        kept += 1;
        parts.push(entry.key)?;
    }
    parts.finish()?;
    bar1.finish_and_clear();

    let plan = plan_segments(&parts.counts, target);
    let bar2 = bar(
        progress,
        plan.len() as u64,
        "building [{bar:40}] {pos}/{len} segments eta {eta}",
    );
    let mut writer = SegmentWriter::create(&out_dir, bucket_bits, &plan)?;
    let mut keys: Vec<u64> = Vec::new();
    let mut bytes = Vec::new();
    for (index, range) in plan.iter().enumerate() {
        keys.clear();
        for bucket in range.clone() {
            for &(offset, len) in &parts.chunks[bucket] {
                bytes.resize(len as usize * 8, 0);
                scratch
                    .read_exact_at(&mut bytes, offset)
                    .map_err(io("read back the temporary bucket file"))?;
                keys.extend(bytes.chunks_exact(8).map(|c| {
                    let mut a = [0u8; 8];
                    a.copy_from_slice(c);
                    u64::from_le_bytes(a)
                }));
            }
        }
        let seed = fuse::mix(index as u64, 0x005e_ed0f_b4ea_c4ed);
        let (params, slots) =
            fuse::build(&mut keys, seed).map_err(|e| Error::Construction(format!("{e:?}")))?;
        writer.write_segment(params, keys.len() as u32, &slots)?;
        bar2.inc(1);
    }
    bar2.finish_and_clear();
    let (file_bytes, stored) = writer.finish(output, min_count)?;
    Ok(BuildStats {
        lines,
        kept,
        below_min_count: below,
        stored,
        bucket_bits,
        segments: plan.len() as u32,
        file_bytes,
        elapsed: started.elapsed(),
    })
}

/// Buffers keys per bucket and appends full buffers to the scratch file as chunks.
struct Partitioner<'a> {
    file: BufWriter<&'a File>,
    offset: u64,
    bits: u32,
    buffers: Vec<Vec<u64>>,
    chunks: Vec<Vec<(u64, u32)>>,
    counts: Vec<u64>,
    bytes: Vec<u8>,
}

impl<'a> Partitioner<'a> {
    fn new(file: &'a File, bits: u32) -> Self {
        let n = 1usize << bits;
        Partitioner {
            file: BufWriter::with_capacity(1 << 20, file),
            offset: 0,
            bits,
            buffers: (0..n).map(|_| Vec::new()).collect(),
            chunks: vec![Vec::new(); n],
            counts: vec![0; n],
            bytes: Vec::with_capacity(CHUNK_KEYS * 8),
        }
    }

    fn push(&mut self, key: u64) -> Result<(), Error> {
        let bucket = if self.bits == 0 {
            0
        } else {
            (key >> (64 - self.bits)) as usize
        };
        self.counts[bucket] += 1;
        let buffer = &mut self.buffers[bucket];
        if buffer.capacity() == 0 {
            buffer.reserve_exact(CHUNK_KEYS);
        }
        buffer.push(key);
        if buffer.len() == CHUNK_KEYS {
            self.flush(bucket)?;
        }
        Ok(())
    }

    fn flush(&mut self, bucket: usize) -> Result<(), Error> {
        let buffer = &mut self.buffers[bucket];
        if buffer.is_empty() {
            return Ok(());
        }
        self.bytes.clear();
        for key in buffer.iter() {
            self.bytes.extend_from_slice(&key.to_le_bytes());
        }
        self.chunks[bucket].push((self.offset, buffer.len() as u32));
        buffer.clear();
        self.file
            .write_all(&self.bytes)
            .map_err(io("write the temporary bucket file (is the disk full?)"))?;
        self.offset += self.bytes.len() as u64;
        Ok(())
    }

    fn finish(&mut self) -> Result<(), Error> {
        for bucket in 0..self.buffers.len() {
            self.flush(bucket)?;
            self.buffers[bucket] = Vec::new();
        }
        self.file
            .flush()
            .map_err(io("write the temporary bucket file"))
    }
}

/// Groups consecutive buckets into segments of at least `target` keys (a
/// small remainder joins the last segment). Always at least one segment.
fn plan_segments(counts: &[u64], target: u64) -> Vec<std::ops::Range<usize>> {
    let mut plan: Vec<std::ops::Range<usize>> = Vec::new();
    let (mut start, mut acc) = (0usize, 0u64);
    for (i, &c) in counts.iter().enumerate() {
        acc += c;
        if acc >= target {
            plan.push(start..i + 1);
            start = i + 1;
            acc = 0;
        }
    }
    if start < counts.len() {
        match plan.last_mut() {
            Some(last) if acc < target / 2 => last.end = counts.len(),
            _ => plan.push(start..counts.len()),
        }
    }
    plan
}

/// Streams segments' slots into the output's temporary file, then writes the directory
/// and the header with the checksum, and renames the file into place.
struct SegmentWriter {
    file: BufWriter<tempfile::NamedTempFile>,
    header: Header,
    map: Vec<u8>,
    entries: Vec<SegmentEntry>,
    next_slot: u64,
    data_digest: ring::digest::Context,
    stored: u64,
}

fn align8(x: u64) -> u64 {
    x.div_ceil(8) * 8
}

impl SegmentWriter {
    fn create(
        dir: &Path,
        bucket_bits: u32,
        plan: &[std::ops::Range<usize>],
    ) -> Result<Self, Error> {
        let tmp = tempfile::NamedTempFile::new_in(dir)
            .map_err(io(format!("create the output in {}", dir.display())))?;
        let mut map = Vec::with_capacity(4usize << bucket_bits);
        for (segment, range) in plan.iter().enumerate() {
            for _ in range.clone() {
                map.extend_from_slice(&(segment as u32).to_le_bytes());
            }
        }
        let map_offset = HEADER_LEN as u64;
        let directory_offset = align8(map_offset + map.len() as u64);
        let data_offset = align8(directory_offset + (plan.len() * ENTRY_LEN) as u64);
        let header = Header {
            key_count: 0,
            min_count: 0,
            bucket_bits,
            segment_count: plan.len() as u32,
            map_offset,
            directory_offset,
            data_offset,
            data_len: 0,
            checksum: [0; 32],
        };
        let mut file = BufWriter::with_capacity(1 << 20, tmp);
        // Placeholders up to the slots; header and directory are rewritten at the end.
        file.write_all(&vec![0u8; data_offset as usize])
            .map_err(io("write the output"))?;
        Ok(SegmentWriter {
            file,
            header,
            map,
            entries: Vec::with_capacity(plan.len()),
            next_slot: 0,
            data_digest: ring::digest::Context::new(&ring::digest::SHA256),
            stored: 0,
        })
    }

    fn write_segment(
        &mut self,
        params: fuse::FuseParams,
        keys: u32,
        slots: &[u16],
    ) -> Result<(), Error> {
        let mut bytes = Vec::with_capacity(slots.len() * 2);
        for s in slots {
            bytes.extend_from_slice(&s.to_le_bytes());
        }
        self.file
            .write_all(&bytes)
            .map_err(io("write the output (is the disk full?)"))?;
        self.data_digest.update(&bytes);
        self.entries.push(SegmentEntry {
            params,
            first_slot: self.next_slot,
            key_count: keys,
        });
        self.next_slot += slots.len() as u64;
        self.stored += u64::from(keys);
        Ok(())
    }

    fn finish(self, output: &Path, min_count: u64) -> Result<(u64, u64), Error> {
        let SegmentWriter {
            file,
            mut header,
            map,
            entries,
            next_slot,
            data_digest,
            stored,
        } = self;
        header.key_count = stored;
        header.min_count = min_count;
        header.data_len = next_slot * 2;
        let directory: Vec<u8> = entries.iter().flat_map(|e| e.to_bytes()).collect();
        let digest = data_digest.finish();
        header.checksum = format::checksum(&header.to_bytes(), &map, &directory, digest.as_ref());
        let mut tmp = file.into_inner().map_err(|e| Error::Io {
            what: "write the output".into(),
            source: e.into_error(),
        })?;
        let f = tmp.as_file_mut();
        f.seek(SeekFrom::Start(0))
            .map_err(io("write the output header"))?;
        f.write_all(&header.to_bytes())
            .map_err(io("write the output header"))?;
        f.seek(SeekFrom::Start(header.map_offset))
            .map_err(io("write the bucket map"))?;
        f.write_all(&map).map_err(io("write the bucket map"))?;
        f.seek(SeekFrom::Start(header.directory_offset))
            .map_err(io("write the directory"))?;
        f.write_all(&directory).map_err(io("write the directory"))?;
        f.sync_all().map_err(io("flush the output to disk"))?;
        let file_bytes = header.data_offset + header.data_len;
        tmp.persist(output).map_err(|e| Error::Io {
            what: format!("move the finished file to {}", output.display()),
            source: e.error,
        })?;
        Ok((file_bytes, stored))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans_cover_every_bucket_once() {
        let counts = vec![600_000u64, 600_000, 100, 2_000_000, 10];
        let plan = plan_segments(&counts, TARGET_SEGMENT_KEYS);
        assert_eq!(plan, vec![0..2, 2..5]);
        assert_eq!(plan_segments(&[0, 0, 0], TARGET_SEGMENT_KEYS), vec![0..3]);
        assert_eq!(
            plan_segments(&[], TARGET_SEGMENT_KEYS),
            Vec::<std::ops::Range<usize>>::new()
        );
    }
}
