//! The LLM's half of a generation, on burn, the GPU engine or the CPU engine: run the
//! prompt, then one token at a time, choosing each token, and on request the attention of
//! the position that chose it.

use burn::module::Module;
use burn::tensor::{Tensor, TensorData};
use gvt_cpu::llm::{LlmSession as CpuSession, Part as CpuPart, StepAttention};
use gvt_gpu::llm::{LlmSession, Part};
use gvt_gpu::{GpuError, GpuValues};

use super::sampling::Sampler;
use super::{all_finite, read_f32, read_stacked, reshape_probs};
use crate::attention::Probs;
use crate::engine::{CpuEngineLlm, CpuModel, EngineLlm, EngineModel};
use crate::model::{Gvt, Keep, KvCache};
use crate::preprocess::Pixels;
use crate::{Error, Result};

/// The weights a generation runs on.
#[derive(Clone, Copy)]
pub enum ModelRef<'a> {
    /// Everything on burn: flex on the CPU, or burn's wgpu kernels.
    Burn(&'a Gvt),
    /// The whole model on the GPU engine.
    Engine(&'a EngineModel),
    /// The whole model on the CPU engine.
    Cpu(&'a CpuModel),
}

impl<'a> From<&'a Gvt> for ModelRef<'a> {
    fn from(model: &'a Gvt) -> Self {
        Self::Burn(model)
    }
}

impl<'a> From<&'a EngineModel> for ModelRef<'a> {
    fn from(model: &'a EngineModel) -> Self {
        Self::Engine(model)
    }
}

impl<'a> From<&'a CpuModel> for ModelRef<'a> {
    fn from(model: &'a CpuModel) -> Self {
        Self::Cpu(model)
    }
}

impl<'a> ModelRef<'a> {
    /// Positions the LLM holds: the model's context, or on the engine its cache.
    pub fn context(self) -> usize {
        match self {
            Self::Burn(m) => m.llm.context_length(),
            Self::Engine(m) => m.llm.model.dims().context,
            Self::Cpu(m) => m.llm.model.dims().context,
        }
    }

    /// Runs the image encoder (vision tower, resampler, projection) on one image.
    pub(super) async fn encode_image(self, pixels: Pixels, capture: bool) -> Result<EncodedImage> {
        let no_vision =
            || Error::InvalidInput("this model has no vision tower; ask without an image".into());
        match self {
            Self::Burn(m) => {
                let path = m.visual.as_ref().ok_or_else(no_vision)?;
                let device = path.devices()[0].clone();
                let tokens = path.forward(pixels.tensor(&device), None);
                let resampler = if capture {
                    Some(Later::Read(read_stacked(tokens.resampler_attention).await?))
                } else {
                    None
                };
                Ok(EncodedImage {
                    visual: Visual::Burn(tokens.embeds),
                    resampler,
                    grid: tokens.grid,
                })
            }
            Self::Cpu(m) => {
                let path = m.visual.as_ref().ok_or_else(no_vision)?;
                let mut session = path.session(capture, 0).await?;
                let tokens = session.encode(&pixels.values);
                path.keep(session);
                let tokens = tokens?;
                let dims = path.model.dims();
                let shape = dims.resampler_attention().to_vec();
                let resampler = match tokens.attention {
                    Some(values) => Some(Later::Read(Probs::new(shape, values)?)),
                    None => None,
                };
                Ok(EncodedImage {
                    visual: Visual::Host {
                        rows: dims.resampler.latents,
                        values: tokens.embeds,
                    },
                    resampler,
                    grid: dims.grid(),
                })
            }
            Self::Engine(m) => {
                let path = m.visual.as_ref().ok_or_else(no_vision)?;
                let mut session = path.session(capture, 0).await?;
                let tokens = session.encode(&pixels.values).await;
                path.keep(session);
                let tokens = tokens?;
                let dims = path.model.dims();
                Ok(EncodedImage {
                    visual: Visual::OnGpu {
                        rows: dims.resampler.latents,
                        values: tokens.embeds,
                    },
                    resampler: tokens.attention.map(|values| Later::OnGpu {
                        values,
                        dims: dims.resampler_attention().to_vec(),
                    }),
                    grid: dims.grid(),
                })
            }
        }
    }
}

/// Attention that is read when it is wanted: after the answer, not before its first token.
pub(super) enum Later {
    Read(Probs),
    OnGpu { values: GpuValues, dims: Vec<usize> },
}

impl Later {
    pub async fn read(self) -> Result<Probs> {
        match self {
            Self::Read(probs) => Ok(probs),
            Self::OnGpu { values, dims } => Probs::new(dims, values.read().await?),
        }
    }
}

/// What the image encoder made of one image.
pub(super) struct EncodedImage {
    pub visual: Visual,
    /// The resampler's cross-attention `[layers, heads, latents, media + latents]`, when
    /// captured.
    pub resampler: Option<Later>,
    /// Patches per side.
    pub grid: usize,
}

/// Visual tokens `[latents, llm_width]`, where the image encoder left them.
#[derive(Clone)]
#[expect(clippy::large_enum_variant, reason = "one per answer")]
pub(super) enum Visual {
    /// burn's `[1, latents, llm_width]`.
    Burn(Tensor<3>),
    /// Left on the GPU by the engine's image encoder.
    OnGpu { rows: usize, values: GpuValues },
    /// Made by the CPU engine's image encoder.
    Host { rows: usize, values: Vec<f32> },
}

impl Visual {
    pub fn rows(&self) -> usize {
        match self {
            Self::Burn(t) => t.dims()[1],
            Self::OnGpu { rows, .. } | Self::Host { rows, .. } => *rows,
        }
    }

    pub async fn is_finite(&self) -> Result<bool> {
        match self {
            Self::Burn(t) => all_finite(t.clone()).await,
            other => Ok(other.clone().host().await?.iter().all(|v| v.is_finite())),
        }
    }

    async fn tensor(self, device: &burn::tensor::Device) -> Result<Tensor<3>> {
        match self {
            Self::Burn(t) => Ok(t),
            other => {
                let rows = other.rows();
                let values = other.host().await?;
                let width = values.len() / rows.max(1);
                Ok(Tensor::from_data(
                    TensorData::new(values, [1, rows, width]),
                    device,
                ))
            }
        }
    }

    async fn host(self) -> Result<Vec<f32>> {
        match self {
            Self::Burn(t) => read_f32(t).await,
            Self::OnGpu { values, .. } => Ok(values.read().await?),
            Self::Host { values, .. } => Ok(values),
        }
    }
}

/// A prompt: token ids around the visual tokens.
pub(super) struct PromptInput<'p> {
    pub prefix: &'p [u32],
    pub visual: Option<Visual>,
    pub suffix: &'p [u32],
}

/// A generation's LLM state. Each step returns the chosen token, or `None` when the logits
/// were NaN or infinite.
pub(super) enum Decoder<'m> {
    Burn(BurnDecoder<'m>),
    Engine {
        llm: &'m EngineLlm,
        /// Always `Some` until the decoder is dropped and gives it back.
        session: Option<Box<LlmSession>>,
    },
    Cpu {
        llm: &'m CpuEngineLlm,
        /// Always `Some` until the decoder is dropped and gives it back.
        session: Option<Box<CpuSession>>,
    },
}

impl<'m> Decoder<'m> {
    /// A decoder for answers of up to `positions` positions, prompt included.
    pub async fn new(model: ModelRef<'m>, capture: bool, positions: usize) -> Result<Self> {
        Ok(match model {
            ModelRef::Burn(model) => Self::Burn(BurnDecoder {
                model,
                cache: KvCache::new(model.llm.depth()),
                capture,
                attention: None,
            }),
            ModelRef::Engine(model) => Self::Engine {
                llm: &model.llm,
                session: Some(model.llm.session(capture, positions).await?),
            },
            ModelRef::Cpu(model) => Self::Cpu {
                llm: &model.llm,
                session: Some(model.llm.session(capture, positions).await?),
            },
        })
    }

    /// Runs the prompt and chooses the first token.
    pub async fn prefill(
        &mut self,
        prompt: PromptInput<'_>,
        sampler: &mut Sampler,
    ) -> Result<Option<u32>> {
        match self {
            Self::Burn(burn) => {
                let device = burn.model.llm.devices()[0].clone();
                let visual = match prompt.visual {
                    Some(v) => Some(v.tensor(&device).await?),
                    None => None,
                };
                let embeds = burn
                    .model
                    .prompt_embeds(prompt.prefix, visual, prompt.suffix);
                burn.step(embeds, sampler).await
            }
            Self::Engine { session, .. } => {
                let session = session.as_mut().expect("held until drop");
                let start = prompt.prefix.len();
                let span = prompt.visual.as_ref().map(|v| start..start + v.rows());
                session.set_capture_span(span);
                // Visual tokens the engine made stay on the GPU; others come from the host.
                let host = match &prompt.visual {
                    Some(Visual::OnGpu { .. }) | None => Vec::new(),
                    Some(v) => v.clone().host().await?,
                };
                let middle = match &prompt.visual {
                    Some(Visual::OnGpu { values, .. }) => Part::OnGpu(values),
                    _ => Part::Embeds(&host),
                };
                let parts = [
                    Part::Tokens(prompt.prefix),
                    middle,
                    Part::Tokens(prompt.suffix),
                ];
                session.set_sampling(sampler.nucleus_rule());
                session.set_draw(sampler.draw_if_sampling());
                engine_choice(session.prefill(&parts).await)
            }
            Self::Cpu { session, .. } => {
                let session = session.as_mut().expect("held until drop");
                let host = match prompt.visual {
                    Some(v) => v.host().await?,
                    None => Vec::new(),
                };
                let parts = [
                    CpuPart::Tokens(prompt.prefix),
                    CpuPart::Embeds(&host),
                    CpuPart::Tokens(prompt.suffix),
                ];
                Ok(choose(session.prefill(&parts)?, sampler))
            }
        }
    }

    /// Runs `token` (the one chosen last) and chooses the next.
    pub async fn decode(&mut self, token: u32, sampler: &mut Sampler) -> Result<Option<u32>> {
        match self {
            Self::Burn(burn) => {
                let embeds = burn.model.prompt_embeds(&[token], None, &[]);
                burn.step(embeds, sampler).await
            }
            // The engine's next input already is the token chosen last.
            Self::Engine { session, .. } => {
                let session = session.as_mut().expect("held until drop");
                session.set_draw(sampler.draw_if_sampling());
                engine_choice(session.decode().await)
            }
            Self::Cpu { session, .. } => {
                let session = session.as_mut().expect("held until drop");
                Ok(choose(session.decode(token)?, sampler))
            }
        }
    }

    /// Positions in the cache.
    pub fn len(&self) -> usize {
        match self {
            Self::Burn(burn) => burn.cache.len(),
            Self::Engine { session, .. } => session.as_ref().map_or(0, |s| s.len()),
            Self::Cpu { session, .. } => session.as_ref().map_or(0, |s| s.len()),
        }
    }

    /// The last step's attention from its last position to the key positions
    /// `start..start + len`: `[layers, heads, len]`; `None` unless capturing.
    pub async fn attention(&mut self, (start, len): (usize, usize)) -> Result<Option<Probs>> {
        match self {
            Self::Burn(burn) => {
                let Some(per_layer) = burn.attention.take() else {
                    return Ok(None);
                };
                let rows = per_layer
                    .into_iter()
                    .map(|p| {
                        let t = p.dims()[2];
                        p.narrow(2, t - 1, 1).narrow(3, start, len)
                    })
                    .collect();
                Ok(Some(reshape_probs(read_stacked(rows).await?)?))
            }
            Self::Engine { session, .. } => {
                let session = session.as_ref().expect("held until drop");
                let step = session.attention(start..start + len).await?;
                step.map(stacked).transpose()
            }
            Self::Cpu { session, .. } => {
                let session = session.as_ref().expect("held until drop");
                session
                    .attention(start..start + len)
                    .map(stacked)
                    .transpose()
            }
        }
    }
}

impl Drop for Decoder<'_> {
    fn drop(&mut self) {
        match self {
            Self::Engine { llm, session } => {
                if let Some(session) = session.take() {
                    llm.keep(session);
                }
            }
            Self::Cpu { llm, session } => {
                if let Some(session) = session.take() {
                    llm.keep(session);
                }
            }
            Self::Burn(_) => {}
        }
    }
}

/// burn's LLM and its cache.
pub(super) struct BurnDecoder<'m> {
    model: &'m Gvt,
    cache: KvCache,
    capture: bool,
    /// The last step's attention per layer, `[1, heads, t, keys]`.
    attention: Option<Vec<Tensor<4>>>,
}

impl BurnDecoder<'_> {
    /// One step over `input`: the chosen token, or `None` for NaN logits; with capture, the
    /// step's attention is kept for [`Decoder::attention`].
    async fn step(&mut self, input: Tensor<3>, sampler: &mut Sampler) -> Result<Option<u32>> {
        let [_, t, _] = input.dims();
        let keep = Keep {
            attention: self.capture,
            layer_outputs: false,
        };
        let step = self.model.llm.forward(input, &mut self.cache, keep);
        self.attention = step.attention;
        let last = step.hidden.narrow(1, t - 1, 1);
        let logits = read_f32(self.model.llm.logits(last)).await?;
        Ok(choose(&logits, sampler))
    }
}

/// The token the engine chose (greedily or by its own draw), or `None` for NaN logits.
fn engine_choice(token: std::result::Result<u32, GpuError>) -> Result<Option<u32>> {
    match token {
        Ok(token) => Ok(Some(token)),
        Err(GpuError::NonFinite) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// An engine's attention of one step as `[layers, heads, keys]`.
fn stacked(step: StepAttention) -> Result<Probs> {
    let (dims, values) = step.into_stacked();
    Probs::new(dims, values)
}

/// The token `sampler` chooses from `logits`, or `None` when they are NaN or infinite.
fn choose(logits: &[f32], sampler: &mut Sampler) -> Option<u32> {
    finite(logits).then(|| sampler.sample(logits))
}

fn finite(logits: &[f32]) -> bool {
    logits.iter().all(|x| x.is_finite())
}
