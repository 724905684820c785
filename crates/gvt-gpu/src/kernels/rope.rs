//! `shaders/rope.wgsl`: LLaMA's rotary embedding, fused with the KV cache write, and the
//! vision tower's 2-D one.

use super::{Dispatch, Family, Grid, bytes_of};
use crate::Gpu;

#[repr(C)]
#[derive(Debug, Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    heads: u32,
    kv_heads: u32,
    head_dim: u32,
    kv_f32: u32,
}

pub use gvt_cpu::kernels::rope::{llm_table, vision_table};

/// Rotates every row `r` of `x` in place by row `r` of `table` ([`vision_table`]).
///
/// # Shapes
/// - x: `[t, heads, head_dim]`, table: cos then sin, `[t, head_dim / 2]` each
pub fn rope_rows(
    gpu: &Gpu,
    heads: usize,
    head_dim: usize,
    x: &wgpu::Buffer,
    table: &wgpu::Buffer,
    step: &wgpu::Buffer,
) -> Dispatch {
    let params = Params {
        heads: heads as u32,
        kv_heads: 0,
        head_dim: head_dim as u32,
        kv_f32: 0,
    };
    let params = gpu.uniform("rope rows", bytes_of(&params));
    let (empty, [unused_k, unused_v]) = (gpu.empty(), gpu.scratch());
    Dispatch::new(
        gpu,
        Family::Rope,
        None,
        "rope_rows",
        &[x, empty, empty, unused_k, unused_v, table, &params, step],
        Grid::PerPosition((heads * head_dim / 2).div_ceil(64) as u32),
    )
}

/// How the KV cache stores keys and values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum KvFormat {
    /// pack2x16float pairs: half the memory, with keys and values rounded to 11 bits.
    #[default]
    F16,
    /// f32: the reference's precision.
    F32,
}

impl KvFormat {
    /// Bytes per stored value.
    pub fn bytes(self) -> usize {
        match self {
            KvFormat::F16 => 2,
            KvFormat::F32 => 4,
        }
    }
}

/// Heads and sizes of one attention layer, and how its cache stores them.
#[derive(Debug, Clone, Copy)]
pub struct Heads {
    pub heads: usize,
    pub kv_heads: usize,
    pub head_dim: usize,
    pub cache: KvFormat,
}

/// Rotates `q` in place and writes rotated `k` and plain `v` into the caches at positions
/// `past..past + t`.
///
/// # Shapes
/// - q: `[t, heads, head_dim]`, k and v: `[t, kv_heads, head_dim]`
/// - caches: `[context, kv_heads, head_dim / 2]` u32 (f16 pairs), or `[context, kv_heads,
///   head_dim]` f32
#[allow(clippy::too_many_arguments)]
pub fn rope_llm(
    gpu: &Gpu,
    heads: Heads,
    q: &wgpu::Buffer,
    k: &wgpu::Buffer,
    v: &wgpu::Buffer,
    k_cache: &wgpu::Buffer,
    v_cache: &wgpu::Buffer,
    table: &wgpu::Buffer,
    step: &wgpu::Buffer,
) -> Dispatch {
    let params = Params {
        heads: heads.heads as u32,
        kv_heads: heads.kv_heads as u32,
        head_dim: heads.head_dim as u32,
        kv_f32: (heads.cache == KvFormat::F32) as u32,
    };
    let params = gpu.uniform("rope", bytes_of(&params));
    let threads = (heads.heads + heads.kv_heads) * heads.head_dim / 2;
    Dispatch::new(
        gpu,
        Family::Rope,
        None,
        "rope_llm",
        &[q, k, v, k_cache, v_cache, table, &params, step],
        Grid::PerPosition(threads.div_ceil(64) as u32),
    )
}
