//! The whole GVT model: image -> ViT -> `ln_vision` -> Perceiver Resampler -> `llm_proj` ->
//! visual tokens spliced into the LLM's input embeddings.
//!
//! Reference: GVT `modeling_gvt.py`. The prompt is
//! `[BOS, tokens("<Img>")] ++ visual tokens ++ tokens("</Img>" + prompt)`.

use burn::module::Module;
use burn::tensor::{Int, Tensor, TensorData};

use super::config::{GvtConfig, LlmConfig, ResamplerConfig, VisionConfig};
use super::layers::{LayerNorm, Linear};
use super::llm::Llm;
use super::params::{GgufSource, ParamSource};
use super::resampler::PerceiverResampler;
use super::vision::{VisionTrace, VisionTransformer};
use crate::gguf::GgufFile;
use crate::{Error, Result};

/// The visual half: everything between pixels and LLM-width visual tokens.
#[derive(Module, Debug)]
pub struct VisualPath {
    pub vit: VisionTransformer,
    pub ln_vision: LayerNorm,
    pub resampler: PerceiverResampler,
    pub proj: Linear,
}

/// Visual tokens and the resampler's cross-attention that made them.
pub struct VisualTokens {
    /// `[b, latents, llm_width]`
    pub embeds: Tensor<3>,
    /// Per resampler layer `[b, heads, latents, media + latents]`.
    pub resampler_attention: Vec<Tensor<4>>,
    /// Patches per image side (media = CLS + `grid^2` patches).
    pub grid: usize,
}

/// Every intermediate of the visual half, for parity tests and probing.
#[derive(Default)]
pub struct VisualTrace {
    pub vision: VisionTrace,
    pub vit_out: Option<Tensor<3>>,
    pub ln_vision: Option<Tensor<3>>,
    pub resampler_layers: Vec<Tensor<3>>,
    pub resampler_out: Option<Tensor<3>>,
}

impl VisualPath {
    pub fn load(
        src: &mut impl ParamSource,
        vision: &VisionConfig,
        resampler: &ResamplerConfig,
        llm_width: usize,
    ) -> Result<Self> {
        Ok(Self {
            vit: VisionTransformer::load(src, vision)?,
            ln_vision: LayerNorm::load(src, "v.ln_vision", vision.width, vision.ln_vision_eps)?,
            resampler: PerceiverResampler::load(src, resampler)?,
            proj: Linear::load(src, "mm.proj", resampler.width, llm_width, true)?,
        })
    }

    /// # Shapes
    /// - pixels: `[b, 3, s, s]` -> embeds `[b, latents, llm_width]`
    pub fn forward(&self, pixels: Tensor<4>, mut trace: Option<&mut VisualTrace>) -> VisualTokens {
        let grid = self.vit.grid(&pixels);
        let tokens = self
            .vit
            .forward(pixels, trace.as_deref_mut().map(|t| &mut t.vision));
        let media = self.ln_vision.forward(tokens.clone());
        let resampled = self.resampler.forward(media.clone());
        if let Some(trace) = trace {
            trace.vit_out = Some(tokens);
            trace.ln_vision = Some(media);
            trace.resampler_layers = resampled.layer_outputs;
            trace.resampler_out = Some(resampled.latents.clone());
        }
        VisualTokens {
            embeds: self.proj.forward(resampled.latents),
            resampler_attention: resampled.attention,
            grid,
        }
    }
}

/// A GVT model, or a plain LLM when `visual` is `None`.
#[derive(Module, Debug)]
pub struct Gvt {
    pub visual: Option<VisualPath>,
    pub llm: Llm,
}

impl Gvt {
    /// Builds every part from one source (a single GGUF file, or fresh init for training).
    pub fn load(src: &mut impl ParamSource, cfg: &GvtConfig) -> Result<Self> {
        Ok(Self {
            visual: Self::load_visual(src, cfg)?,
            llm: Llm::load(src, &cfg.llm)?,
        })
    }

    fn load_visual(src: &mut impl ParamSource, cfg: &GvtConfig) -> Result<Option<VisualPath>> {
        match (&cfg.vision, &cfg.resampler) {
            (Some(v), Some(r)) => Ok(Some(VisualPath::load(src, v, r, cfg.llm.width)?)),
            (None, None) => Ok(None),
            _ => Err(Error::UnsupportedModel(
                "a vision tower needs a resampler and the other way round".into(),
            )),
        }
    }

    /// Loads from GGUF: `model` holds the vision half and maybe the LLM; `llm`, when given,
    /// holds the LLM. `on_progress` receives the bytes of each tensor as it loads.
    pub fn from_gguf(
        model: &GgufFile,
        llm: Option<&GgufFile>,
        device: &burn::tensor::Device,
        on_progress: &mut dyn FnMut(u64),
    ) -> Result<(Self, GvtConfig)> {
        let cfg = GvtConfig::from_gguf(model, llm.unwrap_or(model))?;
        let gvt = Self::load_files(model, llm, &cfg, device, on_progress)?;
        Ok((gvt, cfg))
    }

    /// Loads the weights of a model whose configuration `cfg` was read from the same files
    /// (and checked: see `Pipeline::load`).
    pub fn load_files(
        model: &GgufFile,
        llm: Option<&GgufFile>,
        cfg: &GvtConfig,
        device: &burn::tensor::Device,
        on_progress: &mut dyn FnMut(u64),
    ) -> Result<Self> {
        let visual = Self::load_visual_file(model, cfg, device, on_progress)?;
        let mut src = GgufSource::new(llm.unwrap_or(model), device).with_progress(on_progress);
        let llm = Llm::load(&mut src, &cfg.llm)?;
        Ok(Self { visual, llm })
    }

    /// Loads the visual path (vision tower, resampler, projection) of `model`, if it has one.
    pub fn load_visual_file(
        model: &GgufFile,
        cfg: &GvtConfig,
        device: &burn::tensor::Device,
        on_progress: &mut dyn FnMut(u64),
    ) -> Result<Option<VisualPath>> {
        let mut src = GgufSource::new(model, device).with_progress(on_progress);
        Self::load_visual(&mut src, cfg)
    }

    /// Input embeddings for `prefix ++ visual ++ suffix` (visual may be absent).
    ///
    /// # Shapes
    /// - visual: `[1, latents, e]` -> `[1, prefix + latents + suffix, e]`
    pub fn prompt_embeds(
        &self,
        prefix: &[u32],
        visual: Option<Tensor<3>>,
        suffix: &[u32],
    ) -> Tensor<3> {
        let device = self.llm_device();
        let ids = |ids: &[u32]| {
            let ids: Vec<i64> = ids.iter().map(|&i| i as i64).collect();
            let n = ids.len();
            Tensor::<1, Int>::from_data(TensorData::new(ids, [n]), &device)
        };
        let mut parts = Vec::with_capacity(3);
        if !prefix.is_empty() {
            parts.push(self.llm.embed(ids(prefix)));
        }
        parts.extend(visual);
        if !suffix.is_empty() {
            parts.push(self.llm.embed(ids(suffix)));
        }
        Tensor::cat(parts, 1)
    }

    fn llm_device(&self) -> burn::tensor::Device {
        self.llm.devices()[0].clone()
    }
}

impl GvtConfig {
    /// Reads the configuration of the vision half from `model` and of the LLM from `llm`
    /// (the same file for a single-file model).
    pub fn from_gguf(model: &GgufFile, llm: &GgufFile) -> Result<Self> {
        let vision = VisionConfig::from_metadata(&model.metadata)?;
        let resampler = match &vision {
            Some(v) => ResamplerConfig::from_metadata(&model.metadata, v.width)?,
            None => None,
        };
        let embd = llm
            .tensor_info("token_embd.weight")
            .ok_or_else(|| crate::gguf::GgufError::MissingTensor("token_embd.weight".into()))?;
        let vocab_rows = embd.shape().first().copied().unwrap_or(0);
        let tied = !llm.contains("output.weight");
        let llm_cfg = LlmConfig::from_metadata(&llm.metadata, vocab_rows, tied)?;
        if vision.is_some() && resampler.is_none() {
            return Err(Error::UnsupportedModel(
                "the file has a vision tower but no `gvt.resampler.*` keys".into(),
            ));
        }
        Ok(GvtConfig {
            vision,
            resampler,
            llm: llm_cfg,
        })
    }
}
