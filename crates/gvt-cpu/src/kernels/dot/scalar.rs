//! Portable dot products: the fallback, and the reference the SIMD paths equal.

use std::ops::Range;

use crate::blocks::f16_le;
use crate::kernels::Out;
use crate::kernels::quantize::{Q16, Q16Row};
use crate::{Weight, WeightFormat};

pub fn q16_rows(w: &Weight, rows: Range<usize>, x: &Q16, out: &Out) {
    let dot = match w.format {
        WeightFormat::Q4_0 => q4_0,
        WeightFormat::Q4_1 => q4_1,
        _ => q8_0,
    };
    for r in rows {
        let row = w.row(r);
        for t in 0..x.rows {
            out.put(r, t, dot(row, x.row(t)));
        }
    }
}

/// Σ over a block of `q(j) * x[j]` for 4-bit `q`, low nibbles first.
#[inline]
fn nibbles(qs: &[u8], x: &[i16]) -> i32 {
    let mut sum = 0i32;
    for j in 0..16 {
        sum += i32::from(qs[j] & 15) * i32::from(x[j]);
        sum += i32::from(qs[j] >> 4) * i32::from(x[j + 16]);
    }
    sum
}

fn q4_0(row: &[u8], x: Q16Row<'_>) -> f32 {
    let mut sum = 0f32;
    for (b, blk) in row.chunks_exact(18).enumerate() {
        let d = f16_le(blk[0], blk[1]);
        let dot = nibbles(&blk[2..18], &x.qs[32 * b..32 * b + 32]);
        // (q - 8) · x = q · x - 8 Σx
        sum += d * (x.d[b] * dot as f32 - 8.0 * x.s[b]);
    }
    sum
}

fn q4_1(row: &[u8], x: Q16Row<'_>) -> f32 {
    let mut sum = 0f32;
    for (b, blk) in row.chunks_exact(20).enumerate() {
        let (d, m) = (f16_le(blk[0], blk[1]), f16_le(blk[2], blk[3]));
        let dot = nibbles(&blk[4..20], &x.qs[32 * b..32 * b + 32]);
        sum += d * x.d[b] * dot as f32 + m * x.s[b];
    }
    sum
}

fn q8_0(row: &[u8], x: Q16Row<'_>) -> f32 {
    let mut sum = 0f32;
    for (b, blk) in row.chunks_exact(34).enumerate() {
        let d = f16_le(blk[0], blk[1]);
        let xs = &x.qs[32 * b..32 * b + 32];
        let dot: i32 = blk[2..34]
            .iter()
            .zip(xs)
            .map(|(&w, &x)| i32::from(w as i8) * i32::from(x))
            .sum();
        sum += d * x.d[b] * dot as f32;
    }
    sum
}

pub fn dot_f32(a: &[f32], b: &[f32]) -> f32 {
    // Eight partial sums, so the compiler can keep them in one vector.
    let mut acc = [0f32; 8];
    let (ca, ra) = a.as_chunks::<8>();
    let (cb, rb) = b.as_chunks::<8>();
    for (a, b) in ca.iter().zip(cb) {
        for i in 0..8 {
            acc[i] += a[i] * b[i];
        }
    }
    let tail: f32 = ra.iter().zip(rb).map(|(a, b)| a * b).sum();
    acc.iter().sum::<f32>() + tail
}
