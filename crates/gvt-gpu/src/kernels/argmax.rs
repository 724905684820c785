//! `shaders/argmax.wgsl`: greedy sampling on the GPU.

use super::{Dispatch, Family, Grid, bytes_of};
use crate::Gpu;

#[repr(C)]
#[derive(Debug, Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    n: u32,
    _pad: [u32; 3],
}

/// What the kernel writes instead of a token when a logit is NaN or infinite.
pub const NON_FINITE: u32 = 0xffff_fffe;

/// Writes the index of the largest of `n` logits to `tokens[0]` (the next step's input)
/// and to `tokens[1 + step.index]` (the answer so far), or [`NON_FINITE`].
pub fn argmax(
    gpu: &Gpu,
    logits: &wgpu::Buffer,
    n: usize,
    tokens: &wgpu::Buffer,
    step: &wgpu::Buffer,
) -> Dispatch {
    let params = Params {
        n: n as u32,
        _pad: [0; 3],
    };
    let params = gpu.uniform("argmax", bytes_of(&params));
    Dispatch::new(
        gpu,
        Family::Argmax,
        None,
        "argmax",
        &[logits, tokens, &params, step],
        Grid::Fixed([1, 1, 1]),
    )
}
