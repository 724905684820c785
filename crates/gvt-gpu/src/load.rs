//! Loading a model's tensors by name: matrices stay in their GGUF blocks, norms and other
//! small vectors are read as f32.

pub use gvt_cpu::model::{TensorSource, TensorSpec};

use crate::{Gpu, GpuError, Result, TensorBytes, Weight, WeightFormat};

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
        let mut t = (self.tensors)(&spec.name)?;
        if t.shape != spec.shape {
            return Err(GpuError::Shape {
                tensor: spec.name.clone(),
                problem: format!("shape {:?}, expected {:?}", t.shape, spec.shape),
            });
        }
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
        let t = (self.tensors)(&spec.name)?;
        let values = f32_values(t, spec.shape[0] * spec.shape[1])?;
        (self.on_progress)(t.bytes.len() as u64);
        Ok(values)
    }
}

/// A small tensor's values (llama.cpp keeps norms and biases in F32; F16 and BF16 are
/// widened).
fn f32_values(t: TensorBytes<'_>, n: usize) -> Result<Vec<f32>> {
    let stored = t.shape[0] * t.shape[1];
    if stored != n {
        return Err(GpuError::Shape {
            tensor: t.name.into(),
            problem: format!("{stored} values, expected {n}"),
        });
    }
    let values: Vec<f32> = match t.format {
        WeightFormat::F32 => t
            .bytes
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect(),
        WeightFormat::F16 => t
            .bytes
            .chunks_exact(2)
            .map(|b| half::f16::from_le_bytes([b[0], b[1]]).to_f32())
            .collect(),
        WeightFormat::BF16 => t
            .bytes
            .chunks_exact(2)
            .map(|b| f32::from_bits((u16::from_le_bytes([b[0], b[1]]) as u32) << 16))
            .collect(),
        other => {
            return Err(GpuError::UnsupportedFormat {
                tensor: t.name.into(),
                format: format!("{other} (norms, biases and embeddings must be F32, F16 or BF16)"),
            });
        }
    };
    if values.len() != n {
        return Err(GpuError::Shape {
            tensor: t.name.into(),
            problem: format!("{} bytes for {n} values", t.bytes.len()),
        });
    }
    Ok(values)
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
