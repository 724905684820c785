//! Memory a model needs before it is spent: weights as they sit on the device, the peak
//! activations of one image and one prompt, and the KV cache, checked against what the
//! device has, so an impossible model is refused with figures instead of an abort.
//!
//! The figures are estimates from the shapes (f32 activations, the largest tensors of one
//! layer alive at once), not a trace of the allocator; they are meant to be within tens of
//! percent and never to refuse a model that runs.

use std::fmt;

use burn::tensor::Device;

use super::config::{GvtConfig, LlmConfig, ResamplerConfig, VisionConfig};
use super::params::kept_format;
use crate::gguf::GgufFile;
use crate::{Error, Result};

const F32: u64 = 4;

/// Text tokens assumed around the image when estimating a prompt, and answer tokens after it
/// (the app's and the CLI's default answer length).
const PROMPT_TEXT_TOKENS: usize = 64;
const ANSWER_TOKENS: usize = 64;

/// What the device offers, as far as it can tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DeviceMemory {
    /// Bytes the model may use in all; `None` where the device does not say (GPUs: wgpu
    /// does not report their memory).
    pub available: Option<u64>,
    /// The largest single buffer (a GPU's storage-buffer binding limit).
    pub max_buffer: Option<u64>,
}

/// The largest single tensor a model needs, by what it is.
#[derive(Debug, Clone, PartialEq)]
pub struct LargestTensor {
    pub what: String,
    pub bytes: u64,
}

/// Where the model runs, for the estimate.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Burn,
    CpuEngine,
    /// The GPU engine, with its KV cache preallocated to this many positions.
    GpuEngine(usize),
}

/// Bytes one model needs to answer one question about one image.
#[derive(Debug, Clone, PartialEq)]
pub struct MemoryEstimate {
    /// Weights on the device.
    pub weights: u64,
    /// Host memory while loading: the largest tensor decoded to f32, and its transpose.
    pub loading: u64,
    /// Peak activations: the vision tower on one image, or the LLM on the prompt.
    pub activations: u64,
    /// Keys and values of every layer over the prompt and the answer.
    pub kv_cache: u64,
    pub largest: LargestTensor,
}

impl MemoryEstimate {
    /// Estimates the memory of the model `files` describe, on `device`, with everything on
    /// burn.
    pub fn new(config: &GvtConfig, files: &[&GgufFile], device: &Device) -> Self {
        Self::estimate(config, files, device, Kind::Burn)
    }

    /// [`MemoryEstimate::new`] on the CPU engine: tensors read where they lie, and burn's
    /// figures for the activations and the f32 KV cache of one request.
    pub fn with_cpu_engine(config: &GvtConfig, files: &[&GgufFile], device: &Device) -> Self {
        Self::estimate(config, files, device, Kind::CpuEngine)
    }

    /// [`MemoryEstimate::new`] on the GPU engine: tensors as stored (split by rows where a
    /// binding cannot hold one), an f16 KV cache preallocated to `engine_context`, and the
    /// LLM's activations in chunks of the prompt.
    pub fn with_engine(
        config: &GvtConfig,
        files: &[&GgufFile],
        device: &Device,
        engine_context: usize,
    ) -> Self {
        Self::estimate(config, files, device, Kind::GpuEngine(engine_context))
    }

    fn estimate(config: &GvtConfig, files: &[&GgufFile], device: &Device, kind: Kind) -> Self {
        let engine_context = match kind {
            Kind::GpuEngine(context) => Some(context),
            Kind::Burn | Kind::CpuEngine => None,
        };
        let mut weights = 0;
        let mut largest_f32 = 0;
        let mut largest = LargestTensor {
            what: String::new(),
            bytes: 0,
        };
        for t in files.iter().flat_map(|f| f.tensors.iter()) {
            if kind != Kind::Burn {
                weights = add(&[weights, t.n_bytes() as u64]);
                continue;
            }
            let n = t.n_elements() as u64;
            // Kept blocks: one byte per value and an f32 scale per 32; the rest is f32.
            let bytes = match kept_format(t.dtype, device) {
                Some(_) => n.saturating_add(n / 32 * F32),
                None => n.saturating_mul(F32),
            };
            weights = add(&[weights, bytes]);
            largest_f32 = largest_f32.max(n.saturating_mul(F32));
            if bytes > largest.bytes {
                largest = LargestTensor {
                    what: format!("tensor `{}`", t.name),
                    bytes,
                };
            }
        }
        let sequence = config.prompt_tokens();
        let mut activations = match engine_context {
            Some(context) => engine_llm_activations(&config.llm, context),
            None => llm_activations(&config.llm, sequence),
        };
        let mut consider = |what: &str, bytes: u64| {
            if bytes > largest.bytes {
                largest = LargestTensor {
                    what: what.to_string(),
                    bytes,
                };
            }
        };
        if engine_context.is_none() {
            consider(
                "the LLM's attention scores",
                mul(&[config.llm.heads, sequence, sequence, 4]),
            );
        }
        if let (Some(v), Some(r)) = (&config.vision, &config.resampler) {
            let tokens = v.tokens();
            consider(
                "the vision tower's attention scores",
                mul(&[v.heads, tokens, tokens, 4]),
            );
            activations = activations.max(vision_activations(v, r));
        }
        let kv_cache = match engine_context {
            Some(context) => mul(&[
                2,
                config.llm.depth,
                config.llm.kv_heads,
                config.llm.head_dim,
                context,
                2,
            ]),
            None => kv_cache(
                &config.llm,
                sequence
                    .saturating_add(ANSWER_TOKENS)
                    .min(config.llm.context_length),
            ),
        };
        Self {
            weights,
            loading: largest_f32.saturating_mul(2),
            activations,
            kv_cache,
            largest,
        }
    }

    /// The peak: weights, the larger of loading and running, and the cache.
    pub fn total(&self) -> u64 {
        let running = add(&[self.activations, self.kv_cache]);
        add(&[self.weights, self.loading.max(running)])
    }

    /// Refuses a model the device cannot hold, with the figures.
    pub fn check(&self, memory: &DeviceMemory, device_name: &str) -> Result<()> {
        if let Some(limit) = memory
            .max_buffer
            .filter(|&limit| self.largest.bytes > limit)
        {
            return Err(Error::OutOfMemory(format!(
                "one buffer of {} is needed for {}; {device_name} allows {} per buffer (its \
                 storage buffer binding limit)",
                Bytes(self.largest.bytes),
                self.largest.what,
                Bytes(limit)
            )));
        }
        if let Some(available) = memory.available.filter(|&a| self.total() > a) {
            return Err(Error::OutOfMemory(format!(
                "this model needs ~{} for one image ({self}); {device_name} has {} available",
                Bytes(self.total()),
                Bytes(available)
            )));
        }
        Ok(())
    }
}

impl fmt::Display for MemoryEstimate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "weights {}, activations {}, KV cache {}",
            Bytes(self.weights),
            Bytes(self.activations),
            Bytes(self.kv_cache)
        )
    }
}

impl GvtConfig {
    /// Prompt length of one question about one image: the visual tokens and some text.
    fn prompt_tokens(&self) -> usize {
        let visual = self.resampler.as_ref().map_or(0, |r| r.latents);
        visual
            .saturating_add(PROMPT_TEXT_TOKENS)
            .min(self.llm.context_length)
    }
}

/// One vision block at a time is alive: its input, q, k, v, the attention scores and their
/// softmax, and the MLP's two hidden tensors; then the resampler's cross-attention.
fn vision_activations(v: &VisionConfig, r: &ResamplerConfig) -> u64 {
    let tokens = v.tokens();
    let scores = mul(&[2, v.heads, tokens, tokens]);
    let block = add(&[
        scores.max(mul(&[3, tokens, v.ffn_hidden])),
        mul(&[5, tokens, v.width]),
    ]);
    let media = tokens.saturating_add(r.latents);
    let resampler = add(&[
        mul(&[2, r.heads, r.latents, media]),
        mul(&[3, media, v.width]),
    ]);
    // The image itself, resized and normalised.
    let pixels = mul(&[3, v.image_size, v.image_size]);
    add(&[block.max(resampler), pixels]).saturating_mul(F32)
}

/// One decoder layer over the prompt: hidden states, q/k/v, scores and softmax, the MLP.
fn llm_activations(l: &LlmConfig, sequence: usize) -> u64 {
    let scores = mul(&[2, l.heads, sequence, sequence]);
    let block = add(&[
        scores.max(mul(&[3, sequence, l.ffn_hidden])),
        mul(&[5, sequence, l.width]),
    ]);
    // Logits of the last position only.
    add(&[block, l.vocab_size as u64]).saturating_mul(F32)
}

/// The engine's decoder: a chunk of the prompt through one layer, its softmax rows over the
/// whole cache, the prompt's input rows and the logits.
fn engine_llm_activations(l: &LlmConfig, context: usize) -> u64 {
    const CHUNK: usize = 64;
    add(&[
        mul(&[CHUNK, 5, l.width]),
        mul(&[CHUNK, 2, l.ffn_hidden]),
        mul(&[CHUNK, l.heads, context]),
        mul(&[context, l.width]),
        l.vocab_size as u64,
    ])
    .saturating_mul(F32)
}

fn kv_cache(l: &LlmConfig, tokens: usize) -> u64 {
    mul(&[2, l.depth, l.kv_heads, l.head_dim, tokens, 4])
}

/// Products and sums of sizes from a file saturate: an absurd model is refused for its size,
/// not by an overflow.
fn mul(factors: &[usize]) -> u64 {
    factors
        .iter()
        .fold(1u64, |p, &f| p.saturating_mul(f as u64))
}

fn add(terms: &[u64]) -> u64 {
    terms.iter().fold(0u64, |s, &t| s.saturating_add(t))
}

/// A byte count for people: "512 MB", "8.1 GB".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bytes(pub u64);

impl fmt::Display for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.0 as f64;
        if b >= 1e9 {
            write!(f, "{:.1} GB", b / 1e9)
        } else if b >= 1e6 {
            write!(f, "{:.0} MB", b / 1e6)
        } else {
            write!(f, "{:.0} KB", (b / 1e3).ceil())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_counts_read_as_people_write_them() {
        assert_eq!(Bytes(8_123_456_789).to_string(), "8.1 GB");
        assert_eq!(Bytes(512_000_000).to_string(), "512 MB");
        assert_eq!(Bytes(1).to_string(), "1 KB");
    }

    #[test]
    fn vision_activations_grow_with_the_square_of_the_tokens() {
        let v = VisionConfig::new(2048, 16, 128, 4, 4, 341);
        let r = ResamplerConfig::new(128, 2, 4, 32, 32, 512);
        // 16,385 tokens: 4 heads x 16,385^2 scores, twice (scores and softmax), in f32.
        let scores = 2 * 4 * 16_385u64.pow(2) * 4;
        let got = vision_activations(&v, &r);
        assert!(
            got >= scores && got < scores + scores / 50,
            "{got} vs {scores}"
        );
    }
}
