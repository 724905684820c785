//! Hyper-parameters of the three model parts, read from GGUF metadata (see
//! `docs/gguf-layout.md`), with presets for the sizes the project knows.

use burn::config::Config;

use crate::gguf::Metadata;
use crate::{Error, Result};

/// The EVA-02-style ViT visual tokenizer.
#[derive(Config, Debug, PartialEq)]
pub struct VisionConfig {
    /// Input side in pixels; images are resized to a square of this size.
    pub image_size: usize,
    /// Patch side in pixels; the patch grid is `image_size / patch_size` squared.
    pub patch_size: usize,
    /// Token width.
    pub width: usize,
    /// Number of transformer blocks.
    pub depth: usize,
    /// Attention heads; the head size must be divisible by 4 for the 2-D RoPE.
    pub heads: usize,
    /// Hidden size of the SwiGLU MLP.
    pub ffn_hidden: usize,
    /// LayerNorm epsilon inside the blocks.
    #[config(default = 1e-6)]
    pub norm_eps: f64,
    /// Epsilon of `ln_vision`, GVT's LayerNorm after the tower (PyTorch's default 1e-5).
    #[config(default = 1e-5)]
    pub ln_vision_eps: f64,
    /// Base of the 2-D rotary embedding.
    #[config(default = 10000.0)]
    pub rope_theta: f64,
    /// Per-channel normalisation mean (RGB, after scaling to [0, 1]).
    #[config(default = "vec![0.481_454_7, 0.457_827_5, 0.408_210_7]")]
    pub image_mean: Vec<f32>,
    /// Per-channel normalisation standard deviation.
    #[config(default = "vec![0.268_629_5, 0.261_302_6, 0.275_777_1]")]
    pub image_std: Vec<f32>,
}

impl VisionConfig {
    /// Patches per side.
    pub fn grid(&self) -> usize {
        self.image_size / self.patch_size
    }
    /// Tokens out of the tower: CLS + patches.
    pub fn tokens(&self) -> usize {
        1 + self.grid() * self.grid()
    }
    pub fn head_dim(&self) -> usize {
        self.width / self.heads
    }
}

/// The Flamingo-style Perceiver Resampler that turns the image tokens into a fixed number of
/// visual tokens.
#[derive(Config, Debug, PartialEq)]
pub struct ResamplerConfig {
    /// Width of the media tokens and the latents (the ViT width).
    pub width: usize,
    pub depth: usize,
    pub heads: usize,
    pub head_dim: usize,
    /// Number of learned latents = visual tokens handed to the LLM (32 in GVT).
    pub latents: usize,
    pub ffn_hidden: usize,
    #[config(default = 1e-5)]
    pub norm_eps: f64,
}

/// A LLaMA-family decoder.
#[derive(Config, Debug, PartialEq)]
pub struct LlmConfig {
    pub vocab_size: usize,
    pub width: usize,
    pub depth: usize,
    pub heads: usize,
    /// Key/value heads (grouped-query attention when fewer than `heads`).
    pub kv_heads: usize,
    pub ffn_hidden: usize,
    #[config(default = 1e-6)]
    pub rms_eps: f64,
    #[config(default = 10000.0)]
    pub rope_base: f64,
    /// Longest sequence the model was trained for.
    #[config(default = 2048)]
    pub context_length: usize,
    /// Head size; `width / heads` unless the metadata says otherwise.
    pub head_dim: usize,
    /// Whether the output head reuses the token embedding.
    #[config(default = false)]
    pub tied_output: bool,
}

/// A whole GVT model; `vision` and `resampler` are absent for a text-only LLM file.
#[derive(Config, Debug, PartialEq)]
pub struct GvtConfig {
    pub vision: Option<VisionConfig>,
    pub resampler: Option<ResamplerConfig>,
    pub llm: LlmConfig,
}

/// LLaMA-family architectures whose GGUF tensors follow llama.cpp's `llama` layout.
const LLAMA_FAMILY: &[&str] = &["llama", "mistral", "smollm", "granite"];

impl VisionConfig {
    /// Reads `gvt.vision.*`; `Ok(None)` when the file has no vision tower.
    pub fn from_metadata(md: &Metadata) -> Result<Option<Self>> {
        let Some(image_size) = md.opt_u32("gvt.vision.image_size")? else {
            return Ok(None);
        };
        let key = |k: &str| format!("gvt.vision.{k}");
        let mut cfg = VisionConfig::new(
            image_size as usize,
            md.get_u32(&key("patch_size"))? as usize,
            md.get_u32(&key("embedding_length"))? as usize,
            md.get_u32(&key("block_count"))? as usize,
            md.get_u32(&key("head_count"))? as usize,
            md.get_u32(&key("feed_forward_length"))? as usize,
        );
        if let Some(eps) = md.opt_f32(&key("layer_norm_epsilon"))? {
            cfg.norm_eps = eps as f64;
        }
        if let Some(eps) = md.opt_f32(&key("ln_vision_epsilon"))? {
            cfg.ln_vision_eps = eps as f64;
        }
        if let Some(theta) = md.opt_f32(&key("rope_theta"))? {
            cfg.rope_theta = theta as f64;
        }
        if md.get(&key("image_mean")).is_some() {
            cfg.image_mean = md.get_f32_array(&key("image_mean"))?;
            cfg.image_std = md.get_f32_array(&key("image_std"))?;
        }
        cfg.validate()?;
        Ok(Some(cfg))
    }

    fn validate(&self) -> Result<()> {
        let bad = |why: String| Err(Error::UnsupportedModel(format!("vision tower: {why}")));
        if self.patch_size == 0 || !self.image_size.is_multiple_of(self.patch_size) {
            return bad(format!(
                "image size {} is not a multiple of the patch size {}",
                self.image_size, self.patch_size
            ));
        }
        if self.heads == 0
            || !self.width.is_multiple_of(self.heads)
            || !self.head_dim().is_multiple_of(4)
        {
            return bad(format!(
                "width {} over {} heads does not give a head size divisible by 4 (2-D RoPE)",
                self.width, self.heads
            ));
        }
        if self.image_mean.len() != 3 || self.image_std.len() != 3 {
            return bad("image_mean and image_std need 3 values".into());
        }
        Ok(())
    }
}

impl ResamplerConfig {
    /// Reads `gvt.resampler.*`; `Ok(None)` when absent. `width` is the ViT width.
    pub fn from_metadata(md: &Metadata, width: usize) -> Result<Option<Self>> {
        let Some(depth) = md.opt_u32("gvt.resampler.block_count")? else {
            return Ok(None);
        };
        let key = |k: &str| format!("gvt.resampler.{k}");
        let mut cfg = ResamplerConfig::new(
            width,
            depth as usize,
            md.get_u32(&key("head_count"))? as usize,
            md.get_u32(&key("head_dim"))? as usize,
            md.get_u32(&key("latent_count"))? as usize,
            md.get_u32(&key("feed_forward_length"))? as usize,
        );
        if let Some(eps) = md.opt_f32(&key("layer_norm_epsilon"))? {
            cfg.norm_eps = eps as f64;
        }
        if cfg.latents == 0 || cfg.heads == 0 {
            return Err(Error::UnsupportedModel(
                "resampler needs at least one latent and one head".into(),
            ));
        }
        Ok(Some(cfg))
    }
}

impl LlmConfig {
    /// Reads the LLM keys. In a `gvt` file they carry the `llama.` prefix; in a plain LLM
    /// file, the `{general.architecture}.` prefix of any LLaMA-family architecture.
    /// `vocab_rows` is the row count of `token_embd` (used when `vocab_size` is absent) and
    /// `tied_output` whether the file lacks `output.weight`.
    pub fn from_metadata(md: &Metadata, vocab_rows: usize, tied_output: bool) -> Result<Self> {
        let arch = md.get_str("general.architecture")?;
        let prefix = if arch == "gvt" {
            "llama"
        } else if LLAMA_FAMILY.contains(&arch) {
            arch
        } else {
            return Err(Error::UnsupportedModel(format!(
                "architecture `{arch}` is not LLaMA-family (supported: gvt, {})",
                LLAMA_FAMILY.join(", ")
            )));
        };
        let key = |k: &str| format!("{prefix}.{k}");
        let width = md.get_u32(&key("embedding_length"))? as usize;
        let heads = md.get_u32(&key("attention.head_count"))? as usize;
        let kv_heads = md
            .opt_u32(&key("attention.head_count_kv"))?
            .map_or(heads, |v| v as usize);
        if heads == 0
            || kv_heads == 0
            || !heads.is_multiple_of(kv_heads)
            || !width.is_multiple_of(heads)
        {
            return Err(Error::UnsupportedModel(format!(
                "{heads} query heads, {kv_heads} key/value heads and width {width} do not fit"
            )));
        }
        let head_dim = md
            .opt_u32(&key("attention.key_length"))?
            .map_or(width / heads, |v| v as usize);
        if !head_dim.is_multiple_of(2) {
            return Err(Error::UnsupportedModel(format!(
                "head size {head_dim} is odd; RoPE needs pairs"
            )));
        }
        let mut cfg = LlmConfig::new(
            md.opt_u32(&key("vocab_size"))?
                .map_or(vocab_rows, |v| v as usize),
            width,
            md.get_u32(&key("block_count"))? as usize,
            heads,
            kv_heads,
            md.get_u32(&key("feed_forward_length"))? as usize,
            head_dim,
        );
        if let Some(eps) = md.opt_f32(&key("attention.layer_norm_rms_epsilon"))? {
            cfg.rms_eps = eps as f64;
        }
        if let Some(base) = md.opt_f32(&key("rope.freq_base"))? {
            cfg.rope_base = base as f64;
        }
        if let Some(ctx) = md.opt_u32(&key("context_length"))? {
            cfg.context_length = ctx as usize;
        }
        cfg.tied_output = tied_output;
        Ok(cfg)
    }
}

/// Named sizes, for benchmarks, training and documentation. Real runs read the metadata.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(not(target_arch = "wasm32"), derive(clap::ValueEnum))]
pub enum Preset {
    /// The official GVT-7B: EVA-02 ViT-L/14 + 6-layer perceiver + Vicuna-7B.
    #[cfg_attr(not(target_arch = "wasm32"), value(name = "gvt-7b"))]
    Gvt7b,
    /// A small ViT and perceiver in front of SmolLM2-135M.
    Smol,
    /// The embedded default model's size.
    Tiny,
}

impl GvtConfig {
    pub fn preset(preset: Preset) -> Self {
        match preset {
            Preset::Gvt7b => GvtConfig {
                vision: Some(VisionConfig::new(224, 14, 1024, 24, 16, 2730)),
                resampler: Some(ResamplerConfig::new(1024, 6, 16, 96, 32, 4096)),
                llm: LlmConfig::new(32000, 4096, 32, 32, 32, 11008, 128),
            },
            Preset::Smol => GvtConfig {
                vision: Some(VisionConfig::new(224, 14, 384, 12, 6, 1024)),
                resampler: Some(ResamplerConfig::new(384, 4, 6, 64, 32, 1536)),
                llm: LlmConfig::new(49152, 576, 30, 9, 3, 1536, 64)
                    .with_rms_eps(1e-5)
                    .with_rope_base(100000.0)
                    .with_context_length(8192)
                    .with_tied_output(true),
            },
            Preset::Tiny => GvtConfig {
                vision: Some(VisionConfig::new(128, 8, 128, 4, 4, 341)),
                resampler: Some(ResamplerConfig::new(128, 2, 4, 32, 32, 512)),
                llm: LlmConfig::new(512, 192, 4, 6, 2, 512, 32)
                    .with_rms_eps(1e-5)
                    .with_context_length(256)
                    .with_tied_output(true),
            },
        }
    }
}
