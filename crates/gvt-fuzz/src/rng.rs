//! A small deterministic generator (SplitMix64): a run is a function of its seed.

#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed ^ 0x9E37_79B9_7F4A_7C15)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next_u64() % n as u64) as usize
        }
    }

    /// True with probability `1 / n`.
    pub fn one_in(&mut self, n: usize) -> bool {
        self.below(n) == 0
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    /// A length biased towards small values: `0..=max`.
    pub fn small(&mut self, max: usize) -> usize {
        let bits = self.below(usize::BITS as usize - max.leading_zeros() as usize + 1);
        self.below((1usize << bits).min(max.saturating_add(1)))
    }
}

/// Values at the edges of integer types and of the sizes the model uses.
pub const INTERESTING_U64: &[u64] = &[
    0,
    1,
    2,
    3,
    4,
    7,
    8,
    15,
    16,
    31,
    32,
    33,
    63,
    64,
    127,
    128,
    255,
    256,
    444,
    1023,
    1024,
    2048,
    4096,
    16384,
    16385,
    65535,
    65536,
    1 << 24,
    1 << 26,
    (1 << 31) - 1,
    1 << 31,
    u32::MAX as u64,
    1 << 32,
    1 << 40,
    i64::MAX as u64,
    u64::MAX - 1,
    u64::MAX,
];

pub const INTERESTING_F32: &[f32] = &[
    0.0,
    -0.0,
    f32::NAN,
    f32::INFINITY,
    f32::NEG_INFINITY,
    1e-45,
    f32::MIN_POSITIVE,
    f32::MAX,
    -1.0,
    1.0,
    1e30,
    1e-30,
    0.5,
    10000.0,
];

/// Generic byte-level mutations: flips, interesting values, insertions, deletions,
/// duplications and truncation, on `bytes[from..]` (so that headers can be targeted).
pub fn mutate_bytes(rng: &mut Rng, bytes: &mut Vec<u8>, from: usize, max_len: usize) {
    let from = from.min(bytes.len());
    let span = bytes.len() - from;
    match rng.below(8) {
        0 if span > 0 => {
            let i = from + rng.below(span);
            bytes[i] ^= 1 << rng.below(8);
        }
        1 if span > 0 => {
            let i = from + rng.below(span);
            bytes[i] = *rng.pick(&[0u8, 1, 0x7f, 0x80, 0xff, b'{', b'%', b'<']);
        }
        2 if span >= 8 => {
            let i = from + rng.below(span - 7);
            let v = *rng.pick(INTERESTING_U64);
            let v = if rng.one_in(2) { v } else { v.swap_bytes() };
            let w = *rng.pick(&[1usize, 2, 4, 8]);
            bytes[i..i + w].copy_from_slice(&v.to_le_bytes()[..w]);
        }
        3 if bytes.len() < max_len => {
            let i = from + rng.below(span + 1);
            let n = 1 + rng.small(64);
            let ins: Vec<u8> = (0..n).map(|_| rng.next_u64() as u8).collect();
            bytes.splice(i..i, ins);
        }
        4 if span > 0 => {
            let i = from + rng.below(span);
            let n = (1 + rng.small(256)).min(bytes.len() - i);
            bytes.drain(i..i + n);
        }
        5 if span > 0 && bytes.len() < max_len => {
            let i = from + rng.below(span);
            let n = (1 + rng.small(256)).min(bytes.len() - i);
            let piece = bytes[i..i + n].to_vec();
            let at = from + rng.below(span + 1);
            bytes.splice(at..at, piece);
        }
        6 => {
            let cut = from + rng.below(span + 1);
            bytes.truncate(cut);
        }
        _ if span > 0 => {
            // A run of random bytes.
            let i = from + rng.below(span);
            let n = (1 + rng.small(16)).min(bytes.len() - i);
            for b in &mut bytes[i..i + n] {
                *b = rng.next_u64() as u8;
            }
        }
        _ => bytes.push(rng.next_u64() as u8),
    }
}
