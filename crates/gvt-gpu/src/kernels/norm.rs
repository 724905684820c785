//! `shaders/norm.wgsl`: RMSNorm and LayerNorm, one row per workgroup.

use super::{Dispatch, Family, Grid, bytes_of};
use crate::Gpu;

#[repr(C)]
#[derive(Debug, Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    width: u32,
    eps: f32,
    flags: u32,
    _pad: u32,
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

/// Normalises every row of `x` into `y`, or with `last_only` the last row into row 0.
///
/// # Shapes
/// - x: `[t, width]` -> y: `[t, width]` (`[1, width]` with `last_only`)
#[allow(clippy::too_many_arguments)]
pub fn norm(
    gpu: &Gpu,
    norm: Norm<'_>,
    width: usize,
    eps: f64,
    x: &wgpu::Buffer,
    y: &wgpu::Buffer,
    last_only: bool,
    step: &wgpu::Buffer,
) -> Dispatch {
    let params = Params {
        width: width as u32,
        eps: eps as f32,
        flags: last_only as u32,
        _pad: 0,
    };
    let params = gpu.uniform("norm", bytes_of(&params));
    let (entry, weight, bias) = match norm {
        Norm::Rms { weight } => ("rms_norm", weight, gpu.empty()),
        Norm::Layer { weight, bias } => ("layer_norm", weight, bias),
    };
    let grid = if last_only {
        Grid::Fixed([1, 1, 1])
    } else {
        Grid::PerPosition(1)
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
