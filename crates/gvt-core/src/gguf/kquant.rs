//! Quantizers for the K-quants Q4_K and Q6_K, bit-exact with ggml's `quantize_row_q4_K_ref`
//! and `quantize_row_q6_K_ref` (`ggml-quants.c`).
//!
//! Unlike the 32-value formats, these search: each sub-block tries a few dozen candidate
//! scales and keeps the best least-squares fit, then the sub-block scales are themselves
//! quantized (6 bits in Q4_K, 8 bits in Q6_K) against one f16 super-block scale, and the
//! values are re-quantized with the scales as stored. A different last bit in one error sum
//! can flip which candidate wins and change a whole sub-block, so every float operation is
//! written in ggml's order, with ints converted to f32 where C converts them and no fused
//! multiply-add (ggml-base is built without `-mfma` and without `-ffast-math`).

use half::f16;

use super::quant::signed_absmax;

const QK_K: usize = 256;

/// ggml's `GROUP_MAX_EPS`: a group whose largest magnitude is below this counts as zero.
const GROUP_MAX_EPS: f32 = 1e-15;

/// ggml's `nearest_int`: adding 1.5 * 2^23 leaves the value rounded to nearest, ties to even,
/// in the low mantissa bits. Exact for |x| <= 2^22 - 1; beyond that (and for NaN) it gives
/// the same garbage as ggml, whose range assert is compiled out in release builds.
#[inline]
fn nearest_int(x: f32) -> i32 {
    let bits = (x + 12_582_912.0).to_bits() as i32;
    (bits & 0x007f_ffff) - 0x0040_0000
}

/// `x` rounded to f16 as ggml stores it (nearest even), and its little-endian bytes.
#[inline]
fn to_f16(x: f32) -> (f32, [u8; 2]) {
    let h = f16::from_f32(x);
    (h.to_f32(), h.to_bits().to_le_bytes())
}

// ---------------------------------------------------------------------------------------
// Q4_K: 8 sub-blocks of 32, x ~ d * sc * q - dmin * m with q in 0..=15

/// ggml's `make_qkx2_quants(32, 15, x, weights, L, &min, Laux, -1.0, 0.1, 20, false)`: the
/// weighted least-squares fit `x ~ scale * L + min` (min <= 0, L in 0..=15). Starts from the
/// min/max grid, then tries 21 grid widths `(14 + 0.1 * is) / (max - min)` and refits scale and
/// min to each one's levels. Returns (scale, -min) and leaves the levels in `levels`.
fn make_qkx2_quants(x: &[f32; 32], weights: &[f32; 32], levels: &mut [u8]) -> (f32, f32) {
    const NMAX: i32 = 15;
    let mut min = x[0];
    let mut max = x[0];
    let mut sum_w = weights[0];
    let mut sum_x = sum_w * x[0];
    for (&v, &w) in x.iter().zip(weights).skip(1) {
        if v < min {
            min = v;
        }
        if v > max {
            max = v;
        }
        sum_w += w;
        sum_x += w * v;
    }
    if min > 0.0 {
        min = 0.0;
    }
    if max == min {
        levels.fill(0);
        return (0.0, -min);
    }
    let level = |iscale: f32, v: f32, min: f32| nearest_int(iscale * (v - min)).clamp(0, NMAX);

    let iscale = NMAX as f32 / (max - min);
    let mut scale = 1.0 / iscale;
    let mut best_error = 0.0f32;
    for ((l, &v), &w) in levels.iter_mut().zip(x).zip(weights) {
        *l = level(iscale, v, min) as u8;
        let diff = scale * f32::from(*l) + min - v;
        best_error += w * (diff * diff);
    }

    let mut laux = [0u8; 32];
    for is in 0..=20 {
        // `min` moves when a candidate wins, and later candidates start from the new one.
        let iscale = (-1.0 + 0.1 * is as f32 + NMAX as f32) / (max - min);
        let (mut sum_l, mut sum_l2, mut sum_xl) = (0.0f32, 0.0f32, 0.0f32);
        for ((la, &v), &w) in laux.iter_mut().zip(x).zip(weights) {
            let l = level(iscale, v, min);
            *la = l as u8;
            let l = l as f32;
            sum_l += w * l;
            sum_l2 += w * l * l;
            sum_xl += w * l * v;
        }
        let det = sum_w * sum_l2 - sum_l * sum_l;
        if det > 0.0 {
            let mut this_scale = (sum_w * sum_xl - sum_x * sum_l) / det;
            let mut this_min = (sum_l2 * sum_x - sum_l * sum_xl) / det;
            if this_min > 0.0 {
                this_min = 0.0;
                this_scale = sum_xl / sum_l2;
            }
            let mut cur_error = 0.0f32;
            for ((&l, &v), &w) in laux.iter().zip(x).zip(weights) {
                let diff = this_scale * f32::from(l) + this_min - v;
                cur_error += w * (diff * diff);
            }
            if cur_error < best_error {
                levels.copy_from_slice(&laux);
                best_error = cur_error;
                scale = this_scale;
                min = this_min;
            }
        }
    }
    (scale, -min)
}

/// ggml's `quantize_row_q4_K_ref`. Block: d (f16), dmin (f16), scales[12] (eight 6-bit
/// scales and eight 6-bit mins), qs[128] (nibbles: values l and l + 32 of each 64).
pub(super) fn quant_q4_k(values: &[f32], out: &mut [u8]) {
    for (x, b) in values
        .as_chunks::<QK_K>()
        .0
        .iter()
        .zip(out.as_chunks_mut::<144>().0)
    {
        let mut levels = [0u8; QK_K];
        let mut scales = [0.0f32; 8];
        let mut mins = [0.0f32; 8];
        let mut max_scale = 0.0f32;
        let mut max_min = 0.0f32;
        for (j, sub) in x.as_chunks::<32>().0.iter().enumerate() {
            // Weight each value by the sub-block's RMS plus its own magnitude, so large values
            // are fitted more closely without letting small ones go.
            let mut sum_x2 = 0.0f32;
            for &v in sub {
                sum_x2 += v * v;
            }
            let av_x = (sum_x2 / 32.0).sqrt();
            let weights = sub.map(|v| av_x + v.abs());
            (scales[j], mins[j]) =
                make_qkx2_quants(sub, &weights, &mut levels[32 * j..32 * j + 32]);
            if scales[j] > max_scale {
                max_scale = scales[j];
            }
            if mins[j] > max_min {
                max_min = mins[j];
            }
        }

        let inv_scale = if max_scale > 0.0 {
            63.0 / max_scale
        } else {
            0.0
        };
        let inv_min = if max_min > 0.0 { 63.0 / max_min } else { 0.0 };
        // C stores nearest_int's int in a uint8_t (wrapping) before clamping to 63.
        let ls = scales.map(|s| (nearest_int(inv_scale * s) as u8).min(63));
        let lm = mins.map(|m| (nearest_int(inv_min * m) as u8).min(63));
        // 6-bit packing: bytes 0..4 hold scales 0..4 and bytes 4..8 mins 0..4 in their low
        // 6 bits; bytes 8..12 hold the low nibbles of scales/mins 4..8, whose top 2 bits go
        // into the spare high bits of bytes 0..8.
        let sc = &mut b[4..16];
        for j in 0..4 {
            sc[j] = ls[j] | ((ls[j + 4] >> 4) << 6);
            sc[j + 4] = lm[j] | ((lm[j + 4] >> 4) << 6);
            sc[j + 8] = (ls[j + 4] & 0x0F) | ((lm[j + 4] & 0x0F) << 4);
        }
        let (d, d_bytes) = to_f16(max_scale / 63.0);
        let (dmin, dmin_bytes) = to_f16(max_min / 63.0);
        [b[0], b[1]] = d_bytes;
        [b[2], b[3]] = dmin_bytes;

        // Re-quantize against the scales as stored (the packing is lossless, so ls/lm are
        // what ggml's get_scale_min_k4 reads back). A sub-block whose stored scale is 0
        // keeps make_qkx2_quants' levels.
        for (j, sub) in x.as_chunks::<32>().0.iter().enumerate() {
            let dj = d * f32::from(ls[j]);
            if dj == 0.0 {
                continue;
            }
            let dm = dmin * f32::from(lm[j]);
            for (l, &v) in levels[32 * j..32 * j + 32].iter_mut().zip(sub) {
                *l = nearest_int((v + dm) / dj).clamp(0, 15) as u8;
            }
        }

        for (q, lv) in b[16..144]
            .chunks_exact_mut(32)
            .zip(levels.as_chunks::<64>().0)
        {
            for (l, q) in q.iter_mut().enumerate() {
                *q = lv[l] | (lv[l + 32] << 4);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Q6_K: 16 sub-blocks of 16, x ~ d * sc * (q - 32) with q in 0..=63, sc an i8

/// ggml's `make_qx_quants(16, 32, x, L, 1, NULL)`: a signed scale with levels
/// `L - 32` in -32..=31, fitted by least squares with weights x^2. Tries the grid that maps
/// the largest magnitude to -32 and 18 grids around it. Returns the scale and leaves
/// `L` (0..=63) in `levels`.
fn make_qx_quants(x: &[f32], levels: &mut [u8]) -> f32 {
    const NMAX: i32 = 32;
    let (amax, max) = signed_absmax(x);
    if amax < GROUP_MAX_EPS {
        levels.fill(0);
        return 0.0;
    }
    let level = |iscale: f32, v: f32| nearest_int(iscale * v).clamp(-NMAX, NMAX - 1);
    let fill = |iscale: f32, levels: &mut [u8]| {
        for (l, &v) in levels.iter_mut().zip(x) {
            *l = (level(iscale, v) + NMAX) as u8;
        }
    };
    // sum w*x*l and sum w*l*l with w = x^2 (ggml's rmse_type 1).
    let sums = |iscale: f32| {
        let (mut sumlx, mut suml2) = (0.0f32, 0.0f32);
        for &v in x {
            let l = level(iscale, v) as f32;
            let w = v * v;
            sumlx += w * v * l;
            suml2 += w * l * l;
        }
        (sumlx, suml2)
    };

    let iscale = -(NMAX as f32) / max;
    fill(iscale, levels);
    let (sumlx, suml2) = sums(iscale);
    // C's `suml2 ? ... : 0`: NaN counts as true.
    let mut scale = if suml2 != 0.0 { sumlx / suml2 } else { 0.0 };
    let mut best = scale * sumlx;
    for is in (-9..=9).filter(|&is| is != 0) {
        let iscale = -(NMAX as f32 + 0.1 * is as f32) / max;
        let (sumlx, suml2) = sums(iscale);
        if suml2 > 0.0 && sumlx * sumlx > best * suml2 {
            fill(iscale, levels);
            scale = sumlx / suml2;
            best = scale * sumlx;
        }
    }
    scale
}

/// ggml's `quantize_row_q6_K_ref`. Block: ql[128] (low nibbles), qh[64] (high 2 bits),
/// scales[16] (i8), d (f16).
pub(super) fn quant_q6_k(values: &[f32], out: &mut [u8]) {
    for (x, b) in values
        .as_chunks::<QK_K>()
        .0
        .iter()
        .zip(out.as_chunks_mut::<210>().0)
    {
        let mut levels = [0u8; QK_K];
        let mut scales = [0.0f32; 16];
        let mut max_scale = 0.0f32;
        let mut max_abs_scale = 0.0f32;
        for ((sub, lv), s) in x
            .as_chunks::<16>()
            .0
            .iter()
            .zip(levels.as_chunks_mut::<16>().0)
            .zip(&mut scales)
        {
            *s = make_qx_quants(sub, lv);
            if s.abs() > max_abs_scale {
                max_abs_scale = s.abs();
                max_scale = *s;
            }
        }
        if max_abs_scale < GROUP_MAX_EPS {
            b.fill(0);
            continue;
        }

        // The largest-magnitude scale maps to -128; C stores MIN(127, ..) into an int8_t.
        let iscale = -128.0 / max_scale;
        let (d, d_bytes) = to_f16(1.0 / iscale);
        [b[208], b[209]] = d_bytes;
        let sc = scales.map(|s| nearest_int(iscale * s).min(127) as i8);
        for (dst, &s) in b[192..208].iter_mut().zip(&sc) {
            *dst = s as u8;
        }

        // Re-quantize against the stored scales; a sub-block whose scale is 0 keeps
        // make_qx_quants' levels.
        for ((sub, lv), &s) in x
            .as_chunks::<16>()
            .0
            .iter()
            .zip(levels.as_chunks_mut::<16>().0)
            .zip(&sc)
        {
            let dj = d * f32::from(s);
            if dj == 0.0 {
                continue;
            }
            for (l, &v) in lv.iter_mut().zip(sub) {
                *l = (nearest_int(v / dj).clamp(-32, 31) + 32) as u8;
            }
        }

        // Each 128 values: ql[l] = low nibbles of l and l + 64, ql[l + 32] those of l + 32
        // and l + 96; qh[l] = the high 2 bits of l, l + 32, l + 64, l + 96.
        let (ql, rest) = b.split_at_mut(128);
        let qh = &mut rest[..64];
        for ((lv, ql), qh) in levels
            .as_chunks::<128>()
            .0
            .iter()
            .zip(ql.as_chunks_mut::<64>().0)
            .zip(qh.as_chunks_mut::<32>().0)
        {
            for l in 0..32 {
                let [q1, q2, q3, q4] = [lv[l], lv[l + 32], lv[l + 64], lv[l + 96]];
                ql[l] = (q1 & 0x0F) | ((q3 & 0x0F) << 4);
                ql[l + 32] = (q2 & 0x0F) | ((q4 & 0x0F) << 4);
                qh[l] = (q1 >> 4) | ((q2 >> 4) << 2) | ((q3 >> 4) << 4) | ((q4 >> 4) << 6);
            }
        }
    }
}
