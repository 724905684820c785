//! `y = x · Wᵀ` for one or more weights over the same input rows, their output rows split
//! across the pool's threads (as `shaders/linear.wgsl` splits them across workgroups).
//!
//! One call is one pool job: a layer's q, k and v (or gate and up) share it, so a decode
//! step wakes the threads five times per layer.

use std::sync::atomic::{AtomicUsize, Ordering};

use super::Out;
use super::dot::{Columns, PANEL_ROWS, f32_rows, panel_rows, q16_rows, wants_q16};
use super::quantize::Q16;
use crate::{Cpu, Weight};

/// f32 outputs in a 64-byte cache line (a multiple of the panels' rows).
const LINE_ROWS: usize = 16;
const _: () = assert!(LINE_ROWS.is_multiple_of(PANEL_ROWS));

/// Positions from which a job decodes its weights to f32 (see `dot/panel.rs`).
pub const PANEL_FROM: usize = 4;

/// One weight of a [`linear`] job, and where its output goes: `y` is `[t, w.rows]`.
pub struct Linear<'a> {
    pub w: &'a Weight,
    pub y: &'a mut [f32],
    /// Add to `y` (a residual) instead of storing.
    pub add: bool,
}

impl<'a> Linear<'a> {
    pub fn store(w: &'a Weight, y: &'a mut [f32]) -> Self {
        Self { w, y, add: false }
    }

    pub fn add(w: &'a Weight, y: &'a mut [f32]) -> Self {
        Self { w, y, add: true }
    }
}

/// The input of [`linear`] as its kernels read it, kept between calls: quantized to 16 bits
/// (a decode step) or as columns of positions (a prompt).
#[derive(Default)]
pub struct Scratch {
    q16: Q16,
    columns: Columns,
}

/// Runs every job of `jobs` over the input rows `x` (`[t, cols]`, the same `cols` for
/// all).
///
/// # Panics
/// When a weight's columns differ from the input's or an output is not `[t, rows]`.
pub fn linear(cpu: &Cpu, x: &[f32], jobs: &mut [Linear<'_>], scratch: &mut Scratch) {
    let Some(cols) = jobs.first().map(|j| j.w.cols) else {
        return;
    };
    let t = x.len() / cols;
    for j in jobs.iter() {
        assert_eq!(j.w.cols, cols, "{}: input of {cols} columns", j.w.name);
        assert_eq!(j.y.len(), t * j.w.rows, "{}: output rows", j.w.name);
    }
    // From a few positions on, decoding a weight row once for all of them beats meeting
    // each block of it with each position's scale.
    let panel = t >= PANEL_FROM;
    if panel {
        scratch.columns.fill(cpu.isa, x, cols);
    } else if jobs.iter().any(|j| wants_q16(j.w.format)) {
        scratch.q16.quantize(x, cols);
    }
    // Chunks of rows small enough that threads finish together, large enough that a
    // chunk is worth taking, in whole cache lines of each output row so that no two
    // threads write the same line. A prompt's chunks are small (8 per thread over the job):
    // each is long work. A decode step's are large (2 per thread, up to 1,024 rows): each
    // streams its rows from memory, and a stream that breaks every 64 rows measured 6%
    // slower on SmolLM2.
    let rows: usize = jobs.iter().map(|j| j.w.rows).sum();
    let (per_thread, most) = if panel { (8, 64) } else { (2, 1024) };
    let per_chunk = (rows / (per_thread * cpu.pool.threads()))
        .clamp(4, most)
        .next_multiple_of(LINE_ROWS);
    let parts: Vec<(&Weight, Out, usize)> = jobs
        .iter_mut()
        .map(|j| {
            (
                j.w,
                Out::new(j.y, j.w.rows, j.add),
                j.w.rows.div_ceil(per_chunk),
            )
        })
        .collect();
    let chunks: usize = parts.iter().map(|p| p.2).sum();
    let next = AtomicUsize::new(0);
    let (q16, columns) = (&scratch.q16, &scratch.columns);
    cpu.pool.run(&|_| {
        loop {
            let mut c = next.fetch_add(1, Ordering::Relaxed);
            if c >= chunks {
                break;
            }
            let Some((w, out, _)) = parts.iter().find(|p| {
                let here = c < p.2;
                if !here {
                    c -= p.2;
                }
                here
            }) else {
                break;
            };
            let rows = c * per_chunk..((c + 1) * per_chunk).min(w.rows);
            if panel {
                panel_rows(cpu.isa, w, rows, columns, out);
            } else if wants_q16(w.format) {
                q16_rows(cpu.isa, w, rows, q16, out);
            } else {
                f32_rows(cpu.isa, w, rows, x, out);
            }
        }
    });
}
