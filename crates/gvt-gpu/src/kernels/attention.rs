//! `shaders/attention.wgsl`: causal attention over the KV cache.

use super::rope::Heads;
use super::{Dispatch, Family, Grid, bytes_of};
use crate::Gpu;

/// Largest head size the kernel holds in workgroup memory.
pub const MAX_HEAD_DIM: usize = 256;

#[repr(C)]
#[derive(Debug, Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    heads: u32,
    kv_heads: u32,
    head_dim: u32,
    context: u32,
    scale: f32,
    kv_f32: u32,
    _pad: [u32; 2],
}

/// What attention reads and writes: the step's queries, the caches, its output, and the
/// softmax rows (`[t, heads, context]`).
#[derive(Clone, Copy)]
pub struct Io<'a> {
    pub q: &'a wgpu::Buffer,
    pub k_cache: &'a wgpu::Buffer,
    pub v_cache: &'a wgpu::Buffer,
    pub out: &'a wgpu::Buffer,
    pub probs: &'a wgpu::Buffer,
}

impl<'a> Io<'a> {
    fn bindings(self, params: &'a wgpu::Buffer, step: &'a wgpu::Buffer) -> [&'a wgpu::Buffer; 7] {
        [
            self.q,
            self.k_cache,
            self.v_cache,
            self.out,
            self.probs,
            params,
            step,
        ]
    }
}

fn params(heads: Heads, context: usize) -> Params {
    Params {
        heads: heads.heads as u32,
        kv_heads: heads.kv_heads as u32,
        head_dim: heads.head_dim as u32,
        context: context as u32,
        scale: (heads.head_dim as f64).powf(-0.5) as f32,
        kv_f32: (heads.cache == super::rope::KvFormat::F32) as u32,
        _pad: [0; 2],
    }
}

/// Attention of the step's positions over cache rows `0..=past + i`; the softmax rows stay
/// in `probs` for capture.
///
/// # Shapes
/// - q, out: `[t, heads, head_dim]`; probs: `[t, heads, context]`
pub fn attention(
    gpu: &Gpu,
    heads: Heads,
    context: usize,
    io: Io<'_>,
    step: &wgpu::Buffer,
) -> Dispatch {
    let params = gpu.uniform("attention", bytes_of(&params(heads, context)));
    // A software adapter takes a (position, head) per invocation, with no barrier.
    let (entry, grid) = if gpu.caps().software {
        let per_position = heads.heads as u32;
        ("attend_rows", Grid::Flat { per_position })
    } else {
        ("attend", Grid::PerPosition(heads.heads as u32))
    };
    Dispatch::new(
        gpu,
        Family::Attention,
        None,
        entry,
        &io.bindings(&params, step),
        grid,
    )
}

/// Slices of the keys decode's split attention spreads over workgroups (as in the WGSL).
pub const SPLITS: usize = 16;

/// Values the split attention keeps after decode's probs rows, `[heads, SPLITS, head_dim + 2]`.
pub fn split_scratch(heads: Heads) -> usize {
    heads.heads * SPLITS * (heads.head_dim + 2)
}

/// Decode's attention (one position) over a long cache, spread over [`SPLITS`] workgroups
/// per head, then combined: the same output and probs row as [`attention`]. `probs` holds
/// `heads * context + split_scratch(heads)` values.
pub fn attention_split(
    gpu: &Gpu,
    heads: Heads,
    context: usize,
    io: Io<'_>,
    step: &wgpu::Buffer,
) -> [Dispatch; 2] {
    let params = gpu.uniform("split attention", bytes_of(&params(heads, context)));
    let buffers = io.bindings(&params, step);
    let h = heads.heads as u32;
    [
        Dispatch::new(
            gpu,
            Family::Attention,
            None,
            "attend_split",
            &buffers,
            Grid::Fixed([h, SPLITS as u32, 1]),
        ),
        Dispatch::new(
            gpu,
            Family::Attention,
            None,
            "attend_combine",
            &buffers,
            Grid::Fixed([h, 1, 1]),
        ),
    ]
}
