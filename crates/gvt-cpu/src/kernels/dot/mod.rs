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
        Isa::Simd128 => wasm::q16_rows(w, rows, x, out),
        #[cfg(target_arch = "aarch64")]
        // SAFETY: every aarch64 CPU has NEON.
        Isa::Neon => unsafe { neon::q16_rows(w, rows, x, out) },
        _ => scalar::q16_rows(w, rows, x, out),
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
