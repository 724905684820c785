//! Autoregressive generation: prefill the prompt (with the visual tokens spliced in), then
//! decode token by token with a KV cache, streaming each token to a callback, until a stop
//! token, the token limit, or a cancel. Optionally records attention for the heat maps.
//!
//! Every device read is awaited (`into_data_async`), so the same code runs in the browser,
//! where blocking readback is impossible. Native callers drive it with `pollster`.

mod decoder;
mod sampling;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use burn::tensor::Tensor;
use web_time::Instant;

pub use decoder::ModelRef;
pub use sampling::{Sampler, Sampling, argmax};

use crate::attention::{AttentionRecord, Probs};
use crate::preprocess::Pixels;
use crate::tokenizer::{StreamDecoder, Tokenizer};
use crate::{Error, Result};
use decoder::{Decoder, PromptInput};

/// Token ids around the image, and the image itself.
pub struct Prompt {
    /// Ids before the visual tokens (BOS, chat header, `<Img>`).
    pub prefix: Vec<u32>,
    /// The image, or `None` for a text-only prompt.
    pub pixels: Option<Pixels>,
    /// Ids after the visual tokens (`</Img>`, the question, the assistant header).
    pub suffix: Vec<u32>,
}

/// Generation settings.
#[derive(Debug, Clone, PartialEq)]
pub struct GenerateOptions {
    pub max_new_tokens: usize,
    pub sampling: Sampling,
    /// Record attention for heat maps (costs one extra small read per token).
    pub capture_attention: bool,
}

impl Default for GenerateOptions {
    fn default() -> Self {
        Self {
            max_new_tokens: 64,
            sampling: Sampling::Greedy,
            capture_attention: false,
        }
    }
}

impl GenerateOptions {
    /// Refuses settings generation cannot honour, naming the option.
    pub fn validate(&self) -> Result<()> {
        if self.max_new_tokens == 0 {
            return Err(Error::InvalidInput(
                "asked for 0 new tokens: the answer needs at least one".into(),
            ));
        }
        self.sampling.validate()
    }
}

/// Shared flag to stop a running generation from another thread or the UI.
#[derive(Debug, Clone, Default)]
pub struct CancelFlag(Arc<AtomicBool>);

impl CancelFlag {
    pub fn cancel(&self) {
        self.0.store(true, Ordering::Relaxed);
    }
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// Why generation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// The model produced a stop token (end of turn).
    StopToken,
    /// `max_new_tokens` reached.
    MaxTokens,
    /// The model's context is full.
    ContextFull,
    Cancelled,
}

/// One streamed token.
#[derive(Debug, Clone, Copy)]
pub struct TokenEvent<'a> {
    /// Position in the answer, from 0.
    pub index: usize,
    pub id: u32,
    /// Text this token completed (empty while a multi-byte character is still partial).
    pub text: &'a str,
}

/// Where the time went, in milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Timings {
    /// Vision tower + resampler + projection. On the GPU engine, which does not wait for
    /// the image before it queues the prompt, the time to queue it: the GPU's work on the
    /// image then counts in `prefill_ms`.
    pub image_ms: f64,
    /// The prompt's forward pass up to the first logits.
    pub prefill_ms: f64,
    /// All decode steps after the first token.
    pub decode_ms: f64,
    pub prompt_tokens: usize,
    pub generated_tokens: usize,
}

impl Timings {
    /// Decode throughput (tokens after the first, per second).
    pub fn tokens_per_second(&self) -> f64 {
        let steps = self.generated_tokens.saturating_sub(1);
        if self.decode_ms > 0.0 {
            steps as f64 / (self.decode_ms / 1000.0)
        } else {
            0.0
        }
    }
}

/// A finished answer.
#[derive(Debug, Clone)]
pub struct Generation {
    pub tokens: Vec<u32>,
    /// Text of each token as streamed (the pieces concatenate to `text`).
    pub pieces: Vec<String>,
    pub text: String,
    pub stop: StopReason,
    pub attention: Option<AttentionRecord>,
    pub timings: Timings,
}

/// Reads a tensor back to the host without blocking (required in the browser).
pub async fn read_f32<const D: usize>(t: Tensor<D>) -> Result<Vec<f32>> {
    let data = t.into_data_async().await?;
    Ok(data.convert::<f32>().try_into_vec::<f32>()?)
}

/// Generates an answer for `prompt`, calling `on_token` for every token as it is produced.
pub async fn generate<'m>(
    model: impl Into<ModelRef<'m>>,
    tokenizer: &Tokenizer,
    prompt: Prompt,
    options: &GenerateOptions,
    cancel: &CancelFlag,
    on_token: &mut dyn FnMut(TokenEvent<'_>),
) -> Result<Generation> {
    let model = model.into();
    options.validate()?;
    let capture = options.capture_attention;
    let mut timings = Timings::default();
    // The page paints the question before the image encoding starts.
    yield_to_event_loop().await;
    let mut last_yield = Instant::now();

    // Image -> visual tokens.
    let start = Instant::now();
    let (visual, resampler_attention, grid) = match prompt.pixels {
        Some(pixels) => {
            let image = model.encode_image(pixels, capture).await?;
            (Some(image.visual), image.resampler, image.grid)
        }
        None => (None, None, 0),
    };
    let visual_span = visual.as_ref().map(|v| (prompt.prefix.len(), v.rows()));
    timings.image_ms = start.elapsed().as_secs_f64() * 1000.0;

    let prompt_len = prompt.prefix.len() + visual_span.map_or(0, |s| s.1) + prompt.suffix.len();
    timings.prompt_tokens = prompt_len;
    let context = model.context();
    if prompt_len >= context {
        return Err(Error::InvalidInput(format!(
            "the prompt has {prompt_len} tokens; the model's context holds {context}"
        )));
    }

    let stop_tokens = tokenizer.stop_tokens();
    let mut sampler = Sampler::new(options.sampling);
    let positions = prompt_len
        .saturating_add(options.max_new_tokens)
        .min(context);
    let mut decoder = Decoder::new(model, capture && visual_span.is_some(), positions).await?;
    let mut stream = StreamDecoder::new();
    let mut out = Generation {
        tokens: Vec::new(),
        pieces: Vec::new(),
        text: String::new(),
        stop: StopReason::MaxTokens,
        attention: None,
        timings,
    };
    let mut llm_attention = Vec::new();

    let start = Instant::now();
    let mut decode_start = None;
    let mut last = None;
    loop {
        if cancel.is_cancelled() {
            out.stop = StopReason::Cancelled;
            break;
        }
        let chosen = match last {
            None => {
                let input = PromptInput {
                    prefix: &prompt.prefix,
                    visual: visual.clone(),
                    suffix: &prompt.suffix,
                };
                decoder.prefill(input, &mut sampler).await?
            }
            Some(token) => decoder.decode(token, &mut sampler).await?,
        };
        let Some(id) = chosen else {
            let stage = match (out.tokens.len(), &visual) {
                (0, Some(visual)) if !visual.is_finite().await? => {
                    "the image encoder (vision tower, resampler or projection)".to_string()
                }
                (0, _) => "the LLM, in the prompt's forward pass (prefill)".to_string(),
                (n, _) => format!("the LLM, at answer token {n}"),
            };
            return Err(Error::NonFinite(format!(
                "the model's values became NaN or infinite in {stage}; the weights or the \
                 metadata (epsilons, RoPE base, image normalisation) are broken"
            )));
        };
        if let Some(span) = visual_span
            && let Some(rows) = decoder.attention(span).await?
        {
            llm_attention.push(rows);
        }
        if decode_start.is_none() {
            out.timings.prefill_ms = start.elapsed().as_secs_f64() * 1000.0;
            decode_start = Some(Instant::now());
            // The first token is shown with the second, a step later, unless that step
            // takes longer than a yield's interval: a one-token answer ends without a frame.
            last_yield = Instant::now();
        }

        if stop_tokens.contains(&id) {
            out.stop = StopReason::StopToken;
            llm_attention.pop();
            break;
        }
        let piece = stream.push(tokenizer, id);
        on_token(TokenEvent {
            index: out.tokens.len(),
            id,
            text: &piece,
        });
        out.tokens.push(id);
        out.text.push_str(&piece);
        out.pieces.push(piece);
        // In the browser the page repaints, and Stop can act, only between tasks: often
        // enough to stream the answer, but not at every token, which would paint a frame
        // per token (a one-token answer waited on a frame of a software-rendered page).
        if last_yield.elapsed() >= YIELD_EVERY {
            yield_to_event_loop().await;
            last_yield = Instant::now();
        }

        if out.tokens.len() >= options.max_new_tokens {
            out.stop = StopReason::MaxTokens;
            break;
        }
        if decoder.len() + 1 >= context {
            out.stop = StopReason::ContextFull;
            break;
        }
        last = Some(id);
    }
    let tail = stream.finish();
    if !tail.is_empty() {
        out.text.push_str(&tail);
        if let Some(last) = out.pieces.last_mut() {
            last.push_str(&tail);
        }
    }
    out.timings.generated_tokens = out.tokens.len();
    out.timings.decode_ms = decode_start.map_or(0.0, |s| s.elapsed().as_secs_f64() * 1000.0);
    if let Some(resampler) = resampler_attention {
        out.attention = Some(AttentionRecord {
            grid,
            // Always `[layers, heads, latents, media + latents]`, even with one latent.
            resampler: resampler.read().await?,
            llm: llm_attention,
        });
    }
    Ok(out)
}

/// How long a generation runs between yields to the browser's event loop.
const YIELD_EVERY: std::time::Duration = std::time::Duration::from_millis(30);

/// Lets the browser's event loop run: on the CPU nothing else in a generation awaits
/// anything that really waits. A `MessageChannel` message, not `setTimeout(0)`: browsers
/// throttle timers in background tabs to one a second or slower. Natively the engine has its
/// own thread.
#[cfg(target_arch = "wasm32")]
async fn yield_to_event_loop() {
    use js_sys::{Function, Reflect};
    use wasm_bindgen::{JsCast, JsValue};
    let tick = js_sys::Promise::new(&mut |resolve, _| {
        let posted = (|| -> std::result::Result<(), JsValue> {
            let class: Function =
                Reflect::get(&js_sys::global(), &"MessageChannel".into())?.dyn_into()?;
            let channel = Reflect::construct(&class, &js_sys::Array::new())?;
            let port1 = Reflect::get(&channel, &"port1".into())?;
            Reflect::set(&port1, &"onmessage".into(), &resolve)?;
            let port2 = Reflect::get(&channel, &"port2".into())?;
            let post: Function = Reflect::get(&port2, &"postMessage".into())?.dyn_into()?;
            post.call1(&port2, &JsValue::NULL)?;
            Ok(())
        })();
        if posted.is_err() {
            let _ = resolve.call0(&JsValue::NULL);
        }
    });
    let _ = wasm_bindgen_futures::JsFuture::from(tick).await;
}

#[cfg(not(target_arch = "wasm32"))]
async fn yield_to_event_loop() {}

/// Whether every value of `t` is finite (one small read: a single flag).
async fn all_finite<const D: usize>(t: Tensor<D>) -> Result<bool> {
    let flag = t.is_finite().all().into_data_async().await?;
    Ok(flag.try_into_vec::<bool>()?.into_iter().all(|ok| ok))
}

/// Reads per-layer `[1, heads, q, k]` tensors as one `[layers, heads, q, k]` host array.
async fn read_stacked(per_layer: Vec<Tensor<4>>) -> Result<Probs> {
    let Some(first) = per_layer.first() else {
        return Err(Error::UnsupportedModel(
            "the model has no attention layers to record".into(),
        ));
    };
    let dims = first.dims();
    let layers = per_layer.len();
    let values = read_f32(Tensor::cat(per_layer, 0)).await?;
    Probs::new(vec![layers, dims[1], dims[2], dims[3]], values)
}

/// Drops a singleton query axis: `[layers, heads, 1, k]` -> `[layers, heads, k]`; leaves
/// `[layers, heads, q, k]` with `q > 1` alone.
fn reshape_probs(p: Probs) -> Result<Probs> {
    if p.dims.len() == 4 && p.dims[2] == 1 {
        Probs::new(vec![p.dims[0], p.dims[1], p.dims[3]], p.values)
    } else {
        Ok(p)
    }
}
