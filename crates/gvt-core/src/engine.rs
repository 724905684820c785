//! The engines fed from GGUF files and the configuration the metadata gives, the same
//! tensor names and sizes the burn model loads: the GPU engine (crate `gvt-gpu`, kernels in
//! `shaders/`) and the CPU engine (crate `gvt-cpu`).

use std::sync::{Arc, Mutex};

use gvt_cpu::llm::{CpuLlm, LlmSession as CpuSession};
use gvt_cpu::vision::{CpuVisual, VisualSession as CpuVisualSession};
use gvt_cpu::{Cpu, CpuError};
use gvt_gpu::llm::{GpuLlm, KvFormat, LlmDims, LlmSession};
use gvt_gpu::vision::{GpuVisual, ResamplerDims, VisionDims, VisualSession};
use gvt_gpu::{Gpu, TensorBytes, WeightFormat};

use crate::Result;
use crate::gguf::GgufFile;
use crate::model::{GvtConfig, LlmConfig};

/// The longest context the engine allocates a KV cache for, as llama.cpp's default `-c`:
/// a question about one image is far shorter, and a model's full context (128k for
/// Llama 3.1) would take gigabytes of cache.
pub const MAX_CONTEXT: usize = 4096;

/// A model on the engine: the visual path (a GVT model) and the LLM.
pub struct EngineModel {
    pub visual: Option<EngineVisual>,
    pub llm: EngineLlm,
}

/// The visual path on the engine, with a session kept between images.
pub type EngineVisual = OnEngine<VisualSession>;
/// The LLM on the engine, with a session kept between answers.
pub type EngineLlm = OnEngine<LlmSession>;

/// A model on the CPU engine: the visual path (a GVT model) and the LLM.
pub struct CpuModel {
    pub visual: Option<CpuEngineVisual>,
    pub llm: CpuEngineLlm,
}

/// The visual path on the CPU engine.
pub type CpuEngineVisual = OnEngine<CpuVisualSession>;
/// The LLM on the CPU engine, with a session kept between answers.
pub type CpuEngineLlm = OnEngine<CpuSession>;

/// The activations (and on the GPU, prebuilt dispatches) of one part of the model on an
/// engine.
pub trait EngineSession: Sized {
    type Model;
    /// A session that captures attention or not, for requests of up to `positions`.
    fn open(
        model: Arc<Self::Model>,
        capture: bool,
        positions: usize,
    ) -> impl Future<Output = Result<Self>>;
    /// Whether the session serves such a request.
    fn fits(&self, capture: bool, positions: usize) -> bool;
    /// Starts over for a new request.
    fn reset(&mut self);
}

impl EngineSession for LlmSession {
    type Model = GpuLlm;
    async fn open(model: Arc<GpuLlm>, capture: bool, positions: usize) -> Result<Self> {
        // Whole blocks of positions, so that a slightly longer question keeps the session.
        let positions = positions.next_multiple_of(SESSION_POSITIONS);
        Ok(LlmSession::new(model, capture, positions, KvFormat::F16).await?)
    }
    fn fits(&self, capture: bool, positions: usize) -> bool {
        self.captures() == capture && self.capacity() >= positions
    }
    fn reset(&mut self) {
        LlmSession::reset(self)
    }
}

impl EngineSession for VisualSession {
    type Model = GpuVisual;
    async fn open(model: Arc<GpuVisual>, capture: bool, _: usize) -> Result<Self> {
        Ok(VisualSession::new(model, capture).await?)
    }
    fn fits(&self, capture: bool, _: usize) -> bool {
        self.captures() == capture
    }
    fn reset(&mut self) {}
}

impl EngineSession for CpuSession {
    type Model = CpuLlm;
    async fn open(model: Arc<CpuLlm>, capture: bool, positions: usize) -> Result<Self> {
        let positions = positions.next_multiple_of(SESSION_POSITIONS);
        Ok(CpuSession::new(model, capture, positions)?)
    }
    fn fits(&self, capture: bool, positions: usize) -> bool {
        self.captures() == capture && self.capacity() >= positions
    }
    fn reset(&mut self) {
        CpuSession::reset(self)
    }
}

impl EngineSession for CpuVisualSession {
    type Model = CpuVisual;
    async fn open(model: Arc<CpuVisual>, capture: bool, _: usize) -> Result<Self> {
        Ok(CpuVisualSession::new(model, capture))
    }
    fn fits(&self, capture: bool, _: usize) -> bool {
        self.captures() == capture
    }
    fn reset(&mut self) {}
}

/// Positions an LLM session is sized in multiples of.
const SESSION_POSITIONS: usize = 256;

/// A part of the model on the engine, and the session of the last request, kept to be
/// reused: a session's buffers (the KV cache, the activations) are allocated once.
pub struct OnEngine<S: EngineSession> {
    pub model: Arc<S::Model>,
    idle: Mutex<Option<Box<S>>>,
}

impl<S: EngineSession> OnEngine<S> {
    pub fn new(model: S::Model) -> Self {
        Self {
            model: Arc::new(model),
            idle: Mutex::new(None),
        }
    }

    /// A session for one request of up to `positions`: the idle one when it fits, else a
    /// new one (the idle one is dropped first, so that its memory is free).
    pub async fn session(&self, capture: bool, positions: usize) -> Result<Box<S>> {
        let idle = self.idle.lock().unwrap_or_else(|p| p.into_inner()).take();
        match idle {
            Some(mut session) if session.fits(capture, positions) => {
                session.reset();
                Ok(session)
            }
            idle => {
                drop(idle);
                Ok(Box::new(
                    S::open(self.model.clone(), capture, positions).await?,
                ))
            }
        }
    }

    /// Keeps `session` for the next request.
    pub fn keep(&self, session: Box<S>) {
        *self.idle.lock().unwrap_or_else(|p| p.into_inner()) = Some(session);
    }
}

/// The visual path's sizes for the engine, for a model with a vision tower.
pub fn vision_dims(cfg: &GvtConfig) -> Option<VisionDims> {
    let (v, r) = (cfg.vision.as_ref()?, cfg.resampler.as_ref()?);
    Some(VisionDims {
        image_size: v.image_size,
        patch_size: v.patch_size,
        width: v.width,
        depth: v.depth,
        heads: v.heads,
        ffn_hidden: v.ffn_hidden,
        norm_eps: v.norm_eps,
        ln_vision_eps: v.ln_vision_eps,
        rope_theta: v.rope_theta,
        resampler: ResamplerDims {
            width: r.width,
            depth: r.depth,
            heads: r.heads,
            head_dim: r.head_dim,
            latents: r.latents,
            ffn_hidden: r.ffn_hidden,
            norm_eps: r.norm_eps,
        },
        llm_width: cfg.llm.width,
    })
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
pub fn tensor_bytes<'f>(file: &'f GgufFile, name: &str) -> Result<TensorBytes<'f>, CpuError> {
    let view = file.tensor(name).map_err(|e| CpuError::Shape {
        tensor: name.into(),
        problem: e.to_string(),
    })?;
    let format = WeightFormat::from_ggml(view.info.dtype as u32).ok_or_else(|| {
        CpuError::UnsupportedFormat {
            tensor: name.into(),
            format: view.info.dtype.name().into(),
        }
    })?;
    // A tensor of more dimensions is the matrix of its rows: `[ne0, ne1 * ne2 * ne3]`.
    let dims = &view.info.dims;
    let size = |d: u64| {
        usize::try_from(d).map_err(|_| CpuError::Shape {
            tensor: name.into(),
            problem: format!("dimension {d} is too large"),
        })
    };
    let cols = size(*dims.first().ok_or_else(|| CpuError::Shape {
        tensor: name.into(),
        problem: "no dimensions".into(),
    })?)?;
    let rows = dims[1..]
        .iter()
        .try_fold(1u64, |n, &d| n.checked_mul(d))
        .ok_or_else(|| CpuError::Shape {
            tensor: name.into(),
            problem: format!("{dims:?} holds too many values"),
        })
        .and_then(size)?;
    Ok(TensorBytes {
        name: &view.info.name,
        format,
        shape: [cols, rows],
        bytes: view.bytes,
    })
}

/// Uploads the visual path of `file` to the engine, for a model with a vision tower.
pub fn load_visual(
    gpu: &Gpu,
    file: &GgufFile,
    cfg: &GvtConfig,
    on_progress: &mut dyn FnMut(u64),
) -> Result<Option<GpuVisual>> {
    let Some(dims) = vision_dims(cfg) else {
        return Ok(None);
    };
    let mut source = |name: &str| tensor_bytes(file, name);
    Ok(Some(GpuVisual::load(gpu, dims, &mut source, on_progress)?))
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

/// Reads the decoder of `file` for the CPU engine, in place (a memory map natively).
pub fn load_cpu_llm(
    cpu: &Cpu,
    file: &GgufFile,
    cfg: &LlmConfig,
    on_progress: &mut dyn FnMut(u64),
) -> Result<CpuLlm> {
    let mut source = |name: &str| tensor_bytes(file, name);
    let owner = file.bytes().shared();
    Ok(CpuLlm::load(
        cpu,
        llm_dims(cfg),
        &mut source,
        Some(&owner),
        on_progress,
    )?)
}

/// Reads the visual path of `file` for the CPU engine, in place, for a model with a vision
/// tower.
pub fn load_cpu_visual(
    cpu: &Cpu,
    file: &GgufFile,
    cfg: &GvtConfig,
    on_progress: &mut dyn FnMut(u64),
) -> Result<Option<CpuVisual>> {
    let Some(dims) = vision_dims(cfg) else {
        return Ok(None);
    };
    let mut source = |name: &str| tensor_bytes(file, name);
    let owner = file.bytes().shared();
    Ok(Some(CpuVisual::load(
        cpu,
        dims,
        &mut source,
        Some(&owner),
        on_progress,
    )?))
}
