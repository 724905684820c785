//! The GPU engine (crate `gvt-gpu`, kernels in `shaders/`) fed from GGUF files and the
//! configuration the metadata gives: the same tensor names and sizes the burn model loads.

use gvt_gpu::llm::{GpuLlm, LlmDims};
use gvt_gpu::{Gpu, GpuError, TensorBytes, WeightFormat};

use crate::Result;
use crate::gguf::GgufFile;
use crate::model::LlmConfig;

/// The decoder's sizes for the engine.
pub fn llm_dims(cfg: &LlmConfig) -> LlmDims {
    LlmDims {
        vocab: cfg.vocab_size,
        width: cfg.width,
        depth: cfg.depth,
        heads: cfg.heads,
        kv_heads: cfg.kv_heads,
        head_dim: cfg.head_dim,
        ffn_hidden: cfg.ffn_hidden,
        rms_eps: cfg.rms_eps,
        rope_base: cfg.rope_base,
        context: cfg.context_length,
        tied_output: cfg.tied_output,
    }
}

/// Tensor `name` of `file` as stored, for the engine to upload byte for byte.
pub fn tensor_bytes<'f>(file: &'f GgufFile, name: &str) -> Result<TensorBytes<'f>, GpuError> {
    let view = file.tensor(name).map_err(|e| GpuError::Shape {
        tensor: name.into(),
        problem: e.to_string(),
    })?;
    let format = WeightFormat::from_ggml(view.info.dtype as u32).ok_or_else(|| {
        GpuError::UnsupportedFormat {
            tensor: name.into(),
            format: view.info.dtype.name().into(),
        }
    })?;
    let dims = &view.info.dims;
    if dims.is_empty() || dims.len() > 2 {
        return Err(GpuError::Shape {
            tensor: name.into(),
            problem: format!(
                "{} dimensions; the engine takes vectors and matrices",
                dims.len()
            ),
        });
    }
    let size = |d: u64| {
        usize::try_from(d).map_err(|_| GpuError::Shape {
            tensor: name.into(),
            problem: format!("dimension {d} is too large"),
        })
    };
    let cols = size(dims[0])?;
    let rows = if dims.len() > 1 { size(dims[1])? } else { 1 };
    Ok(TensorBytes {
        name: &view.info.name,
        format,
        shape: [cols, rows],
        bytes: view.bytes,
    })
}

/// Uploads the decoder of `file` to the engine.
pub fn load_llm(
    gpu: &Gpu,
    file: &GgufFile,
    cfg: &LlmConfig,
    on_progress: &mut dyn FnMut(u64),
) -> Result<GpuLlm> {
    let mut source = |name: &str| tensor_bytes(file, name);
    Ok(GpuLlm::load(gpu, llm_dims(cfg), &mut source, on_progress)?)
}
