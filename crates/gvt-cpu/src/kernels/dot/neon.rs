//! aarch64 NEON dot products (every aarch64 CPU has NEON): 128-bit vectors, `smull`/`smlal`
//! widening multiply-adds of i16 for the integer blocks, `fmla` for f32.

use std::arch::aarch64::*;

use crate::WeightFormat;
use crate::blocks::f16_le;
use crate::kernels::quantize::Q16Row;

/// A block's 32 values widened to i16, eight per vector.
type Wide = [int16x8_t; 4];

#[target_feature(enable = "neon")]
#[inline]
fn load_u8(x: &[u8]) -> uint8x16_t {
    assert!(x.len() >= 16);
    // SAFETY: 16 bytes are in bounds; the load takes unaligned addresses.
    unsafe { vld1q_u8(x.as_ptr()) }
}

#[target_feature(enable = "neon")]
#[inline]
fn nibbles(qs: &[u8]) -> Wide {
    let q = load_u8(qs);
    let lo = vandq_u8(q, vdupq_n_u8(0x0f));
    let hi = vshrq_n_u8::<4>(q);
    [
        vreinterpretq_s16_u16(vmovl_u8(vget_low_u8(lo))),
        vreinterpretq_s16_u16(vmovl_high_u8(lo)),
        vreinterpretq_s16_u16(vmovl_u8(vget_low_u8(hi))),
        vreinterpretq_s16_u16(vmovl_high_u8(hi)),
    ]
}

#[target_feature(enable = "neon")]
#[inline]
fn signed_bytes(qs: &[u8]) -> Wide {
    let (a, b) = (
        vreinterpretq_s8_u8(load_u8(qs)),
        vreinterpretq_s8_u8(load_u8(&qs[16..])),
    );
    [
        vmovl_s8(vget_low_s8(a)),
        vmovl_high_s8(a),
        vmovl_s8(vget_low_s8(b)),
        vmovl_high_s8(b),
    ]
}

#[target_feature(enable = "neon")]
#[inline]
fn activations(x: &[i16]) -> Wide {
    assert!(x.len() >= 32);
    // SAFETY: 32 values are in bounds.
    std::array::from_fn(|i| unsafe { vld1q_s16(x.as_ptr().add(8 * i)) })
}

/// The block's 32 products summed as i32 in four lanes (at most 32 x 127 x 32767: no
/// overflow), as f32.
#[target_feature(enable = "neon")]
#[inline]
fn block_dot(w: &Wide, x: &Wide) -> float32x4_t {
    let mut acc = vmull_s16(vget_low_s16(w[0]), vget_low_s16(x[0]));
    acc = vmlal_high_s16(acc, w[0], x[0]);
    for i in 1..4 {
        acc = vmlal_s16(acc, vget_low_s16(w[i]), vget_low_s16(x[i]));
        acc = vmlal_high_s16(acc, w[i], x[i]);
    }
    vcvtq_f32_s32(acc)
}

/// `R` rows of one format against one activation row.
#[target_feature(enable = "neon")]
#[inline]
pub(super) fn rows_dot<const R: usize>(
    format: WeightFormat,
    rows: [&[u8]; R],
    x: Q16Row<'_>,
) -> [f32; R] {
    let bytes = format.block_bytes();
    let blocks = rows[0].len() / bytes;
    let mut acc = [vdupq_n_f32(0.0); R];
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
            acc[r] = vfmaq_n_f32(acc[r], block_dot(&w, &xb), d * dx);
        }
    }
    std::array::from_fn(|r| vaddvq_f32(acc[r]) + extra[r])
}

#[target_feature(enable = "neon")]
#[inline]
fn load_f32(x: &[f32], k: usize) -> float32x4_t {
    assert!(k + 4 <= x.len());
    // SAFETY: four values from `k` are in bounds.
    unsafe { vld1q_f32(x.as_ptr().add(k)) }
}

/// `a · b` in two 4-wide sums.
#[target_feature(enable = "neon")]
pub fn dot_f32(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (mut s0, mut s1) = (vdupq_n_f32(0.0), vdupq_n_f32(0.0));
    let mut k = 0;
    while k + 8 <= n {
        s0 = vfmaq_f32(s0, load_f32(a, k), load_f32(b, k));
        s1 = vfmaq_f32(s1, load_f32(a, k + 4), load_f32(b, k + 4));
        k += 8;
    }
    let tail: f32 = a[k..n].iter().zip(&b[k..n]).map(|(a, b)| a * b).sum();
    vaddvq_f32(vaddq_f32(s0, s1)) + tail
}

/// `panel/tile` on 4 lanes: 4 weight rows x `G` groups of positions.
#[target_feature(enable = "neon")]
pub fn tile<const G: usize>(panel: &[f32], cols: usize, x: &[f32], sums: &mut [f32]) {
    const L: usize = 4;
    assert!(panel.len() >= 4 * cols && x.len() >= G * cols * L && sums.len() >= 4 * G * L);
    let mut acc = [[vdupq_n_f32(0.0); G]; 4];
    for k in 0..cols {
        let mut xs = [vdupq_n_f32(0.0); G];
        for (v, xs) in xs.iter_mut().enumerate() {
            *xs = load_f32(x, (v * cols + k) * L);
        }
        for (i, acc) in acc.iter_mut().enumerate() {
            let w = panel[i * cols + k];
            for (acc, xs) in acc.iter_mut().zip(xs) {
                *acc = vfmaq_n_f32(*acc, xs, w);
            }
        }
    }
    for (i, acc) in acc.iter().enumerate() {
        for (v, acc) in acc.iter().enumerate() {
            let at = (i * G + v) * L;
            // SAFETY: inside `sums`, by the assert above.
            unsafe { vst1q_f32(sums[at..at + L].as_mut_ptr(), *acc) };
        }
    }
}
