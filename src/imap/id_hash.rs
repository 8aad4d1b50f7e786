//! A keyed hash for the maps THREAD builds over Message-IDs and base
//! subjects (RFC 5256 §4 steps 1 and 5).
//!
//! std's SipHash was an eighth of THREAD's time natively and more under
//! emulation on the board; these keys are short byte strings hashed once
//! or twice each, where a multiply-and-fold over 8-byte words does the
//! same job in a few instructions. The keys come from mail anyone can
//! send, so the hash is still keyed: both words of state start from a
//! secret drawn per map from std's random source, and a sender who does
//! not know them cannot aim Message-IDs at one bucket. The linking work
//! itself is bounded apart from this (`thread_algo::walk_budget`).

use std::hash::{BuildHasher, Hasher};

/// Makes [`IdHasher`]s that share one secret, drawn when the map is made.
#[derive(Clone, Copy, Debug)]
pub struct IdHashState {
    seed: u64,
    key: u64,
}

impl IdHashState {
    pub fn new() -> IdHashState {
        let random = std::collections::hash_map::RandomState::new();
        IdHashState {
            seed: random.hash_one(0x5256_u64),
            // Odd, so the multiply loses no bit of the low word.
            key: random.hash_one(0x9051_u64) | 1,
        }
    }
}

impl Default for IdHashState {
    fn default() -> IdHashState {
        IdHashState::new()
    }
}

impl BuildHasher for IdHashState {
    type Hasher = IdHasher;

    fn build_hasher(&self) -> IdHasher {
        IdHasher {
            state: self.seed,
            key: self.key,
        }
    }
}

/// The 128-bit product of `a` and `b`, its halves xor-ed: every input
/// bit reaches many output bits in one multiply.
fn fold_multiply(a: u64, b: u64) -> u64 {
    let product = u128::from(a) * u128::from(b);
    (product as u64) ^ ((product >> 64) as u64)
}

/// One hash in progress (see the module's opening).
#[derive(Debug)]
pub struct IdHasher {
    state: u64,
    key: u64,
}

impl IdHasher {
    fn mix(&mut self, word: u64) {
        self.state = fold_multiply(self.state ^ word, self.key);
    }
}

impl Hasher for IdHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut words = bytes.chunks_exact(8);
        for w in &mut words {
            self.mix(u64::from_le_bytes(w.try_into().expect("8 bytes")));
        }
        let rest = words.remainder();
        if !rest.is_empty() {
            let mut w = [0u8; 8];
            w[..rest.len()].copy_from_slice(rest);
            // The length in the top byte: "a" and "a\0" differ.
            self.mix(u64::from_le_bytes(w) ^ ((rest.len() as u64) << 56));
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.mix(n);
    }

    fn write_usize(&mut self, n: usize) {
        self.mix(n as u64);
    }

    fn finish(&self) -> u64 {
        fold_multiply(self.state, self.key.rotate_left(32) | 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn keys_differing_anywhere_hash_apart() {
        let state = IdHashState::new();
        let ids: Vec<Vec<u8>> = (0..20_000u32)
            .map(|i| format!("<{i}.{}@example.org>", i % 7).into_bytes())
            .chain([b"a".to_vec(), b"a\0".to_vec(), b"".to_vec()])
            .collect();
        let hashes: HashSet<u64> = ids.iter().map(|id| state.hash_one(id)).collect();
        assert_eq!(hashes.len(), ids.len());
    }

    #[test]
    fn two_maps_draw_different_secrets() {
        let (a, b) = (IdHashState::new(), IdHashState::new());
        assert_ne!(a.hash_one(b"<x@y>"), b.hash_one(b"<x@y>"));
    }
}
