//! `shaders/embed.wgsl`: token embeddings gathered from GGUF blocks by GPU-side ids.

use super::{Dispatch, Family, Grid, bytes_of};
use crate::{Gpu, Weight};

/// An id that leaves its row alone (the visual tokens fill it).
pub const NO_TOKEN: u32 = u32::MAX;

#[repr(C)]
#[derive(Debug, Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    width: u32,
    row_bytes: u32,
    first: u32,
    rows: u32,
    ids_offset: u32,
    _pad: [u32; 3],
}

/// `y[i] = table[ids[ids_offset + i]]` for the step's positions, one launch per chunk.
///
/// # Shapes
/// - table: `[vocab, width]`; y: `[t, width]`
pub fn embed(
    gpu: &Gpu,
    table: &Weight,
    ids: &wgpu::Buffer,
    ids_offset: u32,
    y: &wgpu::Buffer,
    step: &wgpu::Buffer,
) -> Vec<Dispatch> {
    table
        .chunks
        .iter()
        .map(|chunk| {
            let params = Params {
                width: table.cols as u32,
                row_bytes: table.row_bytes as u32,
                first: chunk.first as u32,
                rows: chunk.rows as u32,
                ids_offset,
                _pad: [0; 3],
            };
            let params = gpu.uniform("embed", bytes_of(&params));
            Dispatch::new(
                gpu,
                Family::Embed,
                Some(table.format),
                "embed",
                &[&chunk.buffer, ids, y, &params, step],
                Grid::PerPosition(table.cols.div_ceil(8 * 64) as u32),
            )
        })
        .collect()
}
