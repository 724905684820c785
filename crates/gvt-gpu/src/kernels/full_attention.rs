//! `shaders/full_attention.wgsl`: unmasked attention over f32 keys and values, for the
//! vision tower and the resampler.

use super::attention::MAX_HEAD_DIM;
use super::{Dispatch, Family, Grid, bytes_of};
use crate::{Gpu, GpuError, Result};

#[repr(C)]
#[derive(Debug, Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    heads: u32,
    head_dim: u32,
    tq: u32,
    tk: u32,
    q_stride: u32,
    kv_stride: u32,
    k_at: u32,
    v_at: u32,
    probs_at: u32,
    scale: f32,
    _pad: [u32; 2],
}

/// Where keys and values sit in their rows.
#[derive(Debug, Clone, Copy)]
pub struct KeysValues<'a> {
    pub k: &'a wgpu::Buffer,
    pub v: &'a wgpu::Buffer,
    /// Values per row of `k` and `v`.
    pub stride: usize,
    /// Columns of the first head's key and value.
    pub k_at: usize,
    pub v_at: usize,
    /// Rows.
    pub len: usize,
}

/// Attention of `tq` queries (`heads` of `head_dim`, rows of `heads * head_dim`) over all of
/// `kv`'s rows; the softmax rows go to `probs` from value `probs_at`.
///
/// # Shapes
/// - q, out: `[tq, heads, head_dim]`; probs: `[heads, tq, kv.len]` from `probs_at`
#[allow(clippy::too_many_arguments)]
pub fn full_attention(
    gpu: &Gpu,
    heads: usize,
    head_dim: usize,
    tq: usize,
    q: &wgpu::Buffer,
    kv: KeysValues<'_>,
    out: &wgpu::Buffer,
    probs: &wgpu::Buffer,
    probs_at: usize,
) -> Result<Dispatch> {
    if head_dim > MAX_HEAD_DIM {
        return Err(GpuError::InvalidInput(format!(
            "head size {head_dim} is more than the GPU engine's {MAX_HEAD_DIM}"
        )));
    }
    let params = Params {
        heads: heads as u32,
        head_dim: head_dim as u32,
        tq: tq as u32,
        tk: kv.len as u32,
        q_stride: (heads * head_dim) as u32,
        kv_stride: kv.stride as u32,
        k_at: kv.k_at as u32,
        v_at: kv.v_at as u32,
        probs_at: probs_at as u32,
        scale: (head_dim as f64).powf(-0.5) as f32,
        _pad: [0; 2],
    };
    let params = gpu.uniform("full attention", bytes_of(&params));
    // A software adapter takes a (query, head) per invocation, with no barrier.
    let (entry, grid) = if gpu.caps().software {
        ("attend_all_rows", [(tq * heads).div_ceil(64) as u32, 1, 1])
    } else {
        ("attend_all", [heads as u32, tq as u32, 1])
    };
    Ok(Dispatch::new(
        gpu,
        Family::FullAttention,
        None,
        entry,
        &[q, kv.k, kv.v, out, probs, &params],
        Grid::Fixed(grid),
    ))
}
