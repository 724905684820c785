//! Portable dot products: the fallback, and the reference the SIMD paths equal. The K-quants
//! (Q4_K, Q5_K, Q6_K, llama.cpp's Q4_K_M and Q5_K_M files) take this path on NEON and in
//! wasm too: their inner sums are plain loops over 16 values that the compiler turns into
//! those instruction sets' multiply-adds.

use std::ops::Range;

use crate::blocks::{f16_le, scale_min_k4};
use crate::kernels::Out;
use crate::kernels::quantize::{BLOCK, Q16, Q16Row};
use crate::{Weight, WeightFormat};

pub fn q16_rows(w: &Weight, rows: Range<usize>, x: &Q16, out: &Out) {
    let dot = match w.format {
        WeightFormat::Q4_0 => q4_0,
        WeightFormat::Q4_1 => q4_1,
        WeightFormat::Q5_0 => q5_0,
        WeightFormat::Q5_1 => q5_1,
        WeightFormat::Q4_K => q4_k,
        WeightFormat::Q5_K => q5_k,
        WeightFormat::Q6_K => q6_k,
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

/// Σ over a block of `q(j) * x[j]` for 5-bit `q`: nibbles as [`nibbles`], bit `j` of `qh`
/// the fifth bit of value `j`.
#[inline]
fn five_bits(qh: &[u8], qs: &[u8], x: &[i16]) -> i32 {
    let qh = u32::from_le_bytes([qh[0], qh[1], qh[2], qh[3]]);
    let fifth = |j: usize| (((qh >> j) & 1) << 4) as i32;
    let mut sum = 0i32;
    for j in 0..16 {
        sum += (i32::from(qs[j] & 15) | fifth(j)) * i32::from(x[j]);
        sum += (i32::from(qs[j] >> 4) | fifth(j + 16)) * i32::from(x[j + 16]);
    }
    sum
}

fn q5_0(row: &[u8], x: Q16Row<'_>) -> f32 {
    let mut sum = 0f32;
    for (b, blk) in row.chunks_exact(22).enumerate() {
        let d = f16_le(blk[0], blk[1]);
        let dot = five_bits(&blk[2..6], &blk[6..22], &x.qs[32 * b..32 * b + 32]);
        // (q - 16) · x = q · x - 16 Σx
        sum += d * (x.d[b] * dot as f32 - 16.0 * x.s[b]);
    }
    sum
}

fn q5_1(row: &[u8], x: Q16Row<'_>) -> f32 {
    let mut sum = 0f32;
    for (b, blk) in row.chunks_exact(24).enumerate() {
        let (d, m) = (f16_le(blk[0], blk[1]), f16_le(blk[2], blk[3]));
        let dot = five_bits(&blk[4..8], &blk[8..24], &x.qs[32 * b..32 * b + 32]);
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

/// Q4_K: `d`, `dmin`, 12 bytes of 6-bit scales and minimums, 128 bytes of nibbles.
const Q4_K_BYTES: usize = 144;
/// Q5_K: Q4_K's header, then 32 bytes of fifth bits, then 128 bytes of nibbles.
const Q5_K_BYTES: usize = 176;
/// Q6_K: 128 bytes of low nibbles, 64 of high bit pairs, 16 i8 scales, `d`.
const Q6_K_BYTES: usize = 210;

/// Σ q[l] · x[l] for 16 values.
#[inline(always)]
fn sum16(q: &[i16; 16], x: &[i16; 16]) -> i32 {
    let mut s = 0i32;
    for l in 0..16 {
        s += i32::from(q[l]) * i32::from(x[l]);
    }
    s
}

/// The 32 activations of block `b`.
#[inline(always)]
fn block<'a>(x: &Q16Row<'a>, b: usize) -> [&'a [i16; 16]; 2] {
    let xs: &[i16; BLOCK] = x.qs[BLOCK * b..BLOCK * (b + 1)]
        .try_into()
        .expect("32 values");
    let (lo, hi) = xs.split_at(16);
    [lo.try_into().expect("16"), hi.try_into().expect("16")]
}

/// A Q4_K row · an activation row: each 32-value sub-block is `d * sc * q - dmin * m`,
/// so its sum is `d * sc * dx * Σ q·qx - dmin * m * Σx`.
#[inline(always)]
fn q4_k(row: &[u8], x: Q16Row<'_>) -> f32 {
    k_sum::<Q4_K_BYTES>(row, x, |blk, k| {
        (
            blk[16 + 32 * k..16 + 32 * k + 32].try_into().expect("32"),
            [0; 32],
        )
    })
}

/// A Q5_K row · an activation row: Q4_K's sums, each value with a fifth bit from `qh`.
#[inline(always)]
fn q5_k(row: &[u8], x: Q16Row<'_>) -> f32 {
    k_sum::<Q5_K_BYTES>(row, x, |blk, k| {
        let qh: &[u8; 32] = blk[16..48].try_into().expect("32");
        (
            blk[48 + 32 * k..48 + 32 * k + 32].try_into().expect("32"),
            // Bits 2k and 2k + 1 of each byte: the low and the high nibbles' fifth bits.
            qh.map(|h| (h >> (2 * k)) & 3),
        )
    })
}

/// The sums of Q4_K and Q5_K, whose 64-value chunk `k` of a block is 32 bytes of nibbles
/// (low: sub-block 2k, high: 2k + 1) and, for Q5_K, two fifth bits per byte (`bits(blk, k)`
/// gives both).
#[inline(always)]
fn k_sum<const BYTES: usize>(
    row: &[u8],
    x: Q16Row<'_>,
    bits: impl Fn(&[u8; BYTES], usize) -> ([u8; 32], [u8; 32]),
) -> f32 {
    let mut total = 0f32;
    for (b, blk) in row.as_chunks::<BYTES>().0.iter().enumerate() {
        let (d, dmin) = (f16_le(blk[0], blk[1]), f16_le(blk[2], blk[3]));
        let scales = &blk[4..16];
        for k in 0..4 {
            let (qs, fifth) = bits(blk, k);
            let (lo, hi) = (block(&x, 8 * b + 2 * k), block(&x, 8 * b + 2 * k + 1));
            let mut sums = [0i32; 2];
            for h in 0..2 {
                let ql: [i16; 16] = std::array::from_fn(|l| {
                    i16::from((qs[16 * h + l] & 0x0F) | ((fifth[16 * h + l] & 1) << 4))
                });
                let qh: [i16; 16] = std::array::from_fn(|l| {
                    i16::from((qs[16 * h + l] >> 4) | ((fifth[16 * h + l] >> 1) << 4))
                });
                sums[0] += sum16(&ql, lo[h]);
                sums[1] += sum16(&qh, hi[h]);
            }
            for (half, dot) in sums.into_iter().enumerate() {
                let (j, xb) = (2 * k + half, 8 * b + 2 * k + half);
                let (sc, m) = scale_min_k4(j, scales);
                total += d * f32::from(sc) * x.d[xb] * dot as f32 - dmin * f32::from(m) * x.s[xb];
            }
        }
    }
    total
}

/// A Q6_K row · an activation row: 6-bit values `q - 32` with an i8 scale per 16.
#[inline(always)]
fn q6_k(row: &[u8], x: Q16Row<'_>) -> f32 {
    let mut total = 0f32;
    for (b, blk) in row.as_chunks::<Q6_K_BYTES>().0.iter().enumerate() {
        let d = f16_le(blk[208], blk[209]);
        for n in 0..2 {
            let ql: &[u8; 64] = blk[64 * n..64 * n + 64].try_into().expect("64");
            let qh: &[u8; 32] = blk[128 + 32 * n..128 + 32 * n + 32].try_into().expect("32");
            let sc = &blk[192 + 8 * n..192 + 8 * n + 8];
            // Value 32g + l of this half: nibble g / 2 of ql[l + 32 (g % 2)], bits 2g of
            // qh[l], scale sc[2g + l / 16].
            for g in 0..4 {
                let xs = block(&x, 8 * b + 4 * n + g);
                let mut scaled = 0f32;
                for h in 0..2 {
                    let q: [i16; 16] = std::array::from_fn(|i| {
                        let l = 16 * h + i;
                        let low = (ql[l + 32 * (g % 2)] >> (4 * (g / 2))) & 0x0F;
                        let high = (qh[l] >> (2 * g)) & 3;
                        i16::from(low | (high << 4)) - 32
                    });
                    scaled += f32::from(sc[2 * g + h] as i8) * sum16(&q, xs[h]) as f32;
                }
                total += d * x.d[8 * b + 4 * n + g] * scaled;
            }
        }
    }
    total
}
