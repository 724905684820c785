//! wasm `simd128` dot products (the browser build enables the feature in
//! `.cargo/config.toml`): 128-bit vectors, `i32x4.dot_i16x8_s` for the integer blocks.

use std::arch::wasm32::*;

use crate::WeightFormat;
use crate::blocks::f16_le;
use crate::kernels::quantize::Q16Row;

/// A block's 32 values widened to i16, eight per vector.
type Wide = [v128; 4];

#[inline]
fn load(x: &[u8]) -> v128 {
    assert!(x.len() >= 16);
    // SAFETY: 16 bytes are in bounds; v128_load takes unaligned addresses.
    unsafe { v128_load(x.as_ptr().cast()) }
}

#[inline]
fn nibbles(qs: &[u8]) -> Wide {
    let q = load(qs);
    let lo = v128_and(q, u8x16_splat(0x0f));
    let hi = u8x16_shr(q, 4);
    [
        u16x8_extend_low_u8x16(lo),
        u16x8_extend_high_u8x16(lo),
        u16x8_extend_low_u8x16(hi),
        u16x8_extend_high_u8x16(hi),
    ]
}

#[inline]
fn signed_bytes(qs: &[u8]) -> Wide {
    let (a, b) = (load(qs), load(&qs[16..]));
    [
        i16x8_extend_low_i8x16(a),
        i16x8_extend_high_i8x16(a),
        i16x8_extend_low_i8x16(b),
        i16x8_extend_high_i8x16(b),
    ]
}

#[inline]
fn activations(x: &[i16]) -> Wide {
    assert!(x.len() >= 32);
    // SAFETY: 32 values are in bounds.
    std::array::from_fn(|i| unsafe { v128_load(x.as_ptr().add(8 * i).cast()) })
}

#[inline]
fn block_dot(w: &Wide, x: &Wide) -> v128 {
    let a = i32x4_add(i32x4_dot_i16x8(w[0], x[0]), i32x4_dot_i16x8(w[1], x[1]));
    let b = i32x4_add(i32x4_dot_i16x8(w[2], x[2]), i32x4_dot_i16x8(w[3], x[3]));
    f32x4_convert_i32x4(i32x4_add(a, b))
}

#[inline]
fn hsum(v: v128) -> f32 {
    f32x4_extract_lane::<0>(v)
        + f32x4_extract_lane::<1>(v)
        + f32x4_extract_lane::<2>(v)
        + f32x4_extract_lane::<3>(v)
}

/// `R` rows of one format against one activation row.
#[inline]
pub(super) fn rows_dot<const R: usize>(
    format: WeightFormat,
    rows: [&[u8]; R],
    x: Q16Row<'_>,
) -> [f32; R] {
    let bytes = format.block_bytes();
    let blocks = rows[0].len() / bytes;
    let mut acc = [f32x4_splat(0.0); R];
    let mut extra = [0f32; R];
    for b in 0..blocks {
        let xb = activations(&x.qs[32 * b..]);
        let (dx, sx) = (x.d[b], x.s[b]);
        for r in 0..R {
            let blk = &rows[r][b * bytes..(b + 1) * bytes];
            let d = f16_le(blk[0], blk[1]);
            let w = match format {
                WeightFormat::Q4_0 => {
                    extra[r] -= 8.0 * d * sx;
                    nibbles(&blk[2..])
                }
                WeightFormat::Q4_1 => {
                    extra[r] += f16_le(blk[2], blk[3]) * sx;
                    nibbles(&blk[4..])
                }
                _ => signed_bytes(&blk[2..]),
            };
            let scaled = f32x4_mul(block_dot(&w, &xb), f32x4_splat(d * dx));
            acc[r] = f32x4_add(acc[r], scaled);
        }
    }
    std::array::from_fn(|r| hsum(acc[r]) + extra[r])
}

#[inline]
fn load_f32(x: &[f32], k: usize) -> v128 {
    assert!(k + 4 <= x.len());
    // SAFETY: four values from `k` are in bounds.
    unsafe { v128_load(x.as_ptr().add(k).cast()) }
}

/// `a · b` in two 4-wide sums.
pub fn dot_f32(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (mut s0, mut s1) = (f32x4_splat(0.0), f32x4_splat(0.0));
    let mut k = 0;
    while k + 8 <= n {
        s0 = f32x4_add(s0, f32x4_mul(load_f32(a, k), load_f32(b, k)));
        s1 = f32x4_add(s1, f32x4_mul(load_f32(a, k + 4), load_f32(b, k + 4)));
        k += 8;
    }
    let tail: f32 = a[k..n].iter().zip(&b[k..n]).map(|(a, b)| a * b).sum();
    hsum(f32x4_add(s0, s1)) + tail
}

/// `panel/tile` on 4 lanes: 4 weight rows x `G` groups of positions. Weights are loaded
/// four columns at a time and each column broadcast by a shuffle: a splat of a value loaded
/// on its own costs two instructions in the browser's code.
pub fn tile<const G: usize>(panel: &[f32], cols: usize, x: &[f32], sums: &mut [f32]) {
    const L: usize = 4;
    assert!(panel.len() >= 4 * cols && x.len() >= G * cols * L && sums.len() >= 4 * G * L);
    let mut acc = [[f32x4_splat(0.0); G]; 4];
    let whole = cols - cols % 4;
    for k in (0..whole).step_by(4) {
        // SAFETY: columns k..k + 4 of each of the 4 rows, inside `panel`.
        let w: [v128; 4] =
            std::array::from_fn(|i| unsafe { v128_load(panel.as_ptr().add(i * cols + k).cast()) });
        column::<G, 0>(&mut acc, &w, x, cols, k);
        column::<G, 1>(&mut acc, &w, x, cols, k + 1);
        column::<G, 2>(&mut acc, &w, x, cols, k + 2);
        column::<G, 3>(&mut acc, &w, x, cols, k + 3);
    }
    for k in whole..cols {
        let w: [v128; 4] = std::array::from_fn(|i| f32x4_splat(panel[i * cols + k]));
        column::<G, 0>(&mut acc, &w, x, cols, k);
    }
    for (i, acc) in acc.iter().enumerate() {
        for (v, acc) in acc.iter().enumerate() {
            let at = (i * G + v) * L;
            // SAFETY: inside `sums`, by the assert above.
            unsafe { v128_store(sums[at..at + L].as_mut_ptr().cast(), *acc) };
        }
    }
}

/// `acc[i][v] += w[i][J] * x[v][k]`: column `k` of the tile, its 4 weights in lane `J` of
/// `w`. The caller has checked that column `k` of `G` groups is inside `x`.
#[inline(always)]
fn column<const G: usize, const J: usize>(
    acc: &mut [[v128; G]; 4],
    w: &[v128; 4],
    x: &[f32],
    cols: usize,
    k: usize,
) {
    let mut xs = [f32x4_splat(0.0); G];
    for (v, xs) in xs.iter_mut().enumerate() {
        // SAFETY: the caller's.
        *xs = unsafe { v128_load(x.as_ptr().add((v * cols + k) * 4).cast()) };
    }
    for (acc, w) in acc.iter_mut().zip(w) {
        let w = i32x4_shuffle::<J, J, J, J>(*w, *w);
        for (acc, xs) in acc.iter_mut().zip(xs) {
            *acc = f32x4_add(*acc, f32x4_mul(w, xs));
        }
    }
}
