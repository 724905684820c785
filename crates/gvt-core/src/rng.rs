//! The crate's one seeded PRNG (SplitMix64) and the hash derived from it: scenes, question
//! sampling, token sampling and the tests' random inputs all draw from it.
//!
//! Why not the `rand` crate: the generated data must be bit-identical on every platform and
//! across dependency upgrades (training, evaluation and the browser demo all regenerate the
//! same scenes from their seeds), and the module must build for `wasm32-unknown-unknown`
//! without extra features. SplitMix64 is 64 bits of state, passes BigCrush, and uses only
//! wrapping integer arithmetic, so its stream is the same everywhere. Floats are made from
//! the top 24 bits, so every draw is an exact `f32`.

/// Golden-ratio increment of SplitMix64.
const GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

/// The SplitMix64 output function: a strong 64-bit mixer, also used as a stateless hash
/// (held-out splits, texture noise).
pub fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Deterministic pseudo-random numbers: the SplitMix64 generator.
///
/// `Rng::new(s)` yields the reference SplitMix64 sequence for state `s` (for `s = 0` the first
/// output is `0xE220A8397B1DCDAF`). [`Rng::stream`] derives independent generators from one
/// seed, so that e.g. the background of a scene does not change when its objects are
/// constrained differently.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rng {
    state: u64,
}

impl Rng {
    /// A generator whose state starts at `seed`.
    pub fn new(seed: u64) -> Self {
        Rng { state: seed }
    }

    /// An independent generator for the purpose `stream` (any constant) of the seed `seed`.
    pub fn stream(seed: u64, stream: u64) -> Self {
        Rng::new(mix64(seed ^ mix64(stream.wrapping_add(GAMMA))))
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(GAMMA);
        mix64(self.state)
    }

    /// Uniform in `[0, 1)`, a multiple of 2^-24 (exact in `f32`).
    pub fn next_f32(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 * (1.0 / 16_777_216.0)
    }

    /// Uniform in `[lo, hi)` (or `lo` when the range is empty).
    pub fn range_f32(&mut self, lo: f32, hi: f32) -> f32 {
        lo + (hi - lo) * self.next_f32()
    }

    /// Uniform integer in `0..n`; `0` when `n == 0`. Multiply-shift: bias below 2^-50 for the
    /// small `n` used here.
    pub fn below(&mut self, n: usize) -> usize {
        ((u128::from(self.next_u64()) * n as u128) >> 64) as usize
    }

    /// `true` with probability `p`.
    pub fn chance(&mut self, p: f32) -> bool {
        self.next_f32() < p
    }

    /// A uniformly chosen element, `None` for an empty slice.
    pub fn pick<T: Copy>(&mut self, items: &[T]) -> Option<T> {
        if items.is_empty() {
            None
        } else {
            Some(items[self.below(items.len())])
        }
    }

    /// Fisher-Yates shuffle.
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i + 1);
            items.swap(i, j);
        }
    }
}
