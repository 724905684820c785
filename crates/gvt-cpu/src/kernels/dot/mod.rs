//! Dot products of weight rows with activation rows, one file per instruction set.
//!
//! Q4_0, Q4_1, Q5_0, Q5_1 and Q8_0 meet 16-bit activations ([`Q16`]) in integer dot
//! products, as ggml's CPU backend meets them with 8-bit ones: a block's 32 products are
//! summed as integers and scaled once (one file per instruction set; Q5_0 and Q5_1 by hand
//! on x86 only). Q4_K, Q5_K and Q6_K do too: by hand on x86, and elsewhere in `scalar.rs`'s
//! portable code. F32, F16 and BF16 meet f32 activations. A prompt of several positions goes
//! through [`panel_rows`] instead: weights decoded to f32 four rows at a time, met by every
//! position laid out as [`Columns`].

use std::ops::Range;

pub(crate) use panel::Columns;
pub(crate) use panel::{ROWS as PANEL_ROWS, panel_rows};

use super::Out;
use super::quantize::Q16;
#[cfg(any(
    target_arch = "aarch64",
    all(target_arch = "wasm32", target_feature = "simd128")
))]
use super::quantize::Q16Row;
use crate::{Isa, Weight, WeightFormat};

#[cfg(target_arch = "aarch64")]
mod neon;
mod panel;
mod scalar;
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod wasm;
#[cfg(target_arch = "x86_64")]
mod x86;

/// Whether `format` meets 16-bit activations: every block format does; F32, F16 and BF16
/// rows meet f32 ones.
pub(crate) fn wants_q16(format: WeightFormat) -> bool {
    !matches!(
        format,
        WeightFormat::F32 | WeightFormat::F16 | WeightFormat::BF16
    )
}

/// `y[t, r] = w.row(r) · x.row(t)` for `r` in `rows` and every `t`, for a format
/// [`wants_q16`].
pub(crate) fn q16_rows(isa: Isa, w: &Weight, rows: Range<usize>, x: &Q16, out: &Out) {
    match isa {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `Isa::available` lists these only where the CPU has the features.
        Isa::Avx2 => unsafe { x86::avx2::q16_rows(w, rows, x, out) },
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512Vnni => unsafe { x86::vnni::q16_rows(w, rows, x, out) },
        #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
        Isa::Simd128 if by_hand_128(w.format) => in_fours(
            w,
            rows,
            x,
            out,
            |r, x| wasm::rows_dot::<4>(w.format, r, x),
            |r, x| wasm::rows_dot::<1>(w.format, r, x),
        ),
        #[cfg(target_arch = "aarch64")]
        Isa::Neon if by_hand_128(w.format) => in_fours(
            w,
            rows,
            x,
            out,
            // SAFETY: every aarch64 CPU has NEON.
            |r, x| unsafe { neon::rows_dot::<4>(w.format, r, x) },
            // SAFETY: as above.
            |r, x| unsafe { neon::rows_dot::<1>(w.format, r, x) },
        ),
        // The rest, on NEON and in wasm too: portable code the compiler vectorizes.
        _ => scalar::q16_rows(w, rows, x, out),
    }
}

/// The formats the 128-bit kernels (NEON, wasm SIMD128) are written for.
#[cfg(any(
    target_arch = "aarch64",
    all(target_arch = "wasm32", target_feature = "simd128")
))]
fn by_hand_128(format: WeightFormat) -> bool {
    matches!(
        format,
        WeightFormat::Q4_0 | WeightFormat::Q4_1 | WeightFormat::Q8_0
    )
}

/// Rows `rows` of `w` against every row of `x`: four at a time through `four`, whose
/// activations are loaded once for the four rows, and the last few through `one`.
#[cfg(any(
    target_arch = "aarch64",
    all(target_arch = "wasm32", target_feature = "simd128")
))]
#[inline(always)]
fn in_fours(
    w: &Weight,
    rows: Range<usize>,
    x: &Q16,
    out: &Out,
    four: impl Fn([&[u8]; 4], Q16Row<'_>) -> [f32; 4],
    one: impl Fn([&[u8]; 1], Q16Row<'_>) -> [f32; 1],
) {
    let (all, rb) = (w.bytes(), w.row_bytes);
    let row = |r: usize| &all[r * rb..(r + 1) * rb];
    let mut r = rows.start;
    while r < rows.end {
        let n = if rows.end - r >= 4 { 4 } else { 1 };
        for t in 0..x.rows {
            if n == 4 {
                let v = four(std::array::from_fn(|i| row(r + i)), x.row(t));
                out.put_rows(r, t, &v, 4);
            } else {
                out.put(r, t, one([row(r)], x.row(t))[0]);
            }
        }
        r += n;
    }
}

/// `y[t, r] = w.row(r) · x[t]` for `r` in `rows`, over f32 activations `x` (`[t, cols]`).
pub(crate) fn f32_rows(isa: Isa, w: &Weight, rows: Range<usize>, x: &[f32], out: &Out) {
    let cols = w.cols;
    let mut decoded = Vec::new();
    for r in rows {
        let row = w.row(r);
        // F32 rows are read in place when they are aligned (they are in GGUF files).
        // SAFETY: every bit pattern is an f32; only the aligned middle is used, and only
        // when nothing is left over on either side.
        let values: &[f32] = match (w.format, unsafe { row.align_to::<f32>() }) {
            (WeightFormat::F32, ([], v, [])) if cfg!(target_endian = "little") => v,
            _ => {
                decoded.resize(cols, 0.0);
                w.format.decode(row, &mut decoded);
                &decoded
            }
        };
        for (t, x) in x.chunks_exact(cols).enumerate() {
            out.put(r, t, dot_f32(isa, values, x));
        }
    }
}

/// `a · b`.
pub(crate) fn dot_f32(isa: Isa, a: &[f32], b: &[f32]) -> f32 {
    match isa {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `Isa::available` lists these only where the CPU has AVX2 and FMA.
        Isa::Avx2 | Isa::Avx512Vnni => unsafe { x86::dot_f32(a, b) },
        #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
        Isa::Simd128 => wasm::dot_f32(a, b),
        #[cfg(target_arch = "aarch64")]
        // SAFETY: every aarch64 CPU has NEON.
        Isa::Neon => unsafe { neon::dot_f32(a, b) },
        _ => scalar::dot_f32(a, b),
    }
}
