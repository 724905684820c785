//! The LLaMA-family decoder on the engine's kernels: RMSNorm, RoPE on adjacent pairs,
//! grouped-query attention over an f16 (or f32) KV cache, SwiGLU, tied or untied head, and
//! greedy or top-p sampling on the GPU. Tensor names follow llama.cpp.
//!
//! A step (a prompt chunk, or one decoded token) is one command buffer:
//! `embed -> depth x (norm, q/k/v, rope + cache write, attention, o + residual, norm,
//! gate, up * silu(gate), down + residual) -> last-row norm -> logits -> argmax or sample`.
//! The chosen id (greedy, or drawn by temperature and top-p) stays on the GPU as the next
//! step's input; only it is read back.

use std::ops::Range;
use std::sync::Arc;

use crate::kernels::argmax::{NON_FINITE, argmax};
use crate::kernels::attention::{self, MAX_HEAD_DIM, attention, attention_split, split_scratch};
use crate::kernels::embed::{NO_TOKEN, embed};
use crate::kernels::linear::{Epilogue, Io, linear};
use crate::kernels::norm::{Norm, Rows, norm};
pub use crate::kernels::rope::KvFormat;
use crate::kernels::rope::{Heads, llm_table, rope_llm};
use crate::kernels::sample::{Sampler, sample};
use crate::kernels::{Dispatch, Step};
use crate::load::Loader;
pub use crate::load::TensorSource;
use crate::{Gpu, GpuError, GpuValues, Result, Weight};
pub use gvt_cpu::llm::StepAttention;
pub use gvt_cpu::model::{LlmDims, LlmWeights, TensorSpec};

/// The attention kernels' view of `d`'s heads.
fn heads(d: &LlmDims, cache: KvFormat) -> Heads {
    Heads {
        heads: d.heads,
        kv_heads: d.kv_heads,
        head_dim: d.head_dim,
        cache,
    }
}

/// A decoder's weights on the GPU.
pub struct GpuLlm {
    gpu: Gpu,
    dims: LlmDims,
    weights: LlmWeights<Weight, wgpu::Buffer>,
    /// cos then sin, `[context, head_dim / 2]` each.
    rope: wgpu::Buffer,
}

impl GpuLlm {
    /// Uploads every tensor of the decoder; `on_progress` gets each tensor's bytes.
    pub fn load(
        gpu: &Gpu,
        dims: LlmDims,
        tensors: &mut TensorSource<'_, '_>,
        on_progress: &mut dyn FnMut(u64),
    ) -> Result<Self> {
        dims.check("GPU engine", MAX_HEAD_DIM)?;
        let weights = LlmWeights::load(
            &dims,
            &mut Loader {
                gpu,
                tensors,
                on_progress,
            },
        )?;
        let table = llm_table(dims.context, dims.head_dim, dims.rope_base);
        let rope = gpu.storage_with("rope table", bytemuck::cast_slice(&table))?;
        Ok(Self {
            gpu: gpu.clone(),
            dims,
            weights,
            rope,
        })
    }

    pub fn dims(&self) -> &LlmDims {
        &self.dims
    }

    /// The weights, in the layout both engines share.
    pub fn weights(&self) -> &LlmWeights<Weight, wgpu::Buffer> {
        &self.weights
    }

    /// Bytes of weights on the GPU.
    pub fn weight_bytes(&self) -> u64 {
        self.weights.weight_bytes()
    }

    /// Bytes of weights a decode step reads.
    pub fn bytes_per_token(&self) -> u64 {
        self.weights.bytes_per_token()
    }

    /// Formats of the matrices, e.g. "Q4_0 x 154, Q6_K x 1".
    pub fn formats(&self) -> String {
        self.weights.formats()
    }
}

/// Part of a prompt: token ids, or rows of input embeddings (the visual tokens).
#[derive(Clone, Copy)]
pub enum Part<'a> {
    Tokens(&'a [u32]),
    /// `[rows, width]` row-major.
    Embeds(&'a [f32]),
    /// `[rows, width]` already on the GPU (the image encoder's output), copied there.
    OnGpu(&'a GpuValues),
}

/// Positions a prompt is run through the layers in at once.
const CHUNK: usize = 64;

/// The dispatches of one layer: up to and including attention, then the rest (attention
/// capture copies the softmax out between the two).
struct LayerOps {
    attend: Vec<Dispatch>,
    /// Attention itself, and decode's split form for a long cache (not on a software
    /// adapter, whose attention takes a position and head per invocation anyway).
    attention: Dispatch,
    split: Option<[Dispatch; 2]>,
    rest: Vec<Dispatch>,
}

/// A conversation's state on the GPU: activations, the KV cache and the prebuilt
/// dispatches. Reusable: [`LlmSession::reset`] starts over without reallocating.
pub struct LlmSession {
    model: Arc<GpuLlm>,
    step: wgpu::Buffer,
    /// u32: `[0]` the next input token, `[1 + i]` answer token `i`, then the prompt's ids
    /// from `prompt_at`.
    tokens: wgpu::Buffer,
    prompt_at: usize,
    /// `[prompt_rows, width]`: the whole prompt's input embeddings.
    input: wgpu::Buffer,
    prompt_rows: usize,
    x: wgpu::Buffer,
    logits: wgpu::Buffer,
    probs: wgpu::Buffer,
    capture: Option<wgpu::Buffer>,
    /// Read back after each step: the chosen token, then the captured attention to `span`.
    staging: wgpu::Buffer,
    /// Keys whose attention each step reads back with its token.
    span: Option<Range<usize>>,
    /// That attention of the last step, `[layers, heads, span]`.
    span_values: Vec<f32>,
    embed_prompt: Vec<Dispatch>,
    embed_next: Vec<Dispatch>,
    layers: Vec<LayerOps>,
    /// The last position's norm and the logits.
    head: Vec<Dispatch>,
    /// The token from the logits: the largest, or drawn by `sampling`.
    choose_greedy: Dispatch,
    choose_sampled: Sampler,
    /// `(temperature, top_p)` when tokens are sampled.
    sampling: Option<(f32, f32)>,
    chunk: usize,
    /// Positions of the KV cache (the row stride of `probs` and `capture` too).
    capacity: usize,
    past: usize,
    generated: usize,
}

impl LlmSession {
    /// Allocates a session for prompts and answers of up to `positions` positions in all
    /// (at most the model's context: the KV cache takes memory in proportion), with its
    /// cache stored as `cache`; `capture` keeps every step's attention for
    /// [`LlmSession::attention`].
    pub async fn new(
        model: Arc<GpuLlm>,
        capture: bool,
        positions: usize,
        cache: KvFormat,
    ) -> Result<Self> {
        let gpu = model.gpu.clone();
        gpu.checked("the LLM's activations and KV cache", || {
            Self::build(model, capture, positions, cache)
        })
        .await
    }

    /// Whether the session keeps attention for [`LlmSession::attention`].
    pub fn captures(&self) -> bool {
        self.capture.is_some()
    }

    /// Positions the session holds in all (prompt and answer).
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// The model the session runs.
    pub fn model(&self) -> &Arc<GpuLlm> {
        &self.model
    }

    fn build(model: Arc<GpuLlm>, capture: bool, positions: usize, cache: KvFormat) -> Result<Self> {
        let gpu = &model.gpu;
        let d = &model.dims;
        let ctx = positions.clamp(1, d.context);
        let (e, hd) = (d.width, d.head_dim);
        let f = 4u64;
        // The softmax rows of a chunk must fit one binding.
        let per_position = (d.heads * ctx) as u64 * f;
        let chunk = CHUNK
            .min((gpu.caps().max_binding / per_position.max(1)) as usize)
            .max(1);
        let prompt_rows = ctx.min((gpu.caps().max_binding / (e as u64 * f)) as usize);
        let rows = |n: usize| (chunk * n) as u64 * f;
        let step = gpu.uniform("step", bytemuck::bytes_of(&Step::default()));
        let prompt_at = 1 + ctx;
        let tokens = gpu.storage("token ids", (prompt_at + prompt_rows) as u64 * 4)?;
        let input = gpu.storage("prompt embeddings", (prompt_rows * e) as u64 * f)?;
        let x = gpu.storage("hidden states", rows(e))?;
        let xn = gpu.storage("normed states", rows(e))?;
        let q = gpu.storage("queries", rows(d.heads * hd))?;
        let k = gpu.storage("keys", rows(d.kv_heads * hd))?;
        let v = gpu.storage("values", rows(d.kv_heads * hd))?;
        let att = gpu.storage("attention output", rows(d.heads * hd))?;
        let gate = gpu.storage("gate", rows(d.ffn_hidden))?;
        let up = gpu.storage("up", rows(d.ffn_hidden))?;
        let last = gpu.storage("last position", e as u64 * f)?;
        let logits = gpu.storage("logits", d.vocab as u64 * f)?;
        // Decode's split attention keeps its slices after the first row.
        let split_values = (per_position / f) as usize + split_scratch(heads(d, cache));
        let probs_values = (chunk * (per_position / f) as usize).max(split_values);
        let probs = gpu.storage("attention probabilities", probs_values as u64 * f)?;
        let capture = capture
            .then(|| gpu.storage("captured attention", per_position * d.depth as u64))
            .transpose()?;
        let staging = gpu.device().create_buffer(&wgpu::BufferDescriptor {
            label: Some("sampled token"),
            size: 4,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let cache_bytes = (ctx * d.kv_heads * hd * cache.bytes()) as u64;
        let heads = heads(d, cache);
        let mut layers = Vec::with_capacity(d.depth);
        for (i, l) in model.weights.layers.iter().enumerate() {
            let k_cache = gpu.storage(&format!("layer {i} key cache"), cache_bytes)?;
            let v_cache = gpu.storage(&format!("layer {i} value cache"), cache_bytes)?;
            let mut attend = vec![norm(
                gpu,
                Norm::Rms {
                    weight: &l.attn_norm,
                },
                e,
                d.rms_eps,
                &x,
                &xn,
                Rows::SAME,
                &step,
            )];
            attend.extend(linear(gpu, &l.q, Io::new(&xn, &q), Epilogue::STORE, &step));
            attend.extend(linear(gpu, &l.k, Io::new(&xn, &k), Epilogue::STORE, &step));
            attend.extend(linear(gpu, &l.v, Io::new(&xn, &v), Epilogue::STORE, &step));
            attend.push(rope_llm(
                gpu,
                heads,
                &q,
                &k,
                &v,
                &k_cache,
                &v_cache,
                &model.rope,
                &step,
            ));
            let io = attention::Io {
                q: &q,
                k_cache: &k_cache,
                v_cache: &v_cache,
                out: &att,
                probs: &probs,
            };
            let attention = attention(gpu, heads, ctx, io, &step);
            let split = (!gpu.caps().software).then(|| attention_split(gpu, heads, ctx, io, &step));
            let mut rest = linear(gpu, &l.o, Io::new(&att, &x), Epilogue::ADD, &step);
            rest.push(norm(
                gpu,
                Norm::Rms {
                    weight: &l.ffn_norm,
                },
                e,
                d.rms_eps,
                &x,
                &xn,
                Rows::SAME,
                &step,
            ));
            let (to_gate, to_up) = (Io::new(&xn, &gate), Io::new(&xn, &up).gate(&gate));
            rest.extend(linear(gpu, &l.gate, to_gate, Epilogue::STORE, &step));
            rest.extend(linear(gpu, &l.up, to_up, Epilogue::SILU_MUL, &step));
            rest.extend(linear(gpu, &l.down, Io::new(&up, &x), Epilogue::ADD, &step));
            layers.push(LayerOps {
                attend,
                attention,
                split,
                rest,
            });
        }
        let mut head = vec![norm(
            gpu,
            Norm::Rms {
                weight: &model.weights.norm,
            },
            e,
            d.rms_eps,
            &x,
            &last,
            Rows::Last,
            &step,
        )];
        let output = model.weights.head();
        head.extend(linear(
            gpu,
            output,
            Io::new(&last, &logits),
            Epilogue::STORE,
            &step,
        ));
        let choose_greedy = argmax(gpu, &logits, d.vocab, &tokens, &step);
        let choose_sampled = sample(gpu, &logits, d.vocab, &tokens, &step)?;
        Ok(Self {
            embed_prompt: embed(
                gpu,
                &model.weights.embed,
                &tokens,
                prompt_at as u32,
                &input,
                &step,
            ),
            embed_next: embed(gpu, &model.weights.embed, &tokens, 0, &x, &step),
            model,
            step,
            tokens,
            prompt_at,
            input,
            prompt_rows,
            x,
            logits,
            probs,
            capture,
            staging,
            span: None,
            span_values: Vec::new(),
            layers,
            head,
            choose_greedy,
            choose_sampled,
            sampling: None,
            chunk,
            capacity: ctx,
            past: 0,
            generated: 0,
        })
    }

    /// Forgets the conversation (the cache is overwritten as it refills).
    pub fn reset(&mut self) {
        self.past = 0;
        self.generated = 0;
    }

    /// Positions in the KV cache.
    pub fn len(&self) -> usize {
        self.past
    }

    pub fn is_empty(&self) -> bool {
        self.past == 0
    }

    fn gpu(&self) -> &Gpu {
        &self.model.gpu
    }

    /// Runs the prompt and returns the greedy first token (its logits stay readable).
    /// The capture, when on, holds the attention of the prompt's last position.
    pub async fn prefill(&mut self, parts: &[Part<'_>]) -> Result<u32> {
        let e = self.model.dims.width;
        let n: usize = parts
            .iter()
            .map(|p| match p {
                Part::Tokens(ids) => ids.len(),
                Part::Embeds(rows) => rows.len() / e,
                Part::OnGpu(rows) => rows.len() / e,
            })
            .sum();
        if n == 0 {
            return Err(GpuError::InvalidInput("the prompt is empty".into()));
        }
        self.check_room(n)?;
        if n > self.prompt_rows {
            return Err(GpuError::InvalidInput(format!(
                "the prompt has {n} positions; the GPU holds at most {} at once",
                self.prompt_rows
            )));
        }
        let gpu = self.gpu().clone();
        let queue = gpu.queue();
        let mut ids = Vec::with_capacity(n);
        let mut encoder = gpu.device().create_command_encoder(&Default::default());
        let whole_rows = |len: usize| {
            if len.is_multiple_of(e) {
                Ok(())
            } else {
                Err(GpuError::InvalidInput(format!(
                    "{len} embedding values are not whole rows of {e}"
                )))
            }
        };
        for part in parts {
            match part {
                Part::Tokens(t) => {
                    if let Some(bad) = t.iter().find(|&&id| id as usize >= self.model.dims.vocab) {
                        return Err(GpuError::InvalidInput(format!(
                            "token id {bad} is outside the vocabulary of {}",
                            self.model.dims.vocab
                        )));
                    }
                    ids.extend_from_slice(t);
                }
                Part::Embeds(rows) => {
                    whole_rows(rows.len())?;
                    let at = (ids.len() * e * 4) as u64;
                    queue.write_buffer(&self.input, at, bytemuck::cast_slice(rows));
                    ids.extend(std::iter::repeat_n(NO_TOKEN, rows.len() / e));
                }
                Part::OnGpu(rows) => {
                    whole_rows(rows.len())?;
                    let at = (ids.len() * e * 4) as u64;
                    let bytes = (rows.len() * 4) as u64;
                    encoder.copy_buffer_to_buffer(&rows.buffer, 0, &self.input, at, bytes);
                    ids.extend(std::iter::repeat_n(NO_TOKEN, rows.len() / e));
                }
            }
        }
        queue.write_buffer(
            &self.tokens,
            self.prompt_at as u64 * 4,
            bytemuck::cast_slice(&ids),
        );
        let watch = gpu.watch("running the prompt");
        {
            self.write_step(n, 0);
            {
                let mut pass = encoder.begin_compute_pass(&Default::default());
                for d in &self.embed_prompt {
                    d.encode(&mut pass, n as u32);
                }
            }
            queue.submit([encoder.finish()]);
            for start in (0..n).step_by(self.chunk) {
                let t = self.chunk.min(n - start);
                self.write_step(t, 0);
                let mut encoder = gpu.device().create_command_encoder(&Default::default());
                let row = (e * 4) as u64;
                encoder.copy_buffer_to_buffer(
                    &self.input,
                    start as u64 * row,
                    &self.x,
                    0,
                    t as u64 * row,
                );
                let last = start + t == n;
                self.encode_layers(&mut encoder, t, last);
                queue.submit([encoder.finish()]);
                self.past += t;
            }
        }
        let checked = watch.done();
        self.generated = 1;
        let token = self.read_token().await;
        checked.await?;
        token
    }

    /// Runs the token sampled last (or set by [`LlmSession::set_next`]) and returns the
    /// next greedy token.
    pub async fn decode(&mut self) -> Result<u32> {
        self.check_room(1)?;
        let gpu = self.gpu().clone();
        let watch = gpu.watch("decoding a token");
        {
            self.write_step(1, self.generated);
            let mut encoder = gpu.device().create_command_encoder(&Default::default());
            {
                let mut pass = encoder.begin_compute_pass(&Default::default());
                for d in &self.embed_next {
                    d.encode(&mut pass, 1);
                }
            }
            self.encode_layers(&mut encoder, 1, true);
            gpu.queue().submit([encoder.finish()]);
        }
        let checked = watch.done();
        self.past += 1;
        self.generated += 1;
        let token = self.read_token().await;
        checked.await?;
        token
    }

    /// Chooses the following tokens greedily (`None`), or draws them at `temperature` from
    /// the smallest set of most likely tokens that holds `top_p` (`Some((temperature,
    /// top_p))`), each step with the draw given to [`LlmSession::set_draw`].
    pub fn set_sampling(&mut self, rule: Option<(f32, f32)>) {
        self.sampling = rule;
    }

    /// Reads each step's attention to the keys `span` back with its token, in the same
    /// transfer (the visual tokens' span, for the overlays): [`LlmSession::attention`] of
    /// that span then needs no read of its own. Only for a session that captures.
    pub fn set_capture_span(&mut self, span: Option<Range<usize>>) {
        if self.capture.is_none() || span == self.span {
            return;
        }
        let d = &self.model.dims;
        let values = span.as_ref().map_or(0, |s| d.depth * d.heads * s.len());
        self.staging = self.gpu().device().create_buffer(&wgpu::BufferDescriptor {
            label: Some("sampled token and attention"),
            size: 4 + values as u64 * 4,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        self.span = span;
        self.span_values.clear();
    }

    /// The uniform draw in `[0, 1)` the next step samples with.
    pub fn set_draw(&self, u: f32) {
        if let Some((temperature, top_p)) = self.sampling {
            self.choose_sampled.write(self.gpu(), temperature, top_p, u);
        }
    }

    /// Replaces the next input token (a token sampled on the CPU from [`Self::logits`]).
    pub fn set_next(&mut self, token: u32) {
        let queue = self.gpu().queue();
        let bytes = bytemuck::bytes_of(&token);
        queue.write_buffer(&self.tokens, 0, bytes);
        // The answer list keeps what was really chosen.
        if let Some(last) = self.generated.checked_sub(1) {
            queue.write_buffer(&self.tokens, 4 * (1 + last as u64), bytes);
        }
    }

    /// The last step's logits for its last position.
    pub async fn logits(&self) -> Result<Vec<f32>> {
        self.gpu()
            .read_f32(&self.logits, 0, self.model.dims.vocab)
            .await
    }

    /// The attention of the last step's last position to the key positions `keys` (all of
    /// them: `0..len()`), per layer, when the session captures it. Only those rows are read.
    pub async fn attention(&self, keys: Range<usize>) -> Result<Option<StepAttention>> {
        let Some(capture) = &self.capture else {
            return Ok(None);
        };
        if keys.start >= keys.end || keys.end > self.past {
            return Err(GpuError::InvalidInput(format!(
                "attention to keys {keys:?} asked of a session of {} positions",
                self.past
            )));
        }
        let d = &self.model.dims;
        let heads = d.heads;
        if self.span.as_ref() == Some(&keys) && !self.span_values.is_empty() {
            let len = keys.len();
            return Ok(Some(StepAttention {
                heads,
                keys: len,
                layers: self
                    .span_values
                    .chunks(heads * len)
                    .map(<[f32]>::to_vec)
                    .collect(),
            }));
        }
        let ctx = self.capacity;
        let row = |i: usize| ((i * ctx + keys.start) * 4) as u64;
        let len = keys.len();
        let regions: Vec<(u64, u64)> = (0..d.depth * heads)
            .map(|i| (row(i), (len * 4) as u64))
            .collect();
        let raw = self.gpu().read_regions(capture, &regions).await?;
        let values: Vec<f32> = bytemuck::pod_collect_to_vec(&raw);
        Ok(Some(StepAttention {
            heads,
            keys: len,
            layers: values.chunks(heads * len).map(<[f32]>::to_vec).collect(),
        }))
    }

    fn check_room(&self, t: usize) -> Result<()> {
        if self.past + t > self.capacity {
            return Err(GpuError::InvalidInput(format!(
                "{} positions would pass the session's {} (the model's context is {})",
                self.past + t,
                self.capacity,
                self.model.dims.context
            )));
        }
        Ok(())
    }

    fn write_step(&self, t: usize, index: usize) {
        let step = Step {
            t: t as u32,
            past: self.past as u32,
            index: index as u32,
            _pad: 0,
        };
        self.gpu().write_step(&self.step, step);
    }

    /// The layers for `t` positions; with `head`, the logits and argmax of the last one,
    /// and the sampled id copied out for reading.
    fn encode_layers(&self, encoder: &mut wgpu::CommandEncoder, t: usize, head: bool) {
        let d = &self.model.dims;
        // The last position's rows of every head, contiguous in `probs` ([t, heads, capacity]).
        let layer_bytes = (d.heads * self.capacity * 4) as u64;
        let mut pass = encoder.begin_compute_pass(&Default::default());
        for (i, layer) in self.layers.iter().enumerate() {
            for op in &layer.attend {
                op.encode(&mut pass, t as u32);
            }
            match &layer.split {
                Some(split) if t == 1 && self.past + 1 >= self.gpu().caps().split_from => {
                    for op in split {
                        op.encode(&mut pass, 1);
                    }
                }
                _ => layer.attention.encode(&mut pass, t as u32),
            }
            if let Some(capture) = &self.capture {
                drop(pass);
                encoder.copy_buffer_to_buffer(
                    &self.probs,
                    (t as u64 - 1) * layer_bytes,
                    capture,
                    i as u64 * layer_bytes,
                    layer_bytes,
                );
                pass = encoder.begin_compute_pass(&Default::default());
            }
            for op in &layer.rest {
                op.encode(&mut pass, t as u32);
            }
        }
        if head {
            for op in &self.head {
                op.encode(&mut pass, 1);
            }
            let choose = match self.sampling {
                Some(_) => &self.choose_sampled.dispatch,
                None => &self.choose_greedy,
            };
            choose.encode(&mut pass, 1);
        }
        drop(pass);
        if head {
            encoder.copy_buffer_to_buffer(&self.tokens, 0, &self.staging, 0, 4);
            if let (Some(capture), Some(span)) = (&self.capture, &self.span) {
                let (len, rows) = (span.len() as u64 * 4, (d.depth * d.heads) as u64);
                for i in 0..rows {
                    let from = (i * self.capacity as u64 + span.start as u64) * 4;
                    encoder.copy_buffer_to_buffer(capture, from, &self.staging, 4 + i * len, len);
                }
            }
        }
    }

    /// The chosen token, and the captured span's attention with it.
    async fn read_token(&mut self) -> Result<u32> {
        let d = &self.model.dims;
        let values = self
            .span
            .as_ref()
            .map_or(0, |s| d.depth * d.heads * s.len());
        let bytes = self
            .gpu()
            .map_read(&self.staging, 4 + values as u64 * 4)
            .await?;
        self.span_values = bytemuck::pod_collect_to_vec(&bytes[4..]);
        match u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) {
            NON_FINITE => Err(GpuError::NonFinite),
            token => Ok(token),
        }
    }
}
