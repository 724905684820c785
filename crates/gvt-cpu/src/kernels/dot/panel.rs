//! Products of many activation rows (a prompt's positions) with weights decoded to f32 four
//! rows at a time. The activations are laid out once per call as [`Columns`]: for each
//! group of `lanes` positions, column `k` of all of them side by side. A tile then keeps
//! 4 weight rows x up to 3 groups of positions in registers; each step broadcasts one
//! weight per row, loads one column per group and adds their products, with nothing to sum
//! across lanes at the end. Decoding is paid once per row and prompt, and the sums are f32
//! products of f32 values: more exact than 16-bit activations, and faster once a prompt has
//! a few positions (the integer path scales every block of every position).

use std::ops::Range;

use super::super::Out;
use crate::{Isa, Weight};

/// Weight rows decoded together.
pub(crate) const ROWS: usize = 4;

/// Groups of positions in one tile, at most.
const GROUPS: usize = 3;

/// Values per tile: `[ROWS][GROUPS][lanes]` with up to 16 lanes.
const TILE: usize = ROWS * GROUPS * 16;

/// Groups of positions in `isa`'s tiles: as many as keep the accumulators, a vector per
/// group and a broadcast weight in registers (32 vector registers with AVX-512 and NEON,
/// 16 with AVX2 and in the browser's code for wasm on x86).
fn max_groups(isa: Isa) -> usize {
    match isa {
        Isa::Avx512Vnni | Isa::Neon => GROUPS,
        Isa::Avx2 | Isa::Simd128 | Isa::Scalar => 2,
    }
}

/// Activation rows `[t, cols]` as groups of `lanes` positions, each `[cols][lanes]`
/// (positions past `t` are zeros). Reused across calls.
#[derive(Default)]
pub struct Columns {
    t: usize,
    cols: usize,
    lanes: usize,
    data: Vec<f32>,
}

impl Columns {
    /// Lays out `x` (`[t, cols]`) for `isa`'s tiles.
    pub fn fill(&mut self, isa: Isa, x: &[f32], cols: usize) {
        let lanes = lanes(isa);
        let t = x.len() / cols.max(1);
        self.t = t;
        self.cols = cols;
        self.lanes = lanes;
        self.data.clear();
        self.data.resize(t.div_ceil(lanes) * cols * lanes, 0.0);
        for (ti, row) in x.chunks_exact(cols).enumerate() {
            let group = &mut self.data[(ti / lanes) * cols * lanes..][..cols * lanes];
            for (k, v) in row.iter().enumerate() {
                group[k * lanes + ti % lanes] = *v;
            }
        }
    }

    fn groups(&self) -> usize {
        self.t.div_ceil(self.lanes)
    }

    /// The groups from `g` on, one after the other.
    fn groups_from(&self, g: usize) -> &[f32] {
        &self.data[g * self.cols * self.lanes..]
    }
}

/// Positions side by side in one vector of `isa`.
fn lanes(isa: Isa) -> usize {
    match isa {
        Isa::Avx512Vnni => 16,
        Isa::Avx2 | Isa::Scalar => 8,
        Isa::Simd128 | Isa::Neon => 4,
    }
}

/// `y[t, r] = w.row(r) · x[t]` for `r` in `rows` and every position `t` of `x`.
pub(crate) fn panel_rows(isa: Isa, w: &Weight, rows: Range<usize>, x: &Columns, out: &Out) {
    let cols = w.cols;
    assert_eq!(x.cols, cols, "{}: input of {cols} columns", w.name);
    assert_eq!(
        x.lanes,
        lanes(isa),
        "columns laid out for another instruction set"
    );
    let lanes = x.lanes;
    let mut panel = vec![0f32; ROWS * cols];
    let mut sums = [0f32; TILE];
    let mut r = rows.start;
    while r < rows.end {
        let n = ROWS.min(rows.end - r);
        for (i, dst) in panel.chunks_exact_mut(cols).take(n).enumerate() {
            w.format.decode(w.row(r + i), dst);
        }
        let mut g = 0;
        while g < x.groups() {
            let groups = max_groups(isa).min(x.groups() - g);
            tile(isa, groups, &panel, cols, x.groups_from(g), &mut sums);
            // Position by position, the tile's rows side by side: a cache line at a time.
            for v in 0..groups {
                let first = (g + v) * lanes;
                for l in 0..lanes.min(x.t - first) {
                    let column: [f32; ROWS] =
                        std::array::from_fn(|i| sums[(i * groups + v) * lanes + l]);
                    out.put_rows(r, first + l, &column, n);
                }
            }
            g += groups;
        }
        r += n;
    }
}

/// `sums[(i * groups + v) * lanes + l]` = panel row `i` · position `l` of group `v`, for
/// the 4 rows of `panel` (`[4, cols]`) and `groups` groups of `x` (1 to 3).
fn tile(isa: Isa, groups: usize, panel: &[f32], cols: usize, x: &[f32], sums: &mut [f32]) {
    macro_rules! by_groups {
        ($($kernel:ident)::+) => {
            match groups {
                1 => $($kernel)::+::<1>(panel, cols, x, sums),
                2 => $($kernel)::+::<2>(panel, cols, x, sums),
                _ => $($kernel)::+::<3>(panel, cols, x, sums),
            }
        };
    }
    match isa {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `Isa::available` lists these only where the CPU has the features.
        Isa::Avx512Vnni => unsafe { by_groups!(super::x86::tile_512) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: as above.
        Isa::Avx2 => unsafe { by_groups!(super::x86::tile_256) },
        #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
        Isa::Simd128 => by_groups!(super::wasm::tile),
        #[cfg(target_arch = "aarch64")]
        // SAFETY: every aarch64 CPU has NEON.
        Isa::Neon => unsafe { by_groups!(super::neon::tile) },
        _ => by_groups!(tile_portable),
    }
}

/// [`tile`] in portable Rust, on 8 lanes.
fn tile_portable<const G: usize>(panel: &[f32], cols: usize, x: &[f32], sums: &mut [f32]) {
    const L: usize = 8;
    let x = &x[..G * cols * L];
    let mut acc = [[[0f32; L]; G]; ROWS];
    for k in 0..cols {
        for (i, acc) in acc.iter_mut().enumerate() {
            let w = panel[i * cols + k];
            for (v, acc) in acc.iter_mut().enumerate() {
                let column = &x[(v * cols + k) * L..][..L];
                for (a, c) in acc.iter_mut().zip(column) {
                    *a += w * c;
                }
            }
        }
    }
    for (dst, src) in sums.chunks_exact_mut(L).zip(acc.as_flattened()) {
        dst.copy_from_slice(src);
    }
}
