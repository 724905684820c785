//! Loading a model's tensors by name: matrices stay in their GGUF blocks, norms and other
//! small vectors are read as f32.

pub use gvt_cpu::model::{TensorSource, TensorSpec};
use gvt_cpu::model::{f32_values, fetch};

use crate::{Gpu, GpuError, Result, Weight, WeightFormat};

/// Uploads tensors by name, counting their bytes.
pub(crate) struct Loader<'g, 's, 'a, 'b, 'p> {
    pub gpu: &'g Gpu,
    pub tensors: &'s mut TensorSource<'a, 'b>,
    pub on_progress: &'p mut dyn FnMut(u64),
}

impl Loader<'_, '_, '_, '_, '_> {
    /// A matrix in its GGUF blocks.
    pub fn matrix(&mut self, spec: &TensorSpec) -> Result<Weight> {
        self.matrix_as(spec, spec.shape)
    }

    /// A tensor stored as `spec` says, read as the `[cols, rows]` matrix of the same values
    /// (a convolution's `[p, p * 3 * d]` as `[3 * p * p, d]`). Only unblocked formats can be
    /// read so; a block never spans two of the stored rows.
    pub fn matrix_as(&mut self, spec: &TensorSpec, shape: [usize; 2]) -> Result<Weight> {
        let mut t = fetch(self.tensors, spec)?;
        if shape != spec.shape && t.format.block() != 1 {
            return Err(GpuError::UnsupportedFormat {
                tensor: spec.name.clone(),
                format: format!("{} (this tensor must be F32, F16 or BF16)", t.format),
            });
        }
        t.shape = shape;
        (self.on_progress)(t.bytes.len() as u64);
        Weight::upload(self.gpu, t)
    }

    /// A norm's weight, a bias, or another small tensor, as f32 values on the GPU.
    pub fn vector(&mut self, spec: &TensorSpec) -> Result<wgpu::Buffer> {
        let values = self.values(spec)?;
        self.gpu
            .storage_with(&spec.name, bytemuck::cast_slice(&values))
    }

    /// A small tensor's values as f32, in memory order.
    pub fn values(&mut self, spec: &TensorSpec) -> Result<Vec<f32>> {
        let t = fetch(self.tensors, spec)?;
        (self.on_progress)(t.bytes.len() as u64);
        Ok(f32_values(t)?)
    }
}

impl gvt_cpu::model::Tensors for Loader<'_, '_, '_, '_, '_> {
    type Matrix = Weight;
    type Vector = wgpu::Buffer;
    type Error = GpuError;
    fn matrix(&mut self, spec: &TensorSpec) -> Result<Weight> {
        Loader::matrix(self, spec)
    }
    fn matrix_as(&mut self, spec: &TensorSpec, shape: [usize; 2]) -> Result<Weight> {
        Loader::matrix_as(self, spec, shape)
    }
    fn vector(&mut self, spec: &TensorSpec) -> Result<wgpu::Buffer> {
        Loader::vector(self, spec)
    }
    fn values(&mut self, spec: &TensorSpec) -> Result<Vec<f32>> {
        Loader::values(self, spec)
    }
    fn vector_of(&mut self, what: &str, values: Vec<f32>) -> Result<wgpu::Buffer> {
        self.gpu.storage_with(what, bytemuck::cast_slice(&values))
    }
}

impl gvt_cpu::model::Matrix for Weight {
    fn format(&self) -> WeightFormat {
        self.format
    }
    fn stored_bytes(&self) -> u64 {
        self.bytes()
    }
}
