//! A 3-wise binary fuse filter with 16-bit fingerprints (Graf & Lemire, "Binary Fuse
//! Filters: Fast and Smaller Than Xor Filters", 2022), written from the paper.
//!
//! Why our own and not the `xorf` crate: the filter must be queried straight from a
//! memory-mapped file (no copy into an owned `Box<[u16]>`), the hash and layout must be
//! fixed by this crate's file format (not by another crate's internals, which may change
//! between versions), and construction runs per segment, so we control its memory.
//!
//! A key is stored as a 16-bit fingerprint spread over three slots: the XOR of the
//! three slots equals the key's fingerprint. A key that was not inserted matches with
//! probability 2^-16 (one in 65,536). The table has about 1.125 slots per key when a
//! segment holds a million keys or more, so 2.25 bytes per key.

/// The parameters of one filter: with them and the slots, a key can be checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FuseParams {
    pub seed: u64,
    /// A power of two: the size of the windows the three slots fall in.
    pub segment_length: u32,
    /// `segment_length` times the number of windows a first slot may start in.
    pub segment_count_length: u32,
    /// Number of 16-bit slots.
    pub array_length: u32,
}

/// Mixes a key with the seed (the 64-bit finaliser from MurmurHash3: a bijection, so
/// distinct keys keep distinct hashes whatever the seed).
#[inline]
pub fn mix(key: u64, seed: u64) -> u64 {
    let mut h = key.wrapping_add(seed);
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^= h >> 33;
    h
}

#[inline]
fn fingerprint(hash: u64) -> u16 {
    (hash ^ (hash >> 32)) as u16
}

impl FuseParams {
    /// The sizes for `n` distinct keys, grown by `extra` (a fraction, used when
    /// construction keeps failing on tiny sets).
    pub fn for_keys(n: usize, seed: u64, extra: f64) -> FuseParams {
        if n == 0 {
            return FuseParams {
                seed,
                segment_length: 1,
                segment_count_length: 0,
                array_length: 0,
            };
        }
        let nf = n as f64;
        let segment_length: u32 = if n < 2 {
            4
        } else {
            let exp = (nf.ln() / 3.33f64.ln() + 2.25).floor() as u32;
            1u32 << exp.clamp(2, 18)
        };
        let size_factor = if n < 2 {
            4.0
        } else {
            (0.875 + 0.25 * 1_000_000f64.ln() / nf.ln()).max(1.125)
        };
        let capacity = (nf * size_factor * (1.0 + extra)).round() as u64;
        let sl = u64::from(segment_length);
        // Windows a first slot may start in; the last two windows only take second and
        // third slots.
        let segment_count = capacity.div_ceil(sl).saturating_sub(2).max(1);
        let array_length = (segment_count + 2) * sl;
        FuseParams {
            seed,
            segment_length,
            segment_count_length: (segment_count * sl) as u32,
            array_length: array_length as u32,
        }
    }

    /// The three slots of a mixed hash. Each lies in its own window of
    /// `segment_length` slots, the windows consecutive.
    #[inline]
    pub fn slots(&self, hash: u64) -> [usize; 3] {
        let mask = u64::from(self.segment_length - 1);
        let h0 = ((u128::from(hash) * u128::from(self.segment_count_length)) >> 64) as u64;
        let h1 = (h0 + u64::from(self.segment_length)) ^ ((hash >> 18) & mask);
        let h2 = (h0 + 2 * u64::from(self.segment_length)) ^ (hash & mask);
        [h0 as usize, h1 as usize, h2 as usize]
    }

    /// Whether `key` may be in the filter whose slots `slot(i)` reads.
    #[inline]
    pub fn contains(&self, key: u64, slot: impl Fn(usize) -> u16) -> bool {
        if self.array_length == 0 {
            return false;
        }
        let hash = mix(key, self.seed);
        let [a, b, c] = self.slots(hash);
        fingerprint(hash) ^ slot(a) ^ slot(b) ^ slot(c) == 0
    }
}

/// Why a filter could not be made.
#[derive(Debug, PartialEq, Eq)]
pub enum FuseError {
    /// Construction failed with every seed tried (keys not distinct, or bad luck).
    Unpeelable { keys: usize },
}

/// Builds the filter's slots for `keys` (sorted or not; duplicates are removed here).
/// Memory: about 25 bytes per key besides `keys` itself.
pub fn build(keys: &mut Vec<u64>, first_seed: u64) -> Result<(FuseParams, Vec<u16>), FuseError> {
    keys.sort_unstable();
    keys.dedup();
    let n = keys.len();
    let mut seed = first_seed;
    for attempt in 0..64u32 {
        // Tiny sets fail often at the nominal size: give them room after a few tries.
        let extra = if attempt < 8 {
            0.0
        } else {
            0.1 * f64::from(attempt / 8)
        };
        let params = FuseParams::for_keys(n, seed, extra);
        if let Some(slots) = try_build(keys, &params) {
            return Ok((params, slots));
        }
        seed = mix(seed, 0x9e37_79b9_7f4a_7c15);
    }
    Err(FuseError::Unpeelable { keys: n })
}

/// One attempt: peel the 3-hypergraph of keys over slots, then assign fingerprints in
/// reverse peeling order. `None` when it does not peel completely (try another seed).
fn try_build(keys: &[u64], params: &FuseParams) -> Option<Vec<u16>> {
    let m = params.array_length as usize;
    if keys.is_empty() {
        return Some(Vec::new());
    }
    // Per slot: how many keys touch it (times 4) with the XOR of which of its three
    // slots it is for them in the low two bits, and the XOR of their hashes. When one
    // key is left, these two name it and its position without a list.
    let mut count = vec![0u8; m];
    let mut xor_hash = vec![0u64; m];
    for &key in keys {
        let hash = mix(key, params.seed);
        for (j, s) in params.slots(hash).into_iter().enumerate() {
            if count[s] >= 0xfc {
                return None; // more than 62 keys on one slot: hopeless, reseed
            }
            count[s] = count[s].wrapping_add(4) ^ (j as u8);
            xor_hash[s] ^= hash;
        }
    }
    let mut queue: Vec<u32> = (0..m as u32)
        .filter(|&s| count[s as usize] >> 2 == 1)
        .collect();
    let mut order: Vec<(u64, u8)> = Vec::with_capacity(keys.len());
    while let Some(s) = queue.pop() {
        let s = s as usize;
        if count[s] >> 2 != 1 {
            continue; // emptied since it was queued
        }
        let hash = xor_hash[s];
        let found = count[s] & 3;
        order.push((hash, found));
        for (j, other) in params.slots(hash).into_iter().enumerate() {
            count[other] = count[other].wrapping_sub(4) ^ (j as u8);
            xor_hash[other] ^= hash;
            if count[other] >> 2 == 1 {
                queue.push(other as u32);
            }
        }
    }
    if order.len() != keys.len() {
        return None;
    }
    drop(count);
    drop(xor_hash);
    let mut slots = vec![0u16; m];
    for &(hash, found) in order.iter().rev() {
        let s = params.slots(hash);
        let f = found as usize;
        slots[s[f]] = fingerprint(hash) ^ slots[s[(f + 1) % 3]] ^ slots[s[(f + 2) % 3]];
    }
    Some(slots)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(n: usize, salt: u64) -> Vec<u64> {
        (0..n as u64).map(|i| mix(i, salt)).collect()
    }

    #[test]
    fn every_inserted_key_is_found_at_every_size() {
        for n in [0usize, 1, 2, 3, 7, 50, 1000, 100_000] {
            let mut k = keys(n, 1);
            let (params, slots) = build(&mut k, 42).unwrap_or_else(|e| panic!("{n}: {e:?}"));
            assert!(
                k.iter().all(|&key| params.contains(key, |i| slots[i])),
                "n={n}"
            );
        }
    }

    #[test]
    fn duplicates_are_tolerated() {
        let mut k = vec![5u64, 5, 9, 9, 9, 11];
        let (params, slots) = build(&mut k, 7).unwrap_or_else(|e| panic!("{e:?}"));
        assert!([5u64, 9, 11]
            .iter()
            .all(|&key| params.contains(key, |i| slots[i])));
    }

    #[test]
    fn false_positives_near_one_in_65536_and_size_near_2_25_bytes() {
        let n = 1_000_000;
        let mut k = keys(n, 2);
        let (params, slots) = build(&mut k, 3).unwrap_or_else(|e| panic!("{e:?}"));
        let bytes_per_key = slots.len() as f64 * 2.0 / n as f64;
        assert!(bytes_per_key < 2.3, "{bytes_per_key}");
        let probes = 2_000_000u64;
        let hits = (0..probes)
            .filter(|&i| params.contains(mix(i + (1 << 40), 2), |s| slots[s]))
            .count() as f64;
        let fpr = hits / probes as f64;
        // expected 30.5 hits; allow generous noise
        assert!(fpr < 1.0 / 40_000.0, "fpr {fpr}");
    }
}
