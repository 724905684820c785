//! `shaders/norm.wgsl`: RMSNorm and LayerNorm, one row per workgroup.

use super::{Dispatch, Family, Grid, bytes_of};
use crate::Gpu;

#[repr(C)]
#[derive(Debug, Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    width: u32,
    eps: f32,
    flags: u32,
    x_row: u32,
    y_row: u32,
    _pad: [u32; 3],
}

/// Which norm, and its learned parameters (`[width]` f32 buffers).
pub enum Norm<'a> {
    Rms {
        weight: &'a wgpu::Buffer,
    },
    Layer {
        weight: &'a wgpu::Buffer,
        bias: &'a wgpu::Buffer,
    },
}

/// Which rows a norm reads and writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rows {
    /// The step's `t` rows from row `x` of the input into rows from `y` of the output.
    At { x: usize, y: usize },
    /// The step's last row into row 0 (the logits need only the last position).
    Last,
}

impl Rows {
    /// Row `i` of the input into row `i` of the output.
    pub const SAME: Rows = Rows::At { x: 0, y: 0 };
}

/// Normalises the step's rows of `x` into `y`.
///
/// # Shapes
/// - x: `[t, width]` -> y: `[t, width]` (`[1, width]` with [`Rows::Last`])
#[allow(clippy::too_many_arguments)]
pub fn norm(
    gpu: &Gpu,
    norm: Norm<'_>,
    width: usize,
    eps: f64,
    x: &wgpu::Buffer,
    y: &wgpu::Buffer,
    rows: Rows,
    step: &wgpu::Buffer,
) -> Dispatch {
    let (last, x_row, y_row) = match rows {
        Rows::At { x, y } => (false, x, y),
        Rows::Last => (true, 0, 0),
    };
    let params = Params {
        width: width as u32,
        eps: eps as f32,
        flags: last as u32,
        x_row: x_row as u32,
        y_row: y_row as u32,
        _pad: [0; 3],
    };
    let params = gpu.uniform("norm", bytes_of(&params));
    // A software adapter takes a row per invocation, with no barrier.
    let software = gpu.caps().software;
    let (entry, weight, bias) = match (norm, software) {
        (Norm::Rms { weight }, false) => ("rms_norm", weight, gpu.empty()),
        (Norm::Rms { weight }, true) => ("rms_norm_rows", weight, gpu.empty()),
        (Norm::Layer { weight, bias }, false) => ("layer_norm", weight, bias),
        (Norm::Layer { weight, bias }, true) => ("layer_norm_rows", weight, bias),
    };
    let grid = match (last, software) {
        (true, _) => Grid::Fixed([1, 1, 1]),
        (false, false) => Grid::PerPosition(1),
        (false, true) => Grid::Flat { per_position: 1 },
    };
    Dispatch::new(
        gpu,
        Family::Norm,
        None,
        entry,
        &[x, y, weight, bias, &params, step],
        grid,
    )
}
