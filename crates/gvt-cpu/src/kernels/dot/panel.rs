//! Products of many activation rows (a prompt's positions) with weights decoded to f32 four
//! rows at a time. Each decoded row meets every activation row in 4 x 2 register tiles, so
//! decoding is paid once per row and prompt, and the sums are f32 products of f32 values:
//! more exact than 16-bit activations, and faster once a prompt has a few positions (the
//! integer path scales every block of every position; this one scales nothing).

use std::ops::Range;

use super::super::Out;
use crate::{Isa, Weight};

/// Weight rows decoded together.
pub(crate) const ROWS: usize = 4;

/// `y[t, r] = w.row(r) · x[t]` for `r` in `rows` and every row `t` of `x` (`[t, cols]`).
pub(crate) fn panel_rows(isa: Isa, w: &Weight, rows: Range<usize>, x: &[f32], out: &Out) {
    let cols = w.cols;
    let t = x.len() / cols;
    let mut panel = vec![0f32; ROWS * cols];
    let mut r = rows.start;
    while r < rows.end {
        let n = ROWS.min(rows.end - r);
        for (i, dst) in panel.chunks_exact_mut(cols).take(n).enumerate() {
            w.format.decode(w.row(r + i), dst);
        }
        for ti in (0..t).step_by(2) {
            let second = (ti + 1).min(t - 1);
            let x0 = &x[ti * cols..(ti + 1) * cols];
            let x1 = &x[second * cols..(second + 1) * cols];
            let sums = tile(isa, &panel, x0, x1, cols);
            for (i, sums) in sums.iter().enumerate().take(n) {
                out.put(r + i, ti, sums[0]);
                if second != ti {
                    out.put(r + i, second, sums[1]);
                }
            }
        }
        r += n;
    }
}

/// `[panel row i · x0, panel row i · x1]` for the four rows of `panel`.
fn tile(isa: Isa, panel: &[f32], x0: &[f32], x1: &[f32], cols: usize) -> [[f32; 2]; ROWS] {
    match isa {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `Isa::available` lists these only where the CPU has the features.
        Isa::Avx512Vnni => unsafe { super::x86::tile_512(panel, x0, x1, cols) },
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 => unsafe { super::x86::tile_256(panel, x0, x1, cols) },
        #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
        Isa::Simd128 => super::wasm::tile(panel, x0, x1, cols),
        _ => tile_portable(panel, x0, x1, cols),
    }
}

fn tile_portable(panel: &[f32], x0: &[f32], x1: &[f32], cols: usize) -> [[f32; 2]; ROWS] {
    std::array::from_fn(|i| {
        let w = &panel[i * cols..(i + 1) * cols];
        [super::scalar::dot_f32(w, x0), super::scalar::dot_f32(w, x1)]
    })
}
