//! Activations quantized to 16 bits in blocks of 32 (ggml's Q8_1 layout, with i16 values),
//! so that quantized weights meet them in integer dot products.
//!
//! ggml quantizes activations to 8 bits. On SmolLM2-135M that moves the first-step logits
//! by up to 1.05 from an f64 forward (llama.cpp's CPU backend and this engine alike), and
//! the prompt's greedy answer changes: a block that holds one of the model's outlier
//! features leaves the other 31 values a few steps of 8 bits. 16 bits keep the logits
//! within 1e-3 of f32, and `vpmaddwd` (`vpdpwssd` with AVX-512 VNNI) multiplies them as
//! fast as bytes are unpacked.

/// Values per block.
pub const BLOCK: usize = 32;

/// `rows` rows of `cols` activations: `x ≈ d[block] * qs`, and `s[block] = d * Σ qs`.
#[derive(Default)]
pub struct Q16 {
    pub rows: usize,
    pub cols: usize,
    pub qs: Vec<i16>,
    pub d: Vec<f32>,
    pub s: Vec<f32>,
}

/// One row of [`Q16`].
#[derive(Clone, Copy)]
pub struct Q16Row<'a> {
    pub qs: &'a [i16],
    pub d: &'a [f32],
    pub s: &'a [f32],
}

impl Q16 {
    /// Quantizes `x` (`[rows, cols]`, `cols` a multiple of 32), reusing the buffers.
    pub fn quantize(&mut self, x: &[f32], cols: usize) {
        debug_assert!(cols.is_multiple_of(BLOCK));
        let rows = x.len() / cols.max(1);
        let blocks = rows * cols / BLOCK;
        self.rows = rows;
        self.cols = cols;
        self.qs.resize(rows * cols, 0);
        self.d.resize(blocks, 0.0);
        self.s.resize(blocks, 0.0);
        let (xs, qs) = (x.as_chunks::<BLOCK>().0, self.qs.as_chunks_mut::<BLOCK>().0);
        for (((x, q), d), s) in xs.iter().zip(qs).zip(&mut self.d).zip(&mut self.s) {
            (*d, *s) = quantize_block(x, q);
        }
    }

    pub fn row(&self, r: usize) -> Q16Row<'_> {
        let (c, b) = (self.cols, self.cols / BLOCK);
        Q16Row {
            qs: &self.qs[r * c..(r + 1) * c],
            d: &self.d[r * b..(r + 1) * b],
            s: &self.s[r * b..(r + 1) * b],
        }
    }
}

/// ggml's `quantize_row_q8_0_ref` for one block, to 16 bits: the scale and the block's sum.
#[inline]
fn quantize_block(x: &[f32; BLOCK], q: &mut [i16; BLOCK]) -> (f32, f32) {
    let amax = x.iter().fold(0f32, |m, v| m.max(v.abs()));
    // NaN or infinite inputs make the block's scale NaN, so that they reach the logits
    // (where generation reports them) instead of being rounded away.
    let d = if x.iter().all(|v| v.is_finite()) {
        amax / f32::from(i16::MAX)
    } else {
        f32::NAN
    };
    let id = if d != 0.0 { 1.0 / d } else { 0.0 };
    let mut sum = 0i32;
    for (q, x) in q.iter_mut().zip(x) {
        *q = (x * id).round() as i16;
        sum += i32::from(*q);
    }
    (d, d * sum as f32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_hold_the_values_to_half_a_step() {
        let x: Vec<f32> = (0..96)
            .map(|i| ((i * 37 % 19) as f32 - 9.0) * 0.31)
            .collect();
        let mut q = Q16::default();
        q.quantize(&x, 96);
        for (b, x) in x.chunks(32).enumerate() {
            let d = q.d[b];
            let mut sum = 0.0;
            for (i, v) in x.iter().enumerate() {
                let back = d * f32::from(q.qs[b * 32 + i]);
                assert!((back - v).abs() <= d / 2.0 + 1e-6, "{back} vs {v}");
                sum += back;
            }
            assert!((q.s[b] - sum).abs() < 1e-4);
        }
        assert_eq!(q.row(0).d.len(), 3);
    }
}
