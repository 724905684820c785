//! Random weights of a model's layout in a chosen block format, for benchmarks of real sizes
//! with no file on disk and for tests of the loaders.

use crate::model::TensorSpec;
use crate::{Result, TensorBytes, WeightFormat};

/// A tensor of random GGUF blocks.
pub struct RandomTensor {
    pub name: String,
    pub format: WeightFormat,
    pub shape: [usize; 2],
    pub bytes: Vec<u8>,
}

impl RandomTensor {
    pub fn view(&self) -> TensorBytes<'_> {
        TensorBytes {
            name: &self.name,
            format: self.format,
            shape: self.shape,
            bytes: &self.bytes,
        }
    }
}

/// Random weights for `specs`: matrices in `format` (scales small and finite, every other
/// bit random; rows that are not whole blocks take Q8_0, else F16, as llama.cpp does),
/// float-only matrices in F16, vectors of ones.
pub fn random_tensors(specs: &[TensorSpec], format: WeightFormat, seed: u64) -> Vec<RandomTensor> {
    let mut state = seed | 1;
    let mut matrix = |name: &str, [cols, rows]: [usize; 2], format: WeightFormat| {
        let format = [format, WeightFormat::Q8_0, WeightFormat::F16]
            .into_iter()
            .find(|f| f.row_bytes(cols).is_some())
            .unwrap_or(WeightFormat::F32);
        let row_bytes = format.row_bytes(cols).unwrap_or(cols * 4);
        let mut bytes = vec![0u8; row_bytes * rows];
        for chunk in bytes.chunks_mut(8) {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            chunk.copy_from_slice(&state.to_le_bytes()[..chunk.len()]);
        }
        // A small f16 (0.002..0.004) where each block keeps its scales; plain f16 values get
        // the same treatment so that none is NaN.
        let scale = [0x18, 0x1c];
        let fields: &[usize] = match format {
            WeightFormat::Q6_K => &[208],
            WeightFormat::Q4_K | WeightFormat::Q5_K | WeightFormat::Q4_1 | WeightFormat::Q5_1 => {
                &[0, 2]
            }
            WeightFormat::F32 => &[],
            _ => &[0],
        };
        if format == WeightFormat::F32 {
            for v in bytes.chunks_mut(4) {
                v.copy_from_slice(&((f32::from(v[0]) - 128.0) * 1e-4).to_le_bytes());
            }
        }
        for block in bytes.chunks_mut(format.block_bytes()) {
            for &at in fields {
                block[at..at + 2].copy_from_slice(&scale);
            }
        }
        RandomTensor {
            name: name.to_string(),
            format,
            shape: [cols, rows],
            bytes,
        }
    };
    specs
        .iter()
        .map(|spec| match (spec.is_vector(), spec.float) {
            (true, _) => RandomTensor {
                name: spec.name.clone(),
                format: WeightFormat::F32,
                shape: spec.shape,
                bytes: 1f32.to_le_bytes().repeat(spec.shape[0]),
            },
            (false, true) => matrix(&spec.name, spec.shape, WeightFormat::F16),
            (false, false) => matrix(&spec.name, spec.shape, format),
        })
        .collect()
}

/// Finds `name` among `tensors`, for a loader.
pub fn find<'t>(tensors: &'t [RandomTensor], name: &str) -> Result<TensorBytes<'t>> {
    tensors
        .iter()
        .find(|t| t.name == name)
        .map(RandomTensor::view)
        .ok_or_else(|| crate::CpuError::Shape {
            tensor: name.into(),
            problem: "not among the random tensors".into(),
        })
}
