//! The GPU engine (crate `gvt-gpu`, kernels in `shaders/`) fed from GGUF files and the
//! configuration the metadata gives: the same tensor names and sizes the burn model loads.

use std::sync::{Arc, Mutex};

use gvt_gpu::llm::{GpuLlm, LlmDims, LlmSession};
use gvt_gpu::{Gpu, GpuError, TensorBytes, WeightFormat};

use crate::Result;
use crate::gguf::GgufFile;
use crate::model::{LlmConfig, VisualPath};

/// The longest context the engine allocates a KV cache for, as llama.cpp's default `-c`:
/// a question about one image is far shorter, and a model's full context (128k for
/// Llama 3.1) would take gigabytes of cache.
pub const MAX_CONTEXT: usize = 4096;

/// A model whose LLM runs on the engine. The visual path is burn's on the same wgpu device.
pub struct EngineModel {
    pub visual: Option<VisualPath>,
    pub llm: EngineLlm,
}

/// The LLM on the engine, and the session of the last question, kept to be reused: a
/// session's KV cache and activations are allocated once.
pub struct EngineLlm {
    pub llm: Arc<GpuLlm>,
    idle: Mutex<Option<Box<LlmSession>>>,
}

impl EngineLlm {
    pub fn new(llm: GpuLlm) -> Self {
        Self {
            llm: Arc::new(llm),
            idle: Mutex::new(None),
        }
    }

    /// A session for one answer: the idle one when it captures as asked, else a new one.
    pub async fn session(&self, capture: bool) -> Result<Box<LlmSession>> {
        let idle = self.idle.lock().unwrap_or_else(|p| p.into_inner()).take();
        match idle {
            Some(mut session) if session.captures() == capture => {
                session.reset();
                Ok(session)
            }
            _ => Ok(Box::new(LlmSession::new(self.llm.clone(), capture).await?)),
        }
    }

    /// Keeps `session` for the next answer.
    pub fn keep(&self, session: Box<LlmSession>) {
        *self.idle.lock().unwrap_or_else(|p| p.into_inner()) = Some(session);
    }
}

/// The decoder's sizes for the engine, its context capped at [`MAX_CONTEXT`].
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
        context: cfg.context_length.min(MAX_CONTEXT),
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
