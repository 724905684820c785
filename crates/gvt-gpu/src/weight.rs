//! GGUF tensors on the GPU, byte for byte.

pub use gvt_cpu::TensorBytes;

use crate::{Gpu, GpuError, Result, WeightFormat};

/// Rows `first..first + rows` of a weight, in one buffer.
pub struct Chunk {
    pub(crate) buffer: wgpu::Buffer,
    pub(crate) first: usize,
    pub(crate) rows: usize,
}

/// A weight matrix on the GPU in its GGUF blocks. A tensor larger than the adapter binds
/// at once is split by rows; each chunk's kernels write disjoint output rows.
pub struct Weight {
    pub name: String,
    pub format: WeightFormat,
    pub rows: usize,
    pub cols: usize,
    pub row_bytes: usize,
    pub(crate) chunks: Vec<Chunk>,
}

impl Weight {
    /// Uploads `t` (streamed: one chunk's bytes at a time go to the queue).
    pub fn upload(gpu: &Gpu, t: TensorBytes<'_>) -> Result<Self> {
        Self::upload_with_limit(gpu, t, gpu.caps().max_binding.min(gpu.caps().max_buffer))
    }

    /// [`Weight::upload`] with chunks of at most `limit` bytes (tests of the split).
    pub fn upload_with_limit(gpu: &Gpu, t: TensorBytes<'_>, limit: u64) -> Result<Self> {
        let [cols, rows] = t.shape;
        let shape_error = |problem: String| GpuError::Shape {
            tensor: t.name.into(),
            problem,
        };
        let row_bytes = t.row_bytes().map_err(shape_error)?;
        // Leave room for the 4-byte padding and for the last group's reads past a short row.
        let usable = limit.saturating_sub(64);
        if row_bytes as u64 > usable {
            return Err(GpuError::RowTooLarge {
                tensor: t.name.into(),
                row_bytes: row_bytes as u64,
                limit,
            });
        }
        let per_chunk = (usable / row_bytes as u64).min(rows as u64) as usize;
        let mut chunks = Vec::with_capacity(rows.div_ceil(per_chunk));
        for first in (0..rows).step_by(per_chunk) {
            let n = per_chunk.min(rows - first);
            let bytes = &t.bytes[first * row_bytes..(first + n) * row_bytes];
            let label = format!("{} rows {first}..{}", t.name, first + n);
            chunks.push(Chunk {
                buffer: gpu.storage_with(&label, bytes)?,
                first,
                rows: n,
            });
        }
        Ok(Self {
            name: t.name.into(),
            format: t.format,
            rows,
            cols,
            row_bytes,
            chunks,
        })
    }

    /// Bytes on the GPU.
    pub fn bytes(&self) -> u64 {
        (self.row_bytes * self.rows) as u64
    }

    pub fn chunks(&self) -> usize {
        self.chunks.len()
    }
}
