//! `shaders/sample.wgsl`: temperature and top-p sampling on the GPU.

use super::{Dispatch, Family, Grid, bytes_of};
use crate::{Gpu, Result};

/// The sampler's parameters for one step (`Params` of the WGSL).
#[repr(C)]
#[derive(Debug, Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
pub struct SampleParams {
    pub n: u32,
    pub temperature: f32,
    pub top_p: f32,
    /// Uniform in `[0, 1)`, from the host's generator.
    pub u: f32,
}

/// A sampler over `n` logits and the buffer its parameters are written to before a step.
pub struct Sampler {
    pub dispatch: Dispatch,
    pub params: wgpu::Buffer,
    pub n: usize,
}

impl Sampler {
    /// Sets temperature, top-p and this step's uniform draw for the next submission.
    pub fn write(&self, gpu: &Gpu, temperature: f32, top_p: f32, u: f32) {
        let params = SampleParams {
            n: self.n as u32,
            temperature,
            top_p,
            u,
        };
        gpu.queue().write_buffer(&self.params, 0, bytes_of(&params));
    }
}

/// Writes a token drawn from the nucleus of `n` logits to `tokens[0]` and
/// `tokens[1 + step.index]`, as `argmax` does (or `argmax::NON_FINITE`).
pub fn sample(
    gpu: &Gpu,
    logits: &wgpu::Buffer,
    n: usize,
    tokens: &wgpu::Buffer,
    step: &wgpu::Buffer,
) -> Result<Sampler> {
    let weights = gpu.storage("sampling weights", n as u64 * 4)?;
    let initial = SampleParams {
        n: n as u32,
        temperature: 1.0,
        top_p: 1.0,
        u: 0.0,
    };
    let params = gpu.uniform("sample", bytes_of(&initial));
    let dispatch = Dispatch::new(
        gpu,
        Family::Sample,
        None,
        "sample",
        &[logits, tokens, &weights, &params, step],
        Grid::Fixed([1, 1, 1]),
    );
    Ok(Sampler {
        dispatch,
        params,
        n,
    })
}
