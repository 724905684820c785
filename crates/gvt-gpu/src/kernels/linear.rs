//! `shaders/linear.wgsl`: y = x Wᵀ on GGUF blocks, with a fused epilogue.

use super::{Dispatch, Family, Grid, bytes_of};
use crate::{Gpu, Weight};

/// The tiled kernel's tile (as in the WGSL).
/// `matmul_rows`' tile on a software adapter: a row per invocation, 16 positions.
pub const ROWS_TILE: [u32; 2] = [64, 16];
pub const TILE_ROWS: u32 = 64;
pub const TILE_T: u32 = 32;

/// What the epilogue does after the product (flags of `linear.wgsl`; the bias is added
/// whenever [`Io::bias`] is given).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Epilogue(pub u32);

impl Epilogue {
    pub const STORE: Self = Self(0);
    const BIAS: Self = Self(1);
    /// `y += result`: the residual add.
    pub const ADD: Self = Self(2);
    /// `result * silu(gate[t, n])`: SwiGLU.
    pub const SILU_MUL: Self = Self(4);
    /// `gelu(result)`, after the bias.
    pub const GELU: Self = Self(8);

    pub const fn with(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }
}

/// What a linear layer reads and writes besides its weight.
#[derive(Clone, Copy)]
pub struct Io<'a> {
    /// `[x_row + t, w.cols]`
    pub x: &'a wgpu::Buffer,
    /// `[y_row + t, w.rows]`
    pub y: &'a wgpu::Buffer,
    /// `[w.rows]`, added before the activation.
    pub bias: Option<&'a wgpu::Buffer>,
    /// Laid out as `y`: the gate of [`Epilogue::SILU_MUL`].
    pub gate: Option<&'a wgpu::Buffer>,
    /// Rows of `x` and `y` before the step's first.
    pub x_row: usize,
    pub y_row: usize,
}

impl<'a> Io<'a> {
    pub fn new(x: &'a wgpu::Buffer, y: &'a wgpu::Buffer) -> Self {
        Self {
            x,
            y,
            bias: None,
            gate: None,
            x_row: 0,
            y_row: 0,
        }
    }

    pub fn bias(self, bias: Option<&'a wgpu::Buffer>) -> Self {
        Self { bias, ..self }
    }

    pub fn gate(self, gate: &'a wgpu::Buffer) -> Self {
        Self {
            gate: Some(gate),
            ..self
        }
    }

    /// Starts the step at row `x_row` of `x` and `y_row` of `y`.
    pub fn rows(self, x_row: usize, y_row: usize) -> Self {
        Self {
            x_row,
            y_row,
            ..self
        }
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
    x_row: u32,
    y_row: u32,
}

/// The launches of `y = epilogue(x Wᵀ + bias)`, one per chunk of `w`'s rows.
///
/// # Shapes
/// - x: `[t, w.cols]` -> y: `[t, w.rows]` (from the rows `io` names)
pub fn linear(
    gpu: &Gpu,
    w: &Weight,
    io: Io<'_>,
    epilogue: Epilogue,
    step: &wgpu::Buffer,
) -> Vec<Dispatch> {
    let epilogue = match io.bias {
        Some(_) => epilogue.with(Epilogue::BIAS),
        None => epilogue,
    };
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
                x_row: io.x_row as u32,
                y_row: io.y_row as u32,
            };
            let params = gpu.uniform(&w.name, bytes_of(&params));
            let buffers = [
                &chunk.buffer,
                io.x,
                io.y,
                io.gate.unwrap_or(gpu.empty()),
                io.bias.unwrap_or(gpu.empty()),
                &params,
                step,
            ];
            let (entry, per_group) = gpu.caps().matvec();
            let (tiled, tile) = gpu.caps().matmul();
            let grid = Grid::Linear {
                rows: chunk.rows as u32,
                per_group,
            };
            let mut d = Dispatch::new(gpu, Family::Linear, Some(w.format), entry, &buffers, grid);
            d.tiled = Some((gpu.pipeline(Family::Linear, Some(w.format), tiled), tile));
            d
        })
        .collect()
}
