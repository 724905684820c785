//! `shaders/linear.wgsl`: y = x Wᵀ on GGUF blocks, with a fused epilogue.

use super::{Dispatch, Family, Grid, bytes_of};
use crate::{Gpu, Weight};

/// Rows per mat-vec workgroup, and the tiled kernel's tile (as in the WGSL).
pub const MATVEC_ROWS: u32 = 4;
pub const TILE_ROWS: u32 = 64;
pub const TILE_T: u32 = 32;

/// What the epilogue does after the product (flags of `linear.wgsl`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Epilogue(pub u32);

impl Epilogue {
    pub const STORE: Self = Self(0);
    /// `+ bias[n]` (aux is the bias).
    pub const BIAS: Self = Self(1);
    /// `y += result`: the residual add.
    pub const ADD: Self = Self(2);
    /// `result * silu(aux[t, n])`: SwiGLU, aux is the gate projection.
    pub const SILU_MUL: Self = Self(4);
    /// `gelu(result)`, after the bias.
    pub const GELU: Self = Self(8);

    pub const fn with(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }
}

#[repr(C)]
#[derive(Debug, Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    k: u32,
    n: u32,
    row_bytes: u32,
    y_stride: u32,
    y_offset: u32,
    epilogue: u32,
    _pad: [u32; 2],
}

/// The launches of `y = epilogue(x Wᵀ)`, one per chunk of `w`'s rows.
///
/// # Shapes
/// - x: `[t, w.cols]`, y: `[t, w.rows]`, aux: `[w.rows]` (bias) or `[t, w.rows]` (gate)
pub fn linear(
    gpu: &Gpu,
    w: &Weight,
    x: &wgpu::Buffer,
    y: &wgpu::Buffer,
    aux: Option<&wgpu::Buffer>,
    epilogue: Epilogue,
    step: &wgpu::Buffer,
) -> Vec<Dispatch> {
    w.chunks
        .iter()
        .map(|chunk| {
            let params = Params {
                k: w.cols as u32,
                n: chunk.rows as u32,
                row_bytes: w.row_bytes as u32,
                y_stride: w.rows as u32,
                y_offset: chunk.first as u32,
                epilogue: epilogue.0,
                _pad: [0; 2],
            };
            let params = gpu.uniform(&w.name, bytes_of(&params));
            let buffers = [
                &chunk.buffer,
                x,
                y,
                aux.unwrap_or(gpu.empty()),
                &params,
                step,
            ];
            let grid = Grid::Linear {
                rows: chunk.rows as u32,
            };
            let mut d = Dispatch::new(
                gpu,
                Family::Linear,
                Some(w.format),
                "matvec",
                &buffers,
                grid,
            );
            d.tiled = Some(gpu.pipeline(Family::Linear, Some(w.format), "matmul"));
            d
        })
        .collect()
}
