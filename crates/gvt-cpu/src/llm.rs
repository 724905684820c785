//! The LLaMA-family decoder on the CPU kernels: RMSNorm, RoPE on adjacent pairs,
//! grouped-query attention over an f32 KV cache, SwiGLU, tied or untied head. Tensor
//! names follow llama.cpp; the step is the GPU engine's (`gvt-gpu`'s `llm.rs`):
//! `embed -> depth x (norm, q/k/v, rope + cache write, attention, o + residual, norm,
//! gate, up * silu(gate), down + residual) -> last-row norm -> logits`.

use std::ops::Range;
use std::sync::Arc;

use crate::kernels::attention::{Cache, Heads, MAX_HEAD_DIM, attention};
use crate::kernels::embed::embed;
use crate::kernels::linear::{Linear, Scratch, linear};
use crate::kernels::norm::{rms_norm, swiglu};
use crate::kernels::rope::{llm_table, rope};
pub use crate::model::{LlmDims, LlmWeights, TensorSource, TensorSpec};
use crate::model::{f32_values, fetch};
use crate::{Cpu, CpuError, Result, Shared, TensorBytes, Weight};

/// Reads tensors by name, counting their bytes.
pub(crate) struct Loader<'s, 'a, 'b, 'p> {
    pub tensors: &'s mut TensorSource<'a, 'b>,
    /// The file the tensors lie in, read in place.
    pub owner: Option<&'s Shared>,
    pub on_progress: &'p mut dyn FnMut(u64),
}

impl Loader<'_, '_, '_, '_> {
    fn checked(&mut self, spec: &TensorSpec) -> Result<TensorBytes<'_>> {
        let t = fetch(self.tensors, spec)?;
        (self.on_progress)(t.bytes.len() as u64);
        Ok(t)
    }

    /// A matrix in its GGUF blocks.
    pub fn matrix(&mut self, spec: &TensorSpec) -> Result<Weight> {
        let owner = self.owner.cloned();
        Weight::new(self.checked(spec)?, owner.as_ref())
    }

    /// A tensor stored as `spec` says, read as the `[cols, rows]` matrix of the same values
    /// (a convolution); only unblocked formats can be read so.
    pub fn matrix_as(&mut self, spec: &TensorSpec, shape: [usize; 2]) -> Result<Weight> {
        self.matrix(spec)?.reshaped(shape)
    }

    /// A norm's weight, a bias, or another small tensor, as f32 values.
    pub fn values(&mut self, spec: &TensorSpec) -> Result<Vec<f32>> {
        f32_values(self.checked(spec)?)
    }
}

/// A decoder's weights, read in place.
pub struct CpuLlm {
    cpu: Cpu,
    dims: LlmDims,
    weights: LlmWeights<Weight, Vec<f32>>,
}

impl CpuLlm {
    /// Reads every tensor of the decoder from `tensors`, in place where they lie in `owner`;
    /// `on_progress` gets each tensor's bytes.
    pub fn load(
        cpu: &Cpu,
        dims: LlmDims,
        tensors: &mut TensorSource<'_, '_>,
        owner: Option<&Shared>,
        on_progress: &mut dyn FnMut(u64),
    ) -> Result<Self> {
        dims.check("CPU engine", MAX_HEAD_DIM)?;
        let weights = LlmWeights::load(
            &dims,
            &mut Loader {
                tensors,
                owner,
                on_progress,
            },
        )?;
        Ok(Self {
            cpu: cpu.clone(),
            dims,
            weights,
        })
    }

    pub fn dims(&self) -> &LlmDims {
        &self.dims
    }

    pub fn cpu(&self) -> &Cpu {
        &self.cpu
    }

    /// The weights, in the layout both engines share.
    pub fn weights(&self) -> &LlmWeights<Weight, Vec<f32>> {
        &self.weights
    }

    /// Bytes of weight matrices.
    pub fn weight_bytes(&self) -> u64 {
        self.weights.weight_bytes()
    }

    /// Bytes of weights a decode step reads.
    pub fn bytes_per_token(&self) -> u64 {
        self.weights.bytes_per_token()
    }

    /// Formats of the matrices, e.g. "Q4_1 x 210, Q8_0 x 1".
    pub fn formats(&self) -> String {
        self.weights.formats()
    }

    fn heads(&self) -> Heads {
        Heads {
            heads: self.dims.heads,
            kv_heads: self.dims.kv_heads,
            head_dim: self.dims.head_dim,
        }
    }
}

/// A prompt's pieces: token ids, or embeddings made elsewhere (visual tokens,
/// `[rows, width]`).
#[derive(Clone, Copy)]
pub enum Part<'a> {
    Tokens(&'a [u32]),
    Embeds(&'a [f32]),
}

impl Part<'_> {
    fn rows(&self, width: usize) -> usize {
        match self {
            Self::Tokens(t) => t.len(),
            Self::Embeds(e) => e.len() / width.max(1),
        }
    }
}

/// The attention of a step's last position (the one whose logits were sampled), per
/// layer: `[heads, keys]` row-major, over the key positions asked for. Both engines give it.
pub struct StepAttention {
    pub heads: usize,
    pub keys: usize,
    pub layers: Vec<Vec<f32>>,
}

impl StepAttention {
    /// `[layers, heads, keys]` and the values in that order.
    pub fn into_stacked(self) -> (Vec<usize>, Vec<f32>) {
        (
            vec![self.layers.len(), self.heads, self.keys],
            self.layers.concat(),
        )
    }
}

/// Positions a prompt runs in at once: bounds the activations' memory.
const CHUNK: usize = 256;

/// One request's state: the KV cache, the activations, and the last logits.
pub struct LlmSession {
    model: Arc<CpuLlm>,
    capacity: usize,
    len: usize,
    capture: bool,
    /// Keys and values, per layer `[kv_heads, capacity, head_dim]`.
    k: Vec<f32>,
    v: Vec<f32>,
    /// cos then sin for `capacity` positions.
    rope: Vec<f32>,
    x: Vec<f32>,
    h: Vec<f32>,
    q: Vec<f32>,
    kn: Vec<f32>,
    vn: Vec<f32>,
    att: Vec<f32>,
    gate: Vec<f32>,
    up: Vec<f32>,
    scratch: Scratch,
    logits: Vec<f32>,
    /// With capture, the last step's probabilities per layer `[heads, keys]`.
    probs: Vec<Vec<f32>>,
}

/// A zeroed vector, or an error instead of an abort when memory runs out.
fn zeros(n: usize, what: &str) -> Result<Vec<f32>> {
    let mut v = Vec::new();
    v.try_reserve_exact(n).map_err(|_| {
        CpuError::InvalidInput(format!(
            "out of memory for the {what} ({} MB)",
            (n * 4) >> 20
        ))
    })?;
    v.resize(n, 0.0);
    Ok(v)
}

impl LlmSession {
    /// A session for requests of up to `positions` positions (at most the model's context).
    pub fn new(model: Arc<CpuLlm>, capture: bool, positions: usize) -> Result<Self> {
        let d = model.dims.clone();
        let capacity = positions.clamp(1, d.context.max(1));
        let kv = d.depth * d.kv_heads * capacity * d.head_dim;
        let chunk = CHUNK.min(capacity);
        Ok(Self {
            capacity,
            len: 0,
            capture,
            k: zeros(kv, "key cache")?,
            v: zeros(kv, "value cache")?,
            rope: llm_table(capacity, d.head_dim, d.rope_base),
            x: zeros(chunk * d.width, "activations")?,
            h: zeros(chunk * d.width, "activations")?,
            q: zeros(chunk * d.heads * d.head_dim, "activations")?,
            kn: zeros(chunk * d.kv_heads * d.head_dim, "activations")?,
            vn: zeros(chunk * d.kv_heads * d.head_dim, "activations")?,
            att: zeros(chunk * d.heads * d.head_dim, "activations")?,
            gate: zeros(chunk * d.ffn_hidden, "activations")?,
            up: zeros(chunk * d.ffn_hidden, "activations")?,
            scratch: Scratch::default(),
            logits: zeros(d.vocab, "logits")?,
            probs: Vec::new(),
            model,
        })
    }

    pub fn captures(&self) -> bool {
        self.capture
    }

    /// Positions the cache holds.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Positions in the cache.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn model(&self) -> &Arc<CpuLlm> {
        &self.model
    }

    /// Starts over for a new request.
    pub fn reset(&mut self) {
        self.len = 0;
        self.probs.clear();
    }

    /// Runs the prompt's parts in order; returns the last position's logits.
    pub fn prefill(&mut self, parts: &[Part<'_>]) -> Result<&[f32]> {
        let width = self.model.dims.width;
        let total: usize = parts.iter().map(|p| p.rows(width)).sum();
        if total == 0 {
            return Err(CpuError::InvalidInput("the prompt is empty".into()));
        }
        self.check_room(total)?;
        // The parts' rows, `CHUNK` at a time.
        let mut rows: Vec<(Part<'_>, usize)> = Vec::new();
        for part in parts {
            if let Part::Embeds(e) = part
                && !e.len().is_multiple_of(width)
            {
                return Err(CpuError::InvalidInput(format!(
                    "{} embedding values are not rows of {width}",
                    e.len()
                )));
            }
            rows.extend((0..part.rows(width)).map(|i| (*part, i)));
        }
        for chunk in rows.chunks(CHUNK) {
            let t = chunk.len();
            for (i, (part, row)) in chunk.iter().enumerate() {
                let out = &mut self.x[i * width..(i + 1) * width];
                match part {
                    Part::Tokens(ids) => {
                        embed(&self.model.weights.embed, &ids[*row..*row + 1], out)?
                    }
                    Part::Embeds(e) => out.copy_from_slice(&e[row * width..(row + 1) * width]),
                }
            }
            self.forward(t);
        }
        Ok(self.logits())
    }

    /// Runs `token` (the one chosen last); returns the logits for the next.
    pub fn decode(&mut self, token: u32) -> Result<&[f32]> {
        self.check_room(1)?;
        let width = self.model.dims.width;
        embed(&self.model.weights.embed, &[token], &mut self.x[..width])?;
        self.forward(1);
        Ok(self.logits())
    }

    fn check_room(&self, positions: usize) -> Result<()> {
        if self.len + positions > self.capacity {
            return Err(CpuError::InvalidInput(format!(
                "{} positions do not fit the {} left of the session's {}",
                positions,
                self.capacity - self.len,
                self.capacity
            )));
        }
        Ok(())
    }

    /// The logits of the last step's last position.
    pub fn logits(&self) -> &[f32] {
        &self.logits
    }

    /// The last step's attention from its last position to `keys`; `None` unless the
    /// session captures.
    pub fn attention(&self, keys: Range<usize>) -> Option<StepAttention> {
        if !self.capture || self.probs.is_empty() {
            return None;
        }
        let heads = self.model.dims.heads;
        let all = self.len;
        let keys = keys.start.min(all)..keys.end.min(all);
        let layers = self
            .probs
            .iter()
            .map(|p| {
                (0..heads)
                    .flat_map(|h| p[h * all + keys.start..h * all + keys.end].iter().copied())
                    .collect()
            })
            .collect();
        Some(StepAttention {
            heads,
            keys: keys.len(),
            layers,
        })
    }

    /// The decoder over the `t` rows in `x`, at positions `len..len + t`.
    fn forward(&mut self, t: usize) {
        let model = &*self.model;
        let d = &model.dims;
        let cpu = &model.cpu;
        let (e, hd) = (d.width, d.head_dim);
        let (qw, kvw, f) = (d.heads * hd, d.kv_heads * hd, d.ffn_hidden);
        let eps = d.rms_eps as f32;
        let start = self.len;
        let per_layer = d.kv_heads * self.capacity * hd;
        let pairs = hd / 2;
        let (cos, sin) = self.rope.split_at(self.capacity * pairs);
        if self.capture {
            self.probs.resize_with(d.depth, Vec::new);
        }
        let x = &mut self.x[..t * e];
        let h = &mut self.h[..t * e];
        let (q, kn, vn) = (
            &mut self.q[..t * qw],
            &mut self.kn[..t * kvw],
            &mut self.vn[..t * kvw],
        );
        let att = &mut self.att[..t * qw];
        let (gate, up) = (&mut self.gate[..t * f], &mut self.up[..t * f]);
        for (i, layer) in model.weights.layers.iter().enumerate() {
            rms_norm(x, &layer.attn_norm, eps, h);
            linear(
                cpu,
                h,
                &mut [
                    Linear::store(&layer.q, q),
                    Linear::store(&layer.k, kn),
                    Linear::store(&layer.v, vn),
                ],
                &mut self.scratch,
            );
            let (k_cache, v_cache) = (
                &mut self.k[i * per_layer..(i + 1) * per_layer],
                &mut self.v[i * per_layer..(i + 1) * per_layer],
            );
            for ti in 0..t {
                let p = start + ti;
                let (c, s) = (&cos[p * pairs..][..pairs], &sin[p * pairs..][..pairs]);
                rope(&mut q[ti * qw..][..qw], hd, c, s);
                rope(&mut kn[ti * kvw..][..kvw], hd, c, s);
                for kv in 0..d.kv_heads {
                    let at = (kv * self.capacity + p) * hd;
                    k_cache[at..at + hd].copy_from_slice(&kn[ti * kvw + kv * hd..][..hd]);
                    v_cache[at..at + hd].copy_from_slice(&vn[ti * kvw + kv * hd..][..hd]);
                }
            }
            let probs = if self.capture {
                let p = &mut self.probs[i];
                p.clear();
                p.resize(d.heads * (start + t), 0.0);
                Some(p.as_mut_slice())
            } else {
                None
            };
            let cache = Cache {
                k: k_cache,
                v: v_cache,
                capacity: self.capacity,
            };
            attention(cpu, model.heads(), q, cache, start, att, probs);
            linear(cpu, att, &mut [Linear::add(&layer.o, x)], &mut self.scratch);
            rms_norm(x, &layer.ffn_norm, eps, h);
            linear(
                cpu,
                h,
                &mut [
                    Linear::store(&layer.gate, gate),
                    Linear::store(&layer.up, up),
                ],
                &mut self.scratch,
            );
            swiglu(gate, up);
            linear(
                cpu,
                gate,
                &mut [Linear::add(&layer.down, x)],
                &mut self.scratch,
            );
        }
        let last = &x[(t - 1) * e..];
        rms_norm(last, &model.weights.norm, eps, &mut h[..e]);
        linear(
            cpu,
            &h[..e],
            &mut [Linear::store(model.weights.head(), &mut self.logits)],
            &mut self.scratch,
        );
        self.len += t;
    }
}

impl crate::model::Tensors for Loader<'_, '_, '_, '_> {
    type Matrix = Weight;
    type Vector = Vec<f32>;
    type Error = CpuError;
    fn matrix(&mut self, spec: &TensorSpec) -> Result<Weight> {
        Loader::matrix(self, spec)
    }
    fn matrix_as(&mut self, spec: &TensorSpec, shape: [usize; 2]) -> Result<Weight> {
        Loader::matrix_as(self, spec, shape)
    }
    fn vector(&mut self, spec: &TensorSpec) -> Result<Vec<f32>> {
        Loader::values(self, spec)
    }
    fn values(&mut self, spec: &TensorSpec) -> Result<Vec<f32>> {
        Loader::values(self, spec)
    }
    fn vector_of(&mut self, _: &str, values: Vec<f32>) -> Result<Vec<f32>> {
        Ok(values)
    }
}
