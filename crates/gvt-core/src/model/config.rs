//! Hyper-parameters of the three model parts, read from GGUF metadata (see
//! `docs/gguf-layout.md`), with presets for the sizes the project knows.

use burn::config::Config;

use crate::gguf::{Metadata, Value};
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
        // Saturates for absurd sizes from a file, which the memory check then refuses.
        self.grid().saturating_mul(self.grid()).saturating_add(1)
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

    /// Rejects sizes the tower cannot run with, naming the GGUF key.
    fn validate(&self) -> Result<()> {
        let mut rules = Rules::new("vision tower", "gvt.vision");
        rules
            .at_least_one("image_size", self.image_size)
            .at_least_one("patch_size", self.patch_size)
            .at_least_one("embedding_length", self.width)
            .at_least_one("block_count", self.depth)
            .at_least_one("head_count", self.heads)
            .at_least_one("feed_forward_length", self.ffn_hidden)
            .positive("layer_norm_epsilon", self.norm_eps)
            .positive("ln_vision_epsilon", self.ln_vision_eps)
            .positive("rope_theta", self.rope_theta)
            .holds(self.image_size.is_multiple_of(self.patch_size), || {
                format!(
                    "image size {} is not a multiple of the patch size {}",
                    self.image_size, self.patch_size
                )
            })
            .holds(
                self.width.is_multiple_of(self.heads)
                    && self
                        .width
                        .checked_div(self.heads)
                        .is_some_and(|d| d.is_multiple_of(4)),
                || {
                    format!(
                        "width {} over {} heads does not give a head size divisible by 4 \
                         (2-D RoPE)",
                        self.width, self.heads
                    )
                },
            )
            .holds(
                self.image_mean.len() == 3 && self.image_std.len() == 3,
                || "image_mean and image_std need 3 values".into(),
            )
            .holds(
                self.image_mean.iter().all(|m| m.is_finite())
                    && self.image_std.iter().all(|s| s.is_finite() && *s > 0.0),
                || {
                    format!(
                        "image_mean {:?} and image_std {:?} must be finite, and the standard \
                         deviations above 0",
                        self.image_mean, self.image_std
                    )
                },
            );
        rules.verdict()
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
        cfg.validate()?;
        Ok(Some(cfg))
    }

    /// Rejects sizes the resampler cannot run with, naming the GGUF key.
    fn validate(&self) -> Result<()> {
        let mut rules = Rules::new("resampler", "gvt.resampler");
        rules
            .at_least_one("block_count", self.depth)
            .at_least_one("head_count", self.heads)
            .at_least_one("head_dim", self.head_dim)
            .at_least_one("latent_count", self.latents)
            .at_least_one("feed_forward_length", self.ffn_hidden)
            .positive("layer_norm_epsilon", self.norm_eps);
        rules.verdict()
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
        let head_dim = md
            .opt_u32(&key("attention.key_length"))?
            .map_or(width.checked_div(heads).unwrap_or(0), |v| v as usize);
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
        cfg.validate(prefix)?;
        Ok(cfg)
    }

    /// Rejects sizes the decoder cannot run with, naming the GGUF key under `prefix`.
    fn validate(&self, prefix: &str) -> Result<()> {
        let mut rules = Rules::new("LLM", prefix);
        rules
            .at_least_one("vocab_size", self.vocab_size)
            .at_least_one("embedding_length", self.width)
            .at_least_one("block_count", self.depth)
            .at_least_one("attention.head_count", self.heads)
            .at_least_one("attention.head_count_kv", self.kv_heads)
            .at_least_one("attention.key_length", self.head_dim)
            .at_least_one("feed_forward_length", self.ffn_hidden)
            .at_least_one("context_length", self.context_length)
            .positive("attention.layer_norm_rms_epsilon", self.rms_eps)
            .positive("rope.freq_base", self.rope_base)
            .holds(
                self.heads.is_multiple_of(self.kv_heads) && self.width.is_multiple_of(self.heads),
                || {
                    format!(
                        "{} query heads, {} key/value heads and width {} do not fit",
                        self.heads, self.kv_heads, self.width
                    )
                },
            )
            .holds(self.head_dim.is_multiple_of(2), || {
                format!("head size {} is odd; RoPE needs pairs", self.head_dim)
            });
        rules.verdict()
    }
}

impl GvtConfig {
    /// Rejects a tokenizer that can produce ids the LLM's embedding has no row for (the
    /// embedding may have more rows than the tokenizer has tokens: padded vocabularies).
    pub fn check_tokenizer(&self, tokens: usize) -> Result<()> {
        let mut rules = Rules::new("tokenizer", "tokenizer.ggml");
        rules.holds(tokens <= self.llm.vocab_size, || {
            format!(
                "`tokenizer.ggml.tokens` has {tokens} tokens but the LLM's embedding \
                 (`token_embd.weight`) has {} rows: the ids past it cannot be looked up",
                self.llm.vocab_size
            )
        });
        rules.verdict()
    }
}

/// Checks one model part's hyper-parameters and keeps the first rule broken. Zero sizes are
/// reported before the rules that divide by them.
struct Rules {
    part: &'static str,
    prefix: String,
    broken: Option<String>,
}

impl Rules {
    fn new(part: &'static str, prefix: &str) -> Self {
        Rules {
            part,
            prefix: prefix.to_owned(),
            broken: None,
        }
    }

    fn holds(&mut self, ok: bool, why: impl FnOnce() -> String) -> &mut Self {
        if !ok && self.broken.is_none() {
            self.broken = Some(why());
        }
        self
    }

    /// A size: the model needs at least one.
    fn at_least_one(&mut self, key: &str, value: usize) -> &mut Self {
        let prefix = &self.prefix;
        let why = format!("`{prefix}.{key}` is 0; it must be at least 1");
        self.holds(value >= 1, || why)
    }

    /// An epsilon or a base: finite and above 0.
    fn positive(&mut self, key: &str, value: f64) -> &mut Self {
        let prefix = &self.prefix;
        let why = format!("`{prefix}.{key}` is {value}; it must be finite and above 0");
        self.holds(value.is_finite() && value > 0.0, || why)
    }

    fn verdict(&self) -> Result<()> {
        match &self.broken {
            None => Ok(()),
            Some(why) => Err(Error::UnsupportedModel(format!("{}: {why}", self.part))),
        }
    }
}

impl GvtConfig {
    /// Writes the keys [`GvtConfig::from_gguf`] reads (architecture `gvt`, LLM keys under
    /// `llama.`), so a model written by this crate reads back with the same configuration.
    pub fn write_metadata(&self, md: &mut Metadata) {
        md.insert("general.architecture", "gvt".into());
        if let Some(v) = &self.vision {
            v.write_metadata(md);
        }
        if let Some(r) = &self.resampler {
            r.write_metadata(md);
        }
        self.llm.write_metadata(md, "llama");
    }
}

fn u32_value(n: usize) -> Value {
    Value::U32(n as u32)
}

fn f32_value(x: f64) -> Value {
    Value::F32(x as f32)
}

impl VisionConfig {
    /// "ViT 128px/16px patches, width 128 x 4 blocks".
    pub fn summary(&self) -> String {
        format!(
            "ViT {}px/{}px patches, width {} x {} blocks",
            self.image_size, self.patch_size, self.width, self.depth
        )
    }

    /// Writes the `gvt.vision.*` keys [`VisionConfig::from_metadata`] reads.
    pub fn write_metadata(&self, md: &mut Metadata) {
        let (u, f) = (u32_value, f32_value);
        let key = |k: &str| format!("gvt.vision.{k}");
        md.insert(key("image_size"), u(self.image_size));
        md.insert(key("patch_size"), u(self.patch_size));
        md.insert(key("embedding_length"), u(self.width));
        md.insert(key("block_count"), u(self.depth));
        md.insert(key("head_count"), u(self.heads));
        md.insert(key("feed_forward_length"), u(self.ffn_hidden));
        md.insert(key("layer_norm_epsilon"), f(self.norm_eps));
        md.insert(key("ln_vision_epsilon"), f(self.ln_vision_eps));
        md.insert(key("rope_theta"), f(self.rope_theta));
        md.insert(key("image_mean"), Value::from(self.image_mean.clone()));
        md.insert(key("image_std"), Value::from(self.image_std.clone()));
    }
}

impl ResamplerConfig {
    /// "perceiver 128 x 2 layers, 32 latents".
    pub fn summary(&self) -> String {
        format!(
            "perceiver {} x {} layers, {} latents",
            self.width, self.depth, self.latents
        )
    }

    /// Writes the `gvt.resampler.*` keys [`ResamplerConfig::from_metadata`] reads.
    pub fn write_metadata(&self, md: &mut Metadata) {
        let (u, f) = (u32_value, f32_value);
        let key = |k: &str| format!("gvt.resampler.{k}");
        md.insert(key("block_count"), u(self.depth));
        md.insert(key("head_count"), u(self.heads));
        md.insert(key("head_dim"), u(self.head_dim));
        md.insert(key("latent_count"), u(self.latents));
        md.insert(key("feed_forward_length"), u(self.ffn_hidden));
        md.insert(key("layer_norm_epsilon"), f(self.norm_eps));
    }
}

impl LlmConfig {
    /// Writes llama.cpp's LLM keys under `prefix` (`llama` in a `gvt` file, the
    /// architecture's name in a plain LLM file).
    pub fn write_metadata(&self, md: &mut Metadata, prefix: &str) {
        let (u, f) = (u32_value, f32_value);
        let key = |k: &str| format!("{prefix}.{k}");
        md.insert(key("vocab_size"), u(self.vocab_size));
        md.insert(key("embedding_length"), u(self.width));
        md.insert(key("block_count"), u(self.depth));
        md.insert(key("attention.head_count"), u(self.heads));
        md.insert(key("attention.head_count_kv"), u(self.kv_heads));
        md.insert(key("attention.key_length"), u(self.head_dim));
        md.insert(key("feed_forward_length"), u(self.ffn_hidden));
        md.insert(key("attention.layer_norm_rms_epsilon"), f(self.rms_eps));
        md.insert(key("rope.freq_base"), f(self.rope_base));
        md.insert(key("context_length"), u(self.context_length));
    }
}

/// Named sizes, for benchmarks, training and documentation. Real runs read the metadata.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum Preset {
    /// The official GVT-7B: EVA-02 ViT-L/14 + 6-layer perceiver + Vicuna-7B.
    #[cfg_attr(feature = "clap", value(name = "gvt-7b"))]
    Gvt7b,
    /// A small ViT and perceiver in front of SmolLM2-135M.
    Smol,
    /// The embedded default model's size.
    Tiny,
}

impl GvtConfig {
    /// One line for people: "ViT 128px/16px patches, width 128 x 4 blocks; perceiver 128 x 2
    /// layers, 32 latents; LLM width 192 x 4 layers, vocab 444".
    pub fn summary(&self) -> String {
        let mut parts = Vec::new();
        parts.extend(self.vision.as_ref().map(VisionConfig::summary));
        parts.extend(self.resampler.as_ref().map(ResamplerConfig::summary));
        parts.push(format!(
            "LLM width {} x {} layers, vocab {}",
            self.llm.width, self.llm.depth, self.llm.vocab_size
        ));
        parts.join("; ")
    }

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
                vision: Some(VisionConfig::new(128, 16, 128, 4, 4, 341)),
                resampler: Some(ResamplerConfig::new(128, 2, 4, 32, 32, 512)),
                llm: LlmConfig::new(512, 192, 4, 6, 2, 512, 32)
                    .with_rms_eps(1e-5)
                    .with_context_length(256)
                    .with_tied_output(true),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Floats travel as f32: equal when they agree in f32.
    fn same(a: f64, b: f64) -> bool {
        a as f32 == b as f32
    }

    #[test]
    fn written_metadata_reads_back_as_the_same_config() {
        for preset in [Preset::Gvt7b, Preset::Smol, Preset::Tiny] {
            let cfg = GvtConfig::preset(preset);
            let mut md = Metadata::default();
            cfg.write_metadata(&mut md);

            let want = cfg.vision.clone().unwrap();
            let got = VisionConfig::from_metadata(&md).unwrap().unwrap();
            assert!(
                same(got.norm_eps, want.norm_eps) && same(got.ln_vision_eps, want.ln_vision_eps)
            );
            assert!(same(got.rope_theta, want.rope_theta));
            let got = VisionConfig {
                norm_eps: want.norm_eps,
                ln_vision_eps: want.ln_vision_eps,
                rope_theta: want.rope_theta,
                ..got
            };
            assert_eq!(got, want, "{preset:?}");

            let want = cfg.resampler.clone().unwrap();
            let got = ResamplerConfig::from_metadata(&md, want.width)
                .unwrap()
                .unwrap();
            assert!(same(got.norm_eps, want.norm_eps));
            let got = ResamplerConfig {
                norm_eps: want.norm_eps,
                ..got
            };
            assert_eq!(got, want, "{preset:?}");

            let want = cfg.llm.clone();
            let got = LlmConfig::from_metadata(&md, 0, want.tied_output).unwrap();
            assert!(same(got.rms_eps, want.rms_eps) && same(got.rope_base, want.rope_base));
            let got = LlmConfig {
                rms_eps: want.rms_eps,
                rope_base: want.rope_base,
                ..got
            };
            assert_eq!(got, want, "{preset:?}");
        }
    }

    /// Every configuration in `md`, or the first error.
    fn read_all(md: &Metadata) -> Result<()> {
        let vision = VisionConfig::from_metadata(md)?.expect("a vision tower");
        ResamplerConfig::from_metadata(md, vision.width)?.expect("a resampler");
        LlmConfig::from_metadata(md, 0, true)?;
        Ok(())
    }

    #[test]
    fn every_size_that_cannot_run_is_rejected_by_its_key() {
        let mut valid = Metadata::default();
        GvtConfig::preset(Preset::Tiny).write_metadata(&mut valid);
        read_all(&valid).unwrap();

        let zero = Value::U32(0);
        let cases: Vec<(&str, Value, &str)> = vec![
            (
                "gvt.vision.image_size",
                zero.clone(),
                "gvt.vision.image_size",
            ),
            (
                "gvt.vision.patch_size",
                zero.clone(),
                "gvt.vision.patch_size",
            ),
            (
                "gvt.vision.patch_size",
                Value::U32(12),
                "not a multiple of the patch size",
            ),
            (
                "gvt.vision.embedding_length",
                zero.clone(),
                "gvt.vision.embedding_length",
            ),
            (
                "gvt.vision.block_count",
                zero.clone(),
                "gvt.vision.block_count",
            ),
            (
                "gvt.vision.head_count",
                zero.clone(),
                "gvt.vision.head_count",
            ),
            (
                "gvt.vision.head_count",
                Value::U32(3),
                "head size divisible by 4",
            ),
            (
                "gvt.vision.head_count",
                Value::U32(64),
                "head size divisible by 4",
            ),
            (
                "gvt.vision.feed_forward_length",
                zero.clone(),
                "gvt.vision.feed_forward_length",
            ),
            (
                "gvt.vision.layer_norm_epsilon",
                Value::F32(0.0),
                "gvt.vision.layer_norm_epsilon",
            ),
            (
                "gvt.vision.ln_vision_epsilon",
                Value::F32(f32::NAN),
                "gvt.vision.ln_vision_epsilon",
            ),
            (
                "gvt.vision.rope_theta",
                Value::F32(f32::INFINITY),
                "gvt.vision.rope_theta",
            ),
            (
                "gvt.vision.image_std",
                Value::from(vec![0.0f32; 3]),
                "image_std",
            ),
            (
                "gvt.vision.image_mean",
                Value::from(vec![0.5f32; 2]),
                "3 values",
            ),
            (
                "gvt.resampler.block_count",
                zero.clone(),
                "gvt.resampler.block_count",
            ),
            (
                "gvt.resampler.head_count",
                zero.clone(),
                "gvt.resampler.head_count",
            ),
            (
                "gvt.resampler.head_dim",
                zero.clone(),
                "gvt.resampler.head_dim",
            ),
            (
                "gvt.resampler.latent_count",
                zero.clone(),
                "gvt.resampler.latent_count",
            ),
            (
                "gvt.resampler.feed_forward_length",
                zero.clone(),
                "gvt.resampler.feed_forward_length",
            ),
            (
                "gvt.resampler.layer_norm_epsilon",
                Value::F32(-1.0),
                "gvt.resampler.layer_norm_epsilon",
            ),
            ("llama.vocab_size", zero.clone(), "llama.vocab_size"),
            (
                "llama.embedding_length",
                zero.clone(),
                "llama.embedding_length",
            ),
            ("llama.block_count", zero.clone(), "llama.block_count"),
            (
                "llama.attention.head_count",
                zero.clone(),
                "llama.attention.head_count",
            ),
            (
                "llama.attention.head_count_kv",
                zero.clone(),
                "llama.attention.head_count_kv",
            ),
            ("llama.attention.head_count_kv", Value::U32(4), "do not fit"),
            ("llama.attention.head_count", Value::U32(5), "do not fit"),
            (
                "llama.attention.key_length",
                zero.clone(),
                "llama.attention.key_length",
            ),
            ("llama.attention.key_length", Value::U32(31), "odd"),
            (
                "llama.feed_forward_length",
                zero.clone(),
                "llama.feed_forward_length",
            ),
            ("llama.context_length", zero.clone(), "llama.context_length"),
            (
                "llama.attention.layer_norm_rms_epsilon",
                Value::F32(f32::NAN),
                "rms_epsilon",
            ),
            (
                "llama.rope.freq_base",
                Value::F32(0.0),
                "llama.rope.freq_base",
            ),
        ];
        for (key, value, named) in cases {
            let mut md = valid.clone();
            md.insert(key, value.clone());
            let error = read_all(&md)
                .expect_err(&format!("{key} = {value:?} must be rejected"))
                .to_string();
            assert!(
                error.contains(named),
                "{key} = {value:?}: the error should name {named:?}, got {error:?}"
            );
        }
    }
}
